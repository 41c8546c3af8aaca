"""Tracking the face of an avatar photo or video: landmarks, head pose and mouth shape per frame.

Videos are decoded frame by frame (PyAV) and never held whole: only the per-frame numbers are kept,
as numpy arrays (about 6 kB a frame). Landmarks are One-Euro smoothed before pose and mouth are
measured from them. Frames where the face is lost are filled by interpolation and counted; a photo
without a usable face, or a video without one in most frames, is rejected (MediaRejected, 422).

Frames are read in display orientation (a phone video's rotation is applied, and a photo's EXIF
orientation), so whatever draws on them must read them the same way: :func:`read_image`,
:func:`read_frames`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.errors import MediaRejected
from digihuman.face.landmarks import MIN_FACE_PX, FaceBox, FaceMesh, find_face_box
from digihuman.face.mouth import MOUTH_DTYPE, MouthShape, mouth_shape
from digihuman.face.pose import HeadPose, estimate_pose
from digihuman.face.smoothing import OneEuroFilter, OneEuroParams
from digihuman.progress import Progress, no_progress

MAX_MISSING = 0.5  # a video is rejected when the face is missing in more than this share of frames
LONG_GAP_S = 0.5  # a gap this long is still filled, but reported in the track's warnings


@dataclass(frozen=True)
class FaceFrame:
    """The face in one image or video frame."""

    landmarks: np.ndarray  # (478, 3) float32 pixels; z is depth scaled like x
    pose: HeadPose
    mouth: MouthShape
    width: int  # image size, pixels
    height: int
    index: int = 0  # frame number in the video (0 for a photo)
    time: float = 0.0  # seconds
    detected: bool = True  # False: interpolated over a frame where the face was not found

    @property
    def box(self) -> FaceBox:
        """The box around the face oval."""
        return FaceBox.of(self.landmarks)


@dataclass(frozen=True)
class FaceTrack:
    """The face in every tracked frame of a video; arrays have one row per tracked frame."""

    width: int
    height: int
    fps: float  # of the track: the video's frame rate divided by the stride
    frame_indices: np.ndarray  # (N,) int32 frame numbers in the video (every ``stride``-th)
    times: np.ndarray  # (N,) float64 presentation times, seconds
    landmarks: np.ndarray  # (N, 478, 3) float32 pixels, smoothed
    detected: np.ndarray  # (N,) bool; False where filled by interpolation
    angles: np.ndarray  # (N, 3) float32 yaw, pitch, roll in degrees (see HeadPose)
    rotation: np.ndarray  # (N, 3, 3) float32 canonical axes -> camera axes
    scale: np.ndarray  # (N,) float32 pixels per canonical unit
    to_canonical: np.ndarray  # (N, 2, 3) float32 pixel -> canonical face frame
    mouth: np.ndarray  # (N,) MOUTH_DTYPE: opening, width, rounding, teeth, jaw
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.times)

    @property
    def interpolated(self) -> int:
        """How many frames were filled in because the face was not found there."""
        return int((~self.detected).sum())

    @property
    def jaw_drop(self) -> np.ndarray:
        """(N,) jaw position relative to this person's rest (the 5th percentile), canonical units."""
        jaw = self.mouth["jaw"].astype(np.float64)
        return (jaw - np.percentile(jaw, 5)).astype(np.float32)

    def frame(self, i: int) -> FaceFrame:
        """Row ``i`` as a FaceFrame."""
        yaw, pitch, roll = (float(v) for v in self.angles[i])
        pose = HeadPose(yaw, pitch, roll, self.rotation[i], float(self.scale[i]), self.to_canonical[i])
        return FaceFrame(self.landmarks[i], pose, MouthShape.from_record(self.mouth[i]), self.width,
                         self.height, int(self.frame_indices[i]), float(self.times[i]),
                         bool(self.detected[i]))


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame, display-oriented."""

    index: int
    time: float
    rgb: np.ndarray  # (H, W, 3) uint8
    yuv: np.ndarray | None = None  # the decoder's own planar YUV 4:2:0 (H * 3 / 2, W), when asked for and had


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB (H, W, 3) uint8, EXIF orientation applied."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies EXIF orientation, greyscale -> 3 channels
    if bgr is not None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    frame = next(read_frames(path, max_frames=1), None)  # formats OpenCV lacks (gif, some webp)
    if frame is None:
        raise MediaRejected("the avatar image could not be read: send a png or jpeg photo.")
    return frame.rgb


def read_frames(path: Path, *, stride: int = 1, max_frames: int | None = None,
                yuv: bool | range = False) -> Iterator[VideoFrame]:
    """Every ``stride``-th frame of the first video stream (at most ``max_frames`` of them); with
    ``yuv`` (True, or the frame numbers that need it), each also as the decoder made it when that is
    limited-range YUV 4:2:0 of even size, not rotated (an encoder can take it as it is, with no
    conversion and no rounding).

    A file damaged part-way (a truncated upload) yields the frames before the damage, as probing
    accepts it; one that yields no frame at all raises MediaRejected.
    """
    import av

    kept = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaRejected("the avatar has no pictures: send a video or a photo of a face.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # decode on all cores; frames still come out in order
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                rgb = display_rgb(frame)
                turns = round((frame.rotation or 0) / 90) % 4
                planes = None
                even = frame.width % 2 == frame.height % 2 == 0
                wanted = yuv if isinstance(yuv, bool) else index in yuv
                if wanted and not turns and even and frame.format.name == "yuv420p":
                    planes = frame.to_ndarray(format="yuv420p")
                yield VideoFrame(index, float(frame.time or 0.0), rgb, planes)
                kept += 1
                if max_frames is not None and kept >= max_frames:
                    return
    except (av.FFmpegError, OSError, EOFError) as e:
        if kept == 0:
            why = "the avatar video could not be decoded: send an mp4, mov or webm file."
            raise MediaRejected(why) from e


def display_rgb(frame) -> np.ndarray:  # noqa: ANN001 - av.VideoFrame
    """A decoded frame as RGB (H, W, 3) uint8, in display orientation."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4  # display matrix: counter-clockwise degrees
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def analyse(rgb: np.ndarray, landmarks: np.ndarray, index: int = 0, time: float = 0.0) -> FaceFrame:
    """Pose and mouth of a face whose landmarks are known."""
    pose = estimate_pose(landmarks)
    height, width = rgb.shape[:2]
    return FaceFrame(landmarks, pose, mouth_shape(landmarks, pose, rgb), width, height, index, time)


