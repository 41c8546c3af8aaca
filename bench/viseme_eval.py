"""Does the jaw of the viseme timeline move like the filmed mouth? Audio alone in, landmarks as truth.

Run from the repository root:

    .venv/bin/python bench/viseme_eval.py

For each talking video whose soundtrack matches its lips (``bench/filmed_mouth.py``: lv02
French, lv03 English, v01 and v03 English), the timeline is made from the soundtrack alone
(English: recognition + pocketsphinx alignment; French: the acoustic method, as for any language
without an aligner) and its jaw-opening curve, at the video's frame rate, is compared with the
inner-lip opening that MediaPipe FaceMesh measures on the filmed frames (landmarks 13-14 over
the face height 10-152). The learned tables it uses are learned from the *other* clips only
(leave-one-clip-out), so no clip is scored with a table that has seen it.

Pearson r per clip at lag 0 and at the best lag within ±5 frames (filmed clips carry their own
audio/video offsets: lv03's sound is ~3 frames late), and the same for a loudness baseline (RMS
of each frame's audio) computed in the same run. Prints a table and writes
``bench/results/viseme_eval.json``. Landmarks and transcripts are cached in ``bench/results``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filmed_mouth import MEDIA, RESULTS  # noqa: E402
from learn_phone_targets import (  # noqa: E402
    MAX_LAG,
    ClipData,
    available_clips,
    lagged_r,
    learn,
    loudness_curve,
    prepare,
    with_openness,
)

from digihuman.speech.align.timeline import TimelineBuilder  # noqa: E402
from digihuman.speech.align.track import mouth_track  # noqa: E402

TARGET_BEST = 0.55
TARGET_MARGIN = 0.15


def scores(curve: np.ndarray, data: ClipData) -> tuple[float, float, int]:
    """(r at lag 0, best r within ±MAX_LAG, that lag)."""
    rs = {lag: lagged_r(curve, data.filmed, data.fps, lag) for lag in range(-MAX_LAG, MAX_LAG + 1)}
    best = max(rs, key=lambda k: np.nan_to_num(rs[k], nan=-1))
    return rs[0], rs[best], best


def method_curve(data: ClipData, train: list[ClipData]) -> tuple[np.ndarray, str]:
    """The jaw curve of ``data`` with tables learned on ``train`` only."""
    targets = learn(train)
    if data.timeline is not None:
        # Same alignment the server makes; only the learned openness is re-annotated for this fold.
        timeline = with_openness(data.timeline, data.samples, targets.openness_model())
    else:
        timeline = TimelineBuilder(targets=targets).from_samples(data.samples, language=data.clip.language)
    return np.array(mouth_track(timeline, data.fps, targets=targets).jaw), timeline.method


def main() -> None:
    if not MEDIA.exists():
        sys.exit(f"no test media at {MEDIA}")
    t0 = time.perf_counter()
    data = prepare(available_clips())
    rows = []
    for d in data:
        curve, method = method_curve(d, [o for o in data if o is not d])
        ours = scores(curve, d)
        loud = scores(loudness_curve(d.samples, d.fps), d)
        rows.append({
            "clip": d.clip.name, "language": d.clip.language, "method": method, "frames": len(d.filmed.times),
            "fps": d.fps, "r_lag0": ours[0], "r_best": ours[1], "best_lag": ours[2],
            "loudness_r_lag0": loud[0], "loudness_r_best": loud[1], "loudness_best_lag": loud[2],
        })
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("r_lag0", "r_best", "loudness_r_lag0", "loudness_r_best")}
    passed = mean["r_best"] >= TARGET_BEST and mean["r_best"] - mean["loudness_r_best"] >= TARGET_MARGIN

    print(f"{'clip':6} {'lang':4} {'method':8} {'frames':>6} {'fps':>4} | {'r lag0':>7} {'r best':>7} {'lag':>4} |"
          f" {'loud lag0':>9} {'loud best':>9} {'lag':>4}")
    for r in rows:
        print(f"{r['clip']:6} {r['language']:4} {r['method']:8} {r['frames']:6d} {r['fps']:4.0f} | {r['r_lag0']:7.3f}"
              f" {r['r_best']:7.3f} {r['best_lag']:4d} | {r['loudness_r_lag0']:9.3f} {r['loudness_r_best']:9.3f}"
              f" {r['loudness_best_lag']:4d}")
    print(f"{'mean':6} {'':4} {'':8} {'':6} {'':4} | {mean['r_lag0']:7.3f} {mean['r_best']:7.3f} {'':4} |"
          f" {mean['loudness_r_lag0']:9.3f} {mean['loudness_r_best']:9.3f}")
    print(f"target: mean best-lag r >= {TARGET_BEST} and >= {TARGET_MARGIN} above loudness: "
          f"{'met' if passed else 'MISSED'} ({mean['r_best']:.3f}, +{mean['r_best'] - mean['loudness_r_best']:.3f});"
          f" {time.perf_counter() - t0:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "viseme_eval.json").write_text(json.dumps(
        {"clips": rows, "mean": mean, "target": {"r_best": TARGET_BEST, "margin": TARGET_MARGIN, "met": passed},
         "truth": "MediaPipe FaceMesh inner-lip opening 13-14 / face height 10-152",
         "protocol": "leave-one-clip-out tables; lags -5..+5 frames"}, indent=1) + "\n")


if __name__ == "__main__":
    main()
