"""Shaping a portrait's face: mouth targets and idle pose -> moved landmarks -> piecewise-affine warp.

The rest geometry is measured once (:class:`FaceRig`): the 468 FaceMesh points in the canonical face
frame, which of them ride on the lower jaw, and a ring of fixed anchors around the head so that the
warp fades to zero before the background. Per frame, :meth:`FaceRig.pose` moves the points and
:class:`MeshWarp` resamples the photo over a Delaunay triangulation of points + anchors.

Between the face oval and the anchors, two halo rings follow the face part of the way, so jaw and
head motion fade out over hair and neck. The warp is computed backwards (for each output pixel,
where to read the photo) on a coarse grid, one affine map per target triangle; away from the lips
and eyes that field is blurred, which hides the piecewise-linear seams that would otherwise show as
kinks in the jaw line and the hair, and it is then upsampled to the crop. A 720p frame costs a few
milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face import FaceBox, FaceFrame, frontalise
from digihuman.face.landmarks import FACE_OVAL, LEFT_EYE, LIPS_INNER, RIGHT_EYE

MESH_POINTS = 468  # the irises (468-477) sit inside the eye triangles and are left out

# Lip rings of FaceMesh, corner to corner over the upper lip and under the lower lip (outer to inner).
UPPER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409,  # outer
             184, 74, 73, 72, 11, 302, 303, 304, 408,  # semi-outer
             183, 42, 41, 38, 12, 268, 271, 272, 407,  # semi-inner
             191, 80, 81, 82, 13, 312, 311, 310, 415)  # inner
LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375,
             77, 90, 180, 85, 16, 315, 404, 320, 307,
             96, 89, 179, 86, 15, 316, 403, 319, 325,
             95, 88, 178, 87, 14, 317, 402, 318, 324)
LIP_CORNERS = (61, 291, 76, 306, 62, 292, 78, 308)
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)  # right corner to left, in order
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Eyelids, paired upper/lower point by point from the outer corner, and the skin folds above them.
UPPER_LIDS = RIGHT_EYE[1:8] + LEFT_EYE[1:8]
LOWER_LIDS = RIGHT_EYE[9:16][::-1] + LEFT_EYE[9:16][::-1]
LID_FOLDS = ((247, 30, 29, 27, 28, 56, 190) + (467, 260, 259, 257, 258, 286, 414),  # just above the lid
             (113, 225, 224, 223, 222, 221, 189) + (342, 445, 444, 443, 442, 441, 413))  # below the brow

# Jaw: a hinge just in front of the ear (canonical y, z: level with the nose, behind the cheek line).
JAW_PIVOT = (0.35, 0.75)
OPEN_MAX = 0.30  # inner-lip gap at jaw = 1, canonical units (a wide "aa")
CORNER_DROP = 0.3  # share of the jaw's rotation the mouth corners follow
UPPER_LIP_LIFT = 0.03  # the upper lip rises this much at jaw = 1 (it bares the upper teeth)
WIDTH_GAIN = 0.32  # corner spread per unit of (width - 0.5), share of the half mouth width
ROUND_NARROW = 0.22  # corners pulled in at round = 1
ROUND_POUT = 0.18  # lips scaled up (pushed forward) at round = 1
# Two loose rings outside the face oval that follow it part of the way, so the motion of the jaw
# and head fades out over the hair and neck instead of stopping at the face's edge.
HALO = ((1.22, 0.6), (1.5, 0.25))  # (distance from the face centre, in oval radii; share of motion)


@dataclass(frozen=True)
class MouthPose:
    """Mouth targets for one frame, as in :class:`~digihuman.timeline.MouthTrack`."""

    jaw: float = 0.0
    width: float = 0.5
    round: float = 0.0
    teeth: float = 0.0


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class FaceRig:
    """The rest geometry of one portrait and how its points move for a mouth pose and an idle pose."""

    def __init__(self, face: FaceFrame, image_size: tuple[int, int]) -> None:
        width, height = image_size
        self.face = face
        self.rest = face.landmarks[:MESH_POINTS, :2].astype(np.float64)
        self.scale = float(face.pose.scale)  # pixels per canonical unit
        # canonical 3D -> pixel displacement (orthographic): the head's rotation, scaled
        self._to_pixels = face.pose.rotation.astype(np.float64)[:2] * self.scale
        self.canon = frontalise(face.landmarks, face.pose)[:MESH_POINTS].astype(np.float64)
        u, v = self.canon[:, 0], self.canon[:, 1]
        inner = self.canon[list(LIPS_INNER)]
        self.mouth_centre = inner[:, :2].mean(axis=0)
        self.half_width = float(np.abs(self.canon[[61, 291], 0] - self.mouth_centre[0]).max())
        self.rest_opening = float(np.mean(self.canon[[14, 87, 317], 1] - self.canon[[13, 82, 312], 1]))
        self.jaw_weight = self._jaw_weights(u, v)
        self.lip_lever = float(JAW_PIVOT[1] - self.canon[14, 2])
        self.is_lip = np.zeros(MESH_POINTS, bool)
        self.is_lip[list(UPPER_LIP + LOWER_LIP + LIP_CORNERS)] = True
        self.is_upper_inner = self._lip_lift(u)
        # the mouth region that width and rounding reshape: 1 on the lips, fading out over the cheeks
        du = (u - self.mouth_centre[0]) / (1.35 * self.half_width)
        dv = (v - self.mouth_centre[1]) / (0.95 * self.half_width)
        self.mouth_weight = 1.0 - _smoothstep((np.hypot(du, dv) - 0.75) / 0.85)
        # how far each point swings down with the jaw: its distance in front of the hinge, except
        # that around the mouth nothing lags behind the lower lip. The skin under the lip sits
        # further back (the fold above the chin); swung less, it would be squeezed into a dark
        # crease under a wide-open mouth instead of stretching as skin does.
        lever = JAW_PIVOT[1] - self.canon[:, 2]
        self.jaw_lever = lever + self.mouth_weight * np.clip(self.lip_lever - lever, 0, None)
        # a pouting lower lip pushes the skin under it down; that push fades out evenly down to
        # the chin's tip (fading over the mouth's own short reach would bunch the chin up)
        to_chin = np.clip((v[152] - v) / max(v[152] - v[17], 1e-6), 0, 1)
        beside = 1.0 - _smoothstep((np.abs(du) - 0.75) / 0.85)
        self.pout_weight = np.where(v > v[17], beside * to_chin, self.mouth_weight)
        box = face.box
        self.face_size = box.size
        self.anchors = self._anchor_ring(box, width, height)
        halo, self._halo_of, self._halo_share = self._halo(box, width, height)
        self.rest_all = np.vstack([self.rest, halo])  # the mesh, then the halo points
        self.neck = np.array([box.center[0], box.y1 + 0.3 * (box.y1 - box.y0)])

    def _lip_lift(self, u: np.ndarray) -> np.ndarray:
        """How much each point rises with the upper lip as the mouth opens: the inner edge most,
        the middle of the lip more than its corners."""
        lift = np.zeros(MESH_POINTS)
        lift[list(UPPER_LIP[27:])] = 1.0
        lift[list(UPPER_LIP[18:27])] = 0.6
        lift[list(UPPER_LIP[9:18])] = 0.3
        across = np.clip(np.abs(u - self.mouth_centre[0]) / max(self.half_width, 1e-6), 0, 1)
        return lift * (1 - across**2)

    def _halo(self, box: FaceBox, width: int, height: int) -> tuple[np.ndarray, list[int], np.ndarray]:
        """The halo rings' rest points, the oval point each one follows, and how much of it."""
        centre = np.array(box.center)
        oval = self.rest[list(FACE_OVAL)]
        points, follows, share = [], [], []
        for radius, follow in HALO:
            ring = centre + radius * (oval - centre)
            keep = np.all((ring >= 2) & (ring <= np.array([width, height]) - 3), axis=1)
            points.append(ring[keep])
            follows += [FACE_OVAL[i] for i in np.flatnonzero(keep)]
            # under the chin the neck and collar should stay put: the dropping chin slides over a
            # narrow band of neck there instead of dragging the clothes along
            below = _smoothstep((oval[keep, 1] - centre[1]) / (0.5 * (box.y1 - box.y0)) - 0.2)
            share += list(follow * (1 - 0.7 * below))
        return np.vstack(points), follows, np.array(share)[:, None]

    def _jaw_weights(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """How much of the jaw's rotation each point follows: 0 above the mouth line, 1 on the lower
        lip and chin, soft at the sides so the cheeks stretch instead of tearing."""
        up = self.canon[list(INNER_UPPER), :2]
        lo = self.canon[list(INNER_LOWER), :2]
        order = np.argsort(up[:, 0])
        line = np.interp(u, up[order, 0], (up[order, 1] + lo[order, 1]) / 2)
        lateral = _smoothstep((np.abs(u - self.mouth_centre[0]) / max(self.half_width, 1e-6) - 0.8) / 0.9)
        # beside the mouth the whole jaw line below the cheek turns rigidly (no kink along it): the
        # change from still to moving happens higher up, on the cheek
        soft = 0.04 + 0.32 * lateral
        centre = -0.22 * lateral
        weight = _smoothstep(((v - line) - centre + soft) / (2 * soft))
        # The lips hang from the corners, which follow the jaw a little: the lower lip drops fully
        # in the middle, the upper lip a little next to the corners, so the opening is rounded at
        # its ends instead of cut off square.
        reach = np.abs(u - self.mouth_centre[0]) / max(self.half_width, 1e-6)
        across = np.clip(reach, 0, 1)
        taper = CORNER_DROP + (1 - CORNER_DROP) * (1 - across**2)
        # the skin just under the lip follows the lip's taper, the chin further down the whole jaw,
        # so nothing between them is stretched into streaks; far beside the mouth nothing changes
        near = 1 - _smoothstep((reach - 1.0) / 0.6)
        under = _smoothstep((v - line) / 0.3)
        weight *= 1 - near * (1 - taper) * (1 - under)
        upper, lower = list(UPPER_LIP), list(LOWER_LIP)
        weight[upper] = CORNER_DROP * across[upper] ** 2
        weight[lower] = taper[lower]
        weight[list(LIP_CORNERS)] = CORNER_DROP
        return weight

    def _anchor_ring(self, box: FaceBox, width: int, height: int) -> np.ndarray:
        """Fixed points around the head (taller below: the chin drops onto the neck), on the image
        border where the ring leaves the image."""
        cx, cy = box.center
        w, h = box.x1 - box.x0, box.y1 - box.y0
        angles = np.linspace(0, 2 * np.pi, 28, endpoint=False)
        ry = np.where(np.sin(angles) > 0, 1.2 * h, 0.95 * h)  # y grows downwards: sin > 0 is below
        pts = np.stack([cx + 1.05 * w * np.cos(angles), cy + ry * np.sin(angles)], axis=1)
        pts[:, 0] = pts[:, 0].clip(0, width - 1)
        pts[:, 1] = pts[:, 1].clip(0, height - 1)
        return np.unique(np.round(pts, 1), axis=0)

    def pose(self, mouth: MouthPose, blink: float = 0.0, roll_deg: float = 0.0,
             shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Pixel positions of the points (``rest_all``: mesh, then halo) for this mouth and idle pose."""
        c = self.canon
        # jaw: rotate about the hinge, each point by its share of the angle (canonical y, z)
        target_open = OPEN_MAX * float(np.clip(mouth.jaw, 0, 1))
        angle = (target_open - self.rest_opening) / max(self.lip_lever, 0.3)
        a = self.jaw_weight * angle
        y = c[:, 1] - JAW_PIVOT[0]
        d = np.zeros_like(c)
        d[:, 1] = y * (np.cos(a) - 1) + self.jaw_lever * np.sin(a)
        # (the chin also moves back, but on a turned head that reads as a sideways slide of the
        # jaw over the background: the depth change is left out)
        # the upper lip lifts a little as the mouth opens, most at its inner edge
        d[:, 1] -= UPPER_LIP_LIFT * float(np.clip(mouth.jaw, 0, 1)) * self.is_upper_inner
        # width and rounding: scale about the mouth centre, fading out over the cheeks
        rel_u = c[:, 0] - self.mouth_centre[0]
        rel_v = c[:, 1] + d[:, 1] - self.mouth_centre[1]
        sx = WIDTH_GAIN * (mouth.width - 0.5) - ROUND_NARROW * mouth.round
        sy = ROUND_POUT * mouth.round - 0.3 * WIDTH_GAIN * (mouth.width - 0.5)
        d[:, 0] += sx * rel_u * self.mouth_weight
        # beyond the lips' outer edge the skin moves as far as that edge does, fading with distance:
        # scaled as well, it would lag behind the pouting lip and fold into a dark crease under it
        reach = np.clip(rel_v, rel_v[0], rel_v[17])  # upper and lower lip's outer middle points
        d[:, 1] += sy * reach * self.pout_weight
        points = self.rest + d @ self._to_pixels.T
        if blink > 0:
            points = self._blink(points, blink)
        if roll_deg or shift[0] or shift[1]:
            points = self._move_head(points, roll_deg, shift)
        moved = points[self._halo_of] - self.rest[self._halo_of]
        return np.vstack([points, self.rest_all[MESH_POINTS:] + self._halo_share * moved])

    def _blink(self, points: np.ndarray, amount: float) -> np.ndarray:
        up, lo = list(UPPER_LIDS), list(LOWER_LIDS)
        gap = points[lo] - points[up]
        out = points.copy()
        out[up] += 0.92 * amount * gap
        out[lo] -= 0.08 * amount * gap
        out[list(LID_FOLDS[0])] += 0.45 * amount * gap
        out[list(LID_FOLDS[1])] += 0.12 * amount * gap
        return out

    def _move_head(self, points: np.ndarray, roll_deg: float, shift: tuple[float, float]) -> np.ndarray:
        r = np.radians(roll_deg)
        rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
        return (points - self.neck) @ rot.T + self.neck + np.array(shift) * self.face_size


class MeshWarp:
    """Piecewise-affine warp of a crop around the head, from the rest points to moved points."""

    def __init__(self, rig: FaceRig, image_size: tuple[int, int], triangulate_with: np.ndarray) -> None:
        from scipy.spatial import Delaunay

        width, height = image_size
        points = np.vstack([rig.rest_all, rig.anchors])
        self.source = points
        self.n_anchors = len(rig.anchors)
        # Triangulated on a pose with the mouth open, so that no triangle spans from the upper lip
        # to the lower one: the lips then part cleanly instead of dragging each other along.
        self.triangles = Delaunay(np.vstack([triangulate_with, rig.anchors])).simplices.astype(np.int32)
        x0, y0 = np.floor(rig.anchors.min(axis=0)).astype(int)
        x1, y1 = np.ceil(rig.anchors.max(axis=0)).astype(int) + 1
        self.box = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
        bx0, by0, bx1, by1 = self.box
        # coarse grid: about 3 px per cell on a 300 px face, finer on small faces
        self.step = int(np.clip(round(rig.face_size / 110), 1, 6))
        self.grid_w, self.grid_h = -(-(bx1 - bx0) // self.step), -(-(by1 - by0) // self.step)
        gy, gx = np.mgrid[0:self.grid_h, 0:self.grid_w].astype(np.float32)
        # coarse cell centres in crop pixels, matching cv2.resize's pixel-centre convention
        self._gx = (gx + 0.5) * self.step - 0.5
        self._gy = (gy + 0.5) * self.step - 0.5
        ch, cw = by1 - by0, bx1 - bx0
        fy, fx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        self._fx, self._fy = fx, fy
        self._exact, self._sigma = self._exact_regions(rig)

    def _exact_regions(self, rig: FaceRig) -> tuple[np.ndarray, float]:
        """Where the warp must follow the landmarks exactly (lips, opened mouth, eyelids: 1) and where
        it is smoothed (0): elsewhere the piecewise-linear field would show its seams as kinks in
        the face's outline and the hair."""
        import cv2

        mask = np.zeros((self.grid_h, self.grid_w), np.float32)
        origin = np.array(self.box[:2], np.float64)

        def ellipse(points: np.ndarray, grow: tuple[float, float], drop: float = 0.0) -> None:
            lo, hi = points.min(axis=0), points.max(axis=0)
            centre = ((lo + hi) / 2 + [0, drop] - origin + 0.5) / self.step - 0.5
            axes = (hi - lo) / 2 * grow / self.step + 1
            cx, cy = (int(round(c)) for c in centre)
            ax, ay = (int(round(a)) for a in axes)
            cv2.ellipse(mask, (cx, cy), (ax, ay), 0, 0, 360, 1.0, -1)

        lips = rig.rest[list(UPPER_LIP + LOWER_LIP + LIP_CORNERS)]
        reach = OPEN_MAX * rig.scale  # the lower lip's drop at jaw = 1
        ellipse(np.vstack([lips, lips + [0, reach]]), (1.35, 1.35))
        for eye, folds in ((RIGHT_EYE, slice(0, 7)), (LEFT_EYE, slice(7, 14))):
            ellipse(rig.rest[list(eye + LID_FOLDS[0][folds] + LID_FOLDS[1][folds])], (1.3, 1.5))
        sigma = max(1.0, 0.035 * rig.face_size / self.step)
        return cv2.GaussianBlur(mask, (0, 0), sigma / 2), sigma

    def maps(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Remap tables (crop-sized, float32) that read the photo crop for points moved to ``target``."""
        import cv2

        bx0, by0 = self.box[:2]
        offset = np.array([bx0, by0], np.float64)
        dst = np.vstack([target, self.source[-self.n_anchors:]]) - offset
        src = self.source - offset
        tri_dst, tri_src = dst[self.triangles], src[self.triangles]  # (T, 3, 2)
        # backward affine per triangle, closed form: src = q0 + L (p - p0)
        p0, q0 = tri_dst[:, 0], tri_src[:, 0]
        e1, e2 = tri_dst[:, 1] - p0, tri_dst[:, 2] - p0
        f1, f2 = tri_src[:, 1] - q0, tri_src[:, 2] - q0
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = np.abs(det) > 1e-3  # lips together: their gap's triangles have no area and draw nothing
        inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        # L = [f1 f2] @ [[e2y, -e2x], [-e1y, e1x]] / det
        lin = np.empty((len(det), 2, 2))
        lin[:, :, 0] = (f1 * e2[:, 1:2] - f2 * e1[:, 1:2]) * inv_det[:, None]
        lin[:, :, 1] = (f2 * e1[:, 0:1] - f1 * e2[:, 0:1]) * inv_det[:, None]
        shift = q0 - np.einsum("tij,tj->ti", lin, p0)
        affine = np.concatenate([lin, shift[:, :, None]], axis=2).reshape(-1, 6).astype(np.float32)
        ids = np.full((self.grid_h, self.grid_w), -1, np.int32)
        coarse = ((tri_dst + 0.5) / self.step - 0.5) * 16  # 4 fractional bits for fillConvexPoly
        coarse = np.round(coarse).astype(np.int32)
        # slivers first: a coarse pixel on an edge is then taken by the larger neighbour, whose
        # affine map barely extrapolates there (a sliver's would throw it far off)
        for t in np.flatnonzero(ok)[np.argsort(np.abs(det[ok]))]:
            cv2.fillConvexPoly(ids, coarse[t], int(t), lineType=cv2.LINE_8, shift=4)
        inside = ids >= 0
        a = affine[ids[inside]]  # (N, 6): row-major 2x3
        gx, gy = self._gx[inside], self._gy[inside]
        dx = np.zeros((self.grid_h, self.grid_w), np.float32)
        dy = np.zeros_like(dx)
        dx[inside] = a[:, 0] * gx + a[:, 1] * gy + a[:, 2] - gx
        dy[inside] = a[:, 3] * gx + a[:, 4] * gy + a[:, 5] - gy
        # smooth the field away from the lips and eyes; zero padding keeps it zero at the crop's edge
        blur = dict(sigmaX=self._sigma, borderType=cv2.BORDER_CONSTANT)
        dx = self._exact * dx + (1 - self._exact) * cv2.GaussianBlur(dx, (0, 0), **blur)
        dy = self._exact * dy + (1 - self._exact) * cv2.GaussianBlur(dy, (0, 0), **blur)
        ch, cw = self._fx.shape
        if self.step > 1:
            dx = cv2.resize(dx, (cw, ch), interpolation=cv2.INTER_LINEAR)
            dy = cv2.resize(dy, (cw, ch), interpolation=cv2.INTER_LINEAR)
        return self._fx + dx, self._fy + dy

    def warp(self, image: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The crop of ``image`` (the rest photo) with its points moved to ``target``."""
        import cv2

        bx0, by0, bx1, by1 = self.box
        map_x, map_y = self.maps(target)
        crop = image[by0:by1, bx0:bx1]
        return cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
