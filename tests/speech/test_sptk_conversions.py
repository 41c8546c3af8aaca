"""The mel-cepstrum conversions of the voice cloner give pysptk's numbers without pysptk.

reference/sptk_reference.npz holds what pysptk 1.0.1's sp2mc, mc2sp and freqt (through the matrices
features.py built from them) gave for fixed smooth log spectra and mel-cepstra: the numpy matrices
must reproduce them to rounding error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digihuman.speech.voices import features
from digihuman.speech.voices.features import FFT, ORDER, warp

REFERENCE = np.load(Path(__file__).parent / "reference" / "sptk_reference.npz")


def test_spectrum_to_mel_cepstrum_matches_sptk() -> None:
    got = REFERENCE["log_sp"] @ features._sp_to_mcep().T
    assert got.shape == (4, ORDER + 1)
    np.testing.assert_allclose(got, REFERENCE["sp2mc"], rtol=1e-9, atol=1e-12)


def test_mel_cepstrum_to_spectrum_matches_sptk() -> None:
    got = REFERENCE["mcep"] @ features._mcep_to_log_sp().T
    assert got.shape == (4, FFT // 2 + 1)
    np.testing.assert_allclose(got, REFERENCE["mc2sp"], rtol=1e-9, atol=1e-12)


def test_frequency_warping_matches_sptk() -> None:
    for shift, expected in zip(REFERENCE["shifts"], REFERENCE["warp"]):
        np.testing.assert_allclose(warp(REFERENCE["mcep"], float(shift)), expected, rtol=1e-9, atol=1e-12)
    mcep = REFERENCE["mcep"]
    assert warp(mcep, 0.0) is mcep  # no shift, no work


def test_the_round_trip_keeps_a_smooth_envelope() -> None:
    # mel-cepstrum of order 39 then back: a smooth envelope survives within a fraction of a dB
    k = np.arange(FFT // 2 + 1)
    log_sp = np.log(1e-2 + np.exp(-k / 80.0)) + 0.5 * np.exp(-((k - 60) / 15.0) ** 2)
    back = features._sp_to_mcep() @ log_sp @ features._mcep_to_log_sp().T
    assert np.max(np.abs(back - log_sp)) * 8.686 / 2 < 1.0  # natural-log power: 4.343 dB per unit
    # warping is invertible: +a then -a (all-pass composition) gives the envelope back
    mcep = features._sp_to_mcep() @ log_sp
    there_and_back = warp(warp(mcep[None], 0.05), -0.05)[0]
    assert np.max(np.abs(there_and_back - mcep)) < 0.05 * np.max(np.abs(mcep))
