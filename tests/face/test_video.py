"""Videos: tracked frame by frame, gaps filled and counted, no face in most frames rejected."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.errors import MediaRejected
from digihuman.face import MOUTH_DTYPE, FaceBox, FaceMesh, FaceTrack, track_video
from digihuman.face.landmarks import LEFT_EYE_OUTER, LIPS_INNER, RIGHT_EYE_OUTER
from tests.face.conftest import shared
from tests.mediagen import make_video


def _sane(track: FaceTrack, frames: int) -> None:
    assert len(track) == frames and track.interpolated == 0 and track.detected.all()
    assert track.landmarks.shape == (frames, 478, 3) and track.landmarks.dtype == np.float32
    assert track.mouth.dtype == MOUTH_DTYPE and track.to_canonical.shape == (frames, 2, 3)
    assert np.all(np.diff(track.times) > 0)
    lm = track.landmarks
    assert lm[..., 0].min() >= 0 and lm[..., 0].max() <= track.width
    assert lm[..., 1].min() >= 0 and lm[..., 1].max() <= track.height
    eyes_y = lm[:, [RIGHT_EYE_OUTER, LEFT_EYE_OUTER], 1].mean(axis=1)
    assert np.all(lm[:, list(LIPS_INNER), 1].mean(axis=1) > eyes_y)
    assert np.all(np.abs(track.angles) < 35)


@pytest.mark.media
def test_v01_first_two_seconds():
    track = track_video(shared("video/v01_*"), max_frames=60)
    _sane(track, 60)
    assert (track.width, track.height) == (700, 700) and track.fps == pytest.approx(1350 / 61)


@pytest.mark.media
def test_v03_glasses_first_two_seconds():
    progress: list[float] = []
    track = track_video(shared("video/v03_*"), max_frames=50, progress=lambda p, stage: progress.append(p))
    _sane(track, 50)
    assert progress and progress[-1] == 100.0 and progress == sorted(progress)


@pytest.mark.media
def test_v05_hevc_portrait_video_small_face():
    track = track_video(shared("video/v05_*"), max_frames=40, stride=2)
    _sane(track, 40)
    assert (track.width, track.height) == (1080, 1920) and track.fps == pytest.approx(12.5)
    assert list(track.frame_indices[:3]) == [0, 2, 4]
    assert 100 < np.median(track.scale) < 250  # the face is a small part of the tall frame


class _Hiding(FaceMesh):
    """A FaceMesh that does not see the face in the given frames (counted from 0)."""

    def __init__(self, hidden: set[int]) -> None:
        super().__init__(static=False)
        self.hidden, self.calls = hidden, 0

    def detect(self, rgb):
        found = super().detect(rgb)
        self.calls += 1
        return None if self.calls - 1 in self.hidden else found


@pytest.mark.media
def test_short_gap_is_interpolated_and_counted():
    path = shared("video/v03_*")
    with _Hiding({10, 11, 12}) as mesh:
        track = track_video(path, max_frames=30, mesh=mesh)
    assert track.interpolated == 3 and list(np.flatnonzero(~track.detected)) == [10, 11, 12]
    # filled frames lie between their neighbours, and their descriptors are set
    lm = track.landmarks
    assert np.allclose(lm[11], (lm[9] + lm[13]) / 2, atol=0.5)
    assert np.isfinite(track.mouth["teeth"]).all()
    assert track.warnings == ()  # 0.12 s: too short to mention
    assert track.frame(11).detected is False


@pytest.mark.media
def test_face_missing_in_most_frames_is_rejected_naming_the_frame():
    with _Hiding(set(range(5, 30))) as mesh, pytest.raises(MediaRejected) as info:
        track_video(shared("video/v03_*"), max_frames=30, mesh=mesh)
    message = info.value.message
    assert info.value.status == 422
    assert message.startswith("no face found in the avatar: no face in")
    assert "frame 5," in message and "0.20 s" in message


def test_video_without_a_face_is_rejected(tmp_path):
    video = make_video(tmp_path / "pattern.mp4", seconds=2.0, size=(128, 96), fps=10, with_audio=False)
    with pytest.raises(MediaRejected) as info:
        track_video(video)  # 20 frames: it stops as soon as more than half had no face
    assert info.value.message.startswith("no face found in the avatar: no face in 11 of the first 11 frames")
    assert "frame 0, 0.00 s" in info.value.message


@pytest.mark.media
def test_phone_video_rotation_is_applied(tmp_path):
    """A portrait phone video is stored on its side with a display matrix; faces are tracked upright."""
    import struct
    from fractions import Fraction

    import av
    import cv2

    from digihuman.face import read_image

    upright = cv2.resize(read_image(shared("image/p07_*")), (240, 240))[:, 20:220]  # 200 x 240
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # on its side, as a phone writes it
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 240, 200, "yuv420p"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    # the track header's matrix says "turn 90 degrees clockwise to show" (what phones write)
    data = bytearray(path.read_bytes())
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    at = data.index(identity, data.index(b"tkhd"))
    data[at : at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(data)

    track = track_video(path)
    assert (track.width, track.height) == (200, 240)
    _sane(track, 4)


def test_unreadable_or_pictureless_files_are_rejected(tmp_path):
    from tests.mediagen import make_wav

    text = tmp_path / "notes.mp4"
    text.write_bytes(b"not a video at all\n" * 50)
    with pytest.raises(MediaRejected, match="could not be read"):
        track_video(text)
    with pytest.raises(MediaRejected, match="no pictures"):
        track_video(make_wav(tmp_path / "speech.wav"))


def test_truncated_video_keeps_the_frames_before_the_damage(tmp_path):
    from fractions import Fraction

    import av

    from digihuman.face import read_frames

    whole = tmp_path / "whole.ts"  # MPEG-TS has no index at the end: a cut file still plays
    with av.open(str(whole), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 10, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    cut = tmp_path / "cut.ts"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2] + b"\xff" * 1000)
    frames = list(read_frames(cut))
    assert 0 < len(frames) < 20
    assert [f.index for f in frames] == list(range(len(frames)))


class _ManyFaces(FaceMesh):
    """Tracking with the many-face graph throughout (the detector runs on every frame)."""

    def faces(self, rgb):
        return self._process(rgb, self.max_faces)


@pytest.mark.media
def test_a_lone_face_is_tracked_by_the_one_face_graph_with_the_same_landmarks():
    from digihuman.face import read_frames

    frames = [f.rgb for f in read_frames(shared("video/v01_*"), max_frames=12)]
    frames[6] = np.zeros_like(frames[6])  # the face is lost, then found again
    narrow, wide = FaceMesh(static=False), _ManyFaces(static=False)
    graphs = []
    with narrow, wide:
        for rgb in frames:
            a, b = narrow.detect(rgb), wide.detect(rgb)
            graphs.append(narrow._faces)
            assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
    assert graphs == [1] * 6 + [3] + [1] * 5


def _eye_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(frames, 478) distances between two tracks' landmarks, in eye-corner distances."""
    eyes = np.linalg.norm(a[:, RIGHT_EYE_OUTER, :2] - a[:, LEFT_EYE_OUTER, :2], axis=1)
    return np.linalg.norm(a[..., :2] - b[..., :2], axis=2) / eyes[:, None]


