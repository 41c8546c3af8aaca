"""The painted inside of a photo's opened mouth: separate upper teeth, lower teeth only when the jaw
drops, a tongue low in the mouth, colours and light taken from the photo, the photo's own teeth
reused, and lips that do not fold when they pout wide open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from digihuman.render.mouth_interior import TEETH_HEIGHT, MouthPalette, OwnTeeth, paint_mouth
from digihuman.render.photo import PortraitAnimator
from digihuman.render.photo_warp import MouthPose
from tests.shared_media import shared

pytestmark = pytest.mark.media

OPEN = MouthPose(jaw=0.8, width=0.55, teeth=1.0)
WIDE = MouthPose(jaw=0.95, width=0.5, teeth=0.5)
AJAR = MouthPose(jaw=0.35, width=0.5, teeth=0.0)
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def portrait() -> PortraitAnimator:
    return PortraitAnimator.from_photo(shared("image/p03_*"))


@pytest.fixture(scope="module")
def p01() -> PortraitAnimator:
    return PortraitAnimator.from_photo(shared("image/p01_*"))  # a larger face: the lower teeth are ~5 px


def _row(portrait: PortraitAnimator, pose: MouthPose, y_of: Callable[[np.ndarray, float], float],
         half_width: float = 0.15) -> np.ndarray:
    """RGB along a horizontal line across the middle of the mouth (±``half_width`` face units) at
    the height ``y_of(target, scale)``."""
    frame = portrait.render(pose).astype(np.float64)
    target = portrait.rig.pose(pose)
    scale = portrait.rig.scale
    x, y = target[13, 0], y_of(target, scale)
    xs = np.arange(int(x - half_width * scale), int(x + half_width * scale) + 1)
    return frame[int(round(y)), xs]


def _dips(row: np.ndarray, depth: float) -> int:
    smooth = np.convolve(row, np.ones(3) / 3, "same")
    return len([i for i in range(2, len(row) - 2)
                if smooth[i] == smooth[i - 2: i + 3].min() and np.median(row) - smooth[i] > depth])


def test_teeth_are_separate(portrait: PortraitAnimator) -> None:
    row = _row(portrait, OPEN, lambda t, s: t[13, 1] + 0.45 * TEETH_HEIGHT * s) @ LUMA
    assert row.mean() > 120  # teeth, not the dark cavity
    # dark lines between the teeth: at least three clear dips along the central incisors and laterals
    assert _dips(row, 6) >= 3, np.round(row).tolist()


def _teeth_like(rgb: np.ndarray) -> np.ndarray:
    """Bright and nearly colourless: enamel, not lips, tongue or the dark inside."""
    return (rgb @ LUMA > 110) & (rgb[:, 0] - rgb[:, 2] < 45)


def test_lower_teeth_show_only_when_the_jaw_drops(p01: PortraitAnimator) -> None:
    def just_above_lower_lip(t: np.ndarray, s: float) -> float:
        return t[14, 1] - 0.016 * s

    wide = _row(p01, WIDE, just_above_lower_lip, 0.08)
    ajar = _row(p01, AJAR, just_above_lower_lip, 0.08)
    assert _teeth_like(wide).mean() > 0.6, np.round(wide @ LUMA).tolist()
    assert _dips(wide @ LUMA, 5) >= 1  # separate teeth there too
    assert _teeth_like(ajar).mean() < 0.1, np.round(ajar @ LUMA).tolist()


def test_tongue_lies_low_and_lit(portrait: PortraitAnimator) -> None:
    frame = portrait.render(WIDE).astype(np.float64)
    target = portrait.rig.pose(WIDE)
    x = int(round(target[13, 0]))
    top, bottom = int(np.ceil(target[13, 1])), int(np.floor(target[14, 1]))
    column = frame[top:bottom, x - 1:x + 2].mean(axis=1)
    n = len(column)
    assert n > 15
    lower, middle = column[int(0.62 * n):int(0.85 * n)], column[int(0.35 * n):int(0.55 * n)]
    # the tongue: reddish, and clearly lighter than the dark space between it and the upper teeth
    assert np.all(lower[:, 0] > lower[:, 1] + 25), np.round(lower).tolist()
    assert (lower @ LUMA).mean() > 1.6 * (middle @ LUMA).mean()


def test_colours_and_light_follow_the_photo(portrait: PortraitAnimator) -> None:
    rgb, landmarks = portrait.rgb, portrait.face.landmarks
    palette = MouthPalette.of(rgb, landmarks)
    darker = MouthPalette.of((rgb * 0.6).astype(np.uint8), landmarks)
    assert darker.teeth @ LUMA < 0.8 * (palette.teeth @ LUMA)
    # under a warm lamp the teeth are warmer too
    warm = MouthPalette.of(np.clip(rgb * [1.0, 0.93, 0.75], 0, 255).astype(np.uint8), landmarks)
    assert warm.teeth[0] - warm.teeth[2] > palette.teeth[0] - palette.teeth[2] + 5
    # tongue and gum share the lips' hue: red over green and blue
    for colour in (palette.tongue, palette.gum):
        assert colour[0] > colour[1] + 20 and colour[0] > colour[2] + 20
    # the mouth is painted brighter on the side the light comes from
    target = portrait.rig.pose(WIDE)
    x0, y0, x1, y1 = portrait.warp.box
    halves = []
    for light in (0.25, -0.25):
        crop = portrait.warp.warp(portrait.rgb, target)
        paint_mouth(crop, (x0, y0), target, WIDE, replace(palette, light=light),
                    portrait.face.pose.to_canonical, portrait.rig.scale)
        cx, cy = (target[13] + target[14]) / 2 - (x0, y0)
        w = 0.4 * (target[291, 0] - target[61, 0])
        band = crop[int(cy - 2):int(cy + 3)].astype(np.float64) @ LUMA
        right, left = band[:, int(cx + 0.2 * w):int(cx + w)], band[:, int(cx - w):int(cx - 0.2 * w)]
        halves.append(right.mean() - left.mean())
    assert halves[0] > 1 and halves[1] < -1, halves


def test_the_photos_own_teeth_are_reused(p01: PortraitAnimator) -> None:
    smiling = PortraitAnimator.from_photo(shared("image/p07_*"))  # a frame caught mid-word, teeth showing
    own = smiling.own_teeth
    assert own is not None and 0.01 < own.show < TEETH_HEIGHT
    assert OwnTeeth.of(smiling.rgb, smiling.face.landmarks, smiling.rig.scale) is not None
    assert p01.own_teeth is None  # lips closed in the photo
    # the upper teeth now have the photo's teeth's colour, not a generic white
    row = _row(smiling, OPEN, lambda t, s: t[13, 1] + 0.5 * own.show * s + 0.024 * s, 0.06)
    assert abs(row.mean(axis=0) @ LUMA - own.colour @ LUMA) < 35, (row.mean(axis=0), own.colour)


def test_pouting_wide_open_lips_do_not_fold_into_the_chin(portrait: PortraitAnimator) -> None:
    rest = portrait.rig.pose(MouthPose())
    # wide open: the skin from the lower lip's outer edge down the chin keeps its length (within
    # 15%); wide open and pouting, the lip pushes it together evenly, never into one crease
    for pose, least in ((MouthPose(jaw=1.0, width=0.8, teeth=1.0), 0.85), (MouthPose(jaw=1.0), 0.85),
                        (MouthPose(jaw=1.0, round=0.8, width=0.3), 0.6)):
        moved = portrait.rig.pose(pose)
        for a, b in ((17, 18), (18, 200), (200, 199), (0, 164)):
            before = np.linalg.norm(rest[b] - rest[a])
            after = np.linalg.norm(moved[b] - moved[a])
            assert after > least * before, (pose, a, b, before, after)


def test_upper_teeth_stay_with_the_skull_as_the_jaw_drops(p01: PortraitAnimator) -> None:
    def biting_edge(pose: MouthPose) -> float:
        """The lowest enamel row straight under the upper lip's middle, pixels."""
        frame = p01.render(pose).astype(np.float64)
        target = p01.rig.pose(pose)
        x, top, bottom = int(round(target[13, 0])), int(np.ceil(target[13, 1])), int(target[14, 1])
        column = frame[top:bottom, x - 1:x + 2].mean(axis=1)
        enamel = np.flatnonzero(_teeth_like(column))
        assert len(enamel) > 3, np.round(column @ LUMA).tolist()
        upper_row = enamel[: np.argmax(np.diff(enamel, append=enamel[-1] + 99) > 1) + 1]  # first run
        return top + float(upper_row.max())

    half, wide = MouthPose(jaw=0.5, teeth=0.5), MouthPose(jaw=0.95, teeth=0.5)
    lip_rise = p01.rig.pose(half)[13, 1] - p01.rig.pose(wide)[13, 1]
    assert lip_rise > 2  # the upper lip lifts as the mouth opens wider ...
    assert abs(biting_edge(wide) - biting_edge(half)) <= 1.5  # ... baring more of teeth that stay put


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_a_photos_softness_is_measured_from_its_edges(sigma: float) -> None:
    import cv2

    from digihuman.render.mouth_interior import edge_softness

    rng = np.random.default_rng(0)
    sharp = np.where(rng.random((12, 12)) > 0.5, 200.0, 40.0).repeat(10, 0).repeat(10, 1)  # blocks: edges
    assert abs(edge_softness(cv2.GaussianBlur(sharp.astype(np.float32), (0, 0), sigma)) - sigma) < 0.35 * sigma


def test_a_soft_photo_gets_a_mouth_as_soft(portrait: PortraitAnimator) -> None:
    """The painted edge between the upper lip and the cavity is as gradual as the photo's own."""

    def steepest(softness: float) -> float:
        animator = PortraitAnimator(portrait.rgb, portrait.face)
        animator.palette = replace(animator.palette, softness=softness)
        column = _row_vertical(animator, OPEN)
        return float(np.abs(np.diff(column)).max())

    assert steepest(3.0) < 0.6 * steepest(0.0)


def _row_vertical(portrait: PortraitAnimator, pose: MouthPose) -> np.ndarray:
    """Luma down the middle of the mouth, from above the upper lip to below the lower one."""
    frame = portrait.render(pose).astype(np.float64) @ LUMA
    target = portrait.rig.pose(pose)
    x, top, bottom = target[13, 0], target[0, 1], target[17, 1]
    return frame[int(top): int(bottom) + 1, int(round(x))]
