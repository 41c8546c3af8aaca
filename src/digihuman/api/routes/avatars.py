"""The caller's avatar models: GET /v1/avatars, DELETE /v1/avatars/{id} (ours).

Every video a key has trained an avatar from is kept as a model: from create_model_fast by name,
from /avatar/generation and create_v2 by the video's content, so that the same video is trained
once and rendered from many times.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.catalog import AvatarModel
from digihuman.errors import Conflict, MediaRejected
from digihuman.media.intake import StoredMedia
from digihuman.pipelines.avatar import avatar_model_prefix
from digihuman.services import Services

router = APIRouter(tags=["avatar models"])

# Talking needed to train an avatar model: fewer seconds give too few mouth shapes to render from.
MIN_TRAINING_S, RECOMMENDED_TRAINING_S = 3.0, 30.0


def check_training_length(video: StoredMedia, field: str) -> float:
    """The video's length in seconds; 422 at submit when it is too short to train an avatar from."""
    seconds = video.info.duration_s or 0.0
    if seconds < MIN_TRAINING_S:
        raise MediaRejected(f"{field} is {seconds:.1f} s long; an avatar needs at least {MIN_TRAINING_S:g} s "
                            f"of the person talking ({RECOMMENDED_TRAINING_S:g}-300 s recommended).")
    return seconds


def content_hash(services: Services, key: str) -> str:
    """The sha256 prefix that names an upload (uploads/<sha256>.<ext>); computed for other files."""
    if key.startswith("uploads/"):
        return Path(key).stem
    digest = hashlib.sha256()
    with services.storage.local_path(key).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:40]


def video_avatar(services: Services, owner: str, video: StoredMedia, name: str,
                 field: str) -> tuple[str | None, bool]:
    """The avatar model to render ``video`` (the request's ``field``) through, and whether the task about
    to be submitted trains it (then give the model that task with ``catalog.set_avatar_task``).

    (None, False) when the key keeps its quota of avatar models already: the video is then trained
    for the one render and not kept. A video too short to train from is refused here (422).
    """
    check_training_length(video, field)
    catalog = services.catalog
    source = content_hash(services, video.key)
    model = catalog.avatar_of_video(owner, source)
    if model is not None:
        # a model without a task (its submit failed) or a failed one is trained again by this task
        return model.id, model.status.state in ("created", "failed")
    if catalog.count_avatars(owner) >= services.settings.max_avatar_models_per_key:
        return None, False
    model = catalog.create_avatar(owner, name or f"avatar {source[:8]}", source_hash=source,
                                  video_s=video.info.duration_s)
    return model.id, True


def avatar_view(services: Services, model: AvatarModel) -> dict[str, Any]:
    cover = None
    if model.status.state == "trained" and model.task_id:
        key = (services.tasks.get(model.task_id).outputs or {}).get("cover")
        cover = services.storage.url(key) if key else None
    return {
        "id": model.id,
        "name": model.name,
        "state": model.status.state,
        "progress": round(model.status.progress, 1),
        "error": model.status.error,
        "cover_url": cover,
        "created_at": model.created_at,
        "video_s": model.video_s,
    }


@router.get("/v1/avatars")
def list_avatars(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    """The caller's avatar models, newest first."""
    return ok({"items": [avatar_view(services, m) for m in services.catalog.avatars(owner)]})


@router.delete("/v1/avatars/{model_id}")
def delete_avatar(model_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    """Remove the model and its files; tasks rendered from it keep their videos."""
    model = services.catalog.avatar(model_id, owner)
    if model.status.state == "training":
        raise Conflict(f"avatar model {model.id} is still training; delete it once its task has ended.")
    services.catalog.delete_avatar(model.id, owner)
    services.storage.delete_prefix(avatar_model_prefix(model.id))
    return ok({"id": model.id, "deleted": True})
