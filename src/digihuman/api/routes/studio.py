"""The browser studio: GET / (its page) and GET /studio/{path} (its scripts, styles and icon); no key needed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from digihuman.errors import NotFound

router = APIRouter(include_in_schema=False)

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# The page is small and names its assets without version stamps: browsers revalidate each time
# (ETag / Last-Modified make that a 304), so a new release is seen at the next load.
CACHE = {"Cache-Control": "no-cache"}


def _root() -> Path:
    return Path(str(resources.files("digihuman.api") / "studio"))


def _asset(path: str) -> Path:
    root = _root().resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in TYPES:
        raise NotFound(f"/studio/{path} is not part of the studio.")
    return target


@router.api_route("/", methods=["GET", "HEAD"], response_class=FileResponse)
def page() -> FileResponse:
    return FileResponse(_asset("index.html"), media_type=TYPES[".html"], headers=CACHE)


@router.api_route("/studio/{path:path}", methods=["GET", "HEAD"], response_class=FileResponse)
def asset(path: str) -> FileResponse:
    target = _asset(path)
    return FileResponse(target, media_type=TYPES[target.suffix], headers=CACHE)
