"""MediaPipe FaceMesh: 478 landmarks in pixels, the named landmark groups, and picking one face.

Landmark indices are MediaPipe's (``face_mesh_connections.py``; 0-467 the mesh, 468-477 the irises,
present with ``refine_landmarks=True``). "Right" and "left" are the *person's*: in a photo that is not
mirrored, the right eye (33, 133) appears on the image's left. Loops are ordered so that they can be
drawn or filled as polygons directly.

Coordinates are pixels of the (display-oriented) image: x to the right, y down, and z the depth
MediaPipe predicts, scaled like x (multiplied by the image width), smaller = closer to the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NUM_LANDMARKS = 478

# --- named points --------------------------------------------------------------------------------
FOREHEAD = 10  # top of the face oval, on the midline
CHIN = 152  # bottom of the face oval, on the midline
NOSE_TIP = 1
NOSE_BASE = 2  # subnasale: where the nose meets the upper lip
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # outer mouth corners
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14  # inner-lip midpoints: their gap is the mouth opening
UPPER_LIP_OUTER, LOWER_LIP_OUTER = 0, 17
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473

# --- loops (closed polygons, drawn in order) ------------------------------------------------------
# Outer lip line: right corner 61, over the upper lip to the left corner 291, back along the lower lip.
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
# Inner lip line (the mouth opening): 78 and 308 are the inner corners, 13 top, 14 bottom.
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
# Face outline, clockwise on screen from the top of the forehead.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_IRIS = (469, 470, 471, 472)  # around the center 468
LEFT_IRIS = (474, 475, 476, 477)  # around the center 473
# Lower face, for blending masks: the jaw from the right cheek (93) under the chin to the left cheek
# (323), then back under the nose (cheeks 425/205, nose wings 327/98, nose base 2). Everything that
# moves when speaking is inside; the nose and eyes, which the background frame keeps, are not.
LOWER_FACE = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361,
              323, 425, 327, 2, 98, 205)

# --- open lines ------------------------------------------------------------------------------------
# Jaw line from the right cheek edge (234, image left) under the chin to the left cheek edge (454).
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361,
       323, 454)
RIGHT_EYEBROW = (70, 63, 105, 66, 107)  # upper edge, outer to inner
LEFT_EYEBROW = (300, 293, 334, 296, 336)
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)  # between the eyes down to the tip
NOSE_WINGS = (98, 327)  # alae, right and left

# Points that do not move when a person speaks or smiles (eye corners, nose, forehead): the head pose
# and the canonical face frame are fitted to these alone, so an open mouth does not tilt the face.
RIGID = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 98, 327, 10, 151, 108, 337)

MIN_FACE_PX = 80  # a face narrower than this has too few pixels for a mouth to be rendered on it


@dataclass(frozen=True)
class FaceBox:
    """Where a face is in the image, in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def size(self) -> float:
        """Across the face: the larger side of the box, so a turned head is not counted as small."""
        return max(self.x1 - self.x0, self.y1 - self.y0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceBox:
        """The box around the face oval of ``landmarks`` (478, 2+)."""
        pts = landmarks[list(FACE_OVAL), :2]
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        return cls(float(x0), float(y0), float(x1), float(y1))

    def iou(self, other: FaceBox) -> float:
        """Overlap of two boxes (intersection over union), 0..1."""
        w = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        h = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = w * h
        union = (self.x1 - self.x0) * (self.y1 - self.y0) + (other.x1 - other.x0) * (other.y1 - other.y0)
        return inter / union if union > 0 else 0.0


def pick_face(boxes: list[FaceBox], width: int, height: int, previous: FaceBox | None = None) -> int:
    """Index of the face to use among ``boxes``: the one still overlapping ``previous`` (so a video
    does not jump between people), else the largest, most central one."""
    if previous is not None:
        overlaps = [b.iou(previous) for b in boxes]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0.3:
            return best
    half_diagonal = float(np.hypot(width, height)) / 2

    def score(box: FaceBox) -> float:
        cx, cy = box.center
        off_center = float(np.hypot(cx - width / 2, cy - height / 2)) / half_diagonal  # 0..1
        # a face at the border counts as half its size: a bystander's big face in a corner loses to
        # the speaker's slightly smaller face in the middle
        return box.size * (1.0 - 0.5 * off_center)

    return int(np.argmax([score(b) for b in boxes]))


class FaceMesh:
    """MediaPipe FaceMesh (legacy ``solutions.face_mesh``, refined: 478 landmarks), loaded lazily.

    ``static=True`` runs the face detector on every image (photos, unrelated images); ``static=False``
    tracks from frame to frame (video: faster and steadier). Up to three faces are found; one is
    picked by :func:`pick_face`. Not thread-safe: use one instance per thread.

    Tracking a face that is alone in the picture uses a one-face graph: a graph tracking fewer faces
    than it may find runs the face detector on every frame, on the whole picture (a quarter of
    tracking's CPU, at 512² as at 1080p), and its landmarks are those of the one-face graph to the bit,
    as the face's region comes from the last frame's landmarks either way. The switch is made at a
    frame where no face was being tracked, so neither graph has history to lose; when the face is
    lost, the many-face graph looks again.

    While it tracks a lone face, the one-face graph is given only a window of the picture around it
    (:class:`_Window`, three faces wide): in a 1080x1920 half-body video the face fills a few
    percent of the frame, and handing the whole frame over costs a fifth of the mesh's time in copies
    (10 s of 1080p tracked: 7.0 -> 5.8 CPU-s) for the same landmarks (mean difference 0.001 eye
    distances after the first frames, which the detection in the window places a little differently).
    """

    def __init__(self, *, static: bool, max_faces: int = 3, min_confidence: float = 0.5) -> None:
        self.static = static
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._mesh: Any = None
        self._faces = max_faces  # how many faces the loaded graph finds (1 while tracking a lone face)
        self._previous: FaceBox | None = None
        self._window: _Window | None = None  # the part of the picture the one-face graph is given

    def _load(self, faces: int | None = None) -> Any:
        faces = faces or self.max_faces
        if self._mesh is not None and self._faces != faces:
            self._mesh.close()
            self._mesh = None
        if self._mesh is None:
            from mediapipe.python.solutions import face_mesh

            self._mesh = face_mesh.FaceMesh(
                static_image_mode=self.static,
                max_num_faces=faces,
                refine_landmarks=True,
                min_detection_confidence=self.min_confidence,
                min_tracking_confidence=self.min_confidence,
            )
            self._faces = faces
        return self._mesh

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Every face found in ``rgb`` (H, W, 3 uint8), each as (478, 3) float32 pixel landmarks."""
        window = self._window
        if window is not None and self._mesh is not None:
            found = self._process(rgb, 1, window)
            if found:
                self._window = window.following(FaceBox.of(found[0]))
                if self._window is None:  # the face outgrew or outran its window: a new one, afresh
                    again = self._track_lone(rgb, found[0])
                    if again:
                        found = again
                    else:
                        self._load(self.max_faces)  # look for every face again, from a fresh graph
            else:
                self._window = None
                self._load(self.max_faces)  # lost: look for every face again, from a fresh graph
            return found
        found = self._process(rgb, self._faces if self._mesh is not None else self.max_faces)
        if (not self.static and self._previous is None and len(found) == 1 and self.max_faces > 1
                and self._faces > 1):
            # a lone face, found afresh: track it with the one-face graph from this very frame
            found = self._track_lone(rgb, found[0])
        elif not found and self._faces == 1 and self.max_faces > 1:
            self._load(self.max_faces)  # lost: look for every face again, from a fresh graph
        return found

    def _track_lone(self, rgb: np.ndarray, face: np.ndarray) -> list[np.ndarray]:
        """The lone ``face`` of ``rgb`` found again by a fresh one-face graph, given only a window
        around it where that is a small part of the picture."""
        height, width = rgb.shape[:2]
        self._window = _Window.around(FaceBox.of(face), width, height)
        if self._mesh is not None and self._faces == 1:
            self._mesh.close()  # a graph that tracked in another window would look in the wrong place
            self._mesh = None
        found = self._process(rgb, 1, self._window)
        if not found:
            self._window = None
        return found

    def _process(self, rgb: np.ndarray, faces: int, window: _Window | None = None) -> list[np.ndarray]:
        x0, y0 = (window.x0, window.y0) if window is not None else (0, 0)
        if window is not None:
            rgb = rgb[y0: y0 + window.height, x0: x0 + window.width]
        height, width = rgb.shape[:2]
        result = self._load(faces).process(np.ascontiguousarray(rgb))
        found = result.multi_face_landmarks or []
        # z is in units of the picture's width, as x is: in pixels, it is the same in a window
        scale = np.array([width, height, width], dtype=np.float32)
        shift = np.array([x0, y0, 0], dtype=np.float32)
        return [normalised_points(face) * scale + shift for face in found]

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """The landmarks (478, 3) of the face to use in ``rgb``, or None when there is none.

        In tracking mode the face followed so far is kept while it is still found.
        """
        faces = self.faces(rgb)
        if not faces:
            self._previous = None
            return None
        boxes = [FaceBox.of(f) for f in faces]
        height, width = rgb.shape[:2]
        chosen = pick_face(boxes, width, height, None if self.static else self._previous)
        self._previous = boxes[chosen]
        return faces[chosen]

    def reset(self) -> None:
        """Forget the tracked face (a new video starts)."""
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graph; the next call loads it again."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        self._previous = None
        self._window = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# a landmark as MediaPipe serialises it when only x, y and z are set: field 1 (15 bytes) holding
# fields 1, 2 and 3 as little-endian floats, each after its one-byte tag
_LANDMARK_BYTES = 17
_TAGS = {0: 0x0A, 1: 15, 2: 0x0D, 7: 0x15, 12: 0x1D}
_XYZ_BYTES = [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]


def normalised_points(face: Any) -> np.ndarray:
    """(N, 3) float32 x, y, z of a NormalizedLandmarkList, read from its serialised bytes in one go:
    the same numbers as asking each landmark for them (1 ms a face, a tenth of the mesh's time),
    for 0.07 ms. A list with more than x, y and z set is read landmark by landmark."""
    data = face.SerializeToString()
    count = len(data) // _LANDMARK_BYTES
    if count and len(data) == count * _LANDMARK_BYTES:
        raw = np.frombuffer(data, np.uint8).reshape(count, _LANDMARK_BYTES)
        if all((raw[:, at] == tag).all() for at, tag in _TAGS.items()):
            return np.ascontiguousarray(raw[:, _XYZ_BYTES]).view("<f4").reshape(count, 3)
    return np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32).reshape(-1, 3)


@dataclass(frozen=True)
class _Window:
    """The part of a video's frames a tracked face is looked for in: a fixed-size square around it.

    The tracking graph places each frame's face region where the last frame's landmarks were, in
    coordinates relative to the picture it is given, so a window that moves shifts that region by as
    much, and the landmarks follow their region a little (a 1 px shift moves them by 0.003 eye
    distances, a 60 px jump by 0.2). The window therefore keeps its size and follows a face that is
    0.15 faces off its centre by one pixel a frame; a face that outruns it (0.35 faces off: the face
    region, 1.5 faces turned up to 45 degrees, stays inside up to 0.44) is found afresh in a new
    window, which disturbs a frame or two as the first frame's detection does (up to 0.08).
    """

    x0: int
    y0: int
    width: int
    height: int
    size: float  # across the face it was made for, pixels
    frame_width: int
    frame_height: int

    FACES = 3.0  # across the window, in faces
    FOLLOW = 0.15  # faces off centre before the window follows
    STEP_PX = 1  # the most it moves a frame
    REACH = 0.35  # faces off centre past which the face is looked for afresh in a new window
    MAX_SHARE = 0.5  # of the frame's area: a larger window is not worth it, the frame is given whole

    @classmethod
    def around(cls, box: FaceBox, width: int, height: int) -> _Window | None:
        side = int(round(cls.FACES * box.size))
        w, h = min(side, width), min(side, height)
        if w * h > cls.MAX_SHARE * width * height:
            return None
        cx, cy = box.center
        return cls(*cls._place(cx - w / 2, cy - h / 2, w, h, width, height), w, h, box.size, width, height)

    @staticmethod
    def _place(x: float, y: float, w: int, h: int, width: int, height: int) -> tuple[int, int]:
        return int(np.clip(round(x), 0, width - w)), int(np.clip(round(y), 0, height - h))

    def following(self, box: FaceBox) -> _Window | None:
        """This window, moved after the face at ``box``; None when the face has outgrown or outrun it."""
        if box.size > 1.25 * self.size:
            return None
        cx, cy = box.center
        # how far off the window is from where it would be placed now (at the frame's edge, no further)
        x, y = self._place(cx - self.width / 2, cy - self.height / 2, self.width, self.height,
                           self.frame_width, self.frame_height)
        dx, dy = x - self.x0, y - self.y0
        if max(abs(dx), abs(dy)) > self.REACH * self.size:
            return None  # about to leave: a new window around it, afresh
        dead = self.FOLLOW * self.size
        dx, dy = (float(np.clip(d - np.clip(d, -dead, dead), -self.STEP_PX, self.STEP_PX)) for d in (dx, dy))
        if not (dx or dy):
            return self
        x0, y0 = self._place(self.x0 + dx, self.y0 + dy, self.width, self.height, self.frame_width,
                             self.frame_height)
        if (x0, y0) == (self.x0, self.y0):
            return self
        return _Window(x0, y0, self.width, self.height, self.size, self.frame_width, self.frame_height)


def find_face_box(rgb: np.ndarray, min_confidence: float = 0.5) -> FaceBox | None:
    """The face MediaPipe's full-range face detector sees, when FaceMesh saw none.

    FaceMesh's own detector is short-range (faces filling a good part of the image); this one finds
    small and distant faces, so a photo can be told "face too small" instead of "no face", and a
    small face in a large image can be cropped and meshed.
    """
    from mediapipe.python.solutions import face_detection

    height, width = rgb.shape[:2]
    with face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence) as det:
        found = det.process(np.ascontiguousarray(rgb)).detections or []
    boxes = []
    for d in found:
        b = d.location_data.relative_bounding_box
        boxes.append(FaceBox(b.xmin * width, b.ymin * height, (b.xmin + b.width) * width,
                             (b.ymin + b.height) * height))
    return boxes[pick_face(boxes, width, height)] if boxes else None
