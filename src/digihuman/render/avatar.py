"""Avatar models: training one from a talking video, and loading it for rendering.

An avatar model is a folder:

    manifest.json   version, source size and frame rate, crop geometry, background window, warnings
    track.npz       per source frame: 2D landmarks, canonical transform, head angles, descriptors
    mouths.bin      the mouth library: every frame's lower face warped into the canonical crop, JPEG,
                    one after the other (offsets in track.npz) — compact and randomly readable
    mapping.npz     the learned speech → mouth-descriptor regression (:mod:`.mapping`)
    background.mp4  the calm stretch of the video the renders play back and forth: the video's own
                    packets where they can be copied, else encoded with a short GOP (so it can be
                    read backwards in small chunks)
    cover.jpg       a still of the person, mouth at rest

Training reads the video once to track the face (the FaceMesh pass, the cost that matters) and
keeps the pixels around each frame's lower face from it (:class:`_FaceRegions`): the mouths are cut
from those, with no second decode. A video whose regions would take too much memory, or whose face
is missing in some frames (their landmarks are only known once the track is complete), or whose
background window must be encoded after the tracking, is decoded a second time to cut the mouths and
encode the window; that pass holds one frame at a time. The background window is copied from the
video's own packets where it can be (:mod:`digihuman.render.background`: no encoding at all);
otherwise it is encoded, and a video no longer than the background window, all background, has its
clip encoded from the first pass, beside the tracking, instead of after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digihuman.errors import MediaRejected
from digihuman.progress import Progress, no_progress, scaled
from digihuman.render.base import AvatarInfo
from digihuman.render.mapping import (BANDS, DESCRIPTORS, MouthMapping, feature_width, fit_kernel_mapping,
                                     prior_mapping, speech_features)
from digihuman.render.select import colour_outliers

if TYPE_CHECKING:
    from digihuman.speech.align.timeline import Timeline

MODEL_VERSION = 1
MANIFEST = "manifest.json"
# The canonical crop around the lower face (units: outer eye-corner distance; origin between the
# eyes). Wide enough for a turned head's jaw, and deep enough to hold the neck under a dropped chin.
CROP_BOX = (-1.25, 0.25, 1.25, 1.8)
# pauses the video needs before its rest mouth is taken from them (see rest_frame)
REST_MIN_PAUSES = 2
# memory for the lower-face pixels kept from the tracking decode (1080p: ~250 kB a frame, 48 s)
REGIONS_BUDGET_BYTES = 300_000_000


@dataclass(frozen=True)
class TrainOptions:
    """How to build an avatar model."""

    min_duration_s: float = 3.0  # shorter videos hold too few mouth shapes
    max_background_s: float = 30.0  # the background window is the calmest stretch this long (at most)
    jpeg_quality: int = 94  # of the stored mouths; 94 keeps teeth and lip texture sharp at ~10 kB
    max_crop_px_per_unit: int = 200  # crop resolution cap: 1080p faces need no more for the mouth
    background_crf: int = 15  # the background is re-encoded once more when rendering: keep it clean


@dataclass(frozen=True)
class AvatarModel:
    """A trained avatar model, loaded from its folder (the large arrays are read lazily)."""

    folder: Path
    manifest: dict

    @classmethod
    def load(cls, folder: Path) -> AvatarModel:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise MediaRejected(f"{folder.name} is not an avatar model folder: it has no {MANIFEST}.")
        manifest = json.loads(path.read_text())
        if manifest.get("version") != MODEL_VERSION:
            raise MediaRejected(
                f"the avatar model was made by another version ({manifest.get('version')}, this server reads "
                f"{MODEL_VERSION}): train it again from its video.")
        return cls(Path(folder), manifest)

    @property
    def fps(self) -> float:
        return float(self.manifest["fps"])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.manifest["width"]), int(self.manifest["height"])

    @property
    def px_per_unit(self) -> float:
        return float(self.manifest["px_per_unit"])

    @property
    def background(self) -> tuple[int, int]:
        """The background window: first source frame and number of frames."""
        b = self.manifest["background"]
        return int(b["start"]), int(b["frames"])

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.folder / "track.npz") as z:
            return {k: z[k] for k in z.files}

    @cached_property
    def mapping(self) -> MouthMapping:
        return MouthMapping.load(self.folder / "mapping.npz")

    @cached_property
    def _blob(self) -> np.memmap:
        return np.memmap(self.folder / "mouths.bin", dtype=np.uint8, mode="r")

    def mouth(self, i: int) -> np.ndarray:
        """Library frame ``i``'s canonical crop, RGB uint8."""
        import cv2

        offsets = self.arrays["offsets"]
        data = np.asarray(self._blob[offsets[i]: offsets[i + 1]])
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def crop_to_canonical(self) -> np.ndarray:
        """(2, 3) affine: crop pixel -> canonical (u, v)."""
        s, (u0, v0) = 1.0 / self.px_per_unit, CROP_BOX[:2]
        return np.array([[s, 0, u0], [0, s, v0]], np.float32)


