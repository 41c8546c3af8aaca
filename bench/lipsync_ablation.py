"""Ablation of the speech → mouth chain on held-out speech, without rendering.

The same split as ``bench/lipsync_eval.py`` (an avatar trained on the first 60 % of a clip, the last
40 % driven by the clip's own soundtrack), but each variant only *plans*: it fits the person's
mapping on the training part, predicts the test part's mouth descriptors and runs unit selection.
It reports, against the filmed opening of the test frames, the Pearson r of the asked-for opening
(``target``) and of the selected library mouths' own openings (``selected``), best lag within ±6
frames and lag 0, their spread (std ÷ filmed std) and how still the selected mouth is in pauses.
Rendering adds the compositing on top (``lipsync_eval.py`` measures that); planning is what the
variants change, and it runs in seconds once each clip's avatar is trained (cached in --work).

    .venv/bin/python bench/lipsync_ablation.py [clip ...] [--work DIR]

Writes ``bench/results/lipsync_ablation.json`` and prints one table per variant, length-weighted
over the long clips (test segment ≥ 10 s) and over the short ones apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lipsync_eval import CLIPS, MEDIA, RESULTS, SHORT_S, filmed_track, lagged_r, split_clip  # noqa: E402


@dataclass
class Case:
    """One clip's cached training and test material."""

    name: str
    model: object  # AvatarModel
    train_audio: np.ndarray  # 16 kHz samples of the training part
    train_times: np.ndarray  # presentation times of the training frames
    train_mouth: object  # MouthTrack of the training part's timeline
    test_audio: np.ndarray
    test_timeline: object
    test_mouth: object
    real_open: np.ndarray  # filmed opening at each test output frame
    frames: int = 0
    extra: dict = field(default_factory=dict)


def prepare(name: str, work: Path) -> Case:
    """The clip's split, avatar and timelines (cached in ``work``: training is the slow part)."""
    import pickle

    from digihuman.render.avatar import AvatarModel, TrainOptions, train_avatar
    from digihuman.speech.align import build_timeline, mouth_track
    from digihuman.speech.align.features import load_audio

    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / "case.pkl"
    if cache.is_file() and (folder / "model" / "manifest.json").is_file():
        return Case(**{**pickle.loads(cache.read_bytes()), "model": AvatarModel.load(folder / "model")})
    source = MEDIA / CLIPS[name]
    train, audio = folder / "train.mp4", folder / "test.wav"
    split, times, fps = split_clip(source, train, audio)
    model_dir = folder / "model"
    if not (model_dir / "manifest.json").is_file():
        train_avatar(train, model_dir, options=TrainOptions(min_duration_s=2.0))
    model = AvatarModel.load(model_dir)
    train_timeline = build_timeline(train)
    test_timeline = build_timeline(audio)
    filmed = filmed_track(name, source)
    split_s = float(times[split])
    test_samples = load_audio(audio)
    test_mouth = mouth_track(test_timeline, model.fps)
    n = min(len(test_mouth), int((times[-1] - split_s) * model.fps) + 1)
    wanted = split_s + np.arange(n) / model.fps
    rows = np.clip(np.searchsorted(filmed.times, wanted - 0.5 / fps), 0, len(filmed) - 1)
    case = Case(name, None, load_audio(train), times[:split], mouth_track(train_timeline, model.fps),
                test_samples, test_timeline, test_mouth, filmed.mouth["opening"][rows], n)
    cache.write_bytes(pickle.dumps({k: v for k, v in vars(case).items() if k != "model"}))
    case.model = model
    return case


@dataclass(frozen=True)
class Variant:
    """One configuration of the chain: how the mapping is fitted and how mouths are selected."""

    label: str
    fit: dict = field(default_factory=dict)  # keyword arguments of fit_mapping
    select: dict = field(default_factory=dict)  # SelectOptions fields
    per_frame: bool = False  # the mapping sees the frame itself only (no context)
    kernel: bool = False  # kernel ridge on the sound (fit_kernel_mapping) instead of linear ridge
    weights: tuple[float, ...] = (3.0, 0.6, 0.5, 0.6, 0.3)  # selection's descriptor weights
    first_column: int = 0  # feature columns used from here (4: drops the timeline's mouth targets)
    content: bool = False  # whisper encoder states among the features (kernel models only)


def fitted(case: Case, v: Variant):  # noqa: ANN201 - MouthMapping
    """The variant's mapping, fitted on the clip's training part."""
    from digihuman.render.content import ENCODER
    from digihuman.render.mapping import (BANDS, SpeechFeatures, feature_width, fit_kernel_mapping,
                                          fit_mapping, speech_features)

    a = case.model.arrays
    descriptors, usable = a["descriptors"], a["usable"]
    train_rows = min(len(descriptors), len(case.train_times))
    encoder = ENCODER if v.content else ""
    features = speech_features(case.train_audio, case.train_mouth, times=case.train_times[:train_rows],
                               bands=BANDS, content=encoder)
    features = SpeechFeatures(features.values[:, v.first_column:], features.fps)
    targets = (descriptors[:train_rows] - a["z_mean"]) / a["z_std"]
    fit = dict(v.fit)
    if v.per_frame:
        fit["context"] = 0
    if v.kernel:
        content = features.values.shape[1] + v.first_column - feature_width(BANDS)
        return fit_kernel_mapping(features, targets, usable[:train_rows], bands=BANDS, content=encoder,
                                  content_columns=content, **fit)
    return fit_mapping(features, targets, usable[:train_rows], bands=BANDS, **fit)


