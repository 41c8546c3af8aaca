"""Speaker similarity: cosine of resemblyzer (GE2E) speaker embeddings, the encoder loaded once per process."""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

_lock = threading.Lock()


def installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("resemblyzer", "torch"))


@cache
def _encoder():  # type: ignore[no-untyped-def]
    import torch
    from resemblyzer import VoiceEncoder

    torch.set_num_threads(2)
    return VoiceEncoder("cpu", verbose=False)


def embed(samples: np.ndarray, rate: int) -> np.ndarray:
    """The unit-length speaker embedding of speech ``samples`` (silences are cut first)."""
    from resemblyzer import preprocess_wav

    with _lock:
        wav = preprocess_wav(np.asarray(samples, np.float32), source_sr=rate)
        if len(wav) < rate // 4:  # resemblyzer needs some speech; too little is judged as it is
            wav = np.asarray(samples, np.float32)
        return _encoder().embed_utterance(wav)


def window_embeddings(samples: np.ndarray, rate: int, per_second: float = 1.25) -> np.ndarray:
    """Unit speaker embeddings of the speech in ``samples``, one per 1.6 s window (none when shorter)."""
    from resemblyzer import preprocess_wav
    from resemblyzer.hparams import partials_n_frames, sampling_rate

    with _lock:
        wav = preprocess_wav(np.asarray(samples, np.float32), source_sr=rate)
        if len(wav) < partials_n_frames * sampling_rate // 100:  # 160 mel frames of 10 ms
            return np.zeros((0, 256), np.float32)
        _, partials, _ = _encoder().embed_utterance(wav, return_partials=True, rate=per_second)
        return partials


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
