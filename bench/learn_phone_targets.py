"""Learn the mouth targets of ``src/digihuman/speech/align/phone_targets.json`` from filmed faces.

Run from the repository root:

    .venv/bin/python bench/learn_phone_targets.py            # learn from every clip, write the table
    .venv/bin/python bench/learn_phone_targets.py --dry-run  # print it only

Two things are learned, both by ridge regression against the mouth measured on the filmed
frames of the clips in ``bench/filmed_mouth.py`` (whose soundtrack matches the lips):

1. the acoustic openness model: context-stacked frame features → inner-lip opening, on every
   clip (it needs no words, so the French clip teaches it too);
2. the per-phone table: the coarticulated track is linear in the targets (``track.key_weights``),
   so jaw and lip width per phone key — plus how much of a phone's acoustic openness adds to its
   jaw — are a least-squares fit of the measured opening and width on the English clips, with
   phones from the same pocketsphinx alignment the server uses. Keys are pulled towards their
   viseme's mean, so that rare phones borrow from their class.

Each clip's measured curves are z-scored, and each is shifted by its own audio/video offset
(found on that clip alone with the hand table). Rounding and teeth stay hand-set: a 2-D face
mesh does not see them well. ``bench/viseme_eval.py`` calls ``learn`` leaving each clip out.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filmed_mouth import RESULTS, ROOT, Clip, FilmedMouth, available_clips, measure  # noqa: E402

from digihuman.speech.align import acoustic  # noqa: E402
from digihuman.speech.align.features import RATE, load_audio  # noqa: E402
from digihuman.speech.align.timeline import TimelineBuilder  # noqa: E402
from digihuman.speech.align.track import SIL, Coarticulation, frame_times, gestures, key_weights, mouth_track  # noqa: E402
from digihuman.speech.align.visemes import ARPABET_TO_VISEME, PhoneTargets, hand_targets  # noqa: E402
from digihuman.speech.asr.base import Transcript  # noqa: E402
from digihuman.timeline import Timeline, Word  # noqa: E402

TABLE = ROOT / "src" / "digihuman" / "speech" / "align" / "phone_targets.json"
KEY_PENALTY = 3.0  # ridge on a key's departure from its viseme's mean…
GROUP_PENALTY = 0.3  # …and on the viseme means themselves
ACOUSTIC_PENALTY = 10.0
MAX_LAG = 5
PRIOR = False
REST_MAX = 0.1  # the rest in pauses is "closed, relaxed": never more open than this


@dataclass
class ClipData:
    """One clip, ready to learn from: audio, filmed mouth, and (for English) its aligned timeline."""

    clip: Clip
    samples: np.ndarray
    filmed: FilmedMouth
    fps: float  # the video's nominal frame rate
    timeline: Timeline | None  # phones without openness; None for languages without an aligner
    stacked: np.ndarray  # acoustic features per 10 ms, context-stacked
    lag: int = 0  # this clip's own audio/video offset in frames (audio late: positive)


def transcript_for(clip: Clip, recognizer_factory) -> Transcript:
    """The recogniser's transcript of a clip, cached in bench/results (recognition is the slow part)."""
    cache = RESULTS / f"transcript_{clip.name}.json"
    if cache.exists():
        d = json.loads(cache.read_text())
        return Transcript(d["text"], d["language"], d["duration"], tuple(Word(**w) for w in d["words"]))
    t = recognizer_factory().transcribe(clip.path, language=clip.language)
    cache.write_text(json.dumps({"text": t.text, "language": t.language, "duration": t.duration,
                                 "words": [vars(w) for w in t.words]}, ensure_ascii=False))
    return t


def default_recognizer():
    from digihuman.speech.asr.whisper import WhisperRecognizer

    return WhisperRecognizer()


def prepare(clips: list[Clip], recognizer_factory=default_recognizer) -> list[ClipData]:
    """Audio, measurements, features and (English) alignments of every clip."""
    builder = TimelineBuilder(targets=hand_targets())
    out = []
    for clip in clips:
        samples = load_audio(clip.path)
        filmed = measure(clip)
        fps = float(round(1.0 / np.median(np.diff(filmed.times))))
        timeline = None
        if clip.language == "en":
            timeline = builder.from_samples(samples, language="en", transcript=transcript_for(clip, recognizer_factory))
        data = ClipData(clip, samples, filmed, fps, timeline, acoustic.stacked_features(samples))
        data.lag = own_lag(data)
        out.append(data)
    return out