def track_image(path: Path, *, mesh: FaceMesh | None = None) -> FaceFrame:
    """The face in a photo. Raises MediaRejected when there is none or it is too small."""
    rgb = read_image(path)
    own = mesh is None
    mesh = mesh or FaceMesh(static=True)
    try:
        landmarks = locate_face(rgb, mesh)
    finally:
        if own:
            mesh.close()
    if landmarks is None:
        raise MediaRejected(
            "no face found in the avatar: the photo shows no face that can be tracked; send a photo "
            "with one face clearly visible, looking roughly towards the camera."
        )
    _check_size(FaceBox.of(landmarks).size, "photo")
    return analyse(rgb, landmarks)


def locate_face(rgb: np.ndarray, mesh: FaceMesh) -> np.ndarray | None:
    """Landmarks of the face in a still image, looking harder when FaceMesh alone finds none.

    FaceMesh's detector only sees faces that fill a good part of the image; the full-range detector
    finds smaller ones, which are then meshed on a crop. Raises MediaRejected for a too-small face.
    """
    landmarks = mesh.detect(rgb)
    if landmarks is not None:
        return landmarks
    box = find_face_box(rgb)
    if box is None:
        return None
    _check_size(box.size, "photo")
    height, width = rgb.shape[:2]
    cx, cy = box.center
    half = box.size  # the crop is twice the face: FaceMesh wants some head and background around it
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(width, cx + half)), int(min(height, cy + half))
    with FaceMesh(static=True) as crop_mesh:
        found = crop_mesh.detect(rgb[y0:y1, x0:x1])
    if found is None:
        return None
    return found + np.array([x0, y0, 0], np.float32)


