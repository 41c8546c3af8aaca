"""The inside of an opened mouth, painted behind the lips of a warped portrait.

A photo has no pixels for the inside of a mouth it shows closed, so they are drawn: a cavity
coloured like the lips, darkening inwards and into the corners; the upper teeth, one by one (central
and lateral incisors, canines, premolars, narrowing round the arch as they turn away), hanging from
under the upper lip; lower incisors when the jaw drops; the tongue's tip when it is wide open. The
lips are in front of all of it: they shade the teeth and the cavity just behind their edge, and
the corners of the arch disappear behind them. Everything is lit from the side the photo's own
light comes from (measured on the cheeks) at the face's brightness. The shapes are laid out in
the canonical face frame between the upper and lower inner-lip curves, so they follow the lips
exactly and the edges are feathered over a pixel or two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face.landmarks import LIPS_INNER, LIPS_OUTER, LOWER_FACE
from digihuman.render.photo_warp import INNER_LOWER, INNER_UPPER, MouthPose

TEETH_HEIGHT = 0.085  # visible upper incisors, canonical units (~8 mm)
TOOTH_WIDTH = 0.085  # central incisor
# upper teeth from the midline outwards (canonical units along the arch): central and lateral
# incisors, canine, two premolars; and their relative lengths (the canine reaches as low as the
# central incisor, the laterals a little less)
UPPER_TEETH = ((0.085, 1.0), (0.066, 0.88), (0.07, 0.95), (0.062, 0.8))
LOWER_TEETH = ((0.052, 1.0), (0.056, 1.0), (0.064, 0.9))
ARCH_RADIUS = 0.23  # the dental arch seen from the front (canine to canine ~35 mm): teeth past the
# canines turn away into the dark behind the cheeks
LOWER_TEETH_HEIGHT = 0.045
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class MouthPalette:
    """Colours (RGB, 0-255 floats) of the painted mouth, taken from the portrait."""

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    grey: bool  # a black-and-white photo: everything painted in grey
    light: float = 0.0  # -0.3..0.3: how much brighter the face is on the image's right than its left

    @classmethod
    def of(cls, rgb: np.ndarray, landmarks: np.ndarray) -> MouthPalette:
        """Lip and skin colour measured on the portrait (rest landmarks, pixels)."""
        import cv2

        lm = landmarks[:, :2]
        x0, y0 = np.floor(lm[list(LOWER_FACE)].min(axis=0)).astype(int)
        x1, y1 = np.ceil(lm[list(LOWER_FACE)].max(axis=0)).astype(int) + 1
        x0, y0 = max(0, x0), max(0, y0)
        crop = rgb[y0:y1, x0:x1].astype(np.float32)
        off = np.array([x0, y0])

        def mask(loop: tuple[int, ...]) -> np.ndarray:
            m = np.zeros(crop.shape[:2], np.uint8)
            cv2.fillPoly(m, [np.round(lm[list(loop)] - off).astype(np.int32)], 1)
            return m.astype(bool)

        lips_m = mask(LIPS_OUTER) & ~mask(LIPS_INNER)
        skin_m = mask(LOWER_FACE) & ~mask(LIPS_OUTER)
        lips = np.median(crop[lips_m], axis=0) if lips_m.sum() > 10 else np.array([150.0, 90, 90])
        skin = np.median(crop[skin_m], axis=0) if skin_m.sum() > 10 else lips
        # the light's side: the cheeks' brightness left and right of the mouth
        luma = crop @ LUMA
        mid = float(lm[[61, 291], 0].mean()) - x0
        columns = np.arange(crop.shape[1])[None, :]
        left, right = skin_m & (columns < mid), skin_m & (columns >= mid)
        light = 0.0
        if left.sum() > 10 and right.sum() > 10:
            lo, hi = float(np.median(luma[left])), float(np.median(luma[right]))
            light = float(np.clip((hi - lo) / max(hi + lo, 1.0), -0.3, 0.3))
        spread = np.abs(crop[..., 0] - crop[..., 1]).mean() + np.abs(crop[..., 1] - crop[..., 2]).mean()
        grey = float(spread) < 4.0  # a black-and-white photo (stored as RGB, with JPEG noise)
        # teeth are brighter than the skin around them, in the same light
        teeth_level = float(np.clip(max(1.15 * float(skin @ LUMA), 1.5 * float(lips @ LUMA)), 110, 238))
        cavity = lips * 0.30 * np.array([1.0, 0.8, 0.8])
        teeth = teeth_level * np.array([1.0, 0.96, 0.90])
        tongue = lips * np.array([0.80, 0.58, 0.60])
        if grey:
            cavity, teeth, tongue = (np.full(3, float(c @ LUMA)) for c in (cavity, teeth, tongue))
        return cls(cavity.astype(np.float32), teeth.astype(np.float32), tongue.astype(np.float32), grey, light)


def _curve(points: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The lip line through ``points`` (canonical u, v) at ``u``: a monotone cubic, so the opening
    is rounded like a mouth rather than a polygon, without overshooting the lips."""
    from scipy.interpolate import PchipInterpolator

    order = np.argsort(points[:, 0])
    x, y = points[order, 0], points[order, 1]
    keep = np.concatenate([[True], np.diff(x) > 1e-6])
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return np.interp(u, x, y)
    return PchipInterpolator(x, y, extrapolate=False)(np.clip(u, x[0], x[-1]))


