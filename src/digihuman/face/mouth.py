"""Mouth descriptors: a few numbers per frame that say what shape the mouth has.

They are measured on the frontalised landmarks (:func:`~digihuman.face.pose.frontalise`), so they
are in canonical face units (outer eye-corner distance = 1) and do not change when the head turns,
nods or moves closer. Typical values for an adult: width 0.5-0.75, opening 0 (closed) to ~0.35
(wide open), jaw 0.55-0.8.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

from digihuman.face.landmarks import (
    CHIN,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER_LIP_OUTER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE_BASE,
    UPPER_LIP_OUTER,
)
from digihuman.face.pose import HeadPose, frontalise

# Inner-lip pairs (upper, lower) across the middle of the mouth: the opening is their mean gap,
# steadier than 13-14 alone and still zero for closed lips.
OPENING_PAIRS = ((82, 87), (13, 14), (312, 317))
# Teeth are brighter than the lips by this much (Lab L*, 0-255 scale) ...
TEETH_BRIGHTER = 20.0
# ... and at most this colourful (Lab chroma): lips and tongue are red, teeth are not.
TEETH_MAX_CHROMA = 22.0
# Below this inner-mouth area (canonical units squared) the mouth counts as closed: no teeth.
MIN_OPEN_AREA = 0.004


@dataclass(frozen=True)
class MouthShape:
    """The shape of the mouth in one frame, in canonical face units."""

    opening: float  # inner-lip gap, mean of OPENING_PAIRS; 0 = lips together
    width: float  # mouth corner to corner (61-291)
    rounding: float  # visible lip thickness / width: pursed, rounded lips ("o", "u") are thick and
    # narrow (high), spread lips ("ee", a smile) thin and wide (low); unlike height/width it hardly
    # changes with the opening, which has its own number
    teeth: float  # share of the inner-mouth area that shows teeth, 0-1; 0 when closed; NaN: no image
    jaw: float  # nose base (2) to chin (152), vertical; compare with the person's rest value

    def as_array(self) -> np.ndarray:
        """The five values as float32, in field order (for nearest-neighbour search)."""
        return np.array(astuple(self), dtype=np.float32)

    def to_record(self) -> np.ndarray:
        """The same as one element of :data:`MOUTH_DTYPE`."""
        return np.array(astuple(self), dtype=MOUTH_DTYPE)

    @classmethod
    def from_record(cls, record: np.void) -> MouthShape:
        """From one element of a :data:`MOUTH_DTYPE` array."""
        return cls(*(float(record[f.name]) for f in fields(cls)))


# Per-frame descriptors of a whole video are kept as one structured array of this type.
MOUTH_DTYPE = np.dtype([(f.name, np.float32) for f in fields(MouthShape)])


def mouth_shape(landmarks: np.ndarray, pose: HeadPose, image: np.ndarray | None = None) -> MouthShape:
    """Descriptors of the mouth of ``landmarks`` (478, 3 pixels); teeth need the RGB ``image``."""
    front = frontalise(landmarks, pose)
    xy = front[:, :2].astype(np.float64)
    opening = float(np.mean([max(0.0, xy[lo, 1] - xy[up, 1]) for up, lo in OPENING_PAIRS]))
    width = float(np.linalg.norm(xy[MOUTH_LEFT] - xy[MOUTH_RIGHT]))
    lips = float(xy[LOWER_LIP_OUTER, 1] - xy[UPPER_LIP_OUTER, 1]) - opening  # both lips, gap removed
    rounding = lips / width if width > 0 else 0.0
    jaw = float(xy[CHIN, 1] - xy[NOSE_BASE, 1])
    teeth = float("nan") if image is None else teeth_visibility(image, landmarks, pose.scale)
    return MouthShape(opening, width, rounding, teeth, jaw)


def teeth_visibility(image: np.ndarray, landmarks: np.ndarray, scale: float) -> float:
    """Share of the inner-lip polygon whose pixels look like teeth: bright and colourless compared
    with the lips around it. Works on black-and-white images too (brightness alone decides there).
    """
    import cv2

    inner = np.asarray(landmarks, np.float64)[list(LIPS_INNER), :2]
    outer = np.asarray(landmarks, np.float64)[list(LIPS_OUTER), :2]
    if _polygon_area(inner) / scale**2 < MIN_OPEN_AREA:
        return 0.0
    height, width = image.shape[:2]
    x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    if crop.ndim == 2:
        crop = np.repeat(crop[:, :, None], 3, axis=2)
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    offset = np.array([x0, y0], np.float64)
    inside = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(inner - offset).astype(np.int32)], 1)
    lips = np.zeros_like(inside)
    cv2.fillPoly(lips, [np.round(outer - offset).astype(np.int32)], 1)
    lips[inside > 0] = 0
    # the lip ring's edges are skin and mouth interior blurred together: keep its core
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8))
    if inside.sum() == 0 or lips.sum() < 5:
        return 0.0
    lightness = lab[:, :, 0]
    chroma = np.hypot(lab[:, :, 1] - 128, lab[:, :, 2] - 128)
    lip_lightness = float(np.median(lightness[lips > 0]))
    teeth = (lightness > lip_lightness + TEETH_BRIGHTER) & (chroma < TEETH_MAX_CHROMA) & (inside > 0)
    return float(teeth.sum() / inside.sum())


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
