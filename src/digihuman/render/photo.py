"""Rendering a talking head from a single portrait photo.

One photo has one mouth, so the face is shaped instead of sampled: per frame the mouth targets
(:class:`~digihuman.timeline.MouthTrack`) and the idle pose (:mod:`.idle`) move the FaceMesh points
(:class:`.photo_warp.FaceRig`), the photo is warped piecewise-affinely around the head
(:class:`.photo_warp.MeshWarp`), and the inside of the opened mouth is painted behind the lips
(:mod:`.mouth_interior`). Only a crop around the head is touched; the rest of the picture is the
photo's own pixels. Frames stream straight to the encoder.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digihuman.errors import MediaRejected
from digihuman.face import FaceFrame, read_image, track_image
from digihuman.face.tracking import analyse
from digihuman.progress import Progress
from digihuman.render.base import PHOTO_MAX_SIDE, RenderOptions, RenderResult, output_size
from digihuman.render.idle import IdleMotion, IdlePlan, IdlePose
from digihuman.render.mouth_interior import MouthPalette, OwnTeeth, paint_mouth
from digihuman.render.output import RenderWriter, VideoSpec, write_cover
from digihuman.render.photo_warp import FaceRig, MeshWarp, MouthPose
from digihuman.timeline import MouthTrack, Timeline
from digihuman.timings import stage

if TYPE_CHECKING:
    from digihuman.speech.utterance import Speech

SILENCE_EASE_S = 0.08  # the mouth settles to rest this fast once a silence starts
# How far the photo's jaw drops per unit of the mouth track's jaw (jaw 1 opens the lips OPEN_MAX, a
# wide "aa"): set so that a photo's tracked opening spreads as far as a filmed speaker's saying the
# same speech (``bench/lipsync_eval.py --photo``: std of the opening, rendered / filmed, 1.00 as the
# geometric mean over p01 and p03 saying both halves of lv02 and lv03). Tracks made from phones
# (text-to-speech, aligned text or recognised words, pinyin) hold the table's phone targets, about
# 0.55 at their 95th percentile on English speech; tracks made from the sound alone follow its
# openness, which is scaled to that sound's own range (about 0.85 there), so one gain would open
# them 1.6x wider. Without these gains photos opened 1.3-1.9x (phones) and 2.3-3.6x (sound) as
# wide as the filmed speakers.
JAW_GAIN_PHONES = 0.65
JAW_GAIN_SOUND = 0.35


class PortraitAnimator:
    """A portrait prepared for animation: its face measured and the warp built, once."""

    def __init__(self, rgb: np.ndarray, face: FaceFrame) -> None:
        height, width = rgb.shape[:2]
        self.rgb = rgb
        self.face = face
        self.rig = FaceRig(face, (width, height))
        opened = self.rig.pose(MouthPose(jaw=0.6))
        self.warp = MeshWarp(self.rig, (width, height), triangulate_with=opened)
        self.palette = MouthPalette.of(rgb, face.landmarks)
        self.own_teeth = OwnTeeth.of(rgb, face.landmarks, self.rig.scale)
        if self.own_teeth is not None:  # the painted teeth beside the photo's own are their colour
            self.palette = replace(self.palette, teeth=(self.own_teeth.colour / 0.9).astype(np.float32))
        self._frame = rgb.copy()

    @classmethod
    def from_photo(cls, image: Path, max_side: int | None = None) -> PortraitAnimator:
        """Read and track ``image``; scale it to a long side of ``max_side`` (default: its own, at
        most PHOTO_MAX_SIDE: a larger video would only be slower, not better) and even sizes.

        Raises MediaRejected (422) when the photo has no usable face."""
        import cv2

        face = track_image(image)
        rgb = read_image(image)
        height, width = rgb.shape[:2]
        size = output_size(width, height, max_side, PHOTO_MAX_SIDE)
        if size != (width - width % 2, height - height % 2):
            shrink = size[0] < width
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            factors = np.array([size[0] / width, size[1] / height], np.float32)
            landmarks = face.landmarks.copy()
            landmarks[:, :2] *= factors
            if landmarks.shape[1] > 2:  # depth is in x's units
                landmarks[:, 2:] *= factors[0]
            return cls(rgb, analyse(rgb, landmarks))
        return cls(np.ascontiguousarray(rgb[: size[1], : size[0]]), face)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def render(self, mouth: MouthPose, idle: IdlePose | None = None) -> np.ndarray:
        """One frame (RGB uint8, the photo's size). The returned array is reused by the next call."""
        idle = idle or IdlePose(0.0, 0.0, (0.0, 0.0))
        target = self.rig.pose(mouth, idle.blink, idle.roll_deg, idle.shift)
        crop = self.warp.warp(self.rgb, target)
        x0, y0, x1, y1 = self.warp.box
        paint_mouth(crop, (x0, y0), target, mouth, self.palette, self.face.pose.to_canonical,
                    self.rig.scale, self.own_teeth)
        self._frame[y0:y1, x0:x1] = crop
        return self._frame


def jaw_gain(timeline: Timeline) -> float:
    """The photo jaw per unit of track jaw for tracks of ``timeline`` (as ``mouth_track`` makes them:
    from its phones when it has any, else from the sound's openness)."""
    return JAW_GAIN_PHONES if timeline.phones else JAW_GAIN_SOUND


def mouth_poses(mouth: MouthTrack, timeline: Timeline) -> list[MouthPose]:
    """The track as poses, the jaw scaled by :func:`jaw_gain` and eased to rest inside the timeline's
    silences (still and closed there)."""
    times = np.arange(len(mouth)) / mouth.fps
    quiet = np.zeros(len(mouth))
    for start, end in timeline.silences:
        into = np.minimum(times - start, end - times)
        quiet = np.maximum(quiet, np.clip(into / SILENCE_EASE_S, 0, 1))
    speak = 1.0 - quiet
    rest = MouthPose()
    gain = jaw_gain(timeline)
    return [
        MouthPose(jaw=gain * j * s, width=rest.width + (w - rest.width) * s, round=r * s, teeth=t * s)
        for j, w, r, t, s in zip(mouth.jaw, mouth.width, mouth.round, mouth.teeth, speak)
    ]


def render_photo(image: Path, speech: Speech | Path, mouth: MouthTrack, timeline: Timeline, out_dir: Path,
                 options: RenderOptions, progress: Progress, *,
                 motion: IdleMotion = IdleMotion()) -> RenderResult:
    """Render ``image`` (a portrait) saying ``speech``, lips moved by ``mouth``, into ``out_dir``.

    Writes video.mp4 (marked when ``options.watermark`` is set), cover.jpg and preview.webp. One frame per MouthTrack entry at its fps. Raises MediaRejected when the photo
    has no usable face.
    """
    if len(mouth) == 0:
        raise MediaRejected("the audio is too short to render: send speech of at least one video frame.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress(0.0, "measuring the face")
    with stage("face tracking"):
        animator = PortraitAnimator.from_photo(image, options.max_side)
    width, height = animator.size
    n = len(mouth)
    duration = n / mouth.fps
    plan = IdlePlan(motion, duration)
    poses = mouth_poses(mouth, timeline)
    # the cover: the first frame's pose, mouth at rest and eyes open
    cover = write_cover(animator.render(MouthPose(), replace(plan.at(0.0), blink=0.0)), out_dir / "cover.jpg")
    with RenderWriter(out_dir, VideoSpec(width, height, mouth.fps), speech, options.watermark) as output:
        for i, pose in enumerate(poses):
            with stage("compositing"):
                frame = animator.render(pose, plan.at(i / mouth.fps))
            output.write(frame)
            if i % 25 == 0:
                progress(100.0 * i / max(n, 1), "rendering the face")
    progress(100.0, "rendering the face")
    return RenderResult(video=output.video, cover=cover, preview=output.preview, duration_s=duration)
