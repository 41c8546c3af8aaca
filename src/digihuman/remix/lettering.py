"""Drawing text onto video frames: the CJK font, line breaking that knows CJK, outlined text images.

Text is drawn once per cue into a small RGBA image (Pillow, with the bundled Noto Sans CJK font) and
then alpha-blended onto each frame it shows on, so the per-frame cost is one blend of a small patch.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.errors import EngineUnavailable

FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"
# Characters a line must not start with (closing punctuation), nor end with (opening), as in CJK typesetting.
NO_LINE_START = set("，。、；：？！」』）》〉】〕”’,.;:?!)]}%")
NO_LINE_END = set("「『（《〈【〔“‘([{")


def font_path() -> Path:
    """The Noto Sans CJK font file shipped by the cvttf-NotoSansCJK-Regular wheel."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("the subtitle font (Noto Sans CJK)", "pip install cvttf-NotoSansCJK-Regular==1.0")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.otf")) + sorted(folder.glob("*.tt[fc]"))
    if not found:
        raise EngineUnavailable("the subtitle font (Noto Sans CJK)", "reinstall cvttf-NotoSansCJK-Regular==1.0")
    return found[0]


@functools.lru_cache(maxsize=16)
def font(size: int):  # type: ignore[no-untyped-def]  # PIL.ImageFont.FreeTypeFont
    """The CJK font at ``size`` pixels, loaded once per size per process."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x3040 <= code <= 0x30FF
            or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF or 0x3000 <= code <= 0x303F
            or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x2FA1F)


def breakable_pieces(text: str) -> list[str]:
    """``text`` cut where a line may break: between CJK characters, after spaces between words.

    Punctuation sticks to the piece before it (no line starts with "，" or "."), and an opening
    bracket to the piece after it.
    """
    pieces: list[str] = []
    current = ""
    for ch in text:
        if ch in NO_LINE_START and (current or pieces):
            current += ch
            continue
        if is_cjk(ch):
            if current and current[-1] not in NO_LINE_END:
                pieces.append(current)
                current = ""
            current += ch
        elif ch.isspace():
            current += ch
            pieces.append(current)
            current = ""
        else:
            if current and (is_cjk(current[-1]) and current[-1] not in NO_LINE_END):
                pieces.append(current)
                current = ""
            current += ch
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def wrap(text: str, size: int, max_width: float) -> list[str]:
    """Lines of ``text`` no wider than ``max_width`` pixels at ``size`` (a piece wider alone stays whole)."""
    face = font(size)
    lines: list[str] = []
    line = ""
    for piece in breakable_pieces(" ".join(text.split())):
        candidate = line + piece
        if line and face.getlength(candidate.rstrip()) > max_width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class Run:
    """A stretch of one line drawn in one colour."""

    text: str
    color: tuple[int, int, int]


def draw_lines(lines: list[list[Run]], size: int, outline_color: tuple[int, int, int], outline: float,
               shadow: bool, box: bool = False, line_gap: float = 0.0) -> np.ndarray:
    """An RGBA image (uint8, H x W x 4) of centred lines of coloured runs, outlined and shadowed."""
    from PIL import Image, ImageDraw, ImageFilter

    face = font(size)
    stroke = max(0, round(size * outline))
    pad = stroke + max(2, size // 6)
    widths = [sum(face.getlength(r.text) for r in line) for line in lines]
    ascent, descent = face.getmetrics()
    line_h = ascent + descent
    step = round(line_h * (1 + line_gap))
    width = int(max(widths, default=0)) + 2 * pad
    height = step * (len(lines) - 1) + line_h + 2 * pad
    image = Image.new("RGBA", (max(1, width), max(1, height)), (0, 0, 0, 0))
    if box:
        ImageDraw.Draw(image).rounded_rectangle((0, 0, width - 1, height - 1), radius=size // 4,
                                                fill=(0, 0, 0, 150))
    if shadow:
        # the shape of the text, offset, blurred and darkened: legible on bright and busy backgrounds
        mask = Image.new("L", image.size, 0)
        mask_draw = ImageDraw.Draw(mask)
        offset = max(1, size // 14)
        for i, line in enumerate(lines):
            x = pad + (width - 2 * pad - widths[i]) / 2 + offset
            for run in line:
                mask_draw.text((x, pad + i * step + offset), run.text, font=face, fill=170, stroke_width=stroke)
                x += face.getlength(run.text)
        mask = mask.filter(ImageFilter.GaussianBlur(max(1, size / 12)))
        shade = Image.new("RGBA", image.size, (0, 0, 0, 0))
        shade.putalpha(mask)
        image = Image.alpha_composite(image, shade)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x = pad + (width - 2 * pad - widths[i]) / 2
        for run in line:
            draw.text((x, pad + i * step), run.text, font=face, fill=(*run.color, 255), stroke_width=stroke,
                      stroke_fill=(*outline_color, 255))
            x += face.getlength(run.text)
    return np.asarray(image)


def blend(frame: np.ndarray, patch: np.ndarray, x: int, y: int, opacity: float = 1.0) -> None:
    """Alpha-blend an RGBA ``patch`` onto the RGB ``frame`` in place, its top-left at (x, y), clipped."""
    h, w = frame.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + pw), min(h, y + ph)
    if x0 >= x1 or y0 >= y1 or opacity <= 0:
        return
    part = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    alpha = part[..., 3:4].astype(np.float32) * (opacity / 255.0)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (region + (part[..., :3].astype(np.float32) - region) * alpha).astype(np.uint8)