def _arch(u: np.ndarray, centre: float, half: float) -> np.ndarray:
    """A half-ellipse across the mouth: 1 in the middle, 0 at ``half`` to either side."""
    return np.sqrt(np.clip(1 - ((u - centre) / half) ** 2, 0, 1))


def _over(base: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return base * (1 - alpha[..., None]) + layer * alpha[..., None]


def _teeth_row(s: np.ndarray, teeth: tuple[tuple[float, float], ...], f: float) -> tuple[np.ndarray, ...]:
    """Per pixel, at arch position ``s`` (canonical units from the midline, signed): the relative
    length of the tooth there, the position across it (0..1), and the darkening of the gaps between
    teeth (0..1, narrow lines about a pixel wide)."""
    edges = np.concatenate([[0.0], np.cumsum([w for w, _ in teeth])])
    a = np.abs(s)
    k = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, len(teeth) - 1)
    lengths = np.array([h for _, h in teeth] + [0.0])
    length = np.where(a < edges[-1], lengths[k], 0.0)
    lo, width = edges[k], np.diff(edges)[k]
    across = np.clip((a - lo) / width, 0, 1)
    to_gap = np.minimum(a - lo, lo + width - a)
    gap = np.exp(-((to_gap / (0.6 * f)) ** 2))
    return length, across, gap


