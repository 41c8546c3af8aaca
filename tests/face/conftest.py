"""Real media for the face tests, and one FaceMesh per module so the graph loads once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from digihuman.face import FaceMesh
from tests.shared_media import shared




@pytest.fixture(scope="module")
def photo_mesh() -> Iterator[FaceMesh]:
    with FaceMesh(static=True) as mesh:
        yield mesh
