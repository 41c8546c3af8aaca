"""Training cuts the mouth library from the lower-face pixels the tracking decode kept: the very
library, cover and track a second decode of the video gives, without that decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import digihuman.face
import digihuman.render.avatar as avatar


def files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("mouths.bin", "cover.jpg", "mapping.npz")}


def test_library_from_kept_regions_is_the_second_pass_library(clip: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[Path] = []
    read_frames = digihuman.face.read_frames

    def counted(path: Path, **kw: object):  # noqa: ANN202 - the generator read_frames returns
        decodes.append(Path(path))
        return read_frames(path, **kw)

    # the cut and the cover import read_frames from digihuman.face; the tracking has its own
    monkeypatch.setattr(digihuman.face, "read_frames", counted)
    avatar.train_avatar(clip, tmp_path / "one")
    assert decodes == []  # no second pass, not even for the cover
    monkeypatch.setattr(avatar, "REGIONS_BUDGET_BYTES", 0)  # nothing kept: the second pass cuts
    avatar.train_avatar(clip, tmp_path / "two")
    assert decodes == [clip]
    assert files(tmp_path / "one") == files(tmp_path / "two")
    with np.load(tmp_path / "one" / "track.npz") as one, np.load(tmp_path / "two" / "track.npz") as two:
        assert one.files == two.files
        assert all(np.array_equal(one[k], two[k], equal_nan=True) for k in one.files)


def face_at(to_canonical: np.ndarray):  # noqa: ANN201 - FaceFrame
    from digihuman.face.mouth import MouthShape
    from digihuman.face.pose import HeadPose
    from digihuman.face.tracking import FaceFrame

    pose = HeadPose(0.0, 0.0, 0.0, np.eye(3, dtype=np.float32), 50.0, to_canonical.astype(np.float32))
    return FaceFrame(np.zeros((478, 3), np.float32), pose, MouthShape(0, 0, 0, 0, 0), 300, 400)


@pytest.mark.parametrize("ppu", [50.0, 37.0, 64.0])
@pytest.mark.parametrize("turn", [0.0, 0.3])
def test_crop_from_a_region_is_the_crop_from_the_frame(ppu: float, turn: float) -> None:
    """Whatever the head's turn and the crop's scale, the crop reads only the kept region, at the
    frame's edge too (the face half out of the picture)."""
    import cv2

    from digihuman.face.tracking import VideoFrame

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (400, 300, 3), np.uint8)
    size = avatar.crop_size(ppu)
    for origin in ((150.0, 150.0), (20.0, 380.0)):  # canonical units of 50 px, turned by ``turn``
        c, s = np.cos(turn) / 50, np.sin(turn) / 50
        to_canonical = np.array([[c, s, 0.0], [-s, c, 0.0]])
        to_canonical[:, 2] = -to_canonical[:, :2] @ np.array(origin)
        face = face_at(to_canonical)
        regions = avatar._FaceRegions(10**9)
        regions.put(VideoFrame(0, 0.0, rgb), face)
        kept = regions.frames(1)
        assert kept is not None and kept[0][2].size < rgb.size / 4
        track = type("Track", (), {"width": 300, "height": 400, "frame_indices": np.array([0]),
                                   "times": np.array([0.0])})
        canvas = next(avatar._pasted(kept, track)).rgb
        m = avatar._compose(avatar.canonical_to_crop(ppu), face.pose.to_canonical)
        for flags in (cv2.INTER_LINEAR, cv2.INTER_AREA):
            whole = cv2.warpAffine(rgb, m, size, borderMode=cv2.BORDER_REPLICATE, flags=flags)
            assert np.array_equal(cv2.warpAffine(canvas, m, size, borderMode=cv2.BORDER_REPLICATE,
                                                 flags=flags), whole)


def test_regions_are_dropped_at_a_frame_without_a_face_or_past_the_budget() -> None:
    from digihuman.face.tracking import VideoFrame

    rgb = np.zeros((400, 300, 3), np.uint8)
    face = face_at(np.array([[1 / 50, 0, -3], [0, 1 / 50, -3]]))
    regions = avatar._FaceRegions(10**9)
    regions.put(VideoFrame(0, 0.0, rgb), face)
    (_, _, region), = regions.frames(1)
    regions.put(VideoFrame(1, 0.04, rgb), None)
    assert regions.frames(2) is None and regions.frames(1) is None
    small = avatar._FaceRegions(region.nbytes)  # room for one region only
    small.put(VideoFrame(0, 0.0, rgb), face)
    assert small.frames(1) is not None
    small.put(VideoFrame(1, 0.04, rgb), face)
    assert small.frames(2) is None
