"""Any task in one uniform shape: GET /v1/tasks/{id}, POST /v1/tasks/{id}/cancel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.submit import owned_task
from digihuman.services import Services
from digihuman.tasks.store import TaskView

router = APIRouter(tags=["tasks"])


def uniform_view(services: Services, task: TaskView) -> dict[str, Any]:
    outputs = {
        name: services.storage.url(value) if isinstance(value, str) and value.startswith("tasks/") else value
        for name, value in (task.outputs or {}).items()
    }
    return {
        "id": task.id,
        "kind": task.kind,
        "name": task.name,
        "status": task.status.value,
        "progress": round(task.progress, 1),
        "stage": task.stage,
        "attempts": task.attempts,
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "duration_s": task.duration_s,
        "cancel_requested": task.cancel_requested,
        "error": {"code": task.error_code, "message": task.error_message} if task.error_code else None,
        "outputs": outputs,
    }


@router.get("/v1/tasks/{task_id}")
def get_task(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    return ok(uniform_view(services, owned_task(services, task_id, owner)))


@router.post("/v1/tasks/{task_id}/cancel")
def cancel(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    owned_task(services, task_id, owner)
    return ok(uniform_view(services, services.tasks.request_cancel(task_id)))