def canonical_to_crop(px_per_unit: float) -> np.ndarray:
    """(2, 3) affine: canonical (u, v) -> crop pixel."""
    u0, v0 = CROP_BOX[:2]
    return np.array([[px_per_unit, 0, -u0 * px_per_unit], [0, px_per_unit, -v0 * px_per_unit]], np.float64)


def crop_size(px_per_unit: float) -> tuple[int, int]:
    u0, v0, u1, v1 = CROP_BOX
    return int(round((u1 - u0) * px_per_unit)), int(round((v1 - v0) * px_per_unit))


def train_avatar(video: Path, model_dir: Path, progress: Progress = no_progress,
                 options: TrainOptions = TrainOptions()) -> AvatarInfo:
    """Build an avatar model from ``video`` into ``model_dir`` (created; existing files replaced)."""
    from digihuman.face import track_video
    from digihuman.face.tracking import video_rate
    from digihuman.render.background import PacketSource

    duration = _duration(video)
    if duration < options.min_duration_s:
        raise MediaRejected(
            f"the avatar video is too short ({duration:.1f} s; at least {options.min_duration_s:.0f} s is "
            f"needed, 30-300 s of speaking recommended): send a longer video of the person talking.")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    heard = hear_beside(video)
    fps, total = video_rate(video)
    packets = PacketSource.open(video)
    beside = None
    if total is not None and total <= round(options.max_background_s * fps):  # all of it is background
        if packets is None or not packets.copyable(0, len(packets.index)):
            beside = _BackgroundBeside(model_dir / "background.mp4", fps, options.background_crf)
    regions = _FaceRegions(REGIONS_BUDGET_BYTES)
    try:
        track = track_video(video, progress=scaled(progress, 0, 65),
                            on_frame=beside.put if beside is not None else None, on_face=regions.put)
    finally:
        if beside is not None:
            beside.finish()
    n = len(track)
    descriptors = _descriptors(track)
    usable = _usable(track)
    motion = _motion(track)
    start, frames = calm_window(motion, track.fps, options.max_background_s)
    # the clip made beside the tracking is the one the cut would make, if the window is all of it
    encoded = beside is not None and beside.frames == n and (start, frames) == (0, n)
    copied = False
    if not encoded and packets is not None:
        (model_dir / "background.mp4").unlink(missing_ok=True)  # a partial clip made beside
        start, frames, copied = _copy_background(packets, model_dir / "background.mp4", track, motion,
                                                 start, frames)
    ppu = float(np.clip(round(float(np.median(track.scale))), 48, options.max_crop_px_per_unit))

    progress(66, "learning the voice-to-mouth mapping and cutting the mouth library")
    sound = heard.result()
    pauses = None if sound.timeline is None else pause_frames(sound.timeline, track.times, track.fps)
    rest = rest_frame(descriptors, usable, motion, track.angles, pauses)
    cover_at = start + int(np.argmin(np.abs(np.arange(start, start + frames) - rest)))  # nearest calm frame
    background = not (encoded or copied)
    kept = None if background else regions.frames(len(track))
    # the cut (OpenCV, JPEG, the decoder: outside the GIL) runs in its own thread beside the mapping's
    # fit (numpy), which needs none of it: the library's frames are told apart only afterwards. The
    # fit keeps to one BLAS thread meanwhile (a second would spin waiting for the cut's core; the
    # fitted numbers agree to 1e-8)
    cut = _in_thread(_cut_library, video, track, ppu, start, frames, cover_at, model_dir, options,
                     no_progress, background=background, regions=kept)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            mapping, warnings = _learn_mapping(track, descriptors, usable, sound)
    finally:
        offsets, lip_lab = cut.result()
    del regions, kept
    progress(99, "mouth library cut")
    usable &= np.diff(offsets) > 0  # a frame the second decode did not return has no mouth
    usable &= ~colour_outliers(lip_lab, usable)  # lips not coloured like the person's own: not shown
    if not (model_dir / "cover.jpg").is_file():
        _first_frame_cover(video, model_dir / "cover.jpg")
    z_mean, z_std = _standardisation(descriptors, usable)
    np.savez(
        model_dir / "track.npz",
        landmarks=track.landmarks[:, :, :2].astype(np.float32), to_canonical=track.to_canonical,
        angles=track.angles, scale=track.scale, descriptors=descriptors, usable=usable, motion=motion,
        offsets=offsets, z_mean=z_mean, z_std=z_std, rest=np.int32(rest), lip_lab=lip_lab,
    )
    mapping.save(model_dir / "mapping.npz")
    warnings = tuple(track.warnings) + warnings
    manifest = {
        "version": MODEL_VERSION, "kind": "sample-mouth-library", "source": Path(video).name,
        "fps": track.fps, "width": track.width, "height": track.height, "frames": n,
        "duration_s": round(duration, 3), "px_per_unit": ppu, "crop_box": CROP_BOX,
        "background": {"start": start, "frames": frames, "file": "background.mp4", "copied": copied},
        "rest_frame": rest, "cover": "cover.jpg", "usable_frames": int(usable.sum()),
        "mapping_r": {k: round(float(v), 3) for k, v in zip(DESCRIPTORS, mapping.fitted_r)},
        "warnings": list(warnings),
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    progress(100, "avatar model ready")
    return AvatarInfo(cover=model_dir / "cover.jpg", frames=n, duration_s=duration, warnings=warnings)


def _duration(video: Path) -> float:
    import av

    try:
        with av.open(str(video)) as c:
            if not c.streams.video:
                raise MediaRejected("the avatar has no pictures: send a video of the person talking.")
            s = c.streams.video[0]
            if s.duration and s.time_base:
                return float(s.duration * s.time_base)
            return float(c.duration or 0) / 1e6
    except (av.FFmpegError, OSError) as e:
        raise MediaRejected("the avatar video could not be read: send an mp4, mov or webm file.") from e


def _descriptors(track) -> np.ndarray:  # noqa: ANN001 - FaceTrack
    """(N, 5) opening, width, rounding, jaw drop, teeth (NaN teeth -> 0)."""
    m = track.mouth
    return np.stack([m["opening"], m["width"], m["rounding"], track.jaw_drop,
                     np.nan_to_num(m["teeth"])], axis=1).astype(np.float32)


def _usable(track) -> np.ndarray:  # noqa: ANN001
    """Frames whose mouth can go into the library: the face was seen and is not turned far away."""
    yaw, pitch = np.abs(track.angles[:, 0]), np.abs(track.angles[:, 1])
    usable = track.detected & (yaw < 35) & (pitch < 30)
    return usable if usable.sum() >= 10 else track.detected.copy()


def _motion(track) -> np.ndarray:  # noqa: ANN001
    """(N,) how much the head and mouth move at each frame, in face units per frame."""
    lm = track.landmarks[:, :, :2] / track.scale[:, None, None]
    head = np.linalg.norm(np.diff(lm[:, [1, 33, 263, 10, 152]], axis=0), axis=2).mean(axis=1)
    opening = np.abs(np.diff(track.mouth["opening"]))
    motion = head + 0.3 * opening
    return np.concatenate([[motion[0] if len(motion) else 0.0], motion]).astype(np.float32)


def calm_window(motion: np.ndarray, fps: float, max_s: float) -> tuple[int, int]:
    """The stretch (start, frames) with the least head motion, at most ``max_s`` long, whose ends
    are themselves calm moments (the playback turns around there)."""
    n = len(motion)
    w = int(min(n, max(2, round(max_s * fps))))
    if w >= n:
        return 0, n
    csum = np.concatenate([[0.0], np.cumsum(motion)])
    start = int(np.argmin(csum[w:] - csum[:-w]))
    # move each end within a third of a second to the stillest frame near it
    reach = max(1, int(fps / 3))
    lo = max(0, start - reach)
    a = lo + int(np.argmin(motion[lo: start + reach + 1]))
    end = start + w - 1
    hi = min(n - 1, end + reach)
    b = end - reach + int(np.argmin(motion[end - reach: hi + 1]))
    b = max(b, a + 1)
    return a, b - a + 1


def _copy_background(packets, target: Path, track, motion: np.ndarray,  # noqa: ANN001
                     start: int, frames: int) -> tuple[int, int, bool]:
    """The background window (start, frames) and whether it was copied from the video's packets
    to ``target``. A window that does not start at a keyframe is moved to start at one within a
    third of a second, if that frame is as calm as the window typically is (the playback turns
    around there)."""
    indices = track.frame_indices
    if not np.array_equal(indices, np.arange(len(indices))):
        return start, frames, False  # rows are not the video's frames one for one
    end = start + frames
    reach = max(1, int(track.fps / 3))
    calm = float(np.median(motion[start:end]))
    near = [int(k) for k in packets.index.keyframes
            if abs(int(k) - start) <= reach and int(k) < end - 1 and motion[int(k)] <= calm]
    for first in [start] + sorted((k for k in near if k != start), key=lambda k: motion[k])[:1]:
        if packets.copy(target, first, end - first):
            return first, end - first, True
    return start, frames, False


def rest_frame(descriptors: np.ndarray, usable: np.ndarray, motion: np.ndarray, angles: np.ndarray,
               pauses: np.ndarray | None = None) -> int:
    """The library frame shown during silence: the person's own mouth at rest, still, head near its
    usual pose.

    ``pauses`` (N,) numbers the frames well inside the soundtrack's pauses (1, 2, ... per pause; 0
    elsewhere), as a render rests its mouth in them. When the video pauses at least REST_MIN_PAUSES
    times, the rest mouth is one of those frames, opened as much as the person's pauses typically
    are (the median of the pauses' own medians): many people rest with their lips a little apart,
    and a mouth shut tighter than they ever hold it is wrong in every pause (lip-sync bench, lv03:
    filmed opening 0.057 in the test's pauses, the old closed rest 0.002, the pauses' 0.048;
    best-lag r of the selected mouths 0.513 -> 0.553, of the rendered ones 0.484 -> 0.518). One
    pause is not enough: it may be a breath taken with the mouth open (lv02's only pause: 0.072, its
    later pauses 0.018). Otherwise the lips are closed (the least open sixth of the frames).
    """
    opening = descriptors[:, 0]
    labels = np.zeros(len(opening), np.int64) if pauses is None else np.where(usable, pauses, 0)
    medians = [float(np.median(opening[labels == k])) for k in np.unique(labels[labels > 0])
               if (labels == k).sum() >= 3]
    if len(medians) >= REST_MIN_PAUSES:
        candidates = labels > 0
        away = np.abs(opening - float(np.median(medians)))
    else:
        candidates = usable & (opening <= np.percentile(opening[usable], 15))
        if not candidates.any():
            candidates = usable
        away = opening
    width_dev = np.abs(descriptors[:, 1] - np.median(descriptors[candidates, 1]))
    pose_dev = np.abs(angles[:, :2] - np.median(angles[usable, :2], axis=0)).sum(axis=1) / 10.0
    score = away * 10 + width_dev * 5 + motion * 20 + pose_dev + np.where(candidates, 0.0, 1e6)
    return int(np.argmin(score))


def pause_frames(timeline, times: np.ndarray, fps: float) -> np.ndarray:  # noqa: ANN001 - Timeline
    """(N,) int: for the frames shown at ``times`` (seconds), the number (1, 2, ...) of the
    ``timeline``'s pause they lie well inside, as a render rests its mouth there (pauses as long and
    margins as wide as a render's); 0 for the others."""
    from digihuman.render.video import SILENCE_MARGIN_S, SILENCE_MIN_S

    centre = np.asarray(times, np.float64) + 0.5 / fps
    out = np.zeros(len(centre), np.int64)
    long = [(s, e) for s, e in timeline.silences if e - s >= SILENCE_MIN_S]
    for k, (start, end) in enumerate(long, 1):
        out[(centre >= start + SILENCE_MARGIN_S) & (centre <= end - SILENCE_MARGIN_S)] = k
    return out


def _standardisation(descriptors: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = descriptors[usable]
    return d.mean(axis=0).astype(np.float32), (d.std(axis=0) + 1e-4).astype(np.float32)


@dataclass(frozen=True)
class HeardSpeech:
    """What a training video's soundtrack says: its samples, its timeline (pauses only) and (where the
    encoder is installed) speech-content states; ``timeline`` None when the video has no speech
    soundtrack."""

    samples: np.ndarray
    timeline: Timeline | None
    states: np.ndarray | None


def hear_beside(video: Path) -> Future[HeardSpeech]:
    """:func:`hear` of ``video``, from now on in a background thread.

    Tracking the face keeps about one core busy and reading the soundtrack (whisper's encoder) two
    threads, and neither needs the other: together they take the time of the longer, not of both.
    """
    return _in_thread(hear, video)


def hear(video: Path) -> HeardSpeech:
    """Decode ``video``'s soundtrack once; its pauses and content states for the mouth mapping.

    The mapping reads the sound itself (its timeline's mouth targets are left out, see
    :func:`fit_kernel_mapping`), so the words said are not recognised: only the pauses are needed."""
    from digihuman.render import content
    from digihuman.speech.align.features import RATE
    from digihuman.speech.align.timeline import pauses_only
    from digihuman.speech.utterance import Speech

    try:
        speech = Speech.from_file(Path(video))
        timeline = pauses_only(speech)
    except MediaRejected:
        return HeardSpeech(np.zeros(0, np.float32), None, None)
    if timeline.method == "silence":
        return HeardSpeech(speech.at(RATE), None, None)
    # what is said, read by whisper's encoder, where it is installed (a server without it keeps the
    # mapping from the sound alone, and renders of this avatar then do not need it either)
    states = content.content_states(speech.at(RATE)) if content.available() else None
    return HeardSpeech(speech.at(RATE), timeline, states)


def _in_thread(work, *args, **kwargs) -> Future:  # noqa: ANN001, ANN002, ANN003 - any call
    """``work(*args, **kwargs)``, from now on in a thread of its own."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix="avatar training")
    try:
        return pool.submit(work, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one job


def _learn_mapping(track, descriptors: np.ndarray, usable: np.ndarray,  # noqa: ANN001
                   sound: HeardSpeech) -> tuple[MouthMapping, tuple[str, ...]]:
    """Fit the speech → descriptor regression on the video's own soundtrack."""
    from digihuman.render import content
    from digihuman.speech.align import mouth_track

    z_mean, z_std = _standardisation(descriptors, usable)
    if sound.timeline is None:
        why = ("the video has no speech soundtrack: a generic mouth mapping is used instead of the "
               "person's own")
        return prior_mapping(10), (why,)
    mouth = mouth_track(sound.timeline, track.fps)
    encoder = content.ENCODER if sound.states is not None else ""
    features = speech_features(sound.samples, mouth, times=track.times, bands=BANDS, content=encoder,
                               states=sound.states)
    targets = (descriptors - z_mean) / z_std
    mapping = fit_kernel_mapping(features, targets, usable, bands=BANDS, content=encoder,
                                 content_columns=features.values.shape[1] - feature_width(BANDS))
    return mapping, ()


class _BackgroundBeside:
    """The background clip, encoded (in its own thread) from the frames as the tracking decodes them."""

    def __init__(self, path: Path, fps: float, crf: int) -> None:
        self.path, self.fps, self.crf = path, fps, crf
        self.frames = 0
        self._clip = None
        self._encoder = None

    def put(self, frame) -> None:  # noqa: ANN001 - VideoFrame
        from digihuman.render.clip import ClipWriter
        from digihuman.render.output import EncoderThread, to_yuv

        if self._clip is None:
            height, width = frame.rgb.shape[:2]
            self._clip = ClipWriter(self.path, width, height, self.fps, crf=self.crf)
            self._encoder = EncoderThread(self._clip, "encode background")
        clip = self._clip
        self._encoder.put(frame.yuv if frame.yuv is not None
                          else to_yuv(frame.rgb[: clip.height, : clip.width]))
        self.frames += 1

    def finish(self) -> None:
        """Wait for the queued frames and close the clip (on a failure, as far as it got)."""
        if self._clip is None:
            return
        try:
            self._encoder.finish()
        except BaseException as e:
            self._clip.__exit__(type(e), e, e.__traceback__)
            raise
        self._clip.__exit__(None, None, None)


class _FaceRegions:
    """The pixels around every frame's lower face, kept from the tracking decode: each frame's
    region is where its canonical crop (CROP_BOX) lies, by the transform the track will hold for
    it, and a few pixels more (what bilinear sampling reads), so the mouth library cut from them is
    the one cut from the whole frames, to the bit. Dropped (None) at the first frame without a face
    or past ``budget`` bytes."""

    MARGIN_PX = 4

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: list[tuple[int, int, np.ndarray]] | None = []
        self._bytes = 0

    def put(self, frame, face) -> None:  # noqa: ANN001 - VideoFrame, FaceFrame | None
        if self._kept is None:
            return
        if face is None:
            self._kept = None  # its landmarks come later, from its neighbours
            return
        height, width = frame.rgb.shape[:2]
        u0, v0, u1, v1 = CROP_BOX
        # inverted by hand: numpy's inverse goes through threaded LAPACK, whose helper thread waits
        # for a core that decoding and FaceMesh keep busy (10 s of 1080p: about 2 CPU-s spinning)
        (a, b, tx), (c, d, ty) = np.asarray(face.pose.to_canonical, np.float64)
        det = a * d - b * c
        us, vs = np.array([u0, u0, u1, u1], np.float64) - tx, np.array([v0, v1, v0, v1], np.float64) - ty
        corners = np.array([d * us - b * vs, a * vs - c * us]) / det
        x0, y0 = (int(max(0, np.floor(corners[k].min()) - self.MARGIN_PX)) for k in (0, 1))
        x1 = int(min(width, np.ceil(corners[0].max()) + self.MARGIN_PX + 1))
        y1 = int(min(height, np.ceil(corners[1].max()) + self.MARGIN_PX + 1))
        region = frame.rgb[y0:max(y0, y1), x0:max(x0, x1)].copy()
        self._bytes += region.nbytes
        if self._bytes > self.budget:
            self._kept = None
            return
        self._kept.append((x0, y0, region))

    def frames(self, count: int) -> list[tuple[int, int, np.ndarray]] | None:
        """The regions of ``count`` tracked frames, or None when they were not all kept."""
        return self._kept if self._kept is not None and len(self._kept) == count else None


def _pasted(regions: list[tuple[int, int, np.ndarray]], track) -> Iterator:  # noqa: ANN001
    """The tracked frames rebuilt from their regions, each into the same full-size picture (only
    the region's pixels are current: the crop reads no others)."""
    from digihuman.face.tracking import VideoFrame

    canvas = np.zeros((track.height, track.width, 3), np.uint8)
    for i, (x0, y0, region) in enumerate(regions):
        canvas[y0: y0 + region.shape[0], x0: x0 + region.shape[1]] = region
        yield VideoFrame(int(track.frame_indices[i]), float(track.times[i]), canvas)


def _cut_library(video: Path, track, ppu: float, start: int, frames: int, cover_at: int,  # noqa: ANN001
                 model_dir: Path, options: TrainOptions, progress: Progress,
                 background: bool = True,
                 regions: list[tuple[int, int, np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Write every frame's canonical mouth crop and (with ``background``) the background window:
    from the lower-face ``regions`` kept by the tracking (then without ``background``; the cover
    is decoded on its own), else in a second pass over the video. Returns the crops' offsets in
    mouths.bin and their lips' mean Lab colour (N, 3)."""
    from contextlib import ExitStack

    import cv2

    from digihuman.face.landmarks import LIPS_INNER, LIPS_OUTER
    from digihuman.render.composite import lip_colour

    from digihuman.face import read_frames
    from digihuman.render.clip import ClipWriter, read_ahead
    from digihuman.render.output import EncoderThread, to_yuv, write_cover

    size = crop_size(ppu)
    to_crop = canonical_to_crop(ppu)
    offsets = [0]
    lip_lab = np.full((len(track), 3), np.nan, np.float32)
    row_of = {int(f): i for i, f in enumerate(track.frame_indices)}
    quality = [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality]
    # the window's frame numbers: only those are also wanted as the decoder's YUV
    window = range(int(track.frame_indices[start]), int(track.frame_indices[start + frames - 1]) + 1)
    with ExitStack() as stack:
        blob = stack.enter_context(open(model_dir / "mouths.bin", "wb"))
        # decoding runs a few frames ahead in its own thread and the background clip is encoded in
        # another, both beside the crops; the clip takes the decoder's own YUV where it can (no
        # conversion to RGB and back: its pictures are the video's, less only the encoder's loss)
        clip = encoder = None
        if background:
            clip = stack.enter_context(ClipWriter(model_dir / "background.mp4", track.width, track.height,
                                                  track.fps, crf=options.background_crf))
            encoder = EncoderThread(clip, "encode background")
        try:
            if regions is not None and not background:
                source = _pasted(regions, track)
                write_cover(_frame_at(video, float(track.times[cover_at])), model_dir / "cover.jpg")
            else:
                source = read_ahead(read_frames(video, yuv=window if background else False))
                regions = None
            for frame in source:
                i = row_of.get(frame.index)
                if i is None:
                    continue
                m = _compose(to_crop, track.to_canonical[i])
                shrink = ppu < track.scale[i]
                crop = cv2.warpAffine(frame.rgb, m, size, borderMode=cv2.BORDER_REPLICATE,
                                      flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
                ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), quality)
                blob.write(data.tobytes())
                offsets.append(offsets[-1] + len(data))
                if track.detected[i]:
                    lm = track.landmarks[i][:, :2].astype(np.float64) @ m[:, :2].T + m[:, 2]
                    lip_lab[i] = lip_colour(crop, lm[list(LIPS_OUTER)], lm[list(LIPS_INNER)])
                if encoder is not None and start <= i < start + frames:
                    encoder.put(frame.yuv if frame.yuv is not None
                                else to_yuv(frame.rgb[: clip.height, : clip.width]))
                if i == cover_at and regions is None:
                    write_cover(frame.rgb, model_dir / "cover.jpg")
                if i % 30 == 0:
                    progress(100.0 * i / len(track), "cutting the mouth library")
        finally:
            if encoder is not None:
                encoder.finish()  # every queued frame encoded before the clip closes
    while len(offsets) < len(track) + 1:  # frames the second decode did not return (truncated file)
        offsets.append(offsets[-1])
    return np.array(offsets, np.int64), lip_lab


def _frame_at(video: Path, time: float) -> np.ndarray:
    """The frame of ``video`` shown at ``time`` (as :func:`digihuman.face.read_frames` gives it),
    decoded from the keyframe before it."""
    import av

    from digihuman.face.tracking import display_rgb

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        container.seek(int(time / stream.time_base), stream=stream, backward=True, any_frame=False)
        last = None
        for frame in container.decode(stream):
            if last is not None and float(frame.time or 0.0) > time + 1e-6:
                break
            last = frame
            if abs(float(frame.time or 0.0) - time) < 1e-6:
                break
    if last is None:
        raise MediaRejected("the avatar video could not be decoded: send an mp4, mov or webm file.")
    return display_rgb(last)


def _first_frame_cover(video: Path, path: Path) -> None:
    from digihuman.face import read_frames
    from digihuman.render.output import write_cover

    frame = next(read_frames(video, max_frames=1))
    write_cover(frame.rgb, path)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) affine ``outer`` ∘ ``inner``."""
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2].astype(np.float32)
