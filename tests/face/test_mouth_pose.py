"""Mouth descriptors follow the mouth; head pose and the canonical frame are geometric inverses."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.face import estimate_pose, frontalise, track_video
from digihuman.face.landmarks import FACE_OVAL, LEFT_EYE, LIPS_INNER, LIPS_OUTER, RIGHT_EYE, RIGID
from digihuman.face.pose import TEMPLATE, apply_affine, rotation_from_angles
from tests.face.conftest import shared


@pytest.mark.media
def test_mouth_opening_range_in_v01():
    track = track_video(shared("video/v01_*"))  # 6 s, 135 frames
    opening = track.mouth["opening"]
    closed, opened = int(np.argmin(opening)), int(np.argmax(opening))
    assert opening[closed] < 0.02 and opening[opened] > 0.1  # canonical units (eye corners = 1)
    # the open frame's inner-lip polygon really is larger, and shows teeth
    def area(i: int) -> float:
        x, y = track.landmarks[i, list(LIPS_INNER), 0], track.landmarks[i, list(LIPS_INNER), 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))

    assert area(opened) > 10 * max(area(closed), 1.0)
    assert track.mouth["teeth"][opened] > 0.05 and track.mouth["teeth"][closed] == 0
    assert np.corrcoef(opening, track.jaw_drop)[0, 1] > 0.4  # the jaw drops as the mouth opens
    assert 0.05 < np.ptp(track.mouth["width"]) < 0.3


def _posed(yaw: float, pitch: float, roll: float, scale: float = 150.0) -> np.ndarray:
    """Landmarks whose rigid points are the template turned by the given angles (degrees)."""
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[list(RIGID)] = (TEMPLATE @ rotation_from_angles(yaw, pitch, roll).T) * scale + [320, 240, 0]
    return landmarks


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, 0, 0), (0, 15, 0), (0, 0, -20), (-20, 10, 8)])
def test_pose_recovers_known_angles(angles):
    pose = estimate_pose(_posed(*angles))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx(angles, abs=0.01)
    assert pose.scale == pytest.approx(150.0, rel=1e-3)
    front = frontalise(_posed(*angles), pose)
    assert np.allclose(front[list(RIGID)], TEMPLATE, atol=1e-4)


def test_canonical_frame_round_trip():
    pose = estimate_pose(_posed(0, 0, 30))
    pts = np.array([[320.0, 240.0], [100.0, 50.0]])
    back = apply_affine(pose.from_canonical, apply_affine(pose.to_canonical, pts))
    assert np.allclose(back, pts, atol=1e-3)
    # the eye corners land on their canonical places (x = -0.5 and 0.5)
    eyes = apply_affine(pose.to_canonical, _posed(0, 0, 30)[[33, 263]])
    assert np.allclose(eyes, [[-0.5, 0], [0.5, 0]], atol=1e-3)


def test_landmark_groups_follow_mediapipe_connections():
    from mediapipe.python.solutions import face_mesh_connections as fmc

    def edges(loop, closed=True):
        pairs = zip(loop, loop[1:] + (loop[:1] if closed else ()))
        return {frozenset(p) for p in pairs}

    lips = {frozenset(e) for e in fmc.FACEMESH_LIPS}
    assert edges(LIPS_OUTER) <= lips and edges(LIPS_INNER) <= lips
    assert edges(FACE_OVAL) == {frozenset(e) for e in fmc.FACEMESH_FACE_OVAL}
    assert edges(RIGHT_EYE) == {frozenset(e) for e in fmc.FACEMESH_RIGHT_EYE}
    assert edges(LEFT_EYE) == {frozenset(e) for e in fmc.FACEMESH_LEFT_EYE}


def test_pose_signs_on_synthetic_turns():
    # turned towards the image's right: the nose tip moves right of the eyes' midpoint
    lm = _posed(25, 0, 0)
    assert lm[1, 0] > (lm[33, 0] + lm[263, 0]) / 2
    # looking up: the nose tip rises towards the eyes
    assert _posed(0, 20, 0)[1, 1] < _posed(0, 0, 0)[1, 1]
    # clockwise roll: the eye line's right end (263) is lower on screen
    lm = _posed(0, 0, 15)
    assert lm[263, 1] > lm[33, 1]


@pytest.mark.media
def test_mirrored_photo_mirrors_yaw_and_roll(photo_mesh):
    from digihuman.face import read_image
    from digihuman.face.tracking import analyse, locate_face

    rgb = read_image(shared("image/p04_*"))
    pose = analyse(rgb, locate_face(rgb, photo_mesh)).pose
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    mirrored = analyse(flipped, locate_face(flipped, photo_mesh)).pose
    assert pose.roll < -5  # p04's head is tilted: the eye line rises to the right
    assert mirrored.roll == pytest.approx(-pose.roll, abs=3)
    assert mirrored.yaw == pytest.approx(-pose.yaw, abs=3)
    assert mirrored.pitch == pytest.approx(pose.pitch, abs=3)