def paint_mouth(crop: np.ndarray, offset: tuple[int, int], target: np.ndarray, mouth: MouthPose,
                palette: MouthPalette, to_canonical: np.ndarray, scale: float) -> None:
    """Paint the mouth interior into ``crop`` (uint8 RGB, in place) whose top-left is at ``offset``
    of the frame; ``target`` are the frame's landmark pixels, ``to_canonical`` the rest pose's
    pixel -> canonical similarity and ``scale`` its pixels per canonical unit."""
    a = np.asarray(to_canonical, np.float64)
    up_px, lo_px = target[list(INNER_UPPER)], target[list(INNER_LOWER)]
    up, lo = up_px @ a[:, :2].T + a[:, 2], lo_px @ a[:, :2].T + a[:, 2]
    mid_gap = float(np.max(lo[:, 1] - up[:, 1]))
    if mid_gap * scale < 0.7:
        return  # lips together: nothing shows
    both = np.vstack([up_px, lo_px]) - np.array(offset)
    x0, y0 = np.floor(both.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(both.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(crop.shape[1], x1), min(crop.shape[0], y1)
    if x1 <= x0 or y1 <= y0:
        return
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    px, py = px + offset[0], py + offset[1]
    u, v = a[0, 0] * px + a[0, 1] * py + a[0, 2], a[1, 0] * px + a[1, 1] * py + a[1, 2]
    vu, vl = _curve(up, u), _curve(lo, u)  # upper and lower inner-lip lines above each pixel
    f = 1.3 / scale  # a little over a pixel, in canonical units
    edge = 1.6 * f  # the lips' inner edge is soft (wet, rounded), not cut out
    inside = np.clip((v - vu) / edge + 0.5, 0, 1) * np.clip((vl - v) / edge + 0.5, 0, 1)
    inside *= (u > min(up[:, 0].min(), lo[:, 0].min())) & (u < max(up[:, 0].max(), lo[:, 0].max()))
    if not inside.any():
        return
    uc = 0.5 * (up[:, 0].min() + up[:, 0].max())
    half = max(0.5 * (up[:, 0].max() - up[:, 0].min()), 1e-6)
    across = np.clip(np.abs(u - uc) / half, 0, 1)  # 0 in the middle, 1 at the corners
    gap = np.maximum(vl - vu, 1e-6)
    depth = np.clip(np.minimum(v - vu, vl - v) / (0.5 * gap), 0, 1)
    jaw, teeth = float(np.clip(mouth.jaw, 0, 1)), float(np.clip(mouth.teeth, 0, 1))
    # the photo's light: one side of the mouth brighter than the other (u grows to the image's right
    # when the face is upright; the sign follows the canonical frame's x axis)
    side_sign = 1.0 if a[0, 0] >= 0 else -1.0
    lit_side = 1.0 + 1.2 * palette.light * side_sign * np.clip((u - uc) / half, -1, 1)
    # just behind the lips' edges everything is in their shadow
    behind = 1.0 - 0.25 * np.exp(-np.minimum(v - vu, vl - v).clip(0) / (1.5 * f))

    # cavity: lit a little just inside the lips and in the middle, dark deep inside and at the corners
    colour = palette.cavity * (1.15 - 0.5 * depth - 0.45 * across**1.5)[..., None]
    if jaw > 0.4:  # the tongue's tip, low behind the lower teeth, lit from the front
        tongue_h = 0.3 * gap * min(1.0, (jaw - 0.4) / 0.5) * _arch(u, uc, 0.6 * half)
        top = vl - tongue_h
        lit = np.clip((v - top) / np.maximum(tongue_h, f), 0, 1)
        alpha = np.clip((v - top) / (1.5 * f) + 0.5, 0, 1) * (tongue_h > f) * 0.9
        colour = _over(colour, palette.tongue * (0.45 + 0.4 * lit - 0.25 * across)[..., None], alpha)
    if teeth > 0.02:
        # the arch is round: a tooth at arch length s from the midline shows at R sin(s / R)
        radius = min(ARCH_RADIUS, 1.1 * half)
        s = radius * np.arcsin(np.clip((u - uc) / radius, -1, 1))
        turn = np.sqrt(np.clip(1 - ((u - uc) / radius) ** 2, 0, 1))  # teeth turned away are darker
        # the lips' corners hide the arch's ends
        hidden = np.clip((1 - across) / 0.45, 0, 1)
        # lower teeth: incisor tips above the lower lip, once the mouth is open wide, in shadow
        open_wide = float(np.clip((mid_gap - 0.1) / 0.12, 0, 1))
        if open_wide > 0:
            length, t_across, seams = _teeth_row(s, LOWER_TEETH, f)
            low_h = LOWER_TEETH_HEIGHT * teeth * open_wide * length * (1 - 0.3 * (2 * t_across - 1) ** 4)
            alpha = np.clip((v - (vl - low_h)) / f + 0.5, 0, 1) * (low_h > f) * 0.55 * _arch(u, uc, 0.7 * half)
            shade = (0.5 + 0.1 * np.sin(np.pi * t_across)) * turn * (1 - 0.2 * seams)
            colour = _over(colour, palette.teeth * shade[..., None], alpha)
        # upper teeth: hanging from under the upper lip, as long as the opening allows, each with a
        # rounded biting edge, a rounded face (brighter down its middle) and a dark line to the next
        length, t_across, seams = _teeth_row(s, UPPER_TEETH, f)
        th = teeth * np.minimum(TEETH_HEIGHT, 0.65 * gap) * length * (1 - 0.35 * (2 * t_across - 1) ** 4)
        alpha = np.clip((vu + th - v) / f + 0.5, 0, 1) * (th > 0.5 * f) * hidden
        down = np.clip((v - vu) / np.maximum(th, f), 0, 1)
        shadow = 0.7 + 0.3 * np.clip((v - vu) / np.maximum(0.45 * th, f), 0, 1)  # under the lip
        rounded = 0.86 + 0.14 * np.sin(np.pi * t_across)
        tip = 1.0 - 0.12 * down**3  # the biting edge is thinner, a little translucent
        shade = shadow * rounded * tip * (0.3 + 0.7 * turn) * (1 - 0.25 * seams)
        colour = _over(colour, palette.teeth * shade[..., None], alpha)
    colour = colour * (behind * lit_side)[..., None]
    region = crop[y0:y1, x0:x1].astype(np.float32)
    crop[y0:y1, x0:x1] = np.clip(_over(region, colour.astype(np.float32), inside.astype(np.float32)),
                                 0, 255).astype(np.uint8)
