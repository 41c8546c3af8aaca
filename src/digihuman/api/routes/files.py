"""Uploads (POST /v1/files) and downloads (GET /files/{key}, with HTTP range requests)."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok

router = APIRouter(tags=["files"])
mimetypes.add_type("image/webp", ".webp")
mimetypes.add_type("audio/wav", ".wav")
mimetypes.add_type("audio/mp4", ".m4a")


@router.post("/v1/files")
def upload(
    file: Annotated[UploadFile, File(description="An audio, video or image file.")],
    owner: Owner,
    services: ServicesDep,
) -> dict[str, Any]:
    stored = services.intake.take_upload(file.file, "file")
    path = services.storage.local_path(stored.key)
    return ok({
        "url": services.storage.url(stored.key),
        "key": stored.key,
        "bytes": path.stat().st_size,
        "content_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        "kind": stored.info.kind,
        "duration_s": stored.info.duration_s,
    })


@router.get("/files/{key:path}", response_class=FileResponse)
def download(key: str, services: ServicesDep) -> FileResponse:
    # No key needed: task outputs live under random 128-bit task ids, uploads under content hashes.
    path = services.storage.local_path(key)
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")
