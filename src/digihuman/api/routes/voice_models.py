"""Voice cloning: POST/GET /model, GET/PATCH/DELETE /model/{id}, in the shapes of Fish Audio's API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.limits import check_voice_model_quota
from digihuman.api.submit import check_quota, submit
from digihuman.catalog import VoiceModel, VoiceQuery
from digihuman.errors import Conflict, InvalidInput, NotFound
from digihuman.pipelines.speech import voice_model_prefix
from digihuman.services import Services
from digihuman.tasks.payloads import VoiceTrainPayload

router = APIRouter(tags=["voice cloning"])
MAX_SAMPLES = 20
SAMPLES_FILE = "samples.json"  # the samples' keys, names and transcripts


def voice_media_prefix(model_id: str) -> str:
    """Where a model's samples and cover are kept: apart from the model's own files, which only its owner
    may download, since anyone who may use a voice may hear its samples and see its cover."""
    return f"voice-media/{model_id}"


def model_view(services: Services, model: VoiceModel) -> dict[str, Any]:
    """A voice model as Fish Audio's Voice object, with our training details beside it."""
    task_inputs: dict[str, Any] = {}
    trained: dict[str, Any] = {}
    if model.task_id:
        try:  # what training found out about the samples lives with its task
            task = services.tasks.get(model.task_id)
            task_inputs = task.inputs
            trained = (task.outputs or {}) if model.status.state == "trained" else {}
        except NotFound:  # the task record was cleaned up; the model stays usable
            pass
    storage = services.storage
    return {
        "_id": model.id,
        "type": "tts",
        "title": model.title,
        "description": model.description,
        "cover_image": storage.url(model.cover_key) if model.cover_key else "",
        "visibility": model.visibility,
        "lock_visibility": False,
        "tags": model.tags,
        "languages": model.languages,
        "train_mode": model.train_mode,
        "state": model.status.state,
        "samples": _samples(services, model, task_inputs),
        "created_at": _iso(model.created_at),
        "updated_at": _iso(model.updated_at or model.created_at),
        # Uses, likes, bookmarks and shares are not counted here.
        "like_count": 0, "mark_count": 0, "shared_count": 0, "task_count": 0,
        "liked": False, "marked": False,
        "author": {"_id": model.owner or "", "nickname": model.author_name or model.owner or "",
                   "avatar": ""},
        "progress": round(model.status.progress, 1),
        "task_id": model.task_id,
        "error": model.status.error,
        "speech_seconds": trained.get("speech_seconds"),  # of the samples, silence left out
        "warnings": trained.get("warnings", []),  # e.g. noise, several voices: usable, but could be better
    }


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _samples(services: Services, model: VoiceModel, task_inputs: dict[str, Any]) -> list[dict[str, str]]:
    """The model's samples with their transcripts: kept with the model, else (older models) its uploads."""
    storage = services.storage
    key = f"{voice_media_prefix(model.id)}/{SAMPLES_FILE}"
    if storage.exists(key):
        kept = json.loads(storage.local_path(key).read_text())
    else:
        texts, names = task_inputs.get("texts") or [], task_inputs.get("sample_names") or []
        kept = [{"key": k, "title": names[i] if i < len(names) else "",
                 "text": texts[i] if i < len(texts) else ""}
                for i, k in enumerate(task_inputs.get("sample_keys") or [])]
    return [{"title": s["title"] or f"sample {i + 1}", "text": s["text"] or "",
             "task_id": model.task_id or "",
             "audio": storage.url(s["key"])} for i, s in enumerate(kept) if storage.exists(s["key"])]


def _keep_samples(services: Services, model_id: str, keys: list[str], names: list[str],
                  texts: list[str] | None) -> None:
    """Copy the samples next to the model: uploads expire, a model's samples stay while it does."""
    storage, prefix, kept = services.storage, voice_media_prefix(model_id), []
    for i, upload in enumerate(keys):
        key = f"{prefix}/samples/{i}{Path(upload).suffix}"
        storage.put_file(key, storage.local_path(upload))
        kept.append({"key": key, "title": Path(names[i]).name[:200], "text": texts[i] if texts else ""})
    storage.put_bytes(f"{prefix}/{SAMPLES_FILE}", json.dumps(kept).encode())


def _keep_cover(services: Services, model_id: str, cover: UploadFile | None) -> str | None:
    if cover is None:
        return None
    stored = services.intake.take_upload(cover.file, "cover_image", "image")
    key = f"{voice_media_prefix(model_id)}/cover.{stored.info.extension}"
    services.storage.put_file(key, services.storage.local_path(stored.key))
    return key


def _one_list(field: str, *given: list[str] | None) -> list[str] | None:
    """A list field sent as ``name[]`` (ours) or repeated ``name`` (Fish's SDK); both at once is ambiguous."""
    sent = [g for g in given if g]
    if len(sent) > 1:
        raise InvalidInput(f"give {field} or {field}[], not both.")
    return sent[0] if sent else None


