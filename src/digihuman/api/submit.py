"""Creating tasks from requests: quota check, record, queue."""

from __future__ import annotations

import logging

from digihuman import timings
from digihuman.errors import EngineUnavailable, NotFound, TooManyTasks
from digihuman.services import Services
from digihuman.tasks.callbacks import check_callback_url
from digihuman.tasks.payloads import INTAKE_TIMINGS, Payload
from digihuman.tasks.store import TaskView

log = logging.getLogger(__name__)


def check_quota(services: Services, owner: str, *, including_new: bool = False) -> None:
    """429 when the key already has its quota of queued plus running tasks."""
    limit = services.settings.tasks.max_active_per_key
    if services.tasks.count_active(owner) - int(including_new) >= limit:
        raise TooManyTasks(
            f"this API key already has {limit} queued or running tasks; wait for one to finish and retry."
        )


def submit(services: Services, owner: str, payload: Payload, name: str = "",
           callback_url: str | None = None) -> TaskView:
    """Record a task of ``payload``'s kind and queue it; a queue failure fails the task visibly rather than
    losing it.

    The record keeps ``payload.to_json()`` as its inputs. ``callback_url`` (else the server's default, if
    any) is told when the task ends.
    """
    kind, inputs = payload.KIND, payload.to_json()
    if callback_url is not None:
        check_callback_url(callback_url, services.settings)
    callback_url = callback_url or services.settings.callbacks.default_url
    if (request_timings := timings.current()) is not None and request_timings.stages:
        inputs = {**inputs, INTAKE_TIMINGS: request_timings.as_dict()}  # the worker adds its stages to these
    settings = services.settings.tasks
    task = services.tasks.create(kind, inputs, owner=owner, name=name, timeout_s=settings.timeout_s,
                                 max_attempts=settings.max_attempts)
    try:
        # Counted again with the new task in: concurrent submits cannot all slip under the limit.
        check_quota(services, owner, including_new=True)
    except TooManyTasks:
        services.tasks.discard(task.id)
        raise
    if callback_url:
        services.callbacks.register(task.id, owner, callback_url)
    try:
        services.queue.submit(task.id, task.timeout_s, kind)
    except Exception as e:
        services.tasks.fail(task.id, 503, "the task queue could not be reached; submit the task again.")
        log.exception("enqueue failed", extra={"task_id": task.id})
        raise EngineUnavailable("the task queue", str(e)) from e
    log.info("task queued", extra={"task_id": task.id, "kind": kind, "owner": owner})
    return task


def owned_task(services: Services, task_id: str, owner: str, kinds: tuple[str, ...] | None = None) -> TaskView:
    """The task if it exists, is of one of ``kinds`` and belongs to ``owner``; else 404."""
    task = services.tasks.get(task_id, kinds=kinds)
    if task.owner != owner:
        raise NotFound(f"task {task_id!r} does not exist.")
    return task
