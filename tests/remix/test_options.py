"""Remix options: defaults, parsing, and errors that name the field to fix."""

from __future__ import annotations

import pytest

from digihuman.errors import InvalidInput
from digihuman.remix.options import Color, Crop, SubtitleStyle, Transforms, parse_style, parse_transforms


def test_empty_dicts_give_the_defaults_which_change_nothing() -> None:
    assert parse_transforms({}) == Transforms() and parse_transforms(None) == Transforms()
    assert parse_style({}) == SubtitleStyle()
    assert Transforms().color.neutral and Transforms().speed == 1.0 and not Transforms().mirror


def test_every_transform_is_parsed() -> None:
    t = parse_transforms({"mirror": True, "crop": {"x": 0.1, "width": 0.5}, "zoom": 1.5, "speed": 1.25,
                          "color": {"brightness": 0.1, "saturation": 1.3}, "aspect": "9:16", "fill": "black",
                          "music_url": " https://x.test/m.mp3 ", "music_volume": 0.5, "ducking": 0.2,
                          "original_volume": 0.1})
    assert t == Transforms(mirror=True, crop=Crop(x=0.1, width=0.5), zoom=1.5, speed=1.25,
                           color=Color(brightness=0.1, saturation=1.3), aspect="9:16", fill="black",
                           music_url="https://x.test/m.mp3", music_volume=0.5, ducking=0.2, original_volume=0.1)


def test_colours_by_hex_name_or_triple() -> None:
    style = parse_style({"color": "#FF0000", "outline_color": "navy", "highlight_color": [1, 2, 3], "size": 30})
    assert (style.color, style.outline_color, style.highlight_color, style.size) == \
        ((255, 0, 0), (0, 0, 128), (1, 2, 3), 30)


@pytest.mark.parametrize(("where", "raw", "words"), [
    ("t", {"speed": 0.1}, ("transforms.speed", "0.5 to 2")),
    ("t", {"speed": "fast"}, ("transforms.speed", "a number")),
    ("t", {"zoom": 5}, ("transforms.zoom",)),
    ("t", {"mirror": 1}, ("transforms.mirror", "true or false")),
    ("t", {"flip": True}, ("transforms", "unknown option", "flip")),
    ("t", {"crop": [0, 0, 1, 1]}, ("transforms.crop", "{x, y, width, height}")),
    ("t", {"crop": {"x": 0.9, "width": 0.2}}, ("transforms.crop", "inside the frame")),
    ("t", {"crop": {"top": 0.1}}, ("transforms.crop", "unknown option", "top")),
    ("t", {"color": {"saturation": -1}}, ("transforms.color.saturation",)),
    ("t", {"aspect": "21:9"}, ("transforms.aspect", "16:9")),
    ("t", {"fill": "mirror"}, ("transforms.fill", "blur")),
    ("t", {"ducking": 2}, ("transforms.ducking", "0 to 1")),
    ("t", {"music_url": ""}, ("transforms.music_url",)),
    ("s", {"color": "not-a-colour"}, ("subtitle_style.color",)),
    ("s", {"size": 2}, ("subtitle_style.size", "8 to 400")),
    ("s", {"max_lines": 9}, ("subtitle_style.max_lines",)),
    ("s", {"floating_position": "bottom"}, ("subtitle_style.floating_position", "top")),
    ("s", {"font": "Arial"}, ("subtitle_style", "unknown option", "font")),
])
def test_bad_options_name_the_field(where: str, raw: dict, words: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        (parse_transforms if where == "t" else parse_style)(raw)
    for word in words:
        assert word in caught.value.message
