"""Putting a filmed mouth into a background frame: align, colour-match, blend.

The library mouth is stored in the canonical face frame, so the background frame's own
canonical transform (a similarity fitted to the rigid eye and nose points) puts it in place: the
upper face of both frames coincides, and the jaw, lips and chin come from the library frame.

The blend mask is the *union* of both frames' lower faces (LOWER_FACE, from the nose base round the
jaw), pushed below the jaw line by a margin: wherever either chin is, the library frame is shown, so
a library jaw higher than the background's does not leave the background's chin showing beneath
it (a double chin), and the feathered edge falls on neck and cheek, which look the same in both
frames. The feather is proportional to the face size, so it looks the same at any resolution. All
the work is done in the bounding box of the mask, so the cost follows the face size, not the frame's.

Colour: mean and spread of each Lab channel over the skin inside the mask (lips excluded: an open
mouth would darken the statistics) are matched to the background's, the correction smoothed over
time so lighting does not flicker. ``multiband`` (V2) blends with a Laplacian pyramid instead of a
single feather: low frequencies (shading) mix over a wide band and fine detail (pores, stubble) over
a narrow one, so no soft halo and no seam show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face.landmarks import LIPS_OUTER, LOWER_FACE, LOWER_LIP_INNER, UPPER_LIP_INNER
from digihuman.face.pose import apply_affine
from digihuman.render.avatar import AvatarModel

_LOWER = list(LOWER_FACE)
_JAW_POINTS = 19  # LOWER_FACE starts with the jaw (93 … 323); the rest run under the nose
_LIPS = list(LIPS_OUTER)


@dataclass(frozen=True)
class BlendOptions:
    """How a mouth is blended into its frame (sizes in canonical units: outer eye-corner distance)."""

    multiband: bool = False  # V2: Laplacian-pyramid blending instead of one feathered alpha
    feather: float = 0.10  # width of the soft edge
    margin: float = 0.14  # how far the mask reaches past the jaw line, onto the neck and cheeks
    colour: bool = True  # match the mouth's skin colour to the frame's
    colour_follow: float = 0.35  # share of each new frame's colour correction taken (temporal smoothing)
    levels: int = 4  # pyramid levels for multiband


class Compositor:
    """Blends library mouths into background frames; keeps the smoothed colour correction."""

    def __init__(self, model: AvatarModel, options: BlendOptions = BlendOptions()) -> None:
        self.options = options
        a = model.arrays
        self._landmarks = a["landmarks"]
        self._to_canonical = a["to_canonical"]
        self._scale = a["scale"]
        self._crop_to_canonical = model.crop_to_canonical()
        self._gain: np.ndarray | None = None
        self._shift: np.ndarray | None = None

    def mask_polygon(self, background_row: int, mouth_row: int) -> np.ndarray:
        """Both frames' expanded lower faces, in canonical units: (2, len(LOWER_FACE), 2)."""
        polys = []
        for row in (background_row, mouth_row):
            pts = apply_affine(self._to_canonical[row], self._landmarks[row][_LOWER]).astype(np.float64)
            centre = apply_affine(self._to_canonical[row],
                                  self._landmarks[row][[UPPER_LIP_INNER, LOWER_LIP_INNER]]).mean(axis=0)
            jaw = pts[:_JAW_POINTS]
            away = jaw - centre
            away /= np.linalg.norm(away, axis=1, keepdims=True) + 1e-9
            pts[:_JAW_POINTS] = jaw + self.options.margin * away
            polys.append(pts)
        return np.stack(polys)

    def __call__(self, background: np.ndarray, background_row: int, mouth: np.ndarray,
                 mouth_row: int) -> np.ndarray:
        """``background`` (H, W, 3) with the library mouth ``mouth`` (canonical crop of ``mouth_row``)
        blended in; ``background_row`` is the background frame's row in the model's track."""
        import cv2

        o = self.options
        height, width = background.shape[:2]
        from_canonical = _invert(self._to_canonical[background_row])
        scale = float(np.sqrt(abs(np.linalg.det(from_canonical[:, :2]))))  # pixels per canonical unit
        feather = max(2.0, o.feather * scale)
        polys = [apply_affine(from_canonical, p) for p in self.mask_polygon(background_row, mouth_row)]
        pts = np.concatenate(polys)
        pad = int(np.ceil(2 * feather)) + 2
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return background
        w, h = x1 - x0, y1 - y0
        # crop pixel -> canonical -> background pixel -> ROI pixel
        m = _compose(from_canonical, self._crop_to_canonical)
        m[:, 2] -= (x0, y0)
        warped = cv2.warpAffine(mouth, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(np.full(mouth.shape[:2], 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
        mask = np.zeros((h, w), np.uint8)
        for p in polys:
            cv2.fillPoly(mask, [np.round(p - (x0, y0)).astype(np.int32)], 255)
        mask = np.minimum(mask, valid)
        # erode then blur: the soft edge lies inside the polygon, so the nose above stays untouched
        r = max(1, int(round(feather / 2)))
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        roi = background[y0:y1, x0:x1]
        if o.colour:
            warped = self._match_colour(warped, roi, mask, mouth_row, background_row, from_canonical,
                                        (x0, y0))
        if o.multiband:
            blended = _multiband(warped, roi, mask, feather, o.levels)
        else:
            alpha = _soften(mask, feather)[:, :, None]
            blended = (warped.astype(np.float32) * alpha + roi.astype(np.float32) * (1 - alpha))
            blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        out = background.copy()
        out[y0:y1, x0:x1] = blended
        return out

    def _match_colour(self, warped: np.ndarray, roi: np.ndarray, mask: np.ndarray, mouth_row: int,
                      background_row: int, from_canonical: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        """``warped`` with its skin's Lab mean and spread moved to the background's."""
        import cv2

        lips = np.zeros_like(mask)
        for row in (mouth_row, background_row):
            canonical = apply_affine(self._to_canonical[row], self._landmarks[row][_LIPS])
            lip = apply_affine(from_canonical, canonical)
            cv2.fillPoly(lips, [np.round(lip - origin).astype(np.int32)], 255)
        scale = float(np.sqrt(abs(np.linalg.det(from_canonical[:, :2]))))
        r = max(1, int(0.08 * scale))
        lips = cv2.dilate(lips, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        skin = ((mask > 128) & (lips == 0)).astype(np.uint8)
        if int(skin.sum()) < 50:
            return warped
        src = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB)
        dst = cv2.cvtColor(roi, cv2.COLOR_RGB2LAB)
        s_mean, s_std = (v.ravel() for v in cv2.meanStdDev(src, mask=skin))
        d_mean, d_std = (v.ravel() for v in cv2.meanStdDev(dst, mask=skin))
        gain = np.clip((d_std + 1.0) / (s_std + 1.0), 0.7, 1.4)
        shift = d_mean - gain * s_mean
        if self._gain is not None and self._shift is not None:
            f = self.options.colour_follow
            gain = (1 - f) * self._gain + f * gain
            shift = (1 - f) * self._shift + f * shift
        self._gain, self._shift = gain, shift
        # one saturating per-channel affine pass in C: Lab' = gain * Lab + shift
        out = cv2.transform(src, np.hstack([np.diag(gain), shift[:, None]]).astype(np.float32))
        return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine, in plain arithmetic (np.linalg's per-call overhead is larger)."""
    (a, b, c), (d, e, f) = np.asarray(m, np.float64)
    det = a * e - b * d
    return np.array([[e, -b, b * f - c * e], [-d, a, c * d - a * f]]) / det


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2]


def _soften(mask: np.ndarray, feather: float) -> np.ndarray:
    """Float alpha 0..1: the sharp mask blurred over about ``feather`` pixels. Two box blurs approximate
    a Gaussian at a cost independent of the width (1080p faces have wide feathers)."""
    import cv2

    k = max(3, int(feather) | 1)
    soft = cv2.blur(cv2.blur(mask, (k, k)), (k, k))
    return soft.astype(np.float32) * (1.0 / 255.0)


def _multiband(src: np.ndarray, dst: np.ndarray, mask: np.ndarray, feather: float, levels: int) -> np.ndarray:
    """Laplacian-pyramid blend of ``src`` into ``dst`` under ``mask`` (uint8, sharp edge)."""
    import cv2

    alpha = cv2.GaussianBlur(mask, (0, 0), max(1.0, feather / 4)).astype(np.float32) / 255.0
    a, b = src.astype(np.float32), dst.astype(np.float32)
    ga, gb, gm = [a], [b], [alpha]
    for _ in range(levels):
        if min(ga[-1].shape[:2]) < 8:
            break
        ga.append(cv2.pyrDown(ga[-1]))
        gb.append(cv2.pyrDown(gb[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = ga[-1] * gm[-1][:, :, None] + gb[-1] * (1 - gm[-1][:, :, None])
    for i in range(len(ga) - 2, -1, -1):
        size = (ga[i].shape[1], ga[i].shape[0])
        la = ga[i] - cv2.pyrUp(ga[i + 1], dstsize=size)
        lb = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=size)
        m = gm[i][:, :, None]
        out = cv2.pyrUp(out, dstsize=size) + la * m + lb * (1 - m)
    # outside the widest blur the frame must stay exactly as it was
    outside = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(2 * feather))) == 0
    result = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    result[outside] = dst[outside]
    return result
