"""POST /agent_api.php: V2 synthesis, high-speed avatars and the old voice flow, chosen by ``act``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.limits import (
    check_avatar_model_quota,
    check_name,
    check_text,
    check_voice_model_quota,
)
from digihuman.api.resolution import check_resolution
from digihuman.api.routes.avatars import (
    RECOMMENDED_TRAINING_S,
    check_training_length,
    content_hash,
    video_avatar,
)
from digihuman.api.submit import check_quota, owned_task, submit
from digihuman.api.voices import check_voice
from digihuman.errors import Conflict, InvalidInput
from digihuman.services import Services
from digihuman.tasks.jobs import AVATAR_FAST, AVATAR_V2, VOICE_SAY, VOICE_TRAIN
from digihuman.tasks.payloads import (
    AvatarFastPayload,
    AvatarTrainPayload,
    AvatarV2Payload,
    VoiceSayPayload,
    VoiceTrainPayload,
)
from digihuman.tasks.records import TaskStatus
from digihuman.tasks.store import TaskView

router = APIRouter(tags=["V2, high-speed and voice flow"])

# zstatus of video tasks (chk_v2, chk_video_fast) and of models (chk_model_fast).
VIDEO_Z = {TaskStatus.QUEUED: 1, TaskStatus.RUNNING: 2, TaskStatus.SUCCEEDED: 3,
           TaskStatus.FAILED: -1, TaskStatus.CANCELLED: -1}
MODEL_Z = {"created": 0, "training": 2, "trained": 3, "failed": -1}
AUDIO_Z = {TaskStatus.QUEUED: 1, TaskStatus.RUNNING: 2, TaskStatus.SUCCEEDED: 3,
           TaskStatus.FAILED: 4, TaskStatus.CANCELLED: 4}
TRAIN_Z = {TaskStatus.QUEUED: 0, TaskStatus.RUNNING: 2, TaskStatus.SUCCEEDED: 3,
           TaskStatus.FAILED: -1, TaskStatus.CANCELLED: -1}

Form = dict[str, str]


def _field(form: Form, name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInput(f"{name} is required for act={form.get('act')}.")
    return value


def _callback(form: Form) -> str | None:
    """The optional callback_url of every create_* act (ours); an empty field is none."""
    return form.get("callback_url", "").strip() or None


def _status_extras(task: TaskView) -> dict[str, Any]:
    return {"progress": round(task.progress, 1), "stage": task.stage, "error": task.error_message}


def create_v2(s: Services, owner: str, form: Form) -> dict[str, Any]:
    s.engines.require_talking_head()
    video_url, audio_url = _field(form, "video_url"), _field(form, "audio_url")
    resolution = check_resolution(form.get("resolution"))
    s.intake.check(video_url, "video_url")
    s.intake.check(audio_url, "audio_url")
    check_quota(s, owner)
    video = s.intake.take_url(video_url, "video_url", "video")
    audio = s.intake.take_url(audio_url, "audio_url", "speech")
    model_id, trains = video_avatar(s, owner, video, "", "video_url")  # trained once per video, then reused
    payload = AvatarV2Payload(avatar_key=video.key, audio_key=audio.key, avatar_model_id=model_id,
                              resolution=resolution)
    task = submit(s, owner, payload, callback_url=_callback(form))
    if trains:
        s.catalog.set_avatar_task(model_id, task.id)
    return {"task_id": task.id}


def _video_status(s: Services, owner: str, form: Form, kind: str) -> dict[str, Any]:
    task = owned_task(s, _field(form, "task_id"), owner, (kind,))
    out = task.outputs or {}
    return {
        "task_id": task.id,
        "zstatus": VIDEO_Z[task.status],
        "video_url": s.storage.url(out["video"]) if out.get("video") else None,
        "video_pic": s.storage.url(out["cover"]) if out.get("cover") else None,
        "video_time": out.get("duration_s"),
        **_status_extras(task),
    }


def create_model_fast(s: Services, owner: str, form: Form) -> dict[str, Any]:
    s.engines.require_talking_head()
    name, video_url = check_name(_field(form, "model_name"), "model_name"), _field(form, "video_url")
    s.intake.check(video_url, "video_url")
    check_quota(s, owner)
    check_avatar_model_quota(s, owner)
    video = s.intake.take_url(video_url, "video_url", "video", training=True)
    seconds = check_training_length(video, "video_url")
    model = s.catalog.create_avatar(owner, name, source_hash=content_hash(s, video.key), video_s=seconds)
    task = submit(s, owner, AvatarTrainPayload(avatar_model_id=model.id, video_key=video.key), name=name,
                  callback_url=_callback(form))
    s.catalog.set_avatar_task(model.id, task.id)
    # task_id (ours): the training task, to follow on /v1/tasks/{id} (or its events)
    data: dict[str, Any] = {"model": {"model_name": name, "model_id": model.id, "model_status": 1},
                            "task_id": task.id}
    if seconds < RECOMMENDED_TRAINING_S:
        data["warning"] = (f"the video is {seconds:.0f} s long; {RECOMMENDED_TRAINING_S:g}-300 s of talking "
                           "gives the avatar more mouth shapes to choose from.")
    return data


def chk_model_fast(s: Services, owner: str, form: Form) -> dict[str, Any]:
    model = s.catalog.avatar(_field(form, "model_id"), owner)
    zstatus = 1 if model.status.task_status == TaskStatus.QUEUED else MODEL_Z[model.status.state]
    pic = None
    if model.status.state == "trained" and model.task_id:
        pic = s.storage.url((s.tasks.get(model.task_id).outputs or {})["cover"])
    return {"model_id": model.id, "zstatus": zstatus, "model_pic": pic,
            "progress": round(model.status.progress, 1), "error": model.status.error}


def create_video_fast(s: Services, owner: str, form: Form) -> dict[str, Any]:
    s.engines.require_talking_head()
    model = s.catalog.avatar(_field(form, "model_id"), owner)
    if model.status.state != "trained":
        raise Conflict(f"avatar model {model.id} is {model.status.state}, not trained; "
                       "poll chk_model_fast until zstatus is 3.")
    audio_url = _field(form, "audio_url")
    resolution = check_resolution(form.get("resolution"))
    s.intake.check(audio_url, "audio_url")
    check_quota(s, owner)
    audio = s.intake.take_url(audio_url, "audio_url", "speech")
    payload = AvatarFastPayload(avatar_model_id=model.id, audio_key=audio.key, resolution=resolution)
    return {"task_id": submit(s, owner, payload, callback_url=_callback(form)).id}


def create_model(s: Services, owner: str, form: Form) -> dict[str, Any]:
    name = check_name(_field(form, "model_name"), "model_name")
    check_voice_model_quota(s, owner)
    model = s.catalog.create_voice(owner, name)
    return {"model_id": model.id}


def create_model_audio(s: Services, owner: str, form: Form) -> dict[str, Any]:
    s.engines.require_voice_cloner()
    model = s.catalog.voice(_field(form, "model_id"), owner)
    if model.owner != owner:
        raise Conflict(f"voice model {model.id} belongs to someone else; create your own with act=create_model.")
    if model.status.state == "training":
        raise Conflict(f"voice model {model.id} is already training; poll chk_model_audio.")
    url = _field(form, "model_audio_url")
    s.intake.check(url, "model_audio_url")
    check_quota(s, owner)
    sample = s.intake.take_url(url, "model_audio_url", "speech")
    payload = VoiceTrainPayload(voice_model_id=model.id, sample_keys=(sample.key,), train_mode="fast")
    task = submit(s, owner, payload, name=model.title, callback_url=_callback(form))
    s.catalog.set_voice_task(model.id, task.id)
    return {"task_id": task.id}


def chk_model_audio(s: Services, owner: str, form: Form) -> dict[str, Any]:
    task = owned_task(s, _field(form, "task_id"), owner, (VOICE_TRAIN,))
    return {"task_id": task.id, "zstatus": TRAIN_Z[task.status], **_status_extras(task)}


def create_audio(s: Services, owner: str, form: Form) -> dict[str, Any]:
    text, voice_id = check_text(s, _field(form, "task_text"), "task_text"), _field(form, "people_id")
    check_voice(s, voice_id, owner, "people_id")
    return {"task_id": submit(s, owner, VoiceSayPayload(voice_id=voice_id, text=text),
                              callback_url=_callback(form)).id}


def chk_audio(s: Services, owner: str, form: Form) -> dict[str, Any]:
    task = owned_task(s, _field(form, "task_id"), owner, (VOICE_SAY,))
    audio = (task.outputs or {}).get("audio")
    return {"task_id": task.id, "zstatus": AUDIO_Z[task.status],
            "audio_url": s.storage.url(audio) if audio else None, **_status_extras(task)}


ACTS: dict[str, Callable[[Services, str, Form], dict[str, Any]]] = {
    "create_v2": create_v2,
    "chk_v2": lambda s, o, f: _video_status(s, o, f, AVATAR_V2),
    "create_model_fast": create_model_fast,
    "chk_model_fast": chk_model_fast,
    "create_video_fast": create_video_fast,
    "chk_video_fast": lambda s, o, f: _video_status(s, o, f, AVATAR_FAST),
    "create_model": create_model,
    "create_model_audio": create_model_audio,
    "chk_model_audio": chk_model_audio,
    "create_audio": create_audio,
    "chk_audio": chk_audio,
}


@router.post("/agent_api.php")
async def agent_api(request: Request, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    """Form fields as in the API contract; ``act`` picks the operation."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("", "multipart/form-data", "application/x-www-form-urlencoded"):
        # Starlette reads any other body as an empty form, which would read as a missing act.
        raise InvalidInput("the body must be a form (multipart/form-data or application/x-www-form-urlencoded), "
                           f"not {media_type}; send act and its fields as form fields.")
    try:
        raw = await request.form()
    except HTTPException:
        raise
    except Exception as e:  # malformed multipart bodies
        raise InvalidInput(f"the body must be a form (multipart or urlencoded): {e}.") from e
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    act = form.get("act", "")
    handler = ACTS.get(act)
    if handler is None:
        raise InvalidInput(f"unknown act {act!r}; known acts: {', '.join(ACTS)}.")
    return ok(await run_in_threadpool(handler, services, owner, form))
