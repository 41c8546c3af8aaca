"""Standard synthesis: POST /avatar/generation, GET /avatar/task/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.limits import check_text
from digihuman.api.resolution import check_resolution
from digihuman.api.routes.avatars import video_avatar
from digihuman.api.submit import check_quota, owned_task, submit
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput
from digihuman.services import Services
from digihuman.tasks.jobs import AVATAR_GENERATE
from digihuman.tasks.payloads import AvatarGeneratePayload
from digihuman.tasks.payloads import CreateVoice as CreateVoiceInput
from digihuman.tasks.payloads import UseVoice as UseVoiceInput
from digihuman.tasks.records import TaskStatus
from digihuman.tasks.store import TaskView

router = APIRouter(tags=["standard synthesis"])

WEB_STATUS = {TaskStatus.QUEUED: 0, TaskStatus.RUNNING: 1, TaskStatus.SUCCEEDED: 200,
              TaskStatus.FAILED: -1, TaskStatus.CANCELLED: -1}


class CreateVoice(BaseModel):
    audio_url: str = Field(description="A sample of the voice to clone.")
    language: str = Field("en", description="Language of the text, e.g. en or zh.")
    text: str = Field(description="What the avatar says in the cloned voice.")


class UseVoice(BaseModel):
    voice_engine_id: str = Field(description="A stock voice id (see /v1/voices) or a voice model id.")
    audio_id: str | None = None
    language: str | None = None
    text: str = Field(description="What the avatar says.")


class AvatarGeneration(BaseModel):
    avatar_url: str = Field(description="Portrait photo (jpg/png/webp) or video (mp4/mov/webm) of the person.")
    audio_url: str | None = Field(None, description="Speech the avatar says.")
    create_voice: CreateVoice | None = None
    use_voice: UseVoice | None = None
    no_watermark: bool = Field(
        False, description="True: the video is clean. Otherwise it carries the server's corner mark, and "
                           "no_wm_work_video_path stays empty: one video is rendered per request.")
    work_name: str = Field("", max_length=200, description="A name for the video (ours).")
    callback_url: str | None = Field(
        None, description="Told when the task ends: the task object is POSTed there, signed (ours).")
    resolution: int | None = Field(
        None, description="Long side of the video in pixels, even, 128-3840; default the avatar's own size, "
                          "at most 1080 for photos and 1920 for videos (ours).")
    text: str | None = Field(
        None,
        description="With audio_url: what the audio says, so the mouth follows the known words instead of "
                    "recognised ones (ours). use_voice and create_voice carry their own text.")


@router.post("/avatar/generation")
def create(body: AvatarGeneration, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    given = [name for name in ("audio_url", "create_voice", "use_voice") if getattr(body, name) is not None]
    if len(given) != 1:
        raise InvalidInput(
            "give exactly one of audio_url, create_voice or use_voice"
            + (f", not {' and '.join(given)}." if given else ".")
        )
    resolution = check_resolution(body.resolution)
    engines = services.engines
    engines.require_talking_head()
    if body.use_voice:
        check_voice(services, body.use_voice.voice_engine_id, owner, "use_voice.voice_engine_id")
        if not body.use_voice.text.strip():
            raise InvalidInput("use_voice.text is empty: give the words the avatar should say.")
        check_text(services, body.use_voice.text, "use_voice.text")
    if body.create_voice:
        engines.require_voice_cloner()
        if not body.create_voice.text.strip():
            raise InvalidInput("create_voice.text is empty: give the words the avatar should say.")
        check_text(services, body.create_voice.text, "create_voice.text")
    intake = services.intake
    intake.check(body.avatar_url, "avatar_url")
    speech_url = body.audio_url or (body.create_voice.audio_url if body.create_voice else None)
    speech_field = "audio_url" if body.audio_url else "create_voice.audio_url"
    if speech_url is not None:
        intake.check(speech_url, speech_field)
    text = body.text.strip() if body.audio_url and body.text else None
    if text:
        check_text(services, text, "text")
    check_quota(services, owner)  # before downloading anything
    avatar = intake.take_url(body.avatar_url, "avatar_url", "visual")
    model_id, trains = video_avatar(services, owner, avatar, body.work_name, "avatar_url") \
        if avatar.info.kind == "video" else (None, False)  # trained once per video, then reused
    audio_key: str | None = None
    use_voice: UseVoiceInput | None = None
    create_voice: CreateVoiceInput | None = None
    if body.audio_url:
        audio_key = intake.take_url(body.audio_url, "audio_url", "speech").key
    elif body.use_voice:
        use_voice = UseVoiceInput(**body.use_voice.model_dump())
    else:
        assert body.create_voice is not None
        clone = body.create_voice
        sample = intake.take_url(clone.audio_url, "create_voice.audio_url", "speech")
        create_voice = CreateVoiceInput(audio_key=sample.key, language=clone.language, text=clone.text)
    payload = AvatarGeneratePayload(avatar_key=avatar.key, avatar_kind=avatar.info.kind, avatar_model_id=model_id,
                                    audio_key=audio_key, use_voice=use_voice, create_voice=create_voice,
                                    no_watermark=body.no_watermark, resolution=resolution, text=text or None)
    task = submit(services, owner, payload, name=body.work_name, callback_url=body.callback_url)
    if trains:
        services.catalog.set_avatar_task(model_id, task.id)
    return ok({"id": task.id})


@router.get("/avatar/task/{task_id}")
def status(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    task = owned_task(services, task_id, owner, (AVATAR_GENERATE,))
    return ok(task_view(services, task))


def task_view(services: Services, task: TaskView) -> dict[str, Any]:
    out = task.outputs or {}
    url = services.storage.url
    # One video is rendered: marked unless no_watermark was asked (a clean copy of every marked video
    # doubled the encoder's work, most of a 1080p render).
    final = url(out["video"]) if out.get("video") else None
    marked = not task.inputs.get("no_watermark")
    return {
        "id": task.id,
        "work_name": task.name,
        "web_work_status": WEB_STATUS[task.status],
        "work_video_path": final,
        "wm_work_video_path": final if marked else None,
        "no_wm_work_video_path": None if marked else final,
        "work_webp_path": url(out["preview"]) if out.get("preview") else None,
        "work_cover_path": url(out["cover"]) if out.get("cover") else None,
        "create_time": int(task.created_at * 1000),
        "progress": round(task.progress, 1),
        "stage": task.stage,
        "error": task.error_message,
        "duration_s": out.get("duration_s"),
    }

