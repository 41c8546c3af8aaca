"""Video remix: POST /generate_video, GET /query_video/{task_id}."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.submit import check_quota, owned_task, submit
from digihuman.api.voices import check_voice
from digihuman.tasks.jobs import REMIX
from digihuman.tasks.records import TaskStatus

router = APIRouter(tags=["video remix"])
STATUS = {TaskStatus.QUEUED: "pending", TaskStatus.RUNNING: "processing", TaskStatus.SUCCEEDED: "completed",
          TaskStatus.FAILED: "failed", TaskStatus.CANCELLED: "failed"}


class GenerateVideo(BaseModel):
    video_url: str
    text_content: str | None = Field(None, max_length=20000, description="Script; transcribed when absent.")
    custom_floating_text: list[str] = Field(default_factory=list, max_length=50)
    voice: str | None = Field(None, description="Re-dub with this stock voice or voice model (ours).")
    rewrite: bool | str | None = Field(None, description="Rewrite the script: true or a style name (ours).")
    transforms: dict[str, Any] = Field(default_factory=dict, description="mirror, crop, speed, color, music (ours).")
    subtitle_style: dict[str, Any] = Field(default_factory=dict)


@router.post("/generate_video")
def generate(body: GenerateVideo, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    services.engines.require_remixer()
    if body.voice:
        check_voice(services, body.voice, owner, "voice")
    services.intake.check(body.video_url, "video_url")
    check_quota(services, owner)
    video = services.intake.take_url(body.video_url, "video_url", "video")
    rewrite = "default" if body.rewrite is True else (body.rewrite or None)
    inputs = {**body.model_dump(exclude={"video_url", "rewrite"}), "video_key": video.key, "rewrite": rewrite}
    return ok({"task_id": submit(services, owner, REMIX, inputs).id})


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


@router.get("/query_video/{task_id}")
def query(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    task = owned_task(services, task_id, owner, (REMIX,))
    video = (task.outputs or {}).get("video")
    return ok({
        "task_id": task.id,
        "status": STATUS[task.status],
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "error_message": task.error_message,
        "result_urls": {"oss_path": video, "public_url": services.storage.url(video)} if video else None,
        "progress": round(task.progress, 1),
        "stage": task.stage,
    })
