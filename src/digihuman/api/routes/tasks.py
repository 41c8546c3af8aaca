"""Any task in one uniform shape: GET /v1/tasks (+ /{id}, /{id}/events), POST /v1/tasks/{id}/cancel."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from digihuman.api.dependencies import Owner, ServicesDep, StreamOwner
from digihuman.api.envelope import ok
from digihuman.api.submit import owned_task
from digihuman.errors import InvalidInput, NotFound
from digihuman.services import Services
from digihuman.tasks.jobs import JOBS
from digihuman.tasks.store import TaskView
from digihuman.tasks.view import uniform_view

router = APIRouter(tags=["tasks"])

# The stream reads the task record again after EVENT_POLL_FIRST_S, and waits half as long again after each
# read that found nothing new, up to EVENT_POLL_S: a change (progress, the end) is seen within 0.1 s while
# the task is moving, and a task that sits queued or silent is read once a second, as before.
EVENT_POLL_FIRST_S = 0.1
EVENT_POLL_S = 1.0
KEEPALIVE_S = 15.0  # a comment line now and then stops proxies from closing a quiet stream


@router.get("/v1/tasks")
def list_tasks(
    owner: Owner,
    services: ServicesDep,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The caller's tasks, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    if kind is not None and kind not in JOBS:
        raise InvalidInput(f"kind {kind[:40]!r} is unknown; use one of: {', '.join(sorted(JOBS))}.")
    tasks = services.tasks.page(owner, status=status, kind=kind, limit=limit,
                                after=_decode_cursor(cursor) if cursor else None)
    more = len(tasks) == limit
    return ok({"items": [uniform_view(services, t) for t in tasks],
               "next_cursor": _encode_cursor(tasks[-1]) if more else None})


def _encode_cursor(task: TaskView) -> str:
    return base64.urlsafe_b64encode(f"{task.created_at!r}:{task.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created, _, task_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        return float(created), task_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this server gave out; pass next_cursor from the last page.") from None


@router.get("/v1/tasks/{task_id}")
def get_task(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    return ok(uniform_view(services, owned_task(services, task_id, owner)))


@router.get("/v1/tasks/{task_id}/events", response_class=StreamingResponse)
async def task_events(task_id: str, request: Request, owner: StreamOwner, services: ServicesDep) -> StreamingResponse:
    """Server-sent events: ``progress`` while the task runs, then its final state, then the end.

    Browsers' EventSource cannot send headers, so this route also takes the key as ``?key=``.
    """
    await run_in_threadpool(owned_task, services, task_id, owner)
    return StreamingResponse(_events(services, task_id, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(services: Services, task_id: str, request: Request) -> AsyncIterator[str]:
    last: tuple[Any, ...] | None = None
    quiet_since = time.monotonic()
    wait_s = EVENT_POLL_FIRST_S
    while not await request.is_disconnected():
        try:
            task = await run_in_threadpool(services.tasks.get, task_id)
        except NotFound:  # purged while watched
            yield _event("failed", {"id": task_id, "status": "failed",
                                    "error": {"code": 404, "message": f"task {task_id} no longer exists."}})
            return
        if task.status.final:
            yield _event(task.status.value, uniform_view(services, task))
            return
        state = (task.status.value, round(task.progress, 1), task.stage)
        if state != last:
            last, quiet_since = state, time.monotonic()
            wait_s = EVENT_POLL_FIRST_S
            yield _event("progress", {"status": state[0], "progress": state[1], "stage": state[2],
                                      "eta_s": eta_s(task)})
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": still working\n\n"
        await asyncio.sleep(min(wait_s, EVENT_POLL_S))
        wait_s *= 1.5


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def eta_s(task: TaskView) -> float | None:
    """Seconds left if the task keeps its pace so far; None until there is a pace to go by."""
    if task.started_at is None or task.progress < 3:
        return None
    elapsed = time.time() - task.started_at
    return round(elapsed * (100 - task.progress) / task.progress, 1)


@router.post("/v1/tasks/{task_id}/cancel")
def cancel(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    owned_task(services, task_id, owner)
    return ok(uniform_view(services, services.tasks.request_cancel(task_id)))
