"""Mouths filmed with the head turned from the background frame's: the jaw bend must not fold the
mouth picture (a fold pasted the nose onto the cheek), and selection keeps far-turned mouths out."""

from __future__ import annotations

import numpy as np

from digihuman.face.landmarks import JAW, LIPS_OUTER, LOWER_LIP_INNER, UPPER_LIP_INNER
from digihuman.render.composite import _FIXED, _jaw_bend
from digihuman.render.select import SelectOptions, select_units

SCALE = 100.0  # pixels per face unit
SIZE = (240, 200)  # the box the field covers (width, height), from ORIGIN
ORIGIN = np.array([180.0, 200.0])


def _face(cheek_gap: float) -> np.ndarray:
    """(478, 2) landmarks of a schematic face: jaw arc, lip ellipse, points under the nose and on the
    upper cheeks; the outer upper-cheek points sit ``cheek_gap`` face units inside the jaw's top."""
    pts = np.zeros((478, 2))
    theta = np.pi - np.arange(len(JAW)) * np.pi / (len(JAW) - 1)
    pts[list(JAW)] = np.stack([300 + 90 * np.cos(theta), 230 + 120 * np.sin(theta)], axis=1)
    phi = np.linspace(np.pi, -np.pi, len(LIPS_OUTER), endpoint=False)
    pts[list(LIPS_OUTER)] = np.stack([300 + 30 * np.cos(phi), 300 + 12 * np.sin(phi)], axis=1)
    pts[UPPER_LIP_INNER], pts[LOWER_LIP_INNER] = (300, 298), (300, 302)
    fixed = {2: (300, 262), 98: (285, 258), 327: (315, 258), 205: (262, 268), 425: (338, 268),
             4: (300, 245), 5: (300, 235), 195: (300, 225), 50: (240, 250), 280: (360, 250)}
    for i, p in fixed.items():
        pts[i] = p
    pts[187] = pts[JAW[0]] + (cheek_gap * SCALE, 4)
    pts[411] = pts[JAW[-1]] + (-cheek_gap * SCALE, 4)
    return pts


def _jacobian_min(field: np.ndarray) -> float:
    du, dv = np.gradient(field[:, :, 0]), np.gradient(field[:, :, 1])
    return float(((1 + du[1]) * (1 + dv[0]) - du[0] * dv[1]).min())


def test_jaw_bend_of_a_turned_head_does_not_fold() -> None:
    background = _face(cheek_gap=0.06)
    placed = background.copy()
    placed[list(JAW)] += (-22.0, 3.0)  # the mouth's head turned: its jaw line a fifth of a face to the side
    field = _jaw_bend(background, placed, SCALE, SIZE, ORIGIN)
    assert field.shape == (SIZE[1], SIZE[0], 2)
    # no pixel's neighbourhood turned over, and nothing pulled from further than the jaw moved
    assert _jacobian_min(field) > 0.0
    assert np.linalg.norm(field, axis=2).max() < 1.5 * 22.2
    # the upper cheek and the lips stay nearly where the canonical transform put them
    for i in (50, 205, 2, *LIPS_OUTER[:3]):
        x, y = np.round(background[i] - ORIGIN).astype(int)
        assert np.linalg.norm(field[y, x]) < 8.0


def test_jaw_bend_of_a_small_turn_is_the_exact_fit() -> None:
    background = _face(cheek_gap=0.3)
    placed = background.copy()
    placed[list(JAW)] += (-4.0, 1.0)
    field = _jaw_bend(background, placed, SCALE, SIZE, ORIGIN)
    assert _jacobian_min(field) > 0.5
    # on the jaw line inside the box the field is the jaw's offset (to the grid's interpolation)
    for i in JAW[3:-3]:
        x, y = np.round(background[i] - ORIGIN).astype(int)
        if 0 <= x < SIZE[0] and 0 <= y < SIZE[1]:
            assert np.allclose(field[y, x], (-4.0, 1.0), atol=0.6)
    for i in _FIXED[:5]:
        x, y = np.round(background[i] - ORIGIN).astype(int)
        assert np.linalg.norm(field[y, x]) < 0.6


def test_selection_keeps_far_turned_mouths_out_while_others_remain() -> None:
    rng = np.random.default_rng(7)
    n, t = 60, 40
    library = rng.standard_normal((n, 5)).astype(np.float32)
    targets = rng.standard_normal((t, 5)).astype(np.float32)
    library_pose = np.zeros((n, 2), np.float32)
    library_pose[::2, 0] = 25.0  # every other mouth filmed with the head turned 25 degrees
    background_pose = np.zeros((t, 2), np.float32)
    usable, silent = np.ones(n, bool), np.zeros(t, bool)
    chosen = select_units(targets, library, usable, library_pose, background_pose, silent, rest=1)
    assert np.all(library_pose[chosen, 0] == 0.0)
    # without the limit the turned mouths are chosen as often as any: the limit is what keeps them out
    loose = select_units(targets, library, usable, library_pose, background_pose, silent, rest=1,
                         options=SelectOptions(max_pose=90.0))
    assert np.any(library_pose[loose, 0] > 0.0)
    # when every mouth is turned, one is still shown
    turned = np.full((n, 2), 25.0, np.float32)
    assert len(select_units(targets, library, usable, turned, background_pose, silent, rest=1)) == t
