"""Putting a filmed mouth into a background frame: align, bend the jaw, colour-match, blend.

The library mouth is stored in the canonical face frame, so the background frame's own
canonical transform (a similarity fitted to the rigid eye and nose points) puts it in place: the
upper face of both frames coincides, and the lips and chin come from the library frame.

The blend mask is the *background frame's* lower face (LOWER_FACE, from the nose base round the jaw
line), and the soft edge lies inside it: everything outside the face contour (background, collar,
hair, neck) is the background frame's own pixels. The library frame's jaw is rarely where the
background's is (its mouth was open when the background's was shut, or the other way round), so the
mouth picture is bent before blending: a smooth displacement field, zero on the lips and under the
nose and equal to the jaw offset on the jaw line, carries its jaw line onto the background's. The
lips stay where the library frame had them; only the chin between lips and jaw stretches or shrinks.

Colour, in two parts. Skin: the low-frequency difference between the background and the mouth
picture over the skin inside the mask (lips of both frames excluded) is added to the mouth picture,
so its shading follows the background frame's light everywhere (no lighter patch on one cheek, no
step at the edge), and since the background is continuous in time, so is the result. Lips: their
mean Lab colour is moved to the background frame's lip colour (smoothed over time), so lipstick or a
flushed lip does not jump from one library frame to the next. ``multiband`` (V2) blends with a
Laplacian pyramid instead of a single feather: low frequencies mix over a wide band and fine detail
(pores, stubble) over a narrow one; the result is then confined to the face contour like the
standard blend. The feather is proportional to the face size; all the work is done in the bounding
box of the mask, so the cost follows the face size, not the frame's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from digihuman.face.landmarks import JAW, LIPS_INNER, LIPS_OUTER, LOWER_FACE, LOWER_LIP_INNER, UPPER_LIP_INNER
from digihuman.face.pose import apply_affine
from digihuman.render.avatar import AvatarModel

_LOWER = list(LOWER_FACE)
_JAW = list(JAW)
_LIPS = list(LIPS_OUTER)
_LIPS_IN = list(LIPS_INNER)
# points the jaw bend leaves in place: under the nose and the upper cheeks (the canonical transform
# already lines them up) — with the lips, they hold the field at zero above the chin
_FIXED = [2, 98, 327, 205, 425, 4, 5, 195, 50, 280, 187, 411]
# The jaw bend's fits, exact first: the ridge added to the Gaussian system is raised until the field
# does not fold (nor squeeze any area below BEND_MIN_JACOBIAN of its size). Ordinary frames pass the
# first and are bent as before (lv03's test render: 575 of 600 frames; 22 the second, 3 the third).
BEND_RIDGES = (1e-3, 1e-2, 1e-1, 1.0)
BEND_MIN_JACOBIAN = 0.2
# eroded face contours kept per background frame: a 30 s window of 1080p faces fits, 4K ones partly
CONTOUR_CACHE_BYTES = 96 << 20
# and their soft edges (float, four times the size): a 30 s window of 512x512 faces fits (27 MB)
SOFT_EDGE_CACHE_BYTES = 32 << 20


@dataclass(frozen=True)
class BlendOptions:
    """How a mouth is blended into its frame (sizes in canonical units: outer eye-corner distance)."""

    multiband: bool = False  # V2: Laplacian-pyramid blending instead of one feathered alpha
    feather: float = 0.10  # width of the soft edge (inside the face contour)
    bend_jaw: bool = True  # carry the mouth picture's jaw line onto the background frame's
    colour: bool = True  # match the mouth's skin shading and lip colour to the frame's
    shading_blur: float = 0.15  # scale of the skin shading that follows the background frame
    lip_follow: float = 0.5  # share of each frame's lip colour taken into the smoothed target
    levels: int = 4  # pyramid levels for multiband


@dataclass(frozen=True)
class LipMeasure:
    """What colouring a mouth picture's lips needs: their box in the picture, its Lab pixels, the
    soft ring of the lips in it, and the mean Lab colour of the picture's lips and the frame's."""

    box: tuple[int, int, int, int]
    lab: np.ndarray
    soft: np.ndarray
    src: np.ndarray
    dst: np.ndarray


@dataclass(frozen=True)
class PreparedBlend:
    """One frame's blend before its lip colour is smoothed (:meth:`Compositor.prepare`)."""

    roi: np.ndarray  # the background's box, RGB
    warped: np.ndarray  # the mouth picture placed, bent and shaded to the background
    mask: np.ndarray  # where it may show, sharp
    alpha: np.ndarray  # and softened
    feather: float
    lips: LipMeasure | None  # None: lips too small to colour
    out: np.ndarray | None  # the single-feather blend with the lips as shaded (None for multiband)


