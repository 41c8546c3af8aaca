"""Photos: a face is found on every real portrait, sits on the face, and bad photos get a 422."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digihuman.errors import MediaRejected
from digihuman.face import MIN_FACE_PX, FaceBox, read_image, track_image
from digihuman.face.landmarks import (
    CHIN,
    FOREHEAD,
    LEFT_EYE_OUTER,
    LIPS_INNER,
    NOSE_TIP,
    RIGHT_EYE_OUTER,
    find_face_box,
)
from tests.face.conftest import shared

PORTRAITS = ["p01", "p03", "p04", "p05", "p06", "p07"]


def _write(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return path


@pytest.mark.media
@pytest.mark.parametrize("name", PORTRAITS)
def test_portrait_face_found_on_the_face(name, photo_mesh):
    path = shared(f"image/{name}_*")
    face = track_image(path, mesh=photo_mesh)
    lm = face.landmarks
    assert lm.shape == (478, 3) and lm.dtype == np.float32
    assert (lm[:, 0] >= -2).all() and (lm[:, 0] <= face.width + 2).all()
    assert (lm[:, 1] >= -2).all() and (lm[:, 1] <= face.height + 2).all()
    # upright and not mirrored: the person's right eye on the image's left, mouth under the eyes
    eyes_y = (lm[RIGHT_EYE_OUTER, 1] + lm[LEFT_EYE_OUTER, 1]) / 2
    assert lm[RIGHT_EYE_OUTER, 0] < lm[LEFT_EYE_OUTER, 0]
    assert lm[FOREHEAD, 1] < eyes_y < lm[NOSE_TIP, 1] < lm[list(LIPS_INNER), 1].mean() < lm[CHIN, 1]
    iod = float(np.linalg.norm(lm[RIGHT_EYE_OUTER, :2] - lm[LEFT_EYE_OUTER, :2]))
    assert 0.4 < iod / face.box.size < 0.8
    assert face.box.size >= MIN_FACE_PX
    # an independent model (the full-range face detector) puts its face box around the same nose
    box = find_face_box(read_image(path))
    assert box is not None
    assert box.x0 < lm[NOSE_TIP, 0] < box.x1 and box.y0 < lm[NOSE_TIP, 1] < box.y1
    assert abs(face.pose.yaw) < 30 and abs(face.pose.pitch) < 30 and abs(face.pose.roll) < 30
    # descriptors in canonical units are in human ranges whatever the image size
    assert 0.4 < face.mouth.width < 0.8 and 0.5 < face.mouth.jaw < 1.0 and 0 <= face.mouth.opening < 0.3
    assert 0 <= face.mouth.teeth <= 1


@pytest.mark.media
def test_small_off_centre_face_in_a_landscape_photo(photo_mesh):
    face = track_image(shared("image/p04_*"), mesh=photo_mesh)
    assert (face.width, face.height) == (474, 266)
    assert MIN_FACE_PX <= face.box.size < 160


@pytest.mark.media
def test_black_and_white_photo(photo_mesh):
    face = track_image(shared("image/p06_*"), mesh=photo_mesh)
    assert face.width == 2048 and face.box.size > 300
    assert face.pose.scale > 150  # canonical unit in pixels scales with the image


def test_no_face_is_rejected_with_422(tmp_path, photo_mesh):
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    with pytest.raises(MediaRejected, match="^no face found in the avatar: ") as info:
        track_image(_write(tmp_path / "gradient.png", gradient), mesh=photo_mesh)
    assert info.value.status == 422


@pytest.mark.media
def test_tiny_face_is_too_small(tmp_path, photo_mesh):
    import cv2

    canvas = np.full((240, 240, 3), 128, np.uint8)
    tiny = cv2.resize(read_image(shared("image/p01_*")), (60, 60), interpolation=cv2.INTER_AREA)
    canvas[90:150, 90:150] = tiny
    with pytest.raises(MediaRejected, match=r"too small \(\d+ px across") as info:
        track_image(_write(tmp_path / "tiny.png", canvas), mesh=photo_mesh)
    assert info.value.status == 422 and "send a closer shot" in info.value.message


@pytest.mark.media
def test_largest_most_central_face_is_chosen(tmp_path, photo_mesh):
    import cv2

    big = cv2.resize(read_image(shared("image/p07_*")), (360, 360))
    small = cv2.resize(read_image(shared("image/p03_*")), (200, 200))
    canvas = np.full((480, 720, 3), 90, np.uint8)
    canvas[60:420, 300:660] = big
    canvas[0:200, 0:200] = small
    face = track_image(_write(tmp_path / "two.png", canvas), mesh=photo_mesh)
    assert face.box.center[0] > 300  # the big face on the right, not the small one in the corner


def test_pick_face_prefers_size_and_centre_and_keeps_the_tracked_face():
    from digihuman.face.landmarks import pick_face

    centre = FaceBox(270, 190, 370, 290)
    corner_bigger = FaceBox(0, 0, 120, 120)
    assert pick_face([corner_bigger, centre], 640, 480) == 1
    assert pick_face([FaceBox(0, 0, 300, 300), centre], 640, 480) == 0  # much bigger still wins
    assert pick_face([centre, corner_bigger], 640, 480, previous=FaceBox(5, 5, 118, 121)) == 1
