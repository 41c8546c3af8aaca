"""The inside of an opened mouth, painted behind the lips of a warped portrait.

A photo has no pixels for the inside of a mouth it shows closed, so they are drawn, back to front:
the cavity (lip-coloured, dark, darkest deep inside and in the corners); the tongue, a lit mound low
in the mouth once the jaw drops; the lower incisors and canines, riding on the jaw just above the
lower lip; the upper teeth one by one (central and lateral incisors, canines, premolars) hanging from
the upper jaw, so they stay put while the lips move and show more as the upper lip lifts, with the
gum's scalloped edge above them at the widest openings. The teeth sit on a round arch (narrower and
darker as they turn away into the corners), have rounded biting corners that leave dark notches
between them, rounded lit faces and slightly translucent edges. The lips are in front of all of it:
they shade what is just behind their edge, and the arch's ends disappear behind the corners.
Everything is lit from the side the photo's own light comes from (measured on the cheeks), at the
face's brightness, in the lips' own hue. When the photo itself shows its upper teeth (a smile, a
word caught mid-way), those pixels are the upper teeth instead of painted ones. The shapes are laid
out in the canonical face frame between the upper and lower inner-lip curves, so they follow the
lips exactly, and every edge is feathered over about a pixel; in a soft photo (a webcam still, an
upscaled picture) the painting is then blurred as much as the photo's own edges are, since a crisp
mouth in a soft face is what gives a painted mouth away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face.landmarks import LIPS_INNER, LIPS_OUTER, LOWER_FACE
from digihuman.render.photo_warp import INNER_LOWER, INNER_UPPER, UPPER_LIP_LIFT, MouthPose

# Sizes are canonical face units (about 10 cm: a central incisor is ~0.085 wide).
# Teeth from the midline outwards along the arch: (width, crown length share, brightness). Upper:
# central and lateral incisors, canine, two premolars; lower: incisors, canine, premolar.
UPPER_TEETH = ((0.085, 1.0, 1.0), (0.066, 0.9, 0.95), (0.07, 0.97, 0.88), (0.062, 0.86, 0.8),
               (0.06, 0.8, 0.74))
LOWER_TEETH = ((0.052, 1.0, 1.0), (0.056, 0.98, 0.95), (0.066, 0.95, 0.86), (0.06, 0.85, 0.78))
TEETH_HEIGHT = 0.1  # an upper central incisor's crown, gum to biting edge
REST_SHOW = 0.025  # the upper incisors' edge shows this far below a relaxed upper lip ...
DRAWN_SHOW = 0.035  # ... and this much further with the lips drawn back (teeth = 1)
SMILE_CURVE = 0.035  # the biting edges rise this much towards the corners (the smile line)
CORNER_ROUND = 0.35  # share of a tooth's half width rounded off at its biting corners
ARCH_RADIUS = 0.23  # the dental arch seen from the front (canine to canine ~35 mm): teeth past the
# canines turn away into the dark behind the cheeks
OWN_TEETH_MIN = 0.06  # share of the photo's open mouth that must be teeth to reuse them
LUMA = np.array([0.299, 0.587, 0.114])
HEAD_POINTS = (1, 4, 5, 6, 168, 195, 197)  # nose and bridge: they move only with the head
PAINTED_SOFTNESS = 0.6  # px: the blur (Gaussian sigma) the painting's feathered edges already have
REBLUR_SIGMA = 1.5  # px: the known blur the photo's softness is measured against


@dataclass(frozen=True)
class MouthPalette:
    """Colours (RGB, 0-255 floats) of the painted mouth, taken from the portrait."""

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    grey: bool  # a black-and-white photo: everything painted in grey
    light: float = 0.0  # -0.3..0.3: how much brighter the face is on the image's right than its left
    gum: np.ndarray | None = None  # None: a shade of the tongue
    softness: float = 0.0  # px: the blur (Gaussian sigma) of the photo's own edges round the mouth

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
        # teeth are brighter than the skin around them, in the same light; a little ivory, never
        # paper white (which is what makes a painted mouth look like a cartoon)
        teeth_level = float(np.clip(max(1.15 * float(skin @ LUMA), 1.5 * float(lips @ LUMA)), 110, 236))
        cavity = lips * 0.44 * np.array([1.0, 0.6, 0.62])
        # in the photo's light: a quarter of the skin's own tint (a warm lamp makes teeth warm too)
        tint = skin / max(float(skin @ LUMA), 1.0)
        teeth = teeth_level * (0.75 * np.array([1.0, 0.96, 0.89]) + 0.25 * tint)
        # tongue and gum: the lips' own hue, the tongue a little paler and pinker, the gum redder
        tongue = lips * np.array([0.92, 0.66, 0.68])
        tongue = 0.8 * tongue + 0.2 * float(lips @ LUMA)  # paler than the lips: its coating
        gum = lips * np.array([0.95, 0.6, 0.62])
        if grey:
            cavity, teeth, tongue, gum = (np.full(3, float(c @ LUMA)) for c in (cavity, teeth, tongue, gum))
        cavity, teeth, tongue, gum = (c.astype(np.float32) for c in (cavity, teeth, tongue, gum))
        return cls(cavity, teeth, tongue, grey, light, gum, edge_softness(luma))


@dataclass(frozen=True)
class OwnTeeth:
    """The upper teeth a photo shows itself: its pixels and where they are teeth (rest pose)."""

    rgb: np.ndarray  # float32 crop of the photo around the mouth
    alpha: np.ndarray  # float32 0..1, same size: upper teeth
    origin: tuple[int, int]  # the crop's top-left in the photo
    upper_x: np.ndarray  # the photo's upper inner-lip line (x increasing, pixels) ...
    upper_y: np.ndarray  # ... and its y there
    head: np.ndarray  # HEAD_POINTS at rest, pixels
    show: float  # how far their biting edge reaches below the upper lip, canonical units
    colour: np.ndarray  # their typical colour (RGB 0-255), for the painted teeth beside them

    @classmethod
    def of(cls, rgb: np.ndarray, landmarks: np.ndarray, scale: float) -> OwnTeeth | None:
        """The photo's upper teeth, or None when it shows (almost) none."""
        import cv2

        from digihuman.face.mouth import TEETH_BRIGHTER, TEETH_MAX_CHROMA

        lm = np.asarray(landmarks, np.float64)[:, :2]
        up, lo = lm[list(INNER_UPPER)], lm[list(INNER_LOWER)]
        if float(np.max(lo[:, 1] - up[:, 1])) < 2.0:
            return None
        outer = lm[list(LIPS_OUTER)]
        pad = int(np.ceil(0.1 * scale)) + 2  # room for the teeth hidden above the lip in the photo
        x0, y0 = np.floor(outer.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + pad
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(rgb.shape[1], x1), min(rgb.shape[0], y1)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
        off = np.array([x0, y0], np.float64)
        inside = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(lm[list(LIPS_INNER)] - off).astype(np.int32)], 1)
        lips = np.zeros_like(inside)
        cv2.fillPoly(lips, [np.round(outer - off).astype(np.int32)], 1)
        lips = cv2.erode(lips * (1 - inside), np.ones((3, 3), np.uint8))
        if inside.sum() < 6 or lips.sum() < 5:
            return None
        light, chroma = lab[..., 0], np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
        lip_light = float(np.median(light[lips > 0]))
        # bright and colourless, in the upper part of the opening (lower teeth would stay behind
        # when the jaw drops)
        order = np.argsort(up[:, 0])
        ux, uy = up[order, 0], up[order, 1]
        lorder = np.argsort(lo[:, 0])
        lower_y = np.interp(np.arange(x0, x1), lo[lorder, 0], lo[lorder, 1])
        upper_y = np.interp(np.arange(x0, x1), ux, uy)
        rows = np.arange(y0, y1)[:, None]
        upper_part = rows < upper_y[None, :] + 0.7 * (lower_y - upper_y)[None, :]
        teeth = (light > lip_light + 0.6 * TEETH_BRIGHTER) & (chroma < 1.3 * TEETH_MAX_CHROMA)
        teeth &= (inside > 0) & upper_part
        if teeth.sum() < OWN_TEETH_MIN * inside.sum():
            return None
        # soft, and without specks: teeth are solid
        mask = cv2.morphologyEx(teeth.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)
        # the biting edge: the lowest teeth pixel of each column, below the lip line there
        columns = np.flatnonzero(mask.any(axis=0))
        bottom = (mask.shape[0] - 1 - np.argmax(mask[::-1, columns], axis=0)) + y0
        show = float(np.median(bottom - upper_y[columns])) / scale
        colour = np.median(crop[mask > 0].astype(np.float32), axis=0)
        return cls(crop.astype(np.float32), alpha, (int(x0), int(y0)), ux, uy,
                   lm[list(HEAD_POINTS)].copy(), float(np.clip(show, 0.01, TEETH_HEIGHT)), colour)

    def sample(self, px: np.ndarray, py: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Colour and alpha of the photo's upper teeth at frame pixels (``px``, ``py``): the teeth are
        fixed to the skull, so they are read where they were, moved only with the head (``head``:
        HEAD_POINTS now). Above the photo's own lip line, where it showed lip, the teeth's top row
        carries on upwards (the lifted lip bares more of the same teeth)."""
        import cv2

        shift = (head - self.head).mean(axis=0)
        sx, sy = px - shift[0], py - shift[1]
        top = np.interp(sx, self.upper_x, self.upper_y) + 1.0
        sy = np.maximum(sy, top)
        mx = (sx - self.origin[0]).astype(np.float32)
        my = (sy - self.origin[1]).astype(np.float32)
        colour = cv2.remap(self.rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(self.alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return colour, alpha


def edge_softness(grey: np.ndarray) -> float:
    """The blur (Gaussian sigma, px) of the strongest edges of ``grey``: blurring an edge of sigma s
    by a known sigma b lowers its steepest gradient by sqrt(s^2 + b^2) / s, so that ratio, measured
    on the image's steepest 3 % of pixels, gives s (0.5-4 px: sharp photo to webcam still)."""
    import cv2

    grey = np.ascontiguousarray(grey, np.float32)
    if min(grey.shape) < 8:
        return 0.0

    def steepness(image: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))

    before = steepness(grey)
    steep = before >= np.percentile(before, 97)
    after = float(steepness(cv2.GaussianBlur(grey, (0, 0), REBLUR_SIGMA))[steep].mean())
    ratio = float(before[steep].mean()) / max(after, 1e-6)
    return float(np.clip(REBLUR_SIGMA / np.sqrt(max(ratio * ratio - 1.0, 1e-3)), 0.0, 4.0))


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


