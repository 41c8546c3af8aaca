"""Mouth opening measured on filmed talking videos — the ground truth of the viseme benchmarks.

For each clip whose soundtrack matches its lips, every video frame is run through MediaPipe
FaceMesh (legacy ``solutions.face_mesh``, refined landmarks) and three numbers are kept per frame:
the inner-lip opening (landmarks 13-14), the mouth width (corners 61-291), both divided by the
face height (10-152) so that head distance does not matter, and the frame's presentation time
(clips can start their video late: lv02's edit list shifts it by 0.08 s). Frames without a face
are NaN. Results are cached in ``bench/results/mouth_<clip>.npz``; delete them to re-measure.

Used by ``bench/viseme_eval.py`` and ``bench/learn_phone_targets.py``; run directly to fill the
cache:  ``.venv/bin/python bench/filmed_mouth.py``
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Clip:
    """A talking video whose soundtrack matches its lips."""

    name: str
    path: Path
    language: str  # what is spoken: "en", "fr"
    text: str | None = None  # a known transcript, when there is one


# lv02 is French: no recogniser/aligner here knows French phones, so it exercises the
# language-free path. v05 (soundtrack does not match) and v07 (no audio) are left out on purpose.
CLIPS = (
    Clip("lv02", MEDIA / "video" / "lv02_fr_m_macron_dfrf_french.mp4", "fr"),
    Clip("lv03", MEDIA / "video" / "lv03_en_m_lieu_edtalk_pose_source2.mp4", "en"),
    Clip("v01", MEDIA / "video" / "v01_en_m_asian_retalk_face1.mp4", "en"),
    Clip("v03", MEDIA / "video" / "v03_en_f_white_glasses_retalk_face5.mp4", "en"),
)


@dataclass(frozen=True)
class FilmedMouth:
    """Per-frame measurements of one clip."""

    times: np.ndarray  # presentation time of each frame, seconds
    opening: np.ndarray  # inner-lip gap / face height (NaN: no face found)
    width: np.ndarray  # mouth-corner distance / face height
    fps: float


def measure(clip: Clip, *, refresh: bool = False) -> FilmedMouth:
    """The cached per-frame measurements of ``clip``, measuring them first when absent."""
    cache = RESULTS / f"mouth_{clip.name}.npz"
    if cache.exists() and not refresh:
        d = np.load(cache)
        return _describe(d["times"], d["landmarks"], float(d["fps"]))
    import av
    import mediapipe as mp

    times, marks = [], []
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        with mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=0.5, min_tracking_confidence=0.5,
        ) as mesh:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                h, w = rgb.shape[:2]
                times.append(float(frame.time))
                found = mesh.process(rgb).multi_face_landmarks
                if not found:
                    marks.append(np.full((478, 3), np.nan, np.float32))
                    continue
                marks.append(np.array([(p.x * w, p.y * h, p.z * w) for p in found[0].landmark], np.float32))
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, times=np.array(times), landmarks=np.array(marks), fps=fps)
    return _describe(np.array(times), np.array(marks), fps)


def _describe(times: np.ndarray, marks: np.ndarray, fps: float) -> FilmedMouth:
    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(marks[:, a, :2] - marks[:, b, :2], axis=1)

    face = dist(10, 152)
    return FilmedMouth(times, dist(13, 14) / face, dist(61, 291) / face, fps)


def available_clips() -> list[Clip]:
    """The clips present in ``../shared/media``."""
    return [c for c in CLIPS if c.path.exists()]


if __name__ == "__main__":
    if not MEDIA.exists():
        sys.exit(f"no test media at {MEDIA}")
    for clip in available_clips():
        t0 = time.perf_counter()
        m = measure(clip, refresh="--refresh" in sys.argv)
        print(f"{clip.name}: {len(m.times)} frames at {m.fps:g} fps, "
              f"{np.isnan(m.opening).mean():.1%} without face, {time.perf_counter() - t0:.1f} s")
