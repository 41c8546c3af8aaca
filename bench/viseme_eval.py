"""Does the jaw of the viseme timeline move like the filmed mouth? Audio alone in, landmarks as truth.

Run from the repository root:

    .venv/bin/python bench/viseme_eval.py

For each talking video whose soundtrack matches its lips (``bench/filmed_mouth.py``: lv02
French, lv03 English, v01 and v03 English), the timeline is made from the soundtrack alone
(English: recognition + pocketsphinx alignment; French: the acoustic method, as for any language
without an aligner) and its jaw-opening curve, at the video's frame rate, is compared with the
inner-lip opening that MediaPipe FaceMesh measures on the filmed frames (landmarks 13-14 over
the face height 10-152). Compared in one run (``VARIANTS``): the shipped table, learned from
the product's own voices only (``learn_phone_targets.py --source tts``), so no clip has been
seen by it; tables fitted to the filmed clips, each learned from the *other* clips only
(leave-one-clip-out); the articulatory hand table; a loudness baseline (RMS of each frame's
audio); and the acoustic method alone (no words) on every clip with either openness model.

Pearson r per clip at lag 0 and at the best lag within ±5 frames (filmed clips carry their own
audio/video offsets: lv03's sound is ~3 frames late). Prints a table and writes
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
    articulatory_targets,
    available_clips,
    lagged_r,
    learn,
    learn_from_tts,
    loudness_curve,
    prepare,
    with_openness,
)

from digihuman.speech.align.timeline import TimelineBuilder  # noqa: E402
from digihuman.speech.align.track import mouth_track  # noqa: E402
from digihuman.speech.align.visemes import PhoneTargets  # noqa: E402

TARGET_BEST = 0.55
TARGET_MARGIN = 0.15
# What is compared, in one run. "shipped" is the table learned from the product's own voices
# (``learn_phone_targets.py --source tts``): it saw no clip. "filmed" is learned from the other
# clips (leave-one-out); "hand" is the articulatory table without an acoustic model (English only);
# the "words-free" rows run the acoustic method on every clip, English too, to test the openness
# model alone.
VARIANTS = ("shipped", "filmed", "hand", "loudness", "words-free shipped", "words-free filmed")


def scores(curve: np.ndarray, data: ClipData) -> tuple[float, float, int]:
    """(r at lag 0, best r within ±MAX_LAG, that lag)."""
    rs = {lag: lagged_r(curve, data.filmed, data.fps, lag) for lag in range(-MAX_LAG, MAX_LAG + 1)}
    best = max(rs, key=lambda k: np.nan_to_num(rs[k], nan=-1))
    return rs[0], rs[best], best


def jaw_curve(data: ClipData, targets: PhoneTargets, *, words: bool = True) -> np.ndarray | None:
    """The jaw curve of ``data`` with ``targets``; ``words``: use its alignment when it has one.

    None when ``targets`` cannot make one (the hand table has no model for the acoustic method)."""
    model = targets.openness_model()
    if words and data.timeline is not None:
        # Same alignment the server makes; only the openness is re-annotated with this table's model.
        timeline = with_openness(data.timeline, data.samples, model) if model else data.timeline
    elif model is None:
        return None
    else:
        timeline = TimelineBuilder(targets=targets).from_samples(data.samples, language="und")
    return np.array(mouth_track(timeline, data.fps, targets=targets).jaw)


def main() -> None:
    if not MEDIA.exists():
        sys.exit(f"no test media at {MEDIA}")
    t0 = time.perf_counter()
    data = prepare(available_clips())
    shipped, hand = learn_from_tts(), articulatory_targets()
    rows = []
    for d in data:
        filmed = learn([o for o in data if o is not d])
        curves = {
            "shipped": jaw_curve(d, shipped), "filmed": jaw_curve(d, filmed),
            "hand": jaw_curve(d, hand) if d.timeline is not None else None,
            "loudness": loudness_curve(d.samples, d.fps),
            "words-free shipped": jaw_curve(d, shipped, words=False),
            "words-free filmed": jaw_curve(d, filmed, words=False),
        }
        row = {"clip": d.clip.name, "language": d.clip.language, "frames": len(d.filmed.times), "fps": d.fps,
               "method": "align" if d.timeline is not None else "acoustic"}
        for name, curve in curves.items():
            lag0, best, lag = scores(curve, d) if curve is not None else (float("nan"), float("nan"), 0)
            row[name] = {"r_lag0": lag0, "r_best": best, "best_lag": lag}
        rows.append(row)
    mean = {name: {k: float(np.nanmean([r[name][k] for r in rows])) for k in ("r_lag0", "r_best")}
            for name in VARIANTS}
    ours, loud = mean["shipped"]["r_best"], mean["loudness"]["r_best"]
    passed = ours >= TARGET_BEST and ours - loud >= TARGET_MARGIN

    titles = {"r_best": "Pearson r at each clip's best lag (within ±5 frames)", "r_lag0": "r at lag 0"}
    for k, title in titles.items():
        print(title)
        print(f"{'clip':6} {'lang':4} {'frames':>6} | " + " ".join(f"{v:>18}" for v in VARIANTS))
        for r in rows:
            print(f"{r['clip']:6} {r['language']:4} {r['frames']:6d} | "
                  + " ".join(f"{r[v][k]:18.3f}" for v in VARIANTS))
        print(f"{'mean':6} {'':4} {'':6} | " + " ".join(f"{mean[v][k]:18.3f}" for v in VARIANTS))
    print(f"target (shipped table): mean best-lag r >= {TARGET_BEST} and >= {TARGET_MARGIN} above loudness: "
          f"{'met' if passed else 'MISSED'} ({ours:.3f}, {ours - loud:+.3f}); "
          f"{time.perf_counter() - t0:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "viseme_eval.json").write_text(json.dumps(
        {"clips": rows, "mean": mean, "target": {"r_best": TARGET_BEST, "margin": TARGET_MARGIN, "met": passed},
         "truth": "MediaPipe FaceMesh inner-lip opening 13-14 / face height 10-152",
         "protocol": "shipped: learned from the product's TTS voices only; "
                     "filmed: leave-one-clip-out tables; "
                     "hand: articulatory table, English clips only (no acoustic model); lags -5..+5 frames"},
        indent=1) + "\n")


if __name__ == "__main__":
    main()
