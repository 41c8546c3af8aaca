"""The inside of an opened mouth, painted behind the lips of a warped portrait.

A photo has no pixels for the inside of a mouth it shows closed, so they are drawn: a dark cavity
coloured like the lips, the upper teeth hanging from the upper lip, a hint of tongue when the jaw is
wide open, all lit to the face's brightness. The shapes are laid out in the canonical face frame
between the upper and lower inner-lip curves, so they follow the lips exactly and the edges are
feathered over about a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face.landmarks import LIPS_INNER, LIPS_OUTER, LOWER_FACE
from digihuman.render.photo_warp import INNER_LOWER, INNER_UPPER, MouthPose

TEETH_HEIGHT = 0.085  # visible upper incisors, canonical units (~8 mm)
TOOTH_WIDTH = 0.085  # central incisor
LOWER_TEETH_HEIGHT = 0.035
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class MouthPalette:
    """Colours (RGB, 0-255 floats) of the painted mouth, taken from the portrait."""

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    grey: bool  # a black-and-white photo: everything painted in grey

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
        spread = np.abs(crop[..., 0] - crop[..., 1]).mean() + np.abs(crop[..., 1] - crop[..., 2]).mean()
        grey = float(spread) < 4.0  # a black-and-white photo (stored as RGB, with JPEG noise)
        # teeth are brighter than the skin around them, in the same light
        teeth_level = float(np.clip(max(1.15 * float(skin @ LUMA), 1.5 * float(lips @ LUMA)), 110, 238))
        cavity = lips * 0.30 * np.array([1.0, 0.8, 0.8])
        teeth = teeth_level * np.array([1.0, 0.96, 0.90])
        tongue = lips * np.array([0.80, 0.58, 0.60])
        if grey:
            cavity, teeth, tongue = (np.full(3, float(c @ LUMA)) for c in (cavity, teeth, tongue))
        return cls(cavity.astype(np.float32), teeth.astype(np.float32), tongue.astype(np.float32), grey)


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
    f = 1.3 / scale  # the feather: a little over a pixel, in canonical units
    inside = np.clip((v - vu) / f + 0.5, 0, 1) * np.clip((vl - v) / f + 0.5, 0, 1)
    inside *= (u > min(up[:, 0].min(), lo[:, 0].min())) & (u < max(up[:, 0].max(), lo[:, 0].max()))
    if not inside.any():
        return
    uc = 0.5 * (up[:, 0].min() + up[:, 0].max())
    half = max(0.5 * (up[:, 0].max() - up[:, 0].min()), 1e-6)
    across = np.clip(np.abs(u - uc) / half, 0, 1)  # 0 in the middle, 1 at the corners
    gap = np.maximum(vl - vu, 1e-6)
    depth = np.clip(np.minimum(v - vu, vl - v) / (0.5 * gap), 0, 1)
    jaw, teeth = float(np.clip(mouth.jaw, 0, 1)), float(np.clip(mouth.teeth, 0, 1))

    # cavity: lit a little just inside the lips and in the middle, dark deep inside and at the corners
    colour = palette.cavity * (1.15 - 0.45 * depth - 0.35 * across)[..., None]
    if jaw > 0.4:  # the tongue's tip, low behind the lower teeth, lit from the front
        tongue_h = 0.3 * gap * min(1.0, (jaw - 0.4) / 0.5) * _arch(u, uc, 0.6 * half)
        top = vl - tongue_h
        lit = np.clip((v - top) / np.maximum(tongue_h, f), 0, 1)
        alpha = np.clip((v - top) / (1.5 * f) + 0.5, 0, 1) * (tongue_h > f) * 0.9
        colour = _over(colour, palette.tongue * (0.45 + 0.4 * lit - 0.25 * across)[..., None], alpha)
    if teeth > 0.02:
        # lower teeth: a dim edge above the lower lip, middle only, once the mouth is open wide
        low_h = LOWER_TEETH_HEIGHT * teeth * np.clip((mid_gap - 0.1) / 0.12, 0, 1) * _arch(u, uc, 0.6 * half)
        alpha = np.clip((v - (vl - low_h)) / f + 0.5, 0, 1) * (low_h > f) * 0.35
        colour = _over(colour, palette.teeth * (0.6 - 0.25 * across)[..., None], alpha)
        # upper teeth: hanging from under the upper lip, as tall as the opening allows
        th = teeth * np.minimum(TEETH_HEIGHT, 0.65 * gap) * _arch(u, uc, 0.92 * half)
        alpha = np.clip((vu + th - v) / f + 0.5, 0, 1) * (th > 0.5 * f)
        shadow = 0.72 + 0.28 * np.clip((v - vu) / np.maximum(0.45 * th, f), 0, 1)  # under the lip
        side = 1.0 - 0.45 * across**1.5  # the arch turns away from the light
        to_seam = np.mod(u - uc, TOOTH_WIDTH)
        to_seam = np.minimum(to_seam, TOOTH_WIDTH - to_seam)  # faint gaps between the front teeth
        seams = 1.0 - 0.05 * np.exp(-((to_seam / (0.6 * f)) ** 2)) * (np.abs(u - uc) < 2.2 * TOOTH_WIDTH)
        colour = _over(colour, palette.teeth * (shadow * side * seams)[..., None], alpha)
    region = crop[y0:y1, x0:x1].astype(np.float32)
    crop[y0:y1, x0:x1] = np.clip(_over(region, colour.astype(np.float32), inside.astype(np.float32)),
                                 0, 255).astype(np.uint8)
