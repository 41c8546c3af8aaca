"""Head pose and the canonical face frame, fitted to the rigid landmarks.

The canonical face frame is a frontal, upright, unit-sized face: origin midway between the outer eye
corners (33, 263), x to the image right, y down, z away from the camera, and the outer eye corners
one unit apart. :data:`TEMPLATE` gives the rigid landmarks (:data:`~digihuman.face.landmarks.RIGID`)
in that frame. It was measured with FaceMesh on three frontal portraits (test media p01, p03, p07),
aligned, averaged and made mirror-symmetric; its pitch zero is therefore "looking into the camera as
people do in portraits", not an anatomical plane.

A pose is a similarity fit (rotation, scale, translation; Umeyama) of the template to the face's
rigid landmarks in 3D, using FaceMesh's depth: no camera intrinsics are needed, and the scale
(pixels per canonical unit) does not shrink when the head turns, unlike the 2D eye distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.face.landmarks import RIGID

# Rigid landmarks in the canonical face frame, in RIGID's order (units: outer eye-corner distance).
TEMPLATE = np.array([
    [-0.500, 0.000, 0.000],    # 33  right eye, outer corner
    [-0.191, 0.023, -0.063],   # 133 right eye, inner corner
    [0.191, 0.023, -0.063],    # 362 left eye, inner corner
    [0.500, 0.000, 0.000],     # 263 left eye, outer corner
    [0.000, -0.049, -0.249],   # 168 between the eyes
    [0.000, 0.039, -0.301],    # 6   nose bridge
    [0.000, 0.116, -0.360],    # 197
    [0.000, 0.188, -0.425],    # 195
    [0.000, 0.265, -0.491],    # 5
    [0.000, 0.360, -0.521],    # 4
    [0.000, 0.435, -0.500],    # 1   nose tip
    [-0.185, 0.494, -0.234],   # 98  right nose wing
    [0.185, 0.494, -0.234],    # 327 left nose wing
    [0.000, -0.603, -0.178],   # 10  top of the forehead
    [0.000, -0.426, -0.227],   # 151 forehead
    [-0.186, -0.429, -0.210],  # 108
    [0.186, -0.429, -0.210],   # 337
], dtype=np.float64)

_RIGID = list(RIGID)


@dataclass(frozen=True)
class HeadPose:
    """Where a face points and how it maps onto the canonical face frame.

    Angles are in degrees, zero for a face looking into the camera: ``yaw`` > 0 when the face turns
    towards the image's right side, ``pitch`` > 0 when it looks up, ``roll`` > 0 when the head tilts
    clockwise on screen (the eye line's right end lower). ``rotation`` = Ry(yaw) Rx(pitch) Rz(roll),
    see :func:`rotation_from_angles`.
    """

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray  # (3, 3): canonical frame axes -> camera axes (x right, y down, z away)
    scale: float  # pixels per canonical unit (the outer eye-corner distance seen frontally)
    to_canonical: np.ndarray  # (2, 3) float32 similarity: pixel (x, y, 1) -> canonical (u, v)

    @property
    def from_canonical(self) -> np.ndarray:
        """(2, 3) similarity from canonical (u, v) to pixels: the inverse of ``to_canonical``."""
        return invert_affine(self.to_canonical)


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Rotation R, scale s and translation t that minimise ||s R src + t - dst|| (rows are points).

    Works in 2D and 3D; the rotation is proper (no reflection).
    """
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(len(sig))
    d[-1] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = (u * d) @ vt
    var = (a**2).sum() / len(src)
    scale = float((sig * d).sum() / var) if var > 0 else 1.0
    return rotation, scale, mu_d - scale * rotation @ mu_s


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity (rotation, uniform scale, shift) mapping points ``src`` onto ``dst``.

    For aligning one face's landmarks (any subset, e.g. the jaw and nose) to another's.
    """
    rotation, scale, shift = umeyama(np.asarray(src, np.float64)[:, :2], np.asarray(dst, np.float64)[:, :2])
    return np.hstack([scale * rotation, shift[:, None]]).astype(np.float32)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine transform."""
    a = np.asarray(m, np.float64)
    inv = np.linalg.inv(a[:, :2])
    return np.hstack([inv, -inv @ a[:, 2:]]).astype(np.float32)


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2+) mapped by a (2, 3) affine transform; only x, y are used."""
    pts = np.asarray(points, np.float64)[:, :2]
    return (pts @ np.asarray(m, np.float64)[:, :2].T + np.asarray(m, np.float64)[:, 2]).astype(np.float32)


def estimate_pose(landmarks: np.ndarray) -> HeadPose:
    """The head pose of one face's landmarks (478, 3) in pixels."""
    observed = np.asarray(landmarks, np.float64)[_RIGID]
    rotation, scale, _ = umeyama(TEMPLATE, observed)
    # Euler angles of rotation = Ry(yaw) Rx(pitch) Rz(roll): yaw and pitch are where the face's
    # forward axis points; roll is the turn about that axis, left after undoing yaw and pitch.
    forward = rotation @ np.array([0.0, 0.0, -1.0])
    yaw = np.arctan2(forward[0], -forward[2])
    pitch = np.arctan2(-forward[1], np.hypot(forward[0], forward[2]))
    about_forward = (_ry(yaw) @ _rx(pitch)).T @ rotation
    roll = np.arctan2(about_forward[1, 0], about_forward[0, 0])
    yaw, pitch, roll = np.degrees([yaw, pitch, roll])
    # The 2D frame is fitted in 2D (not projected from the 3D fit) so that it is exactly the best
    # image-plane alignment of the rigid points, which is what warping and cropping need.
    to_canonical = similarity_2d(observed, TEMPLATE)
    return HeadPose(float(yaw), float(pitch), float(roll), rotation.astype(np.float32), float(scale),
                    to_canonical)


def _ry(angle: float) -> np.ndarray:
    """Turn towards the image's right by ``angle`` radians (about the downward y axis)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


def _rx(angle: float) -> np.ndarray:
    """Tilt up by ``angle`` radians (about the x axis)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])


def _rz(angle: float) -> np.ndarray:
    """Turn clockwise on screen by ``angle`` radians (about the z axis, away from the camera)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The (3, 3) rotation with these angles in degrees (the inverse of the angles in HeadPose)."""
    y, p, r = np.radians([yaw, pitch, roll])
    return _ry(y) @ _rx(p) @ _rz(r)


def frontalise(landmarks: np.ndarray, pose: HeadPose) -> np.ndarray:
    """Landmarks (478, 3) moved into the canonical face frame: the head turned to face the camera
    and scaled to unit size, so distances in them do not depend on head pose or distance."""
    pts = np.asarray(landmarks, np.float64)
    observed = pts[_RIGID]
    rotation = pose.rotation.astype(np.float64)
    # translation of the 3D fit: recomputed (cheap) rather than stored, to keep HeadPose small
    shift = observed.mean(axis=0) - pose.scale * rotation @ TEMPLATE.mean(axis=0)
    return ((pts - shift) @ rotation / pose.scale).astype(np.float32)