def _check_size(size_px: float, what: str) -> None:
    if size_px < MIN_FACE_PX:
        raise MediaRejected(
            f"the face in the avatar {what} is too small ({size_px:.0f} px across; at least {MIN_FACE_PX} px "
            f"is needed): send a closer shot or a higher-resolution {what} where the face is larger."
        )


def track_video(path: Path, *, stride: int = 1, max_frames: int | None = None,
                progress: Progress | None = None, smoothing: OneEuroParams | None = OneEuroParams(),
                mesh: FaceMesh | None = None,
                on_frame: Callable[[VideoFrame], None] | None = None,
                on_face: Callable[[VideoFrame, FaceFrame | None], None] | None = None) -> FaceTrack:
    """The face in every ``stride``-th frame of a video (the first ``max_frames`` of them).

    Landmarks are smoothed with ``smoothing`` (None: raw FaceMesh output). Raises MediaRejected when
    the face is missing in more than half of the frames, or is too small. ``on_frame`` is handed
    every tracked frame, with its YUV (see :func:`read_frames`), so that the same decode can feed
    other work; ``on_face`` every tracked frame again once its face is known, with the FaceFrame
    the track will hold for it (None where the face was not found: the track interpolates it later).
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, not {stride}")
    report = progress or no_progress
    fps, expected = _video_facts(path, stride, max_frames)
    own = mesh is None
    mesh = mesh or FaceMesh(static=False)
    mesh.reset()  # a reused tracking mesh would start from the last video's face
    smoother = OneEuroFilter(smoothing) if smoothing is not None else None
    rows: list[FaceFrame | None] = []
    indices: list[int] = []
    times: list[float] = []
    first_missing: VideoFrame | None = None
    missing = 0
    aborted = False
    size = (0, 0)
    # the next frames are decoded (and converted to RGB) in another thread while FaceMesh looks at
    # this one: at 1080p decoding costs half as much as the mesh, and PyAV works outside the GIL
    from digihuman.render.clip import read_ahead

    decoded = read_ahead(read_frames(path, stride=stride, max_frames=max_frames, yuv=on_frame is not None))
    try:
        for frame in decoded:
            if on_frame is not None:
                on_frame(frame)
            size = frame.rgb.shape[1], frame.rgb.shape[0]
            indices.append(frame.index)
            times.append(frame.time)
            landmarks = mesh.detect(frame.rgb)
            if landmarks is None:
                rows.append(None)
                missing += 1
                first_missing = first_missing or frame
                if smoother is not None:
                    smoother.reset()  # do not drag the face across the gap
                if expected and missing > MAX_MISSING * expected:
                    aborted = True  # the video will be rejected whatever follows: stop decoding
                    break
                if on_face is not None:
                    on_face(frame, None)
                continue
            if smoother is not None:
                # 3D eye-corner distance: a face-size unit that does not shrink when the head turns
                unit = float(np.linalg.norm(landmarks[33] - landmarks[263]))
                landmarks = smoother(landmarks, frame.time, unit)
            rows.append(analyse(frame.rgb, landmarks, frame.index, frame.time))
            if on_face is not None:
                on_face(frame, rows[-1])
            if len(rows) % 15 == 0 and expected:
                report(min(99.0, 100.0 * len(rows) / expected), "tracking the face")
    finally:
        decoded.close()  # stops the decoding thread
        if own:
            mesh.close()
    if not rows:
        raise MediaRejected("no face found in the avatar: the video has no frames that can be decoded.")
    if aborted or missing > MAX_MISSING * len(rows) or missing == len(rows):
        assert first_missing is not None
        raise _no_face_in_video(first_missing, missing, len(rows), complete=not aborted)
    sizes = [FaceBox.of(r.landmarks).size for r in rows if r is not None]
    _check_size(float(np.median(sizes)), "video")
    report(100.0, "tracking the face")
    return _assemble(rows, np.array(indices, np.int32), np.array(times), size, fps / stride)


def video_rate(path: Path) -> tuple[float, int | None]:
    """A video's frame rate (as tracks give it) and how many frames it says it has (None: unknown)."""
    return _video_facts(path, 1, None)


