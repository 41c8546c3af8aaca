"""Picture transforms, applied to each frame in order: crop → zoom → mirror → colour → aspect change.

Everything that can be worked out once (the crop window, the colour lookup tables, the output size
and where the picture sits in it) is worked out when the :class:`Picture` is built; each frame then
costs a slice, a resize, one table lookup and, for saturation or a blurred fill, one blend.
"""

from __future__ import annotations

import numpy as np

from digihuman.remix.options import ASPECTS, Color, Transforms

BLUR_SCALE = 8  # the fill is blurred at 1/8 size: as soft, at 1/64 of the cost
FILL_DARKEN = 0.6  # the blurred fill is dimmed so the picture stands out from it


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def output_size(width: int, height: int, aspect: str | None) -> tuple[int, int]:
    """The frame size after an aspect change: the source's longer side stays the longer side's length."""
    if aspect is None:
        return _even(width), _even(height)
    aw, ah = ASPECTS[aspect]
    long_side = max(width, height)
    if aw >= ah:
        return _even(long_side), _even(long_side * ah / aw)
    return _even(long_side * aw / ah), _even(long_side)


def color_tables(color: Color) -> np.ndarray | None:
    """A (256, 1, 3) lookup table for brightness, contrast and warmth; None when they change nothing."""
    if color.brightness == 0 and color.contrast == 1 and color.warmth == 0:
        return None
    x = np.arange(256, dtype=np.float32)
    base = (x - 128.0) * color.contrast + 128.0 + 255.0 * color.brightness
    # warmth: a gentle red/blue gain (at most ±18 %), green untouched, as a white-balance slider does
    gains = (1 + 0.18 * color.warmth, 1.0, 1 - 0.18 * color.warmth)
    table = np.stack([np.clip(base * g, 0, 255) for g in gains], axis=1)
    return table.astype(np.uint8).reshape(256, 1, 3)


class Picture:
    """The per-frame picture transform for frames of ``width`` x ``height``."""

    def __init__(self, transforms: Transforms, width: int, height: int) -> None:
        self.t = transforms
        self.src = (width, height)
        crop = transforms.crop
        x0, y0, w, h = 0, 0, width, height
        if crop is not None:
            x0, y0 = int(crop.x * width), int(crop.y * height)
            w, h = max(2, int(crop.width * width)), max(2, int(crop.height * height))
        if transforms.zoom > 1:
            zw, zh = max(2, int(w / transforms.zoom)), max(2, int(h / transforms.zoom))
            x0, y0, w, h = x0 + (w - zw) // 2, y0 + (h - zh) // 2, zw, zh
        self.window = (x0, y0, min(w, width - x0), min(h, height - y0))
        # the window keeps its shape, scaled back up to fill the source's size as far as it can
        w, h = self.window[2], self.window[3]
        grow = min(width / w, height / h)
        base = (_even(w * grow), _even(h * grow))
        self.size = output_size(*base, transforms.aspect)
        # the picture fitted inside the output frame (the whole frame when the aspect is kept)
        if transforms.aspect is None:
            self.inner = self.size
        else:
            scale = min(self.size[0] / base[0], self.size[1] / base[1])
            self.inner = (_even(base[0] * scale), _even(base[1] * scale))
        self.table = color_tables(transforms.color)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        x0, y0, w, h = self.window
        frame = rgb[y0 : y0 + h, x0 : x0 + w]
        if (w, h) != self.inner:
            interpolation = cv2.INTER_AREA if w > self.inner[0] else cv2.INTER_LINEAR
            frame = cv2.resize(frame, self.inner, interpolation=interpolation)
        if self.t.mirror:
            frame = frame[:, ::-1]
        frame = np.ascontiguousarray(frame)
        if self.table is not None:
            frame = cv2.LUT(frame, self.table)
        if self.t.color.saturation != 1:
            gray = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            frame = cv2.addWeighted(frame, self.t.color.saturation, gray, 1 - self.t.color.saturation, 0)
        if self.inner != self.size:
            frame = self._fitted(frame)
        return frame

    def _fitted(self, picture: np.ndarray) -> np.ndarray:
        """``picture`` centred in the output frame, on its own blurred enlargement (or black)."""
        import cv2

        width, height = self.size
        if self.t.fill == "blur":
            small = (max(2, width // BLUR_SCALE), max(2, height // BLUR_SCALE))
            ph, pw = picture.shape[:2]
            scale = max(width / pw, height / ph)  # cover the frame, cut what overflows
            cw, ch = min(pw, int(width / scale)), min(ph, int(height / scale))
            cx, cy = (pw - cw) // 2, (ph - ch) // 2
            fill = cv2.resize(picture[cy : cy + ch, cx : cx + cw], small, interpolation=cv2.INTER_AREA)
            fill = cv2.GaussianBlur(fill, (0, 0), 3)
            canvas = cv2.resize((fill * FILL_DARKEN).astype(np.uint8), (width, height),
                                interpolation=cv2.INTER_LINEAR)
        else:
            canvas = np.zeros((height, width, 3), np.uint8)
        iw, ih = self.inner
        x, y = (width - iw) // 2, (height - ih) // 2
        canvas[y : y + ih, x : x + iw] = picture
        return canvas
