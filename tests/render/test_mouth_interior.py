"""The painted inside of a photo's opened mouth: teeth one by one, not a white band."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.render.mouth_interior import TEETH_HEIGHT
from digihuman.render.photo import PortraitAnimator
from digihuman.render.photo_warp import MouthPose
from tests.shared_media import shared

pytestmark = pytest.mark.media

OPEN = MouthPose(jaw=0.8, width=0.55, teeth=1.0)


@pytest.fixture(scope="module")
def portrait() -> PortraitAnimator:
    return PortraitAnimator.from_photo(shared("image/p03_*"))


def _teeth_row(portrait: PortraitAnimator) -> np.ndarray:
    """Brightness across the upper teeth, half-way down them, central ±0.15 face units."""
    frame = portrait.render(OPEN).astype(np.float64)
    target = portrait.rig.pose(OPEN)
    scale = portrait.rig.scale
    x, y = target[13, 0], target[13, 1] + 0.45 * TEETH_HEIGHT * scale
    xs = np.arange(int(x - 0.15 * scale), int(x + 0.15 * scale) + 1)
    return frame[int(round(y)), xs] @ np.array([0.299, 0.587, 0.114])


def test_teeth_are_separate(portrait: PortraitAnimator) -> None:
    row = _teeth_row(portrait)
    assert row.mean() > 120  # teeth, not the dark cavity
    # dark lines between the teeth: at least three clear dips along the central incisors and laterals
    smooth = np.convolve(row, np.ones(3) / 3, "same")
    dips = [i for i in range(2, len(row) - 2)
            if smooth[i] == smooth[i - 2: i + 3].min() and np.median(row) - smooth[i] > 6]
    assert len(dips) >= 3, (len(dips), np.round(row).tolist())

