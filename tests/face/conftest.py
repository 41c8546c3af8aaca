"""Real media for the face tests, and one FaceMesh per module so the graph loads once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from digihuman.face import FaceMesh

SHARED_MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"


def shared(pattern: str) -> Path:
    """The file in ../shared/media matching ``pattern``; skips only where that folder is absent."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real test media not found at {SHARED_MEDIA}")
    matches = sorted(SHARED_MEDIA.glob(pattern))
    assert matches, f"no file matches {pattern} in {SHARED_MEDIA}"
    return matches[0]


@pytest.fixture(scope="module")
def photo_mesh() -> Iterator[FaceMesh]:
    with FaceMesh(static=True) as mesh:
        yield mesh
