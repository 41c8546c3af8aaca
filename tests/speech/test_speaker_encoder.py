"""The numpy GE2E speaker encoder gives Resemblyzer's numbers on real English and Mandarin speech.

reference/ge2e_reference.json holds embeddings that Resemblyzer 0.1.4 (PyTorch, librosa 0.11) computed for
files of ../shared/media, decoded at the rate named beside each (16, 22.05, 24 or 44.1 kHz, so that the
resampling is checked too). The encoder here must match them — and so every similarity score — without
PyTorch or librosa installed.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from digihuman.speech.align.features import load_audio
from digihuman.speech.voices import ge2e, similarity
from tests.shared_media import shared

REFERENCE = json.loads((Path(__file__).parent / "reference" / "ge2e_reference.json").read_text())


@pytest.fixture(scope="module")
def embeddings() -> dict[str, np.ndarray]:
    out = {}
    for case in REFERENCE["utterances"]:
        samples = load_audio(shared(case["file"]), case["rate"])
        out[case["file"]] = similarity.embed(samples, case["rate"])
    return out


def test_utterance_embeddings_match_resemblyzer(embeddings: dict[str, np.ndarray]) -> None:
    for case in REFERENCE["utterances"]:
        mine, theirs = embeddings[case["file"]], np.array(case["embedding"])
        assert mine.shape == (256,) and mine.dtype == np.float32
        assert abs(float(np.linalg.norm(mine)) - 1.0) < 1e-5
        assert similarity.similarity(mine, theirs) >= 0.999, case["file"]


def test_speaker_similarity_scores_are_unchanged(embeddings: dict[str, np.ndarray]) -> None:
    cases = REFERENCE["utterances"]
    for a, b in itertools.combinations(cases, 2):
        before = similarity.similarity(np.array(a["embedding"]), np.array(b["embedding"]))
        after = similarity.similarity(embeddings[a["file"]], embeddings[b["file"]])
        assert abs(after - before) <= 0.01, (a["file"], b["file"], before, after)
    # the scores still tell speakers apart: a recording is closer to itself resampled than to anyone else
    en_man, zh_woman = embeddings["audio/a01_en_m_hdtf_radio34.wav"], embeddings["audio/a07_zh_f_sadtalker_bus_chinese.wav"]
    assert similarity.similarity(en_man, zh_woman) < 0.8


def test_window_embeddings_match_resemblyzer() -> None:
    for case in REFERENCE["windows"]:
        samples = load_audio(shared(case["file"]), case["rate"])
        mine, theirs = similarity.window_embeddings(samples, case["rate"], case["per_second"]), np.array(case["embeddings"])
        assert mine.shape == theirs.shape, case["file"]
        assert np.min(np.sum(mine * theirs, axis=1)) >= 0.999, case["file"]


def test_short_or_silent_audio_is_handled_like_resemblyzer() -> None:
    assert similarity.window_embeddings(np.zeros(8000, np.float32), 16000).shape == (0, 256)
    # window starts as Resemblyzer's compute_partial_slices gives them
    assert ge2e.partial_starts(48000, 1.3, 0.75) == [0, 77, 154]
    assert ge2e.partial_starts(40000, 1.25, 0.75) == [0, 80]
    assert ge2e.partial_starts(123456, 1.3, 0.5) == [77 * i for i in range(9)]
    assert ge2e.partial_starts(100, 1.3, 0.75) == [0]  # always at least one window
    assert np.isfinite(similarity.embed(np.zeros(16000, np.float32), 16000)).all()  # silence gives no NaNs
    with pytest.raises(ValueError):
        ge2e.partial_starts(16000, 0.1, 0.75)


def test_neither_torch_nor_librosa_is_imported(embeddings: dict[str, np.ndarray]) -> None:
    # the encoder ran above; the heavy packages it replaces must not have been loaded by it
    assert "resemblyzer" not in sys.modules or "resemblyzer.voice_encoder" not in sys.modules
    for heavy in ("torch", "librosa"):
        assert heavy not in sys.modules, heavy
