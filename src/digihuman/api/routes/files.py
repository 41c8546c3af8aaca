"""Uploads (POST /v1/files) and downloads (GET/HEAD /files/{key}, with HTTP range requests).

With object storage, downloads are redirects (302) to a short-lived link of the store, unless
the store is proxied; either way clients keep the one URL shape.

Task outputs live under random 128-bit task ids and uploads under content hashes, so they are
served to anyone with the URL (players and browsers send no key). The files of voice and avatar
models are the models themselves: only their owner's key gets them.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from digihuman.api.dependencies import Owner, ServicesDep, require_key
from digihuman.api.envelope import ok
from digihuman.errors import NotFound
from digihuman.pipelines.avatar import avatar_model_prefix
from digihuman.pipelines.speech import voice_model_prefix
from digihuman.services import Services

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


@router.head("/files/{key:path}", include_in_schema=False)  # players ask for the size before they fetch
@router.get("/files/{key:path}", response_class=FileResponse)
def download(key: str, request: Request, services: ServicesDep) -> Response:
    storage = services.storage
    if not storage.exists(key):  # refuses malformed keys before anything else is said
        raise NotFound(f"file {key!r} does not exist.")
    _check_model_owner(key, request, services)
    # An object store serves its files itself, through a short-lived link signed for this method.
    if (link := storage.link(key, request.method)) is not None:
        return RedirectResponse(link, status_code=302)
    path = storage.local_path(key)
    return WholeFileOnBadRange(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")


def _check_model_owner(key: str, request: Request, services: Services) -> None:
    """401 without a key, 404 for anyone but the owner, when ``key`` is a file of a voice or avatar model."""
    for prefix, lookup in ((voice_model_prefix(""), services.catalog.voice),
                           (avatar_model_prefix(""), services.catalog.avatar)):
        if key.startswith(prefix):
            owner = require_key(request, services)
            model_id = key.removeprefix(prefix).split("/", 1)[0]
            try:
                # public and unlisted voices may be spoken with by others, but not copied
                if lookup(model_id, owner).owner == owner:
                    return
            except NotFound:
                pass
            raise NotFound(f"file {key!r} does not exist.")


class WholeFileOnBadRange(FileResponse):
    """A FileResponse that serves the whole file (200) for a Range header it cannot parse, as RFC 9110
    allows, instead of a plain-text 400 outside the JSON envelope."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http_range = Headers(scope=scope).get("range")
        if http_range is not None and not self._parsable(http_range):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}
        await super().__call__(scope, receive, send)

    def _parsable(self, http_range: str) -> bool:
        from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

        try:
            self._parse_range_header(http_range, os.stat(self.path).st_size)
        except MalformedRangeHeader:
            return False
        except RangeNotSatisfiable:
            return True  # well-formed, only out of bounds: that deserves its 416
        return True