def _ramp(x: float | np.ndarray, lo: float, hi: float) -> float | np.ndarray:
    return np.clip((np.asarray(x) - lo) / (hi - lo), 0.0, 1.0)


def _over(base: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return base * (1 - alpha[..., None]) + layer * alpha[..., None]


@dataclass(frozen=True)
class _Row:
    """Per pixel, the tooth of a row at its arch position."""

    across: np.ndarray  # 0..1 across the tooth
    length: np.ndarray  # crown length share (0: no tooth there)
    shade: np.ndarray  # brightness of that tooth
    notch: np.ndarray  # how far its biting corner is rounded off here, canonical units
    contact: np.ndarray  # 0..1: on the line where it touches its neighbour
    front: np.ndarray  # 1 for the incisors' faces (they catch the light), 0 further round


def _teeth_row(s: np.ndarray, teeth: tuple[tuple[float, float, float], ...], f: float) -> _Row:
    """The row ``teeth`` at arch position ``s`` (canonical units from the midline, signed)."""
    widths = np.array([t[0] for t in teeth])
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    a = np.abs(s)
    k = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, len(teeth) - 1)
    present = a < edges[-1]
    lo, width = edges[k], widths[k]
    across = np.clip((a - lo) / width, 0, 1)
    length = np.where(present, np.array([t[1] for t in teeth])[k], 0.0)
    shade = np.array([t[2] for t in teeth])[k]
    # rounded biting corners: an arc over the outer CORNER_ROUND of each half of the tooth
    x = np.clip((np.abs(2 * across - 1) - (1 - CORNER_ROUND)) / CORNER_ROUND, 0, 1)
    radius = CORNER_ROUND * 0.5 * width
    notch = radius * (1 - np.sqrt(1 - x * x))
    to_contact = np.minimum(a - lo, lo + width - a)
    contact = np.exp(-((to_contact / (0.55 * f)) ** 2))
    front = (k < 2).astype(np.float64)
    return _Row(across, length, shade, notch, contact, front)


