"""Rendering an avatar model saying new speech: plan, then stream from decode to encode.

Planning holds only a few numbers per output frame: the speech timeline and mouth targets, the
background frame of each output frame (ping-pong over the model's calm window), the mouth descriptors
the person's mapping predicts, and the library frame unit selection picks. Then one pass decodes the
background clip in plan order, blends each frame's chosen mouth in, and encodes — a frame at a time
(one GOP when the clip plays backwards), so memory does not grow with the audio's length. At the
avatar's own size the frames stay in the clip's YUV 4:2:0 from decoder to encoder: only the face box
is converted to RGB and back, so the rest of the picture is the clip's own and costs no conversion.
Two compositing threads prepare the next frames (mouth placed, bent, shaded) while the frame loop
finishes each in order (the lip colour is smoothed from frame to frame), so compositing uses both
cores where the encoder has little to do: the frames are exactly those of blending one at a time.

Standard quality and V2 differ only in care (see :class:`RenderPlan`): V2 blends with a Laplacian
pyramid and morphs the mouth (optical flow + cross-fade) across every jump between non-consecutive
library frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digihuman.progress import Progress, no_progress, scaled
from digihuman.render.avatar import AvatarModel
from digihuman.render.base import VIDEO_MAX_SIDE, RenderOptions, RenderResult, output_size
from digihuman.render.composite import BlendOptions, Compositor, PreparedBlend
from digihuman.render.select import SelectOptions, jumps, select_units
from digihuman.timeline import MouthTrack, Timeline
from digihuman.timings import stage

if TYPE_CHECKING:
    from digihuman.speech.utterance import Speech

CROSSFADE = 3  # V2: frames over which a jump between library frames is faded in
# The mouth is held at rest only well inside a pause: a speaker closes the mouth after the last word
# and opens it before the next one over about 0.2 s, and a pause shorter than 0.6 s is a breath
# between words, not a rest (lip-sync bench, best-lag r of the selected mouths: lv03 0.31 -> 0.43,
# lv02 0.53 -> 0.56 against 0.04 s and every pause)
SILENCE_MARGIN_S = 0.2
SILENCE_MIN_S = 0.6
OUTPUT_CRF = 17  # the background clip's second generation: at 18 a grainy clip (v09) fell under 40 dB
INTERMEDIATE_CRF = 14  # with the fastest preset (2x faster than veryfast): bigger, as clean, encoded again
# threads preparing frames (the mouth placed, bent and shaded) while this one finishes them in order:
# on two cores one thread left the other idle whenever the encoder had little to do (512, 720p)
COMPOSITING_THREADS = 2
PREPARED_AHEAD = 4  # frames decoded and being prepared ahead of the one being finished


@dataclass(frozen=True)
class RenderPlan:
    """What each output frame shows (all arrays have one row per output frame)."""

    frames: int
    fps: float
    background: np.ndarray  # (T,) frame within the background window
    mouth: np.ndarray  # (T,) library frame
    silent: np.ndarray  # (T,) bool
    targets: np.ndarray  # (T, 5) standardised descriptors asked for
    crossfade: int = 0  # frames of cross-fade after each jump (0: cut)


def plan_render(model: AvatarModel, audio: Path | np.ndarray, timeline: Timeline, mouth: MouthTrack,
                quality: str = "standard", select: SelectOptions = SelectOptions(),
                background: np.ndarray | None = None,
                content: Future[np.ndarray] | None = None) -> RenderPlan:
    """The per-frame plan of a render of ``audio`` (a file, or mono 16 kHz samples) whose ``timeline``
    and ``mouth`` track are known, the track at the model's frame rate. ``background`` gives each
    frame's background-window frame when the render does not start the window from its beginning
    (a live stream continues the window where the last utterance left it). ``content``: the audio's
    encoder states when the model's mapping reads them and they were started beforehand
    (:func:`speech_content`); else they are computed here."""
    from digihuman.render.clip import ping_pong
    from digihuman.render.mapping import silent_frames, speech_features

    frames = len(mouth)
    a = model.arrays
    start, count = model.background
    background = ping_pong(count, frames) if background is None else np.asarray(background, np.int64)[:frames]
    with stage("speech analysis"):
        features = speech_features(audio, mouth, frames, bands=model.mapping.bands,
                                   content=model.mapping.content,
                                   states=None if content is None else content.result())
    targets = model.mapping.predict(features)
    silent = silent_frames(timeline, frames, model.fps, SILENCE_MARGIN_S, SILENCE_MIN_S)
    library = (a["descriptors"] - a["z_mean"]) / a["z_std"]
    chosen = select_units(targets, library, a["usable"], a["angles"][:, :2],
                          a["angles"][start + background, :2], silent, int(a["rest"]), select)
    return RenderPlan(frames, model.fps, background, chosen, silent, targets,
                      crossfade=CROSSFADE if quality == "v2" else 0)


def speech_content(model: AvatarModel, speech: Speech) -> Future[np.ndarray] | None:
    """The encoder states of ``speech`` that ``model``'s mouth mapping reads, started now in the
    background (None when it reads none): ask before building the speech's timeline, so both run at
    once (:func:`digihuman.render.content.beside`)."""
    if not model.mapping.content:
        return None
    from digihuman.render.content import beside
    from digihuman.speech.align.features import RATE

    return beside(speech.at(RATE), model.mapping.content)


def render_model(model_dir: Path, speech: Speech | Path, out_dir: Path, options: RenderOptions,
                 progress: Progress = no_progress,
                 timeline_of: Callable[[Speech], Timeline] | None = None) -> RenderResult:
    """Render the avatar model in ``model_dir`` saying ``speech`` (or an audio file, decoded here)
    into ``out_dir``. The speech's encoder states are started first; of its timeline only the pauses
    are found, unless the model's mapping reads phones: then ``timeline_of(speech)``, by default its
    text aligned or its words recognised."""
    from digihuman.speech.align import mouth_track
    from digihuman.speech.align.features import RATE
    from digihuman.speech.align.timeline import default_builder, pauses_only
    from digihuman.speech.utterance import Speech

    model = AvatarModel.load(model_dir)
    progress(1, "reading the speech")
    if not isinstance(speech, Speech):
        speech = Speech.from_file(Path(speech))
    content = speech_content(model, speech)
    with stage("speech analysis"):
        if model.mapping.reads_timeline:
            timeline = (timeline_of or default_builder().for_speech)(speech)
        else:
            timeline = pauses_only(speech)
    progress(5, "choosing mouths")
    with stage("selection"):
        mouth = mouth_track(timeline, model.fps)
        plan = plan_render(model, speech.at(RATE), timeline, mouth, options.quality, content=content)
    del content  # the encoder states (46 MB per 10 minutes of speech) are in the plan's targets now
    return write_render(model, plan, speech, Path(out_dir), options, scaled(progress, 8, 100))


def write_render(model: AvatarModel, plan: RenderPlan, audio: Speech | Path, out_dir: Path,
                 options: RenderOptions, progress: Progress = no_progress) -> RenderResult:
    """Stream the plan to ``out_dir``: video.mp4 (marked when ``options.watermark`` is set), preview.webp,
    cover.jpg."""
    from digihuman.render.clip import ClipReader, read_ahead, read_plan
    from digihuman.render.output import RenderWriter, VideoSpec, to_rgb, write_cover

    import cv2
    from threadpoolctl import threadpool_limits

    out_dir.mkdir(parents=True, exist_ok=True)
    _return_freed_memory()
    width, height = output_size(*model.size, options.max_side, VIDEO_MAX_SIDE)
    scale = (width, height) != model.size
    shrink = width < model.size[0]
    if options.intermediate:
        spec = VideoSpec(width, height, model.fps, crf=INTERMEDIATE_CRF, preset="ultrafast")
    else:
        spec = VideoSpec(width, height, model.fps, crf=OUTPUT_CRF)
    start, _ = model.background
    compositor = Compositor(model, BlendOptions(multiband=plan.crossfade > 0))
    cover, cover_at = out_dir / "cover.jpg", _cover_frame(plan)
    reader = ClipReader(model.folder / model.manifest["background"]["file"])
    fades = _fades(plan)
    # at the avatar's own size the frames stay in the clip's YUV and only the face is converted
    backgrounds = read_ahead(read_plan(reader, plan.background, "rgb24" if scale else "yuv420p"))

    def prepare(t: int, picture: np.ndarray) -> FaceBlend | None:
        """Frame ``t``'s blend up to its lip colour, in a compositing thread."""
        crop = _mouth_at(model, plan, fades, t)
        row = start + int(plan.background[t])
        if scale:
            return prepare_rgb(compositor, picture, row, crop, int(plan.mouth[t]))
        return prepare_yuv(compositor, picture, row, crop, int(plan.mouth[t]))

    # decoding, compositing and the encoders run in their own threads; the per-frame matrix work is
    # small (the jaw bend's solve), and BLAS threads would only wait for a free core. Frames are
    # prepared by COMPOSITING_THREADS threads a few frames ahead (OpenCV and numpy work outside the
    # GIL) and finished in order here: the lip colour is smoothed from one frame to the next
    pool = ThreadPoolExecutor(COMPOSITING_THREADS, thread_name_prefix="compositing")
    pending: deque[tuple[np.ndarray, Future[FaceBlend | None]]] = deque()
    try:
        with threadpool_limits(limits=1, user_api="blas"), \
                RenderWriter(out_dir, spec, audio, options.watermark) as output:
            for t in range(plan.frames):
                while len(pending) < PREPARED_AHEAD and t + len(pending) < plan.frames:
                    with stage("decode"):
                        picture = next(backgrounds, None)  # RGB when scaled, else YUV 4:2:0
                    if picture is None:
                        break
                    pending.append((picture, pool.submit(prepare, t + len(pending), picture)))
                if not pending:
                    break
                with stage("compositing"):
                    picture, job = pending.popleft()
                    finish_blend(compositor, picture, job.result())
                if scale:
                    with stage("scaling"):
                        frame = cv2.resize(picture, (width, height),
                                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
                    output.write(frame)
                else:
                    output.write_yuv(picture)
                if t == cover_at:
                    with stage("preview"):
                        write_cover(frame if scale else to_rgb(picture), cover)
                if t % 25 == 0:
                    progress(100.0 * t / plan.frames, "rendering")
    finally:
        for _, job in pending:
            job.cancel()
        pool.shutdown(wait=True)  # no thread reads a frame or the model after this
        backgrounds.close()  # stops the decoding thread before its clip closes
        reader.close()
    progress(100, "rendered")
    return RenderResult(video=output.video, cover=cover, preview=output.preview, duration_s=plan.frames / plan.fps)


def _return_freed_memory() -> None:
    """Hand the heap pages that planning freed back to the system before the frame loop.

    glibc keeps freed heap pages for reuse, and planning's temporaries (the speech encoder's passes,
    the per-frame features) leave about 100 MB of them behind for 10 minutes of speech, counted in
    the render's resident size while the frames are written (720p, 600 s: 705 -> 646 MB peak). Other
    C libraries have no malloc_trim and return memory their own way."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


@dataclass(frozen=True)
class FaceBlend:
    """A frame's face box on its way to being blended: where it lies in the frame (``wide``, with
    ``inner`` the blended part within it, for a YUV frame) and its RGB picture so far."""

    wide: tuple[int, int, int, int]
    rgb: np.ndarray
    inner: tuple[slice, slice]
    part: PreparedBlend
    yuv: bool


def prepare_rgb(compositor: Compositor, frame: np.ndarray, row: int, mouth: np.ndarray,
                mouth_row: int) -> FaceBlend | None:
    """:meth:`Compositor.prepare` for the RGB frame ``frame`` (background frame ``row``); None
    when the face is out of frame."""
    height, width = frame.shape[:2]
    box = compositor.box(row, (width, height))
    if box is None:
        return None
    x0, y0, x1, y1 = box
    roi = frame[y0:y1, x0:x1]
    part = compositor.prepare(roi, box, row, mouth, mouth_row)
    return FaceBlend(box, roi, (slice(None), slice(None)), part, yuv=False)


def prepare_yuv(compositor: Compositor, yuv: np.ndarray, row: int, mouth: np.ndarray,
                mouth_row: int) -> FaceBlend | None:
    """:meth:`Compositor.prepare` for the YUV 4:2:0 frame ``yuv``: only the face box is converted
    to RGB; None when the face is out of frame."""
    from digihuman.render.output import even_box, to_rgb, yuv_part

    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    box = compositor.box(row, (width, height))
    if box is None:
        return None
    x0, y0, x1, y1 = box
    ex0, ey0, _, _ = wide = even_box(box, width, height)
    rgb = to_rgb(yuv_part(yuv, wide))
    inner = (slice(y0 - ey0, y1 - ey0), slice(x0 - ex0, x1 - ex0))
    return FaceBlend(wide, rgb, inner, compositor.prepare(rgb[inner], box, row, mouth, mouth_row), yuv=True)


def finish_blend(compositor: Compositor, frame: np.ndarray, blend: FaceBlend | None) -> None:
    """Finish ``blend`` (frames in order: the lip colour is smoothed) and put it into ``frame``, the
    frame it was prepared from, in place; the rest of the frame is untouched."""
    from digihuman.render.output import paste_yuv, to_yuv

    if blend is None:
        return
    done = compositor.finish(blend.part)
    if not blend.yuv:
        x0, y0, x1, y1 = blend.wide
        frame[y0:y1, x0:x1] = done
        return
    blend.rgb[blend.inner] = done
    paste_yuv(frame, to_yuv(blend.rgb), blend.wide)


def blend_yuv(compositor: Compositor, yuv: np.ndarray, row: int, mouth: np.ndarray, mouth_row: int) -> None:
    """Blend ``mouth`` into the YUV 4:2:0 frame ``yuv`` (background frame ``row``), in place: only the
    face box is converted to RGB and back; the rest of the frame is the clip's own, untouched."""
    finish_blend(compositor, yuv, prepare_yuv(compositor, yuv, row, mouth, mouth_row))


