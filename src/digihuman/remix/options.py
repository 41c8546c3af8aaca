"""Remix options: the request's ``transforms`` and ``subtitle_style`` dicts, parsed and validated once.

Every option is a field of a frozen dataclass below, with its unit and range in the comment beside
it; :func:`parse_transforms` and :func:`parse_style` turn a user's dict into them, raising
InvalidInput that names the field to fix. Unknown keys are refused too, so that a typo
("mirrorr") is answered instead of silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from digihuman.errors import InvalidInput

RGB = tuple[int, int, int]
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}


@dataclass(frozen=True)
class Crop:
    """A window of the source frame, as fractions of its width and height (0..1)."""

    x: float = 0.0  # left edge
    y: float = 0.0  # top edge
    width: float = 1.0
    height: float = 1.0


@dataclass(frozen=True)
class Color:
    """Colour grading; the defaults change nothing."""

    brightness: float = 0.0  # -1..1: added light, as a share of full white
    contrast: float = 1.0  # 0..3: spread around mid-grey (1 keeps)
    saturation: float = 1.0  # 0..3: 0 is black and white, 1 keeps, 2 doubles colourfulness
    warmth: float = 0.0  # -1..1: positive warms (more red, less blue), negative cools

    @property
    def neutral(self) -> bool:
        return self == Color()


@dataclass(frozen=True)
class Transforms:
    """How the picture and sound are re-edited (``transforms`` in the request)."""

    mirror: bool = False  # flip left-right
    crop: Crop | None = None  # keep only this window (scaled back to the frame)
    zoom: float = 1.0  # 1..4: zoom into the centre of the (cropped) frame
    speed: float = 1.0  # 0.5..2: playback speed; the voice keeps its pitch
    color: Color = field(default_factory=Color)
    aspect: str | None = None  # "16:9" | "9:16" | "1:1" | "4:3" | "3:4": new frame shape, picture fitted inside
    fill: str = "blur"  # what fills the bars an aspect change leaves: "blur" (the picture, blurred) or "black"
    music_url: str | None = None  # background music (taken by the API; the job sees a file)
    music_volume: float = 0.3  # 0..1: music level where nobody speaks
    ducking: float = 0.25  # 0..1: share of music_volume kept while someone speaks (1: no ducking)
    original_volume: float = 0.0  # 0..1: when re-dubbing, how loud the original soundtrack stays underneath


@dataclass(frozen=True)
class SubtitleStyle:
    """How subtitles and floating text look (``subtitle_style`` in the request)."""

    enabled: bool = True  # False: no burned-in subtitles
    size: int | None = None  # font size in pixels; None: 6 % of the frame's shorter side (min 14)
    color: RGB = (255, 255, 255)
    outline_color: RGB = (0, 0, 0)
    outline: float = 0.08  # outline width as a share of the font size (0: none)
    shadow: bool = True  # a soft drop shadow under the text
    box: bool = False  # a translucent dark box behind the lines
    margin: float = 0.06  # gap between the frame's bottom and the last line, as a share of its height
    max_lines: int = 2  # lines per cue; longer sentences are split into several cues
    width: float = 0.88  # widest line, as a share of the frame width
    floating_size: int | None = None  # floating text font size in px; None: 7.5 % of the shorter side
    floating_color: RGB = (255, 255, 255)
    highlight_color: RGB = (255, 214, 0)  # colour of the {...} spans of floating text
    floating_position: str = "top"  # "top" | "middle": where floating text sits (never on the subtitles)
    animation: str = "slide"  # floating text in/out: "slide" (slide + fade), "fade" or "none"


def parse_transforms(raw: dict[str, Any] | None) -> Transforms:
    """Validated Transforms from a request's ``transforms`` dict."""
    raw = dict(raw or {})
    _known(raw, Transforms, "transforms")
    values: dict[str, Any] = {}
    if "mirror" in raw:
        values["mirror"] = _bool(raw["mirror"], "transforms.mirror")
    if raw.get("crop") is not None:
        values["crop"] = _crop(raw["crop"])
    if "zoom" in raw:
        values["zoom"] = _number(raw["zoom"], "transforms.zoom", 1.0, 4.0)
    if "speed" in raw:
        values["speed"] = _number(raw["speed"], "transforms.speed", 0.5, 2.0)
    if raw.get("color") is not None:
        values["color"] = _color_grade(raw["color"])
    if raw.get("aspect") is not None:
        aspect = str(raw["aspect"]).strip()
        if aspect not in ASPECTS:
            raise InvalidInput(f"transforms.aspect must be one of {', '.join(ASPECTS)}, not {raw['aspect']!r}.")
        values["aspect"] = aspect
    if "fill" in raw:
        values["fill"] = _choice(raw["fill"], "transforms.fill", ("blur", "black"))
    if raw.get("music_url") is not None:
        if not isinstance(raw["music_url"], str) or not raw["music_url"].strip():
            raise InvalidInput("transforms.music_url must be an http(s) URL of an audio file.")
        values["music_url"] = raw["music_url"].strip()
    for name in ("music_volume", "ducking", "original_volume"):
        if name in raw:
            values[name] = _number(raw[name], f"transforms.{name}", 0.0, 1.0)
    return Transforms(**values)