@router.post("/model", status_code=201)
def create(
    owner: Owner,
    services: ServicesDep,
    voices: Annotated[list[UploadFile], File(description="One or more speech samples (3 s - 5 min).")],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    type: Annotated[Literal["tts"], Form()] = "tts",  # noqa: A002 - the wire name
    train_mode: Annotated[Literal["fast", "full"], Form()] = "fast",
    texts: Annotated[list[str] | None, Form(alias="texts[]")] = None,
    texts_plain: Annotated[list[str] | None, Form(alias="texts", include_in_schema=False)] = None,
    visibility: Annotated[Literal["public", "unlist", "private"], Form()] = "private",
    description: Annotated[str, Form(max_length=2000)] = "",
    tags: Annotated[list[str] | None, Form(alias="tags[]")] = None,
    tags_plain: Annotated[list[str] | None, Form(alias="tags", include_in_schema=False)] = None,
    enhance_audio_quality: Annotated[bool, Form()] = False,
    cover_image: Annotated[UploadFile | None, File(description="A picture for the voice.")] = None,
    callback_url: Annotated[str | None, Form(description="Told when training ends (ours).")] = None,
) -> JSONResponse:
    services.engines.require_voice_cloner()
    texts, tags = _one_list("texts", texts, texts_plain), _one_list("tags", tags, tags_plain)
    if len(voices) > MAX_SAMPLES:
        raise InvalidInput(f"give at most {MAX_SAMPLES} voice samples, not {len(voices)}.")
    if texts and len(texts) != len(voices):
        raise InvalidInput(f"texts[] has {len(texts)} transcripts for {len(voices)} voices; give one per sample or none.")
    check_quota(services, owner)
    check_voice_model_quota(services, owner)
    keys = [services.intake.take_upload(f.file, f"voices[{i}]", "speech").key for i, f in enumerate(voices)]
    model = services.catalog.create_voice(owner, title, description=description, visibility=visibility,
                                          tags=tags or [], train_mode=train_mode)
    names = [f.filename or "" for f in voices]  # for messages that name a sample
    payload = VoiceTrainPayload(voice_model_id=model.id, sample_keys=tuple(keys),
                                texts=tuple(texts) if texts else None, train_mode=train_mode,
                                enhance=enhance_audio_quality, sample_names=tuple(names))
    _keep_samples(services, model.id, keys, names, texts)
    cover_key = _keep_cover(services, model.id, cover_image)
    if cover_key:
        services.catalog.update_voice(model.id, owner, cover_key=cover_key)
    task = submit(services, owner, payload, name=title, callback_url=callback_url or None)
    services.catalog.set_voice_task(model.id, task.id)
    return JSONResponse(model_view(services, services.catalog.voice(model.id, owner)), status_code=201)


@router.get("/model")
def list_models(
    owner: Owner,
    services: ServicesDep,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    page_number: Annotated[int, Query(ge=1)] = 1,
    title: Annotated[str | None, Query(max_length=200, description="A part of the title.")] = None,
    tag: Annotated[list[str] | None, Query(description="Models carrying every tag given.")] = None,
    self_only: Annotated[bool, Query(alias="self", description="Only your own models.")] = False,
    author_id: Annotated[str | None, Query()] = None,
    language: Annotated[list[str] | None, Query(description="Models speaking any language given.")] = None,
    sort_by: Annotated[Literal["task_count", "created_at"], Query()] = "task_count",
) -> dict[str, Any]:
    """Your voice models and others' public ones, newest first, a page at a time."""
    query = VoiceQuery(page_size, page_number, title, tuple(tag or ()), tuple(language or ()), self_only,
                       author_id, sort_by)
    total, models = services.catalog.voice_page(owner, query)
    return {"total": total, "items": [model_view(services, m) for m in models]}


@router.get("/model/{model_id}")
def get_model(model_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    return model_view(services, services.catalog.voice(model_id, owner))


@router.patch("/model/{model_id}")
def update_model(
    model_id: str,
    owner: Owner,
    services: ServicesDep,
    title: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
    description: Annotated[str | None, Form(max_length=2000)] = None,
    visibility: Annotated[Literal["public", "unlist", "private"] | None, Form()] = None,
    tags: Annotated[list[str] | None, Form()] = None,
    tags_brackets: Annotated[list[str] | None, Form(alias="tags[]", include_in_schema=False)] = None,
    cover_image: Annotated[UploadFile | None, File(description="A new picture for the voice.")] = None,
) -> dict[str, Any]:
    """Edit a model's title, description, tags, visibility or cover (form fields, as Fish's SDK sends)."""
    model = services.catalog.voice(model_id, owner)
    if model.owner != owner:
        raise NotFound(f"voice model {model_id!r} does not exist.")
    tags = _one_list("tags", tags, tags_brackets)
    fields = {name: value for name, value in
              (("title", title), ("description", description), ("visibility", visibility), ("tags", tags))
              if value is not None}
    cover_key = _keep_cover(services, model_id, cover_image)
    if cover_key:
        fields["cover_key"] = cover_key
    return model_view(services, services.catalog.update_voice(model_id, owner, **fields))


@router.delete("/model/{model_id}")
def delete_model(model_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    model = services.catalog.voice(model_id, owner)
    if model.status.state == "training":
        raise Conflict(f"voice model {model_id} is training; cancel task {model.task_id} first.")
    services.catalog.delete_voice(model_id, owner)
    services.storage.delete_prefix(voice_model_prefix(model_id))
    services.storage.delete_prefix(voice_media_prefix(model_id))
    return ok(None, "deleted")
