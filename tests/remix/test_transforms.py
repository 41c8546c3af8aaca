"""Picture transforms: mirror, crop/zoom, colour, aspect change with blurred fill; floating captions."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.errors import InvalidInput
from digihuman.remix.floating import FloatingLayer, Span, spans
from digihuman.remix.options import Color, Crop, SubtitleStyle, Transforms
from digihuman.remix.transforms import Picture, output_size
from tests.remix.conftest import BACKGROUND, frame


def test_mirror_flips_left_and_right() -> None:
    rgb = frame()
    out = Picture(Transforms(mirror=True), 320, 240)(rgb)
    assert np.array_equal(out, rgb[:, ::-1])
    assert out[5, -5].tolist() == [255, 255, 255] and out[5, 5].tolist() == list(BACKGROUND)


def test_crop_keeps_the_window_scaled_back_up() -> None:
    rgb = frame()
    out = Picture(Transforms(crop=Crop(0, 0, 0.25, 0.25)), 320, 240)(rgb)
    assert out.shape == (240, 320, 3)
    # the white square (1/8 of each side) now fills half of each side
    assert out[100, 140].tolist() == [255, 255, 255] and out[140, 180].tolist() == list(BACKGROUND)


def test_zoom_enlarges_the_centre() -> None:
    rgb = np.zeros((240, 320, 3), np.uint8)
    rgb[110:130, 150:170] = 200  # a 20 px square in the middle
    out = Picture(Transforms(zoom=2.0), 320, 240)(rgb)
    assert out.shape == rgb.shape
    assert 30 * 30 < np.count_nonzero(out[..., 0] > 100) < 50 * 50  # now ~40 px across


def test_colour_grading() -> None:
    rgb = np.full((10, 10, 3), (120, 100, 80), np.uint8)
    gray = Picture(Transforms(color=Color(saturation=0)), 10, 10)(rgb)
    assert np.ptp(gray[0, 0].astype(int)) <= 1
    warm = Picture(Transforms(color=Color(warmth=1)), 10, 10)(rgb)
    assert warm[0, 0, 0] > 120 and warm[0, 0, 2] < 80 and warm[0, 0, 1] == 100
    bright = Picture(Transforms(color=Color(brightness=0.2, contrast=1.5)), 10, 10)(rgb)
    assert bright.mean() > rgb.mean()


def test_aspect_change_fits_the_picture_on_its_blurred_self() -> None:
    assert output_size(1280, 720, "9:16") == (720, 1280)
    assert output_size(720, 1280, "16:9") == (1280, 720)
    assert output_size(256, 256, "9:16") == (144, 256)
    rgb = np.zeros((180, 320, 3), np.uint8)
    rgb[:, :, 0] = 200  # red picture
    picture = Picture(Transforms(aspect="9:16"), 320, 180)
    out = picture(rgb)
    assert out.shape == (320, 180, 3) and picture.inner == (180, 102)
    band = out[:80]  # above the picture: its blurred, darkened enlargement
    assert 60 < band[..., 0].mean() < 200 and band[..., 1].max() < 10
    black = Picture(Transforms(aspect="9:16", fill="black"), 320, 180)(rgb)
    assert black[:80].max() == 0


def test_floating_text_spans() -> None:
    assert spans("Big {news} today") == [Span("Big ", False), Span("news", True), Span(" today", False)]
    assert spans("{全部}") == [Span("全部", True)]
    for bad in ("a {b", "a } b"):
        with pytest.raises(InvalidInput):
            spans(bad)


def test_floating_caption_shows_its_highlight_and_animates_in() -> None:
    style = SubtitleStyle(highlight_color=(255, 0, 255))
    layer = FloatingLayer(["Big {news} 今天"], style, 320, 240, duration=4.0, bottom=180)
    blank = np.full((240, 320, 3), 60, np.uint8)
    held = layer(blank.copy(), 2.0)
    magenta = (held[..., 0] > 200) & (held[..., 1] < 60) & (held[..., 2] > 200)
    assert magenta.sum() > 20
    rows = np.flatnonzero(np.any(held != blank, axis=(1, 2)))
    assert rows.max() < 180  # never down in the subtitle band
    entering = layer(blank.copy(), 0.1)
    assert np.abs(entering.astype(int) - blank).sum() < np.abs(held.astype(int) - blank).sum()
    assert np.array_equal(layer(blank.copy(), 4.5), blank)