class Compositor:
    """Blends library mouths into background frames; keeps the smoothed lip colour."""

    def __init__(self, model: AvatarModel, options: BlendOptions = BlendOptions()) -> None:
        self.options = options
        a = model.arrays
        self._landmarks = a["landmarks"]
        self._to_canonical = a["to_canonical"]
        self._scale = a["scale"]
        self._crop_to_canonical = model.crop_to_canonical()
        self._lip_target: np.ndarray | None = None
        # (background row, box, erosion) -> the eroded contour and its soft edge (None: over budget)
        self._contours: dict[tuple[int, tuple[int, int, int, int], int],
                             tuple[np.ndarray, np.ndarray | None]] = {}
        self._contour_bytes = self._soft_edge_bytes = 0

    def mask_polygon(self, background_row: int, mouth_row: int) -> np.ndarray:
        """The region the mouth picture may cover, in canonical units: (1, len(LOWER_FACE), 2) — the
        background frame's lower face, bounded by its own jaw line (``mouth_row`` does not widen it)."""
        return apply_affine(self._to_canonical[background_row],
                            self._landmarks[background_row][_LOWER]).astype(np.float64)[None]

    def __call__(self, background: np.ndarray, background_row: int, mouth: np.ndarray,
                 mouth_row: int) -> np.ndarray:
        """``background`` (H, W, 3) with the library mouth ``mouth`` (canonical crop of ``mouth_row``)
        blended in; ``background_row`` is the background frame's row in the model's track."""
        height, width = background.shape[:2]
        box = self.box(background_row, (width, height))
        if box is None:
            return background
        x0, y0, x1, y1 = box
        out = background.copy()
        out[y0:y1, x0:x1] = self.blend(background[y0:y1, x0:x1], box, background_row, mouth, mouth_row)
        return out

    def box(self, background_row: int, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The part (x0, y0, x1, y1) of a ``size`` (width, height) frame that blending the mouth into
        background frame ``background_row`` changes; None when the face is (almost) out of frame."""
        width, height = size
        poly = self._landmarks[background_row][_LOWER].astype(np.float64)
        pad = 2
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + pad
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        return x0, y0, x1, y1

    def blend(self, roi: np.ndarray, box: tuple[int, int, int, int], background_row: int, mouth: np.ndarray,
              mouth_row: int) -> np.ndarray:
        """The ``box`` (from :meth:`box`) of the background frame, ``roi`` (RGB), with the mouth
        blended in: a new array of the same shape. Only the box is read, so a caller holding the
        frame in another form converts just this part."""
        return self.finish(self.prepare(roi, box, background_row, mouth, mouth_row))

    def prepare(self, roi: np.ndarray, box: tuple[int, int, int, int], background_row: int, mouth: np.ndarray,
                mouth_row: int) -> PreparedBlend:
        """All of :meth:`blend` but the lip colour's smoothing over time: it keeps no state, so
        several threads may prepare frames at once; :meth:`finish` them in frame order."""
        import cv2

        o = self.options
        x0, y0, x1, y1 = box
        from_canonical = _invert(self._to_canonical[background_row])
        scale = float(np.sqrt(abs(np.linalg.det(from_canonical[:, :2]))))  # pixels per canonical unit
        feather = max(2.0, o.feather * scale)
        bg_pts = self._landmarks[background_row].astype(np.float64)
        # the library frame's landmarks where the canonical transform puts them in this frame
        placed = apply_affine(from_canonical, apply_affine(self._to_canonical[mouth_row],
                                                           self._landmarks[mouth_row])).astype(np.float64)
        w, h = x1 - x0, y1 - y0
        origin = np.array([x0, y0], np.float64)
        # ROI pixel -> background pixel (+ jaw bend) -> crop pixel
        to_crop = _invert(_compose(from_canonical, self._crop_to_canonical))
        bend = _jaw_bend(bg_pts, placed, scale, (w, h), origin) if o.bend_jaw else None
        sample = _sample_map(to_crop, (w, h), origin, bend)
        warped = cv2.remap(mouth, sample, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ch, cw = mouth.shape[:2]
        # the soft edge lies wholly inside the contour and the mouth picture: both eroded by the
        # blur's reach, then blurred. Eroding their intersection is intersecting their erosions, so
        # the contour's (the background frame's alone) is kept, and the picture's is needed only
        # where it does not cover the box
        r = max(1, int(round(feather)))
        mask, alpha = self._eroded_contour(background_row, box, bg_pts[_LOWER] - origin, r, feather)
        inside = cv2.inRange(sample, (0.0, 0.0), (cw - 1.0, ch - 1.0))  # 255 where both lie in the picture
        if cv2.countNonZero(inside) < inside.size:
            mask = np.minimum(mask, _erode_disc(inside, r))
            alpha = _soften(mask, feather)
        lips = None
        if o.colour:
            lips_placed = placed[_LIPS] - origin
            lips_bg = bg_pts[_LIPS] - origin
            warped = self._match_shading(warped, roi, mask, (lips_placed, lips_bg), scale)
            lips = self._measure_lips(warped, roi, (lips_placed, placed[_LIPS_IN] - origin),
                                      (lips_bg, bg_pts[_LIPS_IN] - origin), scale)
        # the single-feather blend is per pixel: made here in full, only the lips' box is made again
        # once their colour is known
        out = None if o.multiband else _mix(warped, roi, alpha)
        return PreparedBlend(roi, warped, mask, alpha, feather, lips, out)

    def finish(self, part: PreparedBlend) -> np.ndarray:
        """The blended box of a frame from :meth:`prepare`: its lips take the smoothed lip colour."""
        warped, out = part.warped, part.out
        lips = None if part.lips is None else self._colour_lips(part.lips)
        if self.options.multiband:
            if lips is not None:
                x0, y0, x1, y1 = part.lips.box
                warped = warped.copy()
                warped[y0:y1, x0:x1] = lips
            blended = _multiband(warped, part.roi, part.mask, part.feather, self.options.levels)
            return _mix(blended, part.roi, part.alpha)
        assert out is not None  # made by prepare without multiband
        if lips is not None:
            x0, y0, x1, y1 = part.lips.box
            out = out.copy()
            out[y0:y1, x0:x1] = _mix(lips, part.roi[y0:y1, x0:x1], part.alpha[y0:y1, x0:x1])
        return out

    def _eroded_contour(self, background_row: int, box: tuple[int, int, int, int], poly: np.ndarray,
                        r: int, feather: float) -> tuple[np.ndarray, np.ndarray]:
        """The background frame's lower-face contour in its box, eroded by ``r``, and softened over
        ``feather`` (the alpha of a mouth picture that covers the box): kept per background frame
        (the render plays the same window back and forth) up to a memory budget."""
        import cv2

        key = (background_row, box, r)
        kept = self._contours.get(key)
        if kept is not None:
            mask, alpha = kept
            return mask, _soften(mask, feather) if alpha is None else alpha
        x0, y0, x1, y1 = box
        contour = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(contour, [np.round(poly).astype(np.int32)], 255)
        mask = _erode_disc(contour, r)
        alpha = _soften(mask, feather)
        mask.flags.writeable = alpha.flags.writeable = False  # shared by the frames of this background frame
        if self._contour_bytes + mask.nbytes <= CONTOUR_CACHE_BYTES:
            keep_alpha = self._soft_edge_bytes + alpha.nbytes <= SOFT_EDGE_CACHE_BYTES
            self._contours[key] = mask, alpha if keep_alpha else None
            self._contour_bytes += mask.nbytes
            self._soft_edge_bytes += alpha.nbytes if keep_alpha else 0
        return mask, alpha

    def _match_shading(self, warped: np.ndarray, roi: np.ndarray, mask: np.ndarray,
                       lips: tuple[np.ndarray, np.ndarray], scale: float) -> np.ndarray:
        """``warped`` plus the low-frequency difference background - warped over the skin."""
        import cv2

        h, w = mask.shape
        f = max(1, int(0.04 * scale))  # the correction is smooth: work on a coarse grid
        sw, sh = max(1, w // f), max(1, h // f)
        # 1 on the skin: the weights themselves, with no scaling pass
        skin = cv2.threshold(mask, 128, 1, cv2.THRESH_BINARY)[1]
        grow = max(1, int(0.08 * scale))
        corners = [np.round(poly).astype(np.int32) for poly in lips]
        # the lips are a small part of the box: drawn, grown and cut out of the skin in the part
        # growing can reach (the same pixels as in the whole box)
        lx, ly, lw, lh = cv2.boundingRect(np.concatenate(corners))
        gx0, gy0 = max(0, lx - grow), max(0, ly - grow)
        gx1, gy1 = min(w, lx + lw + grow), min(h, ly + lh + grow)
        if gx1 > gx0 and gy1 > gy0:
            lip_mask = np.zeros((gy1 - gy0, gx1 - gx0), np.uint8)
            for poly in corners:  # one at a time: together they would be filled even-odd
                cv2.fillPoly(lip_mask, [poly - np.int32([gx0, gy0])], 255)
            lip_mask = cv2.dilate(lip_mask, _disc(grow))
            skin[gy0:gy1, gx0:gx1][lip_mask > 0] = 0
        if cv2.countNonZero(skin) < 50:
            return warped
        # OpenCV's arithmetic: one pass each instead of numpy's conversions and temporaries
        difference = cv2.subtract(roi, warped, dtype=cv2.CV_32F)
        small = cv2.resize(difference, (sw, sh), interpolation=cv2.INTER_AREA)
        weight = cv2.resize(skin.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
        sigma = max(1.0, self.options.shading_blur * scale / f)
        weighted = small * weight[:, :, None]
        num = cv2.GaussianBlur(weighted, (0, 0), sigma)
        den = cv2.GaussianBlur(weight, (0, 0), sigma)
        mean = weighted.reshape(-1, 3).sum(0) / max(float(weight.sum()), 1e-6)
        # where little skin was seen nearby, fall back to the mean difference
        trust = np.clip(den / 0.2, 0, 1)[:, :, None]
        corr = trust * num / np.maximum(den, 1e-6)[:, :, None] + (1 - trust) * mean
        corr = cv2.resize(corr, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.add(warped, corr, dtype=cv2.CV_8U)  # rounded and saturated

    def _measure_lips(self, warped: np.ndarray, roi: np.ndarray, placed: tuple[np.ndarray, np.ndarray],
                      bg: tuple[np.ndarray, np.ndarray], scale: float) -> LipMeasure | None:
        """The mean Lab colour of the mouth picture's lips and of the background frame's (None when
        either is too small to measure): what moving the one to the (smoothed) other needs."""
        import cv2

        h, w = warped.shape[:2]

        def ring(outer: np.ndarray, inner: np.ndarray, part: tuple[int, int, int, int] | None = None
                 ) -> tuple[np.ndarray, int, int]:
            """The lip ring in ``part`` (x0, y0, x1, y1) of the box, and the part's corner: by default
            the outer contour's extent, which holds all of it (not a mask of the whole face)."""
            o, i = np.round(outer).astype(np.int32), np.round(inner).astype(np.int32)
            ox, oy, ow, oh = cv2.boundingRect(o)
            px0, py0, px1, py1 = (ox, oy, ox + ow, oy + oh) if part is None else \
                (min(ox, part[0]), min(oy, part[1]), max(ox + ow, part[2]), max(oy + oh, part[3]))
            px0, py0, px1, py1 = max(0, px0), max(0, py0), min(w, px1), min(h, py1)
            m = np.zeros((max(0, py1 - py0), max(0, px1 - px0)), np.uint8)
            if m.size:
                shift = np.int32([px0, py0])
                cv2.fillPoly(m, [o - shift], 255)
                cv2.fillPoly(m, [i - shift], 0)
            return m, px0, py0

        x0, y0 = np.floor(placed[0].min(axis=0)).astype(int) - int(0.1 * scale)
        x1, y1 = np.ceil(placed[0].max(axis=0)).astype(int) + int(0.1 * scale)
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        src_ring, sx, sy = ring(*placed, (x0, y0, x1, y1))  # the picture's lips' box within its part
        dst_ring, dx, dy = ring(*bg)
        if cv2.countNonZero(src_ring) < 20 or cv2.countNonZero(dst_ring) < 20:
            return None
        src_ring = src_ring[y0 - sy:y1 - sy, x0 - sx:x1 - sx]
        # one pass from uint8 (the same float division)
        box = np.divide(warped[y0:y1, x0:x1], np.float32(255.0), dtype=np.float32)
        lab = cv2.cvtColor(box, cv2.COLOR_RGB2LAB)
        src = np.array(cv2.mean(lab, mask=src_ring)[:3])
        bx, by, bw, bh = cv2.boundingRect(dst_ring)  # convert the lips only, not the whole face
        lips = cv2.cvtColor(np.divide(roi[dy + by:dy + by + bh, dx + bx:dx + bx + bw], np.float32(255.0),
                                      dtype=np.float32), cv2.COLOR_RGB2LAB)
        dst = np.array(cv2.mean(lips, mask=dst_ring[by:by + bh, bx:bx + bw])[:3])
        soft = _soften(src_ring, max(3.0, 0.04 * scale))[:, :, None]
        return LipMeasure((int(x0), int(y0), int(x1), int(y1)), lab, soft, src, dst)

    def _colour_lips(self, lips: LipMeasure) -> np.ndarray:
        """The lips' box of the mouth picture with the mean Lab colour of its lips moved to the
        background's (smoothed): the rest of the picture is as prepared, so it is not copied."""
        import cv2

        dst = lips.dst
        if self._lip_target is not None:
            f = self.options.lip_follow
            dst = (1 - f) * self._lip_target + f * dst
        self._lip_target = dst
        # lightness only half-way (an open mouth shades its lips), hue fully; a wild difference is a
        # tracking slip, not a colour, and is not followed
        delta = (dst - lips.src) * np.array([0.5, 1.0, 1.0])
        delta = np.clip(delta, -20.0, 20.0)
        lab = lips.soft * delta.astype(np.float32)
        lab += lips.lab
        # in place: the same float32 steps as the plain expression, without its temporaries
        rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        rgb *= np.float32(255.0)
        rgb += np.float32(0.5)
        return np.clip(rgb, 0, 255, out=rgb).astype(np.uint8)


def lip_colour(picture: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(3,) mean Lab colour (L 0-100) of the lip ring between the ``outer`` and ``inner`` lip contours
    (pixel coordinates in ``picture``, RGB uint8); NaN when the ring is too small to measure."""
    import cv2

    h, w = picture.shape[:2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(outer.max(axis=0)).astype(int) + 2, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return np.full(3, np.nan, np.float32)
    ring = np.zeros((y1 - y0, x1 - x0), np.uint8)
    origin = np.array([x0, y0], np.float64)
    cv2.fillPoly(ring, [np.round(outer - origin).astype(np.int32)], 255)
    cv2.fillPoly(ring, [np.round(inner - origin).astype(np.int32)], 0)
    if cv2.countNonZero(ring) < 20:
        return np.full(3, np.nan, np.float32)
    lab = cv2.cvtColor(picture[y0:y1, x0:x1].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return np.array(cv2.mean(lab, mask=ring)[:3], np.float32)


def _jaw_bend(bg_pts: np.ndarray, placed: np.ndarray, scale: float, size: tuple[int, int],
              origin: np.ndarray) -> np.ndarray:
    """(h, w, 2) displacement, ROI pixels: where each output pixel samples the placed mouth picture
    relative to itself. Equal to the jaw offset on (and just beyond) the background's jaw line, zero
    on the library frame's lips and under the nose; a Gaussian radial-basis interpolation between."""
    import cv2

    jaw_bg, jaw_lib = bg_pts[_JAW], placed[_JAW]
    offset = jaw_lib - jaw_bg
    centre = (bg_pts[UPPER_LIP_INNER] + bg_pts[LOWER_LIP_INNER]) / 2
    away = jaw_bg - centre
    away /= np.linalg.norm(away, axis=1, keepdims=True) + 1e-9
    ring = jaw_bg + 0.25 * scale * away
    fixed = np.concatenate([placed[_LIPS], placed[_FIXED]])
    centres = np.concatenate([jaw_bg, ring, fixed]) - origin
    values = np.concatenate([offset, offset, np.zeros_like(fixed)])
    sigma = 0.2 * scale
    # per coordinate: numpy's sum over an axis of two is slower than the differences themselves
    dx = centres[:, None, 0] - centres[None, :, 0]
    dy = centres[:, None, 1] - centres[None, :, 1]
    d2 = dx * dx + dy * dy
    phi = np.exp(-d2 / (2 * sigma * sigma))
    w, h = size
    # the field is smooth over ~0.2 face units: evaluate it on nodes 0.05 apart and interpolate. Node
    # k sits at pixel (k + 0.5) f - 0.5, where a plain linear resize puts it.
    f = max(1, int(0.05 * scale))
    gw, gh = (w + f - 1) // f, (h + f - 1) // f
    gx, gy = (np.arange(gw) + 0.5) * f - 0.5, (np.arange(gh) + 0.5) * f - 0.5
    # a Gaussian of the distance is the product of one of each coordinate's: two small tables of
    # kernels (column x centre, row x centre) and a matrix product per component give the grid at
    # the cost of its rows plus columns, not nodes x centres distances
    kx = np.exp(-(gx[:, None] - centres[None, :, 0]) ** 2 / (2 * sigma * sigma))
    ky = np.exp(-(gy[:, None] - centres[None, :, 1]) ** 2 / (2 * sigma * sigma))
    field = np.zeros((gh, gw, 2), np.float32)
    # When the mouth's head is turned from the background's, the jaw line's top (the cheek edge) is
    # asked to move by the whole turn a few pixels from an upper-cheek point asked not to move: no
    # smooth field does both, and the exact fit overshoots by several times the offset and folds,
    # pasting the nose onto the cheek (lv03, 12 degrees of yaw apart: a nostril-like blob). Such a
    # field is fitted again more loosely (a ridge trades the exact fit for smoothness) until it no
    # longer folds; one that folds even then carries the jaw only part of the way.
    for ridge in BEND_RIDGES:
        coef = np.linalg.solve(phi + ridge * np.eye(len(centres)), values)
        grid = np.stack([(ky * coef[:, k]) @ kx.T for k in range(2)], axis=2).astype(np.float32)
        if _fold_free(grid, f):
            field = grid
            break
    else:
        for share in (0.75, 0.5, 0.25):
            if _fold_free(grid * np.float32(share), f):
                field = grid * np.float32(share)
                break
    if f > 1:
        field = cv2.resize(field, (gw * f, gh * f), interpolation=cv2.INTER_LINEAR)
    return field[:h, :w]


def _fold_free(field: np.ndarray, step: float) -> bool:
    """Whether a displacement ``field`` (nodes ``step`` pixels apart) keeps every pixel's
    neighbourhood the right way round: the Jacobian determinant of pixel -> pixel + displacement
    stays above BEND_MIN_JACOBIAN everywhere (a field that folds shows part of the picture twice)."""
    if min(field.shape[:2]) < 2:
        return True
    dy, dx = _gradient(field, 0, step), _gradient(field, 1, step)  # of both displacements at once
    det = (1.0 + dx[:, :, 0]) * (1.0 + dy[:, :, 1]) - dy[:, :, 0] * dx[:, :, 1]
    return bool(det.min() > BEND_MIN_JACOBIAN)


def _gradient(f: np.ndarray, axis: int, step: float) -> np.ndarray:
    """``np.gradient(f, step, axis=axis)`` (central differences, one-sided at the ends), the same
    numbers without its per-call overhead (a tenth of the jaw bend at 512x512)."""
    out = np.empty_like(f)
    a = np.moveaxis(f, axis, 0)
    o = np.moveaxis(out, axis, 0)
    o[1:-1] = (a[2:] - a[:-2]) / (2.0 * step)
    o[0] = (a[1] - a[0]) / step
    o[-1] = (a[-1] - a[-2]) / step
    return out


def _sample_map(to_crop: np.ndarray, size: tuple[int, int], origin: np.ndarray,
                bend: np.ndarray | None) -> np.ndarray:
    """(h, w, 2) float32: the crop coordinates (x, y) each ROI pixel samples, as cv2.remap takes
    them in one array (one pass of OpenCV's affine transform instead of numpy's temporaries)."""
    import cv2

    w, h = size
    points = np.empty((h, w, 2), np.float32)
    points[:, :, 0] = np.arange(w, dtype=np.float32) + np.float32(origin[0])
    points[:, :, 1] = (np.arange(h, dtype=np.float32) + np.float32(origin[1]))[:, None]
    if bend is not None:
        points += bend
    return cv2.transform(points, np.asarray(to_crop, np.float32))


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine, in plain arithmetic (np.linalg's per-call overhead is larger)."""
    (a, b, c), (d, e, f) = np.asarray(m, np.float64)
    det = a * e - b * d
    return np.array([[e, -b, b * f - c * e], [-d, a, c * d - a * f]]) / det


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2]


def _mix(picture: np.ndarray, roi: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``picture`` over ``roi`` (RGB uint8) with ``alpha`` (0..1, float32), rounded to uint8.

    OpenCV's blend is a fifth of the cost of the same sum in numpy float arrays (it was a seventh of
    compositing at 512x512); it rounds halves to even, so a pixel may differ from the plain sum by one
    level."""
    import cv2

    alpha = np.asarray(alpha, np.float32)
    return cv2.blendLinear(picture, roi, alpha, 1.0 - alpha)


@lru_cache(maxsize=64)
def _disc(r: int) -> np.ndarray:
    """The elliptical structuring element of radius ``r`` (read-only: shared between threads)."""
    import cv2

    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    disc.flags.writeable = False
    return disc


@lru_cache(maxsize=64)
def _disc_rects(r: int) -> tuple[np.ndarray, ...]:
    """The rectangles whose union is :func:`_disc` of radius ``r``: one per distinct row width,
    as tall as the rows at least that wide (the disc is symmetric and convex)."""
    import cv2

    widths = _disc(r).sum(axis=1) // 2  # each row's half-width
    heights: dict[int, int] = {}
    for row, half in enumerate(widths.tolist()):
        heights[half] = max(heights.get(half, 0), abs(row - r))
    rects = []
    for half, height in heights.items():
        rect = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half + 1, 2 * height + 1))
        rect.flags.writeable = False
        rects.append(rect)
    return tuple(rects)


def _erode_disc(mask: np.ndarray, r: int) -> np.ndarray:
    """``cv2.erode(mask, _disc(r))``, the same pixels at about half the cost (a face box at 512x512)
    and less the wider the disc: eroding by a union of shapes is the minimum of the erosions by
    each, and OpenCV erodes by a rectangle in two 1-D passes where a disc takes every pixel of it."""
    import cv2

    out = None
    for rect in _disc_rects(r):
        eroded = cv2.erode(mask, rect)
        out = eroded if out is None else np.minimum(out, eroded, out=out)
    return out


def _soften(mask: np.ndarray, feather: float) -> np.ndarray:
    """Float alpha 0..1: the sharp mask blurred over about ``feather`` pixels. Two box blurs approximate
    a Gaussian at a cost independent of the width (1080p faces have wide feathers)."""
    import cv2

    k = max(3, int(feather) | 1)
    soft = cv2.blur(cv2.blur(mask, (k, k)), (k, k))
    return np.multiply(soft, np.float32(1.0 / 255.0), dtype=np.float32)


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
    # the caller confines the result to the face contour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
