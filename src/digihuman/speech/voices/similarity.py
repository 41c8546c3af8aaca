"""Speaker similarity: cosine of GE2E speaker embeddings (Resemblyzer's model, run in numpy), the encoder
loaded once per process and run on one BLAS thread: its per-step products (windows x 256 by 256 x 1024)
are too small to share out, and a second thread was never faster and took 1.5x the CPU beside other work."""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

_lock = threading.Lock()
THREADS = 1


def installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("resemblyzer", "soxr", "webrtcvad", "scipy"))


@cache
def _encoder():  # type: ignore[no-untyped-def]
    from digihuman.speech.voices.ge2e import Encoder

    return Encoder.load()


@cache
def _threads():  # type: ignore[no-untyped-def]
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def embed(samples: np.ndarray, rate: int) -> np.ndarray:
    """The unit-length speaker embedding of speech ``samples`` (silences are cut first)."""
    from digihuman.speech.voices.ge2e import RATE, preprocess, resample

    with _lock, _threads().limit(limits=THREADS, user_api="blas"):
        wav = preprocess(samples, rate)
        if len(wav) < rate // 4:  # the encoder needs some speech; too little is judged as it is
            wav = np.asarray(samples, np.float32)
            if rate != RATE:
                wav = resample(wav, rate)
        return _encoder().embed_utterance(wav)[0]


def window_embeddings(samples: np.ndarray, rate: int, per_second: float = 1.25) -> np.ndarray:
    """Unit speaker embeddings of the speech in ``samples``, one per 1.6 s window (none when shorter)."""
    from digihuman.speech.voices.ge2e import EMBEDDING_SIZE, HOP, WINDOW_FRAMES, preprocess

    with _lock, _threads().limit(limits=THREADS, user_api="blas"):
        wav = preprocess(samples, rate)
        if len(wav) < WINDOW_FRAMES * HOP:  # 160 mel frames of 10 ms
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        return _encoder().embed_utterance(wav, rate=per_second)[1]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