def zscore(values: np.ndarray) -> np.ndarray:
    return (values - np.nanmean(values)) / np.nanstd(values)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~np.isnan(a) & ~np.isnan(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def lagged_r(curve: np.ndarray, filmed: FilmedMouth, fps: float, lag: int) -> float:
    """r between ``curve`` (one value per frame at ``fps``) shifted by ``lag`` and the filmed opening."""
    idx = np.round(filmed.times * fps).astype(int) + lag
    ok = (idx >= 0) & (idx < len(curve))
    return pearson(curve[idx[ok]], filmed.opening[ok])


def own_lag(data: ClipData) -> int:
    """The clip's audio/video offset: best lag of the loudness envelope, or of the hand track."""
    if data.timeline is not None:
        curve = np.array(mouth_track(data.timeline, data.fps, targets=hand_targets()).jaw)
    else:
        curve = loudness_curve(data.samples, data.fps)
    return max(range(-MAX_LAG, MAX_LAG + 1), key=lambda lag: np.nan_to_num(lagged_r(curve, data.filmed, data.fps, lag), nan=-1))


def loudness_curve(samples: np.ndarray, fps: float) -> np.ndarray:
    """RMS of each video frame's audio: the loudness baseline."""
    n = max(1, int(round(len(samples) / RATE * fps)))
    per = RATE / fps
    return np.array([np.sqrt(np.mean(samples[int(i * per): max(int(i * per) + 1, int((i + 1) * per))] ** 2))
                     for i in range(n)])


def _frame_rows(data: ClipData) -> tuple[np.ndarray, np.ndarray]:
    """Indices (10 ms audio frames) matching each filmed frame's centre, shifted by the clip's lag; valid mask."""
    t = data.filmed.times + (data.lag + 0.5) / data.fps
    idx = np.round(t / 0.01).astype(int)
    ok = (idx >= 0) & (idx < len(data.stacked)) & ~np.isnan(data.filmed.opening)
    return idx, ok


def learn_openness(train: list[ClipData]) -> acoustic.OpennessModel:
    """The acoustic openness model, fitted on every frame of the ``train`` clips."""
    xs, ys = [], []
    for d in train:
        idx, ok = _frame_rows(d)
        xs.append(d.stacked[idx[ok]])
        ys.append(zscore(d.filmed.opening[ok]))
    x, y = np.vstack(xs), np.concatenate(ys)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + ACOUSTIC_PENALTY * len(y) / 100 * np.eye(z.shape[1]), z.T @ y)
    return acoustic.OpennessModel(tuple(mean), tuple(scale), tuple(w))


def with_openness(timeline: Timeline, samples: np.ndarray, model: acoustic.OpennessModel) -> Timeline:
    """``timeline`` with phone openness and breath weights from ``model`` (its phones kept)."""
    from digihuman.speech.align.features import energy_db
    from digihuman.speech.align.silence import speech_mask
    from digihuman.speech.align.timeline import visemes_of

    curve = model.predict(samples)
    breaths = acoustic.breath_visemes(samples, curve, speech_mask(energy_db(samples)))

    def mean(p) -> float:
        seg = curve[int(p.start / 0.01): max(int(p.start / 0.01) + 1, int(np.ceil(p.end / 0.01)))]
        return float(seg.mean()) if seg.size else 0.5

    phones = tuple(replace(p, openness=mean(p)) for p in timeline.phones)
    return replace(timeline, phones=phones, visemes=visemes_of(phones, timeline.duration, breaths))


def _group(key: str) -> str:
    return ARPABET_TO_VISEME.get(key.rstrip("+012"), "sil") if key not in (SIL, "BREATH") else key


