"""Floating text (花字): short captions with ``{...}`` spans drawn in a highlight colour, animated in and out.

The captions share the video's length: each gets an equal slot in order, in which it slides (or
fades) in, holds, and leaves. They sit in the upper part of the frame (or its middle), always above
the subtitle band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digihuman.errors import InvalidInput
from digihuman.remix.lettering import Run, blend, draw_lines, wrap
from digihuman.remix.options import SubtitleStyle

ANIMATION_S = 0.4  # in and out
MAX_SLOT_S = 8.0  # a caption over a long video shows at the start of its slot for at most this long


@dataclass(frozen=True)
class Span:
    text: str
    highlight: bool


def spans(text: str) -> list[Span]:
    """``"Big {news} today"`` → [Span("Big ", False), Span("news", True), Span(" today", False)]."""
    out: list[Span] = []
    plain, i = "", 0
    while i < len(text):
        ch = text[i]
        if ch == "{":
            close = text.find("}", i + 1)
            if close < 0:
                raise InvalidInput(f"custom_floating_text {text!r} opens a '{{' it never closes: "
                                   "mark highlights as {like this}.")
            if plain:
                out.append(Span(plain, False))
                plain = ""
            if close > i + 1:
                out.append(Span(text[i + 1 : close], True))
            i = close + 1
            continue
        if ch == "}":
            raise InvalidInput(f"custom_floating_text {text!r} closes a '}}' it never opened: "
                               "mark highlights as {like this}.")
        plain += ch
        i += 1
    if plain:
        out.append(Span(plain, False))
    return out


def check(texts: Sequence[str]) -> None:
    """Raise InvalidInput for a caption that is empty or has unbalanced braces."""
    for text in texts:
        if not isinstance(text, str) or not "".join(s.text for s in spans(text)).strip():
            raise InvalidInput("custom_floating_text has an empty caption: give each one some text.")


def _runs_per_line(parts: list[Span], lines: list[str], style: SubtitleStyle) -> list[list[Run]]:
    """The wrapped lines cut back into coloured runs (wrapping only drops spaces at line ends)."""
    colours: list[tuple[str, tuple[int, int, int]]] = []
    for span in parts:
        colour = style.highlight_color if span.highlight else style.floating_color
        colours.extend((ch, colour) for ch in span.text)
    out: list[list[Run]] = []
    k = 0
    for line in lines:
        runs: list[Run] = []
        for ch in line:
            while k < len(colours) and colours[k][0] != ch:
                k += 1  # a space or break the wrapper dropped
            colour = colours[k][1] if k < len(colours) else style.floating_color
            k += 1
            if runs and runs[-1].color == colour:
                runs[-1] = Run(runs[-1].text + ch, colour)
            else:
                runs.append(Run(ch, colour))
        out.append(runs)
    return out


class FloatingLayer:
    """Draws the floating captions onto frames of one size; ``bottom`` is the lowest row they may use."""

    def __init__(self, texts: Sequence[str], style: SubtitleStyle, width: int, height: int, duration: float,
                 bottom: int) -> None:
        self.style = style
        self.width, self.height = width, height
        size = style.floating_size or max(16, round(min(width, height) * 0.075))
        self.patches: list[np.ndarray] = []
        for text in texts:
            parts = spans(text)
            lines = wrap("".join(s.text for s in parts), size, 0.9 * width)
            self.patches.append(draw_lines(_runs_per_line(parts, lines, style), size, (40, 20, 0), 0.1, True))
        slot = duration / max(1, len(texts))
        self.slots = [(k * slot, k * slot + min(slot, MAX_SLOT_S)) for k in range(len(texts))]
        anchor = 0.08 if style.floating_position == "top" else 0.42
        self.top = [min(int(height * anchor), max(0, bottom - p.shape[0])) for p in self.patches]

    def __call__(self, frame: np.ndarray, t: float) -> np.ndarray:
        for patch, (start, end), top in zip(self.patches, self.slots, self.top, strict=True):
            if not start <= t < end:
                continue
            ramp = min(ANIMATION_S, (end - start) / 3)
            # 0 → 1 while coming in, 1 while held, 1 → 0 while leaving
            phase = min(1.0, (t - start) / ramp, (end - t) / ramp) if ramp > 0 else 1.0
            opacity, dx = 1.0, 0
            if self.style.animation != "none":
                opacity = phase
            if self.style.animation == "slide":
                eased = 1 - (1 - phase) ** 3
                dx = int((1 - eased) * 0.25 * self.width) * (1 if t - start < ramp else -1)
            x = (self.width - patch.shape[1]) // 2 + dx
            blend(frame, patch, x, top, opacity)
        return frame