def _video_facts(path: Path, stride: int, max_frames: int | None) -> tuple[float, int | None]:
    """Frame rate and the number of frames that will be tracked (None when the file does not say)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaRejected("the avatar has no pictures: send a video or a photo of a face.")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            total = stream.frames or None
            if total is None and stream.duration and stream.time_base:
                total = round(float(stream.duration * stream.time_base) * fps)
    except (av.FFmpegError, OSError) as e:
        raise MediaRejected("the avatar video could not be read: send an mp4, mov or webm file.") from e
    expected = -(-total // stride) if total else None
    if max_frames is not None:
        expected = min(expected, max_frames) if expected else max_frames
    return fps, expected


def _no_face_in_video(frame: VideoFrame, missing: int, checked: int, complete: bool) -> MediaRejected:
    """The rejection of a video without a usable face, saying why when it can tell."""
    box = find_face_box(frame.rgb)
    if box is not None:
        _check_size(box.size, "video")  # there is a face, too small for FaceMesh: say so instead
    of = f"{missing} of {checked}" if complete else f"{missing} of the first {checked}"
    return MediaRejected(
        f"no face found in the avatar: no face in {of} frames (the first at frame {frame.index}, "
        f"{frame.time:.2f} s); send a video where one face is clearly visible throughout."
    )


def _assemble(rows: list[FaceFrame | None], indices: np.ndarray, times: np.ndarray, size: tuple[int, int],
              fps: float) -> FaceTrack:
    """Per-frame results stacked into a FaceTrack, frames without a face filled in."""
    found = np.array([r is not None for r in rows])
    known = np.flatnonzero(found)
    n = len(rows)
    landmarks = np.empty((n, *rows[known[0]].landmarks.shape), np.float32)  # type: ignore[union-attr]
    landmarks[known] = np.stack([rows[i].landmarks for i in known])  # type: ignore[union-attr]
    filled = [_fill(rows, landmarks, known, i) for i in range(n)]
    mouth = np.array([f.mouth.to_record() for f in filled], dtype=MOUTH_DTYPE)
    # teeth need the image, which is gone for filled frames: take them from the neighbours instead
    mouth["teeth"][~found] = np.interp(np.flatnonzero(~found), known, mouth["teeth"][known])
    warnings = tuple(_gap_warnings(found, times, fps))
    return FaceTrack(
        width=size[0], height=size[1], fps=fps, frame_indices=indices, times=times,
        landmarks=landmarks, detected=found,
        angles=np.array([(f.pose.yaw, f.pose.pitch, f.pose.roll) for f in filled], np.float32),
        rotation=np.stack([f.pose.rotation for f in filled]).astype(np.float32),
        scale=np.array([f.pose.scale for f in filled], np.float32),
        to_canonical=np.stack([f.pose.to_canonical for f in filled]).astype(np.float32),
        mouth=mouth, warnings=warnings,
    )


def _fill(rows: list[FaceFrame | None], landmarks: np.ndarray, known: np.ndarray, i: int) -> FaceFrame:
    """Row ``i``, or for a frame without a face, landmarks interpolated between its neighbours."""
    row = rows[i]
    if row is not None:
        return row
    after = int(np.searchsorted(known, i))
    before = known[after - 1] if after > 0 else known[after]
    nxt = known[after] if after < len(known) else before
    before = before if after > 0 else nxt  # before the first face: hold the first one
    w = 0.0 if nxt == before else (i - before) / (nxt - before)
    landmarks[i] = (1 - w) * landmarks[before] + w * landmarks[nxt]
    pose = estimate_pose(landmarks[i])
    ref = rows[before]
    assert ref is not None
    return FaceFrame(landmarks[i], pose, mouth_shape(landmarks[i], pose), ref.width, ref.height,
                     detected=False)


def _gap_warnings(found: np.ndarray, times: np.ndarray, fps: float) -> Iterator[str]:
    """A sentence for every stretch without a face that lasted LONG_GAP_S or more."""
    edges = np.diff(np.concatenate([[0], (~found).astype(np.int8), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if (end - start) / fps >= LONG_GAP_S:
            yield (f"the face was not found for {(end - start) / fps:.1f} s from {times[start]:.2f} s "
                   f"({end - start} frames); those frames were interpolated")