def _cover_frame(plan: RenderPlan) -> int:
    """The first speaking frame with the mouth a little open reads best as a cover; else frame 0."""
    speaking = np.flatnonzero(~plan.silent & (plan.targets[:, 0] > 0.3))
    return int(speaking[0]) if len(speaking) else 0


def _fades(plan: RenderPlan) -> np.ndarray:
    """(T,) for V2: the library frame each output frame fades *from* (-1: no fade)."""
    fade_from = np.full(plan.frames, -1, np.int64)
    if plan.crossfade <= 0:
        return fade_from
    for t in np.flatnonzero(jumps(plan.mouth)):
        # the mouth that would have continued had there been no jump keeps moving while it fades out
        old = int(plan.mouth[t - 1])
        for k in range(plan.crossfade - 1):
            if t + k < plan.frames and fade_from[t + k] < 0:
                fade_from[t + k] = old + 1 + k
    return fade_from


def _mouth_at(model: AvatarModel, plan: RenderPlan, fades: np.ndarray, t: int) -> np.ndarray:
    crop = model.mouth(int(plan.mouth[t]))
    old = int(fades[t])
    if old < 0:
        return crop
    usable = model.arrays["usable"]
    if old >= len(usable) or not usable[old]:  # the filmed successor has no mouth: cut instead
        return crop
    # position within the fade: after a jump at t0, frame t0 + k shows (k + 1) / crossfade of the new mouth
    k = 0
    while t - k - 1 >= 0 and fades[t - k - 1] >= 0 and fades[t - k - 1] == old - 1:
        k += 1
    return morph(model.mouth(old), crop, (k + 1) / plan.crossfade)


def morph(old: np.ndarray, new: np.ndarray, w: float) -> np.ndarray:
    """A frame ``w`` of the way from mouth ``old`` to mouth ``new`` (aligned canonical crops).

    A plain cross-fade would show both lip lines at once (a ghost); following the optical flow
    between them moves the lips part of the way and blends what remains, as a morph does.
    """
    import cv2

    g0 = cv2.cvtColor(old, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(new, cv2.COLOR_RGB2GRAY)
    flow = cv2.calcOpticalFlowFarneback(g0, g1, None, 0.5, 3, 15, 3, 5, 1.1, 0)  # old -> new, per old pixel
    h, wd = g0.shape
    grid = np.stack(np.meshgrid(np.arange(wd, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=2)
    # the flow is sampled at the output pixel: an approximation that holds for the small motions
    # between two mouths of the same person in the same canonical frame
    from_old = grid - w * flow
    from_new = grid + (1 - w) * flow
    a = cv2.remap(old, from_old[..., 0], from_old[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    b = cv2.remap(new, from_new[..., 0], from_new[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(a, 1 - w, b, w, 0)