def learn_table(train: list[ClipData], model: acoustic.OpennessModel,
                coarticulation: Coarticulation = Coarticulation()) -> PhoneTargets:
    """Per-phone jaw and width (and the openness gain) fitted on the English ``train`` clips."""
    rows = []
    for d in train:
        if d.timeline is None:
            continue
        tl = with_openness(d.timeline, d.samples, model)
        times = d.filmed.times + d.lag / d.fps
        sub = frame_times(1, d.fps, coarticulation.oversample) - 0.5 / d.fps  # offsets inside a frame
        w, keys, opn = key_weights(gestures(tl), (times[:, None] + sub[None, :]).ravel(), coarticulation)
        k = coarticulation.oversample
        w = w.reshape(len(times), k, -1).mean(axis=1)
        opn = opn.reshape(len(times), k, 2).mean(axis=1)
        ok = ~np.isnan(d.filmed.opening)
        rows.append((w[ok], keys, opn[ok], zscore(d.filmed.opening[ok]), zscore(d.filmed.width[ok])))
    keys = sorted({k for r in rows for k in r[1]})
    groups = sorted({_group(k) for k in keys})
    kc, gc = {k: i for i, k in enumerate(keys)}, {g: i for i, g in enumerate(groups)}
    nk, ng, nc = len(keys), len(groups), len(rows)
    hand = hand_targets()
    prior_jaw = np.array([hand.target(k)[0] for k in keys])
    prior_width = np.array([hand.target(k)[1] for k in keys])
    xs, jaw_y, width_y = [], [], []
    for c, (w, ks, opn, jy, wy) in enumerate(rows):
        x = np.zeros((len(jy), nk + ng + 3 + nc))
        for j, key in enumerate(ks):
            x[:, kc[key]] += w[:, j]
            x[:, nk + gc[_group(key)]] += w[:, j]
        x[:, nk + ng] = opn[:, 0]
        x[:, nk + ng + 2] = opn[:, 1]
        x[:, nk + ng + 3 + c] = 1.0  # each clip its own mean
        xs.append(x)
        jaw_y.append(jy)
        width_y.append(wy)
    x = np.vstack(xs)
    scale = len(x) / 100
    penalty = np.r_[np.full(nk, KEY_PENALTY), np.full(ng, GROUP_PENALTY), 0.01, 1e-4, 0.01, np.zeros(nc)] * scale

    def fit(y: list[np.ndarray], prior: np.ndarray) -> tuple[dict[str, float], float, float]:
        # The hand table, scaled, is the starting point; keys and classes depart from it as the data says.
        x[:, nk + ng + 1] = x[:, :nk] @ prior if PRIOR else 0.0
        beta = np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ np.concatenate(y))
        a = beta[nk + ng + 1] if PRIOR else 0.0
        return ({k: a * prior[kc[k]] + beta[kc[k]] + beta[nk + gc[_group(k)]] for k in keys},
                beta[nk + ng], beta[nk + ng + 2])

    jaw, gain, pause_gain = fit(jaw_y, prior_jaw)
    width, _, _ = fit(width_y, prior_width)
    # Rescale so that the lips-together phones sit at 0 and the open vowels at 1.
    lo = np.mean([jaw[k] for k in ("P", "B", "M") if k in jaw])
    hi = np.percentile([v for k, v in jaw.items() if k not in (SIL, "BREATH")], 95)
    span = hi - lo
    jaw = {k: float(np.clip((v - lo) / span, 0.0, 1.0)) for k, v in jaw.items()}
    jaw[SIL] = min(jaw.get(SIL, 0.0), REST_MAX)
    wlo, whi = np.percentile(list(width.values()), [5, 95])
    width = {k: float(np.clip(0.2 + 0.6 * (v - wlo) / (whi - wlo), 0.0, 1.0)) for k, v in width.items()}
    return PhoneTargets(jaw=jaw, width=width, round=dict(hand.round), teeth=dict(hand.teeth),
                        # A heard breath never shuts the mouth tighter than rest.
                        openness_gain=float(gain / span), pause_gain=max(0.0, float(pause_gain / span)),
                        acoustic=model.to_dict())


def learn(train: list[ClipData]) -> PhoneTargets:
    """Both models, from the ``train`` clips."""
    return learn_table(train, learn_openness(train))


def table_text(table: dict) -> str:
    """The table as JSON with one line per phone, so that a change reads well in a diff."""
    lines = ["{"]
    for key in ("openness_gain", "pause_gain", "meta"):
        lines.append(f' "{key}": {json.dumps(table[key], ensure_ascii=False)},')
    lines.append(f' "acoustic": {json.dumps(table["acoustic"])},')
    lines.append(' "phones": {')
    phones = list(table["phones"].items())
    for i, (key, value) in enumerate(phones):
        lines.append(f'  "{key}": {json.dumps(value)}' + ("," if i < len(phones) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the table, do not write it")
    args = parser.parse_args()
    clips = available_clips()
    if not clips:
        sys.exit("no filmed clips found in ../shared/media")
    data = prepare(clips)
    targets = learn(data)
    table = targets.to_dict()
    table["meta"] = {
        "learned_from": [d.clip.name for d in data],
        "lags_frames": {d.clip.name: d.lag for d in data},
        "made_by": "bench/learn_phone_targets.py",
    }
    for key, value in sorted(targets.jaw.items(), key=lambda kv: kv[1]):
        print(f"{key:7s} jaw {value:.2f}  width {targets.width.get(key, float('nan')):.2f}")
    print(f"openness gain {targets.openness_gain:.3f}; lags {table['meta']['lags_frames']}")
    if not args.dry_run:
        TABLE.write_text(table_text(table))
        print(f"wrote {TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