def plan(case: Case, v: Variant, mapping, samples: np.ndarray, timeline, mouth):  # noqa: ANN001, ANN201
    """(predicted (T, 5), chosen library frames (T,), silent (T,)) for speech ``samples``."""
    from digihuman.render import select
    from digihuman.render.clip import ping_pong
    from digihuman.render.mapping import BANDS, SpeechFeatures, silent_frames, speech_features
    from digihuman.render.video import SILENCE_MARGIN_S, SILENCE_MIN_S

    model = case.model
    a = model.arrays
    frames = len(mouth)
    test = speech_features(samples, mouth, frames, bands=BANDS, content=mapping.content)
    predicted = mapping.predict(SpeechFeatures(test.values[:, v.first_column:], test.fps))
    silent = silent_frames(timeline, frames, model.fps, SILENCE_MARGIN_S, SILENCE_MIN_S)
    start, count = model.background
    background = ping_pong(count, frames)
    library = (a["descriptors"] - a["z_mean"]) / a["z_std"]
    options = replace(select.SelectOptions(), **v.select)
    shipped = select.WEIGHTS
    select.WEIGHTS = np.array(v.weights, np.float32)
    try:
        chosen = select.select_units(predicted, library, a["usable"], a["angles"][:, :2],
                                     a["angles"][start + background, :2], silent, int(a["rest"]), options)
    finally:
        select.WEIGHTS = shipped
    return predicted, chosen, silent


def run_variant(case: Case, v: Variant) -> dict:
    model = case.model
    a = model.arrays
    descriptors, z_mean, z_std = a["descriptors"], a["z_mean"], a["z_std"]
    predicted, chosen, silent = plan(case, v, fitted(case, v), case.test_audio, case.test_timeline, case.test_mouth)
    n = case.frames
    real = case.real_open[:n]
    asked = predicted[:n, 0] * z_std[0] + z_mean[0]
    picked = descriptors[chosen[:n], 0]
    real_s = float(np.std(real))
    out = {"clip": case.name, "seconds": round(n / model.fps, 2)}
    for label, curve in (("target", asked), ("selected", picked)):
        r0, rb, lag = lagged_r(curve, real)
        out[label] = {"r0": round(r0, 3), "r_best": round(rb, 3), "lag": lag,
                      "spread": round(float(np.std(curve)) / max(real_s, 1e-9), 3)}
    sil = silent[:n]
    out["still_selected"] = round(float(picked[sil].std()), 4) if sil.sum() >= 3 else None
    out["jumps"] = round(float(np.mean(np.diff(chosen[:n]) != 1)), 3)
    return out


def weighted(rows: list[dict], get) -> float:  # noqa: ANN001
    if not rows:
        return float("nan")
    w = np.array([r["seconds"] for r in rows])
    return round(float((w * np.array([get(r) for r in rows])).sum() / w.sum()), 3)


WIDE = (-9, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 9)
OLD_WEIGHTS = (2.0, 0.6, 0.5, 0.6, 0.3)
ONE_VIEW = {"views": ((((-3, -3), (-2, -2), (-1, -1), (0, 0), (1, 1), (2, 2), (3, 3)), 0.25),)}
VARIANTS = [
    Variant("per-frame table (ridge, no context)", per_frame=True, weights=OLD_WEIGHTS),
    Variant("ridge ±3 (before)", weights=OLD_WEIGHTS),
    Variant("ridge wide ±9", fit={"offsets": WIDE, "ridge": 100.0}, weights=OLD_WEIGHTS),
    Variant("ridge ±3, sound only", first_column=4, weights=OLD_WEIGHTS),
    Variant("kernel ±3, sound only", kernel=True, fit=ONE_VIEW, weights=OLD_WEIGHTS),
    Variant("kernel ±3 + pooled ±6 (two views)", kernel=True, weights=OLD_WEIGHTS),
    Variant("two views + person range (quantiles)", kernel=True, select={"match_range": True},
            weights=OLD_WEIGHTS),
    Variant("two views + opening weight 3 (before content)", kernel=True),
    Variant("two views + whisper content states (after)", kernel=True, content=True),
    Variant("two views + opening weight 3 + 48 candidates", kernel=True, select={"candidates": 48}),
    Variant("two views + opening weight 3 + jump 0.3", kernel=True, select={"jump": 0.3}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", default=["lv02", "lv03", "v09"])
    p.add_argument("--work", type=Path, default=Path("/tmp/lipsync_ablation"))
    p.add_argument("--only", help="run only variants whose label contains this")
    args = p.parse_args()
    cases = [prepare(name, args.work) for name in args.clips]
    table = []
    for v in VARIANTS:
        if args.only and args.only not in v.label:
            continue
        rows = [run_variant(c, v) for c in cases]
        long_rows = [r for r in rows if r["seconds"] >= SHORT_S]
        short_rows = [r for r in rows if r["seconds"] < SHORT_S]
        entry = {"variant": v.label, "rows": rows}
        for key, part in (("long", long_rows), ("short", short_rows)):
            entry[key] = {f"{s}_{m}": weighted(part, lambda r, s=s, m=m: r[s][m])
                          for s in ("target", "selected") for m in ("r_best", "r0", "spread")}
        table.append(entry)
        lg = entry["long"]
        print(f"{v.label:44} long: target r {lg['target_r_best']:.3f}/{lg['target_r0']:.3f} "
              f"spread {lg['target_spread']:.2f} | selected r {lg['selected_r_best']:.3f}/{lg['selected_r0']:.3f} "
              f"spread {lg['selected_spread']:.2f} | per clip "
              + " ".join(f"{r['clip']}:{r['selected']['r_best']:.3f}/{r['selected']['r0']:.3f}"
                         f"/{r['selected']['spread']:.2f}/jumps {r['jumps']}" for r in rows), flush=True)
    (RESULTS / "lipsync_ablation.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
