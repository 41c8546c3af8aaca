"""The real test media in ../shared/media, read in place (never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def shared(pattern: str) -> Path:
    """The first file of ../shared/media matching ``pattern``; skips only where that folder is absent."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real test media not found at {SHARED_MEDIA}")
    matches = sorted(SHARED_MEDIA.glob(pattern))
    assert matches, f"no file matches {pattern} in {SHARED_MEDIA}"
    return matches[0]