def paint_mouth(crop: np.ndarray, offset: tuple[int, int], target: np.ndarray, mouth: MouthPose,
                palette: MouthPalette, to_canonical: np.ndarray, scale: float,
                own_teeth: OwnTeeth | None = None) -> None:
    """Paint the mouth interior into ``crop`` (uint8 RGB, in place) whose top-left is at ``offset``
    of the frame; ``target`` are the frame's landmark pixels, ``to_canonical`` the rest pose's
    pixel -> canonical similarity and ``scale`` its pixels per canonical unit; ``own_teeth``: the
    photo's own upper teeth, used instead of painted ones."""
    a = np.asarray(to_canonical, np.float64)
    up_px, lo_px = target[list(INNER_UPPER)], target[list(INNER_LOWER)]
    up, lo = up_px @ a[:, :2].T + a[:, 2], lo_px @ a[:, :2].T + a[:, 2]
    mid_gap = float(np.max(lo[:, 1] - up[:, 1]))
    if mid_gap * scale < 0.7:
        return  # lips together: nothing shows
    both = np.vstack([up_px, lo_px]) - np.array(offset)
    # a little less than the photo's: a mouth a shade crisper than its face still reads as one, while
    # the full blur washes small teeth out (side by side on webcam stills)
    blur = 0.8 * float(np.sqrt(max(palette.softness**2 - PAINTED_SOFTNESS**2, 0.0)))
    pad = int(np.ceil(3 * blur)) if blur > 0.3 else 0  # room for the blurred edge
    x0, y0 = np.floor(both.min(axis=0)).astype(int) - 2 - pad
    x1, y1 = np.ceil(both.max(axis=0)).astype(int) + 3 + pad
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
    side = np.clip((u - uc) / half, -1, 1)
    across = np.abs(side)  # 0 in the middle, 1 at the corners
    gap = np.maximum(vl - vu, 1e-6)
    jaw, teeth = float(np.clip(mouth.jaw, 0, 1)), float(np.clip(mouth.teeth, 0, 1))
    vu_mid = float(np.interp(uc, *up[np.argsort(up[:, 0])].T))
    vl_mid = float(np.interp(uc, *lo[np.argsort(lo[:, 0])].T))
    # the photo's light: one side of the mouth brighter than the other (u grows to the image's right
    # when the face is upright; the sign follows the canonical frame's x axis)
    side_sign = 1.0 if a[0, 0] >= 0 else -1.0
    lit_side = 1.0 + 1.2 * palette.light * side_sign * side
    to_lip = np.minimum(v - vu, vl - v).clip(0)
    # just behind the lips' edges everything is in their shadow, the upper lip's deeper
    behind = 1.0 - 0.28 * np.exp(-to_lip / (1.8 * f)) - 0.1 * np.exp(-(v - vu).clip(0) / (4 * f))

    # cavity: a little light just inside the lips in the middle, dark deep inside and at the corners
    depth = np.clip(to_lip / (0.5 * gap), 0, 1)
    colour = palette.cavity * (1.1 - 0.42 * depth - 0.5 * across**1.5)[..., None]

    # the tongue: a mound low in the mouth once the jaw drops, lit from the front (its top edge
    # catches the light, its back and sides fall into the dark), a faint groove down its middle
    dome = np.clip(1 - (side / 0.72) ** 2, 0, 1)
    tongue_h = 0.5 * (vl_mid - vu_mid) * float(_ramp(mid_gap, 0.05, 0.16)) * dome**0.75
    tongue_h = np.minimum(tongue_h, 0.6 * gap)
    if tongue_h.max() > f:
        top = vl - tongue_h
        into = np.clip((v - top) / np.maximum(tongue_h, f), 0, 1)  # 0 at its top, 1 at the lower lip
        sheen = np.exp(-(((into - 0.25) / 0.2) ** 2)) * dome
        groove = np.exp(-(((u - uc) / (0.012 + 0.5 * f)) ** 2)) * (1 - into)
        # its back (the top edge seen from the front) turns away into the dark
        light = (0.45 + 0.4 * into**0.4 + 0.25 * sheen) * (0.55 + 0.45 * dome) * (1 - 0.15 * groove)
        alpha = np.clip((v - top) / (1.6 * f) + 0.2, 0, 1) * (tongue_h > 0.5 * f)
        colour = _over(colour, palette.tongue * light[..., None], alpha)

    # the teeth sit on a round arch: a tooth at arch length s from the midline shows at R sin(s / R);
    # those turned away are darker, and the lips' corners hide the arch's ends
    radius = min(ARCH_RADIUS, 1.1 * half)
    s = radius * np.arcsin(np.clip((u - uc) / radius, -1, 1))
    turn = np.sqrt(np.clip(1 - ((u - uc) / radius) ** 2, 0, 1))
    hidden = np.clip((1 - across) / 0.4, 0, 1)
    hidden_low = np.clip((0.8 - across) / 0.3, 0, 1)  # the lower lip's corners rise over them sooner
    curve = SMILE_CURVE * ((u - uc) / max(half, radius)) ** 2

    # lower teeth: on the jaw, their tips just above the lower lip; more of them with the lips
    # drawn back (teeth) and as the jaw drops, hidden behind the upper teeth when nearly closed
    low_show = ((0.004 + 0.03 * teeth) * float(_ramp(mid_gap, 0.04, 0.12))
                + 0.015 * float(_ramp(mid_gap, 0.14, 0.26)))
    if low_show * scale > 0.8:
        row = _teeth_row(s, LOWER_TEETH, f)
        tip = vl_mid - low_show + 0.7 * curve + row.notch + (1 - row.length) * 0.3 * low_show
        tip = np.maximum(tip, vl - 0.75 * gap)
        alpha = np.clip((v - tip) / f + 0.5, 0, 1) * (row.length > 0) * hidden_low
        down = np.clip((v - tip) / max(low_show, f), 0, 1)
        # in the upper teeth's and upper lip's shadow: darker than the upper row, lit at the tips
        light = (0.62 + 0.12 * np.sin(np.pi * row.across) + 0.1 * (1 - down)) * row.shade
        light *= (0.3 + 0.7 * turn) * (1 - 0.35 * row.contact) * (1 - 0.25 * down**2)
        colour = _over(colour, palette.teeth * light[..., None], alpha)

    # upper teeth: fixed to the upper jaw, so their biting edge is where it was (the relaxed lip
    # line plus what shows below it) and the lifting lip bares more of them; under the lip's shade
    # at the top, translucent at the edge, each face rounded and lit down its middle
    lift = UPPER_LIP_LIFT * jaw * (1 - across**2)
    show = REST_SHOW + DRAWN_SHOW * teeth if own_teeth is None else own_teeth.show
    bite_mid = vu_mid + UPPER_LIP_LIFT * jaw + show
    row = _teeth_row(s, UPPER_TEETH, f)
    bite = bite_mid - curve - row.notch - (1 - row.length) * TEETH_HEIGHT * 0.5
    bite = np.minimum(bite, vu + 0.7 * gap)
    alpha = np.clip((bite - v) / f + 0.5, 0, 1) * (row.length > 0) * hidden
    length = np.maximum(bite - vu, f)
    down = np.clip((v - vu) / length, 0, 1)
    shadow = 0.7 + 0.3 * np.clip((v - vu) / np.maximum(0.45 * length, 2 * f), 0, 1)
    rounded = 0.86 + 0.14 * np.sin(np.pi * row.across)
    glint = 0.1 * row.front * np.exp(-(((row.across - 0.42) / 0.18) ** 2) - ((down - 0.4) / 0.25) ** 2)
    light = (shadow * rounded + glint) * row.shade * (0.3 + 0.7 * turn) * (1 - 0.4 * row.contact)
    enamel = palette.teeth * light[..., None]
    # the last ~10% of the crown lets the dark behind it through, a little blue-grey
    edge_mix = (0.22 * np.clip((down - 0.86) / 0.14, 0, 1))[..., None]
    enamel = enamel * (1 - edge_mix + edge_mix * np.array([0.55, 0.58, 0.64]))
    # the gum's edge: scalloped over each tooth, only where the lip has lifted clear of the crown
    shortest = min(t[1] for t in UPPER_TEETH)
    if float(np.max(bite - vu)) > TEETH_HEIGHT * shortest - 0.04 - f:  # papilla and corner notch
        gum_line = bite + row.notch - TEETH_HEIGHT * row.length + 0.02 * (1 - np.sin(np.pi * row.across))
        gum = np.clip((gum_line - v) / f + 0.5, 0, 1) * (row.length > 0)
        gum_colour = palette.gum if palette.gum is not None else palette.tongue
        enamel = _over(enamel, gum_colour * (shadow * (0.3 + 0.7 * turn))[..., None], gum)
    if own_teeth is not None:
        own, own_alpha = own_teeth.sample(px, py, target[list(HEAD_POINTS)])
        # the photo's teeth over the painted ones (which end where the photo's do, in its colour);
        # under the lifting lip they get its shade
        own = own * (0.75 + 0.25 * np.clip((v - vu) / np.maximum(lift + 2 * f, 2 * f), 0, 1))[..., None]
        enamel = _over(enamel, own, 0.9 * own_alpha * hidden)
    colour = _over(colour, enamel, alpha)
    colour = (colour * (behind * lit_side)[..., None]).astype(np.float32)
    inside = inside.astype(np.float32)
    region = crop[y0:y1, x0:x1].astype(np.float32)
    if pad:  # as soft as the photo: the painting and its outline blurred together (premultiplied)
        import cv2

        painted = cv2.GaussianBlur(colour * inside[..., None], (0, 0), blur)
        inside = cv2.GaussianBlur(inside, (0, 0), blur)
        mixed = region * (1 - inside[..., None]) + painted
    else:
        mixed = _over(region, colour, inside)
    crop[y0:y1, x0:x1] = np.clip(mixed, 0, 255).astype(np.uint8)