@pytest.mark.media
def test_a_small_face_is_tracked_in_a_window_with_the_same_landmarks(monkeypatch: pytest.MonkeyPatch):
    """In a 1080x1920 half-body frame the mesh is given a window three faces wide, and the
    landmarks are those of the whole frame; as the picture pans, the window follows the face."""
    from digihuman.face import read_frames
    from digihuman.face.landmarks import _Window

    filmed = [f.rgb for f in read_frames(shared("video/v05_*"), max_frames=30)]
    # the first frame panned 2 px a frame left and 1 px up, past the window's dead zone and speed
    panned = [np.ascontiguousarray(np.roll(filmed[0], (-k, -2 * k), axis=(0, 1))) for k in range(60)]

    def track(frames: list[np.ndarray], mesh: FaceMesh) -> tuple[np.ndarray, object]:
        with mesh:
            found = [mesh.detect(rgb) for rgb in frames]
            window = mesh._window
        assert all(f is not None for f in found)
        return np.stack(found), window

    with monkeypatch.context() as m:
        m.setattr(_Window, "MAX_SHARE", 0.0)  # no window: the whole frame
        whole, none = track(filmed, FaceMesh(static=False))
    windowed, window = track(filmed, FaceMesh(static=False))
    assert none is None and window is not None
    assert window.width * window.height < 0.3 * filmed[0].shape[0] * filmed[0].shape[1]
    errors = _eye_errors(whole, windowed)
    assert errors[3:].mean() < 0.003 and errors[3:].max() < 0.03  # the first frames differ by the detection

    landmarks, window = track(panned, FaceMesh(static=False))
    box = FaceBox.of(landmarks[-1])
    assert window.x0 < box.x0 and box.x1 < window.x0 + window.width  # it followed the face
    assert window.y0 < box.y0 and box.y1 < window.y0 + window.height
    moved = np.median(landmarks[:, :, :2] - landmarks[5, :, :2], axis=1)[5:]
    truth = np.array([(-2 * k, -k) for k in range(len(panned))], np.float64)[5:] - (-10, -5)
    assert np.abs(moved - truth).max() < 3


def test_the_window_follows_a_face_past_its_dead_zone_and_stays_in_the_frame():
    from digihuman.face.landmarks import _Window

    face = FaceBox(500, 600, 700, 800)  # 200 px across
    window = _Window.around(face, 1080, 1920)
    assert (window.x0, window.y0, window.width, window.height) == (300, 400, 600, 600)
    assert window.following(FaceBox(520, 620, 720, 820)) is window  # 20 px: inside the dead zone (30)
    moved = window.following(FaceBox(550, 580, 750, 780))  # 50 px right, 20 up: one pixel right
    assert (moved.x0, moved.y0) == (301, 400)
    assert window.following(FaceBox(580, 600, 780, 800)) is None  # 80 px off: it would outrun the window
    assert window.following(FaceBox(450, 550, 750, 850)) is None  # grown by half: a new window
    edge = _Window.around(FaceBox(0, 600, 200, 800), 1080, 1920)
    assert edge.x0 == 0 and edge.following(FaceBox(-40, 600, 160, 800)) is edge  # held inside the frame
    assert _Window.around(FaceBox(100, 100, 400, 400), 512, 512) is None  # most of the frame: none


def test_landmarks_are_read_from_their_bytes_as_from_each_landmark():
    from mediapipe.framework.formats import landmark_pb2

    from digihuman.face.landmarks import normalised_points

    rng = np.random.default_rng(1)
    xyz = rng.normal(0.5, 0.3, (478, 3)).astype(np.float32)
    xyz[5] = 0.0  # zeros are written too (proto2 fields that are set)
    plain = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in xyz:
        plain.landmark.add(x=x, y=y, z=z)
    assert normalised_points(plain).dtype == np.float32
    assert np.array_equal(normalised_points(plain), xyz)
    plain.landmark[7].visibility = 0.9  # a longer record: read landmark by landmark
    assert np.array_equal(normalised_points(plain), xyz)
    assert normalised_points(landmark_pb2.NormalizedLandmarkList()).shape == (0, 3)