def parse_style(raw: dict[str, Any] | None) -> SubtitleStyle:
    """Validated SubtitleStyle from a request's ``subtitle_style`` dict."""
    raw = dict(raw or {})
    _known(raw, SubtitleStyle, "subtitle_style")
    values: dict[str, Any] = {}
    for name in ("enabled", "shadow", "box"):
        if name in raw:
            values[name] = _bool(raw[name], f"subtitle_style.{name}")
    for name in ("size", "floating_size"):
        if raw.get(name) is not None:
            values[name] = int(_number(raw[name], f"subtitle_style.{name}", 8, 400))
    for name in ("color", "outline_color", "floating_color", "highlight_color"):
        if name in raw:
            values[name] = _rgb(raw[name], f"subtitle_style.{name}")
    if "outline" in raw:
        values["outline"] = _number(raw["outline"], "subtitle_style.outline", 0.0, 0.3)
    if "margin" in raw:
        values["margin"] = _number(raw["margin"], "subtitle_style.margin", 0.0, 0.4)
    if "width" in raw:
        values["width"] = _number(raw["width"], "subtitle_style.width", 0.3, 1.0)
    if "max_lines" in raw:
        values["max_lines"] = int(_number(raw["max_lines"], "subtitle_style.max_lines", 1, 4))
    if "floating_position" in raw:
        values["floating_position"] = _choice(raw["floating_position"], "subtitle_style.floating_position",
                                              ("top", "middle"))
    if "animation" in raw:
        values["animation"] = _choice(raw["animation"], "subtitle_style.animation", ("slide", "fade", "none"))
    return SubtitleStyle(**values)


def _known(raw: dict[str, Any], kind: type, where: str) -> None:
    names = {f.name for f in fields(kind)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise InvalidInput(f"{where} has unknown option(s) {', '.join(unknown)}: use {', '.join(sorted(names))}.")


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, not {value!r}.")
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")
    if not low <= float(value) <= high:
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}, not {value!r}.")
    return float(value)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return str(value)


def _crop(raw: Any) -> Crop:
    if not isinstance(raw, dict):
        raise InvalidInput("transforms.crop must be an object {x, y, width, height} of fractions of the frame.")
    _known(raw, Crop, "transforms.crop")
    crop = Crop(**{k: _number(v, f"transforms.crop.{k}", 0.0, 1.0) for k, v in raw.items()})
    if crop.width < 0.05 or crop.height < 0.05 or crop.x + crop.width > 1.0001 or crop.y + crop.height > 1.0001:
        raise InvalidInput("transforms.crop must lie inside the frame (x + width <= 1, y + height <= 1) "
                           "and keep at least 5 % of each side.")
    return crop


def _color_grade(raw: Any) -> Color:
    if not isinstance(raw, dict):
        raise InvalidInput("transforms.color must be an object {brightness, contrast, saturation, warmth}.")
    _known(raw, Color, "transforms.color")
    ranges = {"brightness": (-1.0, 1.0), "contrast": (0.0, 3.0), "saturation": (0.0, 3.0), "warmth": (-1.0, 1.0)}
    return Color(**{k: _number(v, f"transforms.color.{k}", *ranges[k]) for k, v in raw.items()})


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _rgb(value: Any, name: str) -> RGB:
    """A colour from "#RRGGBB", a CSS name ("yellow") or [r, g, b]."""
    if isinstance(value, list | tuple) and len(value) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    if isinstance(value, str):
        match = _HEX.match(value.strip())
        if match:
            h = match.group(1)
            return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
        from PIL import ImageColor

        try:
            return ImageColor.getrgb(value.strip())[:3]  # type: ignore[return-value]
        except ValueError:
            pass
    raise InvalidInput(f"{name} must be a colour such as \"#FFD600\", \"yellow\" or [255, 214, 0], not {value!r}.")
