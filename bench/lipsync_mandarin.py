"""Mandarin speech on avatars trained on other languages: does the mouth still follow the voice?

No talking video in the test media speaks Mandarin (``/work/shared/media/README.md``: the Mandarin
material is audio, a06-a09), so there is no filmed mouth to compare with. What can be checked is
whether the person's mapping, fitted on their own (English or French) footage, behaves on Mandarin
as it does on English speech it has never heard (a01-a05, the control), with the same avatars:

    r_loud     Pearson r of the selected mouths' opening with the loudness of the speech (best lag
               within ±6 frames): a weak but language-free sign of sync; ``filmed`` gives the same r
               between the person's own filmed opening and their own voice (their natural coupling)
    spread     std of the selected opening over speaking frames ÷ the person's filmed std over
               theirs (1 = their own range; 0.85-1.15 wanted)
    closed     share of speaking frames whose selected opening is below the person's 15th percentile
               (a mouth that stays shut while the voice goes on reads as out of sync)
    still      std of the opening in pauses (0: the rest frame holds)

The linear mapping (±3 frames), the kernel one (two views) and the kernel one with whisper's encoder
states (what is said, read by an English encoder whatever the language) are measured. Avatars are
the lip-sync ablation's (trained on the first 60 % of lv02, lv03, v09; cached in
``--work``, trained there on the first run). Writes ``bench/results/lipsync_mandarin.json``.

    .venv/bin/python bench/lipsync_mandarin.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lipsync_ablation import VARIANTS, fitted, plan, prepare  # noqa: E402
from lipsync_eval import RESULTS, lagged_r  # noqa: E402

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "audio"
MANDARIN = ("a06_zh_f_sadtalker_chinese_news.wav", "a07_zh_f_sadtalker_bus_chinese.wav",
            "a09_zh_f_musetalk_sun_22s.wav")
ENGLISH = ("a01_en_m_hdtf_radio34.wav", "a02_en_hdtf_radio31.wav", "a03_en_f_latentsync_demo1.wav",
           "a05_en_m_musetalk_eng_60s.wav")


def measure(case, variant, mapping, path: Path, speech: dict) -> dict:  # noqa: ANN001
    from digihuman.render.mapping import speech_features
    from digihuman.speech.align import build_timeline, mouth_track
    from digihuman.speech.align.features import load_audio

    a = case.model.arrays
    if path not in speech:  # the same speech drives every avatar: decode and align it once
        speech[path] = (load_audio(path), build_timeline(path))
    samples, timeline = speech[path]
    mouth = mouth_track(timeline, case.model.fps)
    _, chosen, silent = plan(case, variant, mapping, samples, timeline, mouth)
    opening = a["descriptors"][chosen, 0]
    level = speech_features(samples, mouth, len(mouth)).values[:, 4]
    own = a["descriptors"][a["usable"], 0]
    speaking = ~silent
    return {"audio": path.name[:3], "language": timeline.language, "seconds": round(len(mouth) / case.model.fps, 1),
            "r_loud": round(lagged_r(opening[speaking], level[speaking])[1], 3),
            "spread": round(float(opening[speaking].std() / max(own.std(), 1e-9)), 3),
            "closed": round(float((opening[speaking] < np.percentile(own, 15)).mean()), 3),
            "still": round(float(opening[silent].std()), 4) if silent.sum() >= 3 else None}


def filmed_coupling(case) -> float:  # noqa: ANN001
    """r between the person's filmed opening and their own voice's loudness, on the test part."""
    from digihuman.render.mapping import speech_features

    level = speech_features(case.test_audio, case.test_mouth, len(case.test_mouth)).values[: case.frames, 4]
    return round(lagged_r(case.real_open[: case.frames], level)[1], 3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", default=["lv02", "lv03", "v09"])
    p.add_argument("--work", type=Path, default=Path("/tmp/lipsync_ablation"))
    args = p.parse_args()
    variants = [v for v in VARIANTS if "(before" in v.label or "(after)" in v.label]
    rows, speech = [], {}
    for name in args.clips:
        case = prepare(name, args.work)
        coupling = filmed_coupling(case)
        for variant in variants:
            mapping = fitted(case, variant)
            for group, files in (("zh", MANDARIN), ("en", ENGLISH)):
                for f in files:
                    row = {"avatar": name, "variant": variant.label, "group": group, "filmed_r_loud": coupling,
                           **measure(case, variant, mapping, AUDIO / f, speech)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(f"\n{'variant':40} {'group':5} {'seconds':>7} {'r_loud':>6} {'spread':>6} {'closed':>6} {'still':>6}"
          "  (length-weighted over avatars)")
    summary: dict = {}
    for variant in variants:
        for group in ("zh", "en"):
            part = [r for r in rows if r["group"] == group and r["variant"] == variant.label]
            w = np.array([r["seconds"] for r in part])

            def mean(key: str, part=part, w=w) -> float:
                v = np.array([np.nan if r[key] is None else r[key] for r in part], np.float64)
                ok = ~np.isnan(v)
                return round(float((w[ok] * v[ok]).sum() / max(w[ok].sum(), 1e-9)), 3)

            s = {k: mean(k) for k in ("r_loud", "spread", "closed", "still")}
            s["seconds"] = round(float(w.sum()), 1)
            summary.setdefault(variant.label, {})[group] = s
            print(f"{variant.label:40} {group:5} {s['seconds']:7.1f} {s['r_loud']:6.3f} {s['spread']:6.2f} "
                  f"{s['closed']:6.2f} {s['still']:6.3f}")
    (RESULTS / "lipsync_mandarin.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
