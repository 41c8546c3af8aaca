"""Voice cloning: POST/GET /model, GET/DELETE /model/{id}."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.limits import check_voice_model_quota
from digihuman.api.submit import check_quota, submit
from digihuman.catalog import VoiceModel
from digihuman.errors import Conflict, InvalidInput, NotFound
from digihuman.pipelines.speech import voice_model_prefix
from digihuman.services import Services
from digihuman.tasks.jobs import VOICE_TRAIN

router = APIRouter(tags=["voice cloning"])
MAX_SAMPLES = 20


def model_view(services: Services, model: VoiceModel) -> dict[str, Any]:
    trained: dict[str, Any] = {}
    if model.status.state == "trained" and model.task_id:
        try:  # what training found out about the samples lives with its task
            trained = services.tasks.get(model.task_id).outputs or {}
        except NotFound:  # the task record was cleaned up; the model stays usable
            pass
    return {
        "_id": model.id,
        "type": "tts",
        "title": model.title,
        "description": model.description,
        "visibility": model.visibility,
        "tags": model.tags,
        "languages": model.languages,
        "train_mode": model.train_mode,
        "state": model.status.state,
        "created_at": dt.datetime.fromtimestamp(model.created_at, dt.UTC).isoformat(),
        "progress": round(model.status.progress, 1),
        "task_id": model.task_id,
        "error": model.status.error,
        "speech_seconds": trained.get("speech_seconds"),  # of the samples, silence left out
        "warnings": trained.get("warnings", []),  # e.g. noise, several voices: usable, but could be better
    }


@router.post("/model", status_code=201)
def create(
    owner: Owner,
    services: ServicesDep,
    voices: Annotated[list[UploadFile], File(description="One or more speech samples (3 s - 5 min).")],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    type: Annotated[Literal["tts"], Form()] = "tts",  # noqa: A002 - the wire name
    train_mode: Annotated[Literal["fast", "full"], Form()] = "fast",
    texts: Annotated[list[str] | None, Form(alias="texts[]")] = None,
    visibility: Annotated[Literal["public", "unlist", "private"], Form()] = "private",
    description: Annotated[str, Form(max_length=2000)] = "",
    tags: Annotated[list[str] | None, Form(alias="tags[]")] = None,
    enhance_audio_quality: Annotated[bool, Form()] = False,
) -> JSONResponse:
    services.engines.require_voice_cloner()
    if len(voices) > MAX_SAMPLES:
        raise InvalidInput(f"give at most {MAX_SAMPLES} voice samples, not {len(voices)}.")
    if texts and len(texts) != len(voices):
        raise InvalidInput(f"texts[] has {len(texts)} transcripts for {len(voices)} voices; give one per sample or none.")
    check_quota(services, owner)
    check_voice_model_quota(services, owner)
    keys = [services.intake.take_upload(f.file, f"voices[{i}]", "speech").key for i, f in enumerate(voices)]
    model = services.catalog.create_voice(owner, title, description=description, visibility=visibility,
                                          tags=tags or [], train_mode=train_mode)
    inputs = {"voice_model_id": model.id, "sample_keys": keys, "texts": texts or None,
              "train_mode": train_mode, "enhance": enhance_audio_quality,
              "sample_names": [f.filename or "" for f in voices]}  # for messages that name a sample
    task = submit(services, owner, VOICE_TRAIN, inputs, name=title)
    services.catalog.set_voice_task(model.id, task.id)
    return JSONResponse(model_view(services, services.catalog.voice(model.id, owner)), status_code=201)


@router.get("/model")
def list_models(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    items = [model_view(services, m) for m in services.catalog.voices(owner)]
    return {"total": len(items), "items": items}


@router.get("/model/{model_id}")
def get_model(model_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    return model_view(services, services.catalog.voice(model_id, owner))


@router.delete("/model/{model_id}")
def delete_model(model_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    model = services.catalog.voice(model_id, owner)
    if model.status.state == "training":
        raise Conflict(f"voice model {model_id} is training; cancel task {model.task_id} first.")
    services.catalog.delete_voice(model_id, owner)
    services.storage.delete_prefix(voice_model_prefix(model_id))
    return ok(None, "deleted")
