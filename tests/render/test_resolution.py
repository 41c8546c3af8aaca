"""The output size of a render: the avatar's own (photos at most 1080, videos 1920) or as asked."""

from __future__ import annotations

import cv2
import pytest

from digihuman.media.probe import probe
from digihuman.render.base import PHOTO_MAX_SIDE, VIDEO_MAX_SIDE, RenderOptions, output_size
from digihuman.render.photo import render_photo
from digihuman.timeline import MouthTrack, Timeline
from tests.mediagen import make_wav
from tests.shared_media import shared


@pytest.mark.parametrize(("size", "asked", "cap", "expected"), [
    ((1920, 1920), None, PHOTO_MAX_SIDE, (1080, 1080)),  # a large portrait: capped by default
    ((624, 624), None, PHOTO_MAX_SIDE, (624, 624)),  # smaller: its own size
    ((1080, 1920), None, VIDEO_MAX_SIDE, (1080, 1920)),
    ((1080, 1920), 1280, VIDEO_MAX_SIDE, (720, 1280)),  # as asked, aspect kept
    ((512, 512), 1024, VIDEO_MAX_SIDE, (1024, 1024)),  # asked for more: scaled up
    ((475, 267), None, PHOTO_MAX_SIDE, (474, 266)),  # even sizes for yuv420p
    ((1000, 333), 128, PHOTO_MAX_SIDE, (128, 42)),
])
def test_output_size(size, asked, cap, expected):
    assert output_size(*size, asked, cap) == expected


def still_track(seconds: float) -> tuple[MouthTrack, Timeline]:
    n = round(seconds * 25)
    zeros = (0.0,) * n
    return MouthTrack(25, zeros, (0.5,) * n, zeros, zeros), Timeline(duration=seconds, language="en")


@pytest.mark.media
@pytest.mark.parametrize(("max_side", "expected"), [(None, (1080, 1080)), (512, (512, 512))])
def test_a_1920_portrait_renders_at_1080_by_default_or_as_asked(tmp_path, max_side, expected):
    image = cv2.imread(str(shared("image/p01_*")))
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(image, (1920, 1920), interpolation=cv2.INTER_CUBIC))
    track, timeline = still_track(0.4)
    wav = make_wav(tmp_path / "speech.wav", seconds=0.4)
    result = render_photo(big, wav, track, timeline, tmp_path / "out", RenderOptions(max_side=max_side),
                          lambda p, s: None)
    info = probe(result.video)
    assert (info.width, info.height) == expected
    assert cv2.imread(str(result.cover)).shape[:2] == expected[::-1]
