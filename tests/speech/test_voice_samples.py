"""Voice samples: decoding, the checks that reject or warn, and the clean-up.

Real recordings from ../shared/media must pass; generated music, tones, drums, noise, silence,
clipping and too-short speech must be rejected with a message that says what to fix.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from digihuman.errors import InvalidInput, MediaRejected
from digihuman.media.audio import write_wav
from digihuman.speech.align.features import energy_db, load_audio
from digihuman.speech.tts.base import AudioChunk
from digihuman.speech.voices.samples import (
    MAX_SPEECH_S,
    SampleSet,
    clipped_share,
    load_samples,
)
from digihuman.speech.voices import samples as samples_module
from tests.mediagen import make_text, make_video
from tests.shared_media import SHARED_MEDIA, shared

R = 16000
needs_resemblyzer = pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None,
                                       reason="resemblyzer not installed")


def wav(path: Path, samples: np.ndarray, rate: int = R) -> Path:
    write_wav([AudioChunk(np.asarray(samples, np.float32), rate)], path)
    return path


def real(name: str, seconds: float | None = None, start: float = 0.0) -> np.ndarray:
    audio = _decoded(name)
    return audio[int(start * R): None if seconds is None else int((start + seconds) * R)].copy()


@functools.cache
def _decoded(name: str) -> np.ndarray:
    """A shared recording at 16 kHz, decoded once for the module (a05 is asked for seven times)."""
    return load_audio(shared(f"*/{name}*"))


def music(kind: str, seconds: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * R)) / R
    if kind == "tone":
        return 0.5 * np.sin(2 * np.pi * 440 * t)
    if kind == "chord":  # C major, held
        return 0.5 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) / 3
    if kind == "melody":  # plucked notes of a scale, four a second
        out = np.zeros_like(t)
        n = R // 4
        tt = np.arange(n) / R
        for i in range(len(t) // n):
            f = (261.6, 293.7, 329.6, 392.0, 440.0)[rng.integers(5)]
            note = sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
            out[i * n:(i + 1) * n] = 0.4 * note * np.exp(-6 * tt)
        return out
    if kind == "drums":  # noise bursts on every beat
        out = np.zeros_like(t)
        for i in range(0, len(t), R // 4):
            n = min(R // 10, len(t) - i)
            out[i:i + n] = rng.normal(0, 0.3, n) * np.exp(-np.arange(n) / R * 40)
        return out
    if kind == "noise":
        return rng.normal(0, 0.1, len(t))
    if kind == "sweep":  # a siren: voiced all the time, never still, never pausing
        return 0.4 * np.sin(2 * np.pi * np.cumsum(300 + 200 * np.sin(2 * np.pi * 0.5 * t)) / R)
    raise ValueError(kind)


# -- real speech passes -------------------------------------------------------------------------


REAL_SPEECH = ["a01", "a02", "a03", "a05", "a06", "a09", "lv02", "lv03", "v01", "v03", "v05", "r01", "r02"]


@pytest.mark.parametrize("name", REAL_SPEECH)
def test_every_real_recording_is_accepted_as_speech(name: str) -> None:
    path = next(p for p in sorted(SHARED_MEDIA.glob(f"*/{name}_*")) if p.suffix in (".wav", ".mp4"))
    result = load_samples([path], None, enhance=False)
    assert isinstance(result, SampleSet)
    assert result.speech_seconds >= 3.0
    assert not any("music" in w or "voice" in w for w in result.warnings), result.warnings


def test_a_sample_decodes_to_mono_float_at_the_asked_rate_with_its_transcript() -> None:
    path = shared("voice_ref/r01_*.wav")
    text = path.with_suffix(".txt").read_text().strip()
    result = load_samples([path], [text], enhance=False, sample_rate=22050)
    (sample,) = result.samples
    assert sample.sample_rate == 22050 and sample.source == path and sample.text == text
    assert sample.audio.dtype == np.float32 and sample.audio.ndim == 1
    assert abs(len(sample.audio) / 22050 - 5.33) < 0.05  # the whole file, resampled from 24 kHz
    assert np.max(np.abs(sample.audio)) <= 1.0
    assert 3.0 < result.speech_seconds < 5.33
    assert result.warnings == ()


def test_the_sound_of_a_stereo_video_is_taken() -> None:
    result = load_samples([shared("video/v03_*.mp4")], None, enhance=False)
    assert abs(len(result.samples[0].audio) / R - 4.9) < 0.1


def test_short_samples_add_up_to_enough_speech() -> None:
    paths = [shared("audio/a07_*"), shared("voice_ref/r03_*.wav")]  # 3.4 s and 3.5 s files
    result = load_samples(paths, ["", "希望你以后能够做的比我还好呦。"], enhance=False)
    assert len(result.samples) == 2
    assert result.samples[0].text is None  # an empty transcript means "recognise it"
    assert result.speech_seconds > 4.0


# -- rejected -------------------------------------------------------------------------------------


def test_transcripts_must_match_the_samples(tmp_path: Path) -> None:
    path = shared("voice_ref/r01_*.wav")
    with pytest.raises(InvalidInput, match="2 transcripts were given for 1 samples"):
        load_samples([path], ["a", "b"], enhance=False)
    with pytest.raises(InvalidInput, match="at least one"):
        load_samples([], None, enhance=False)


def test_not_audio_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected, match="sample notes.txt is not an audio, video or image file"):
        load_samples([make_text(tmp_path / "notes.txt", "hello " * 100)], None, enhance=False)
    with pytest.raises(MediaRejected, match="has no sound"):
        load_samples([make_video(tmp_path / "mute.mp4", with_audio=False)], None, enhance=False)


def test_too_little_speech_says_how_much_was_found_and_needed() -> None:
    with pytest.raises(MediaRejected, match=r"only 2\.\d s of speech: record at least 3 s"):
        load_samples([shared("voice_ref/r03_*.wav")], None, enhance=False)


def test_silence_is_rejected(tmp_path: Path) -> None:
    quiet = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), 5 * R)
    for name, audio in (("zeros.wav", np.zeros(5 * R)), ("hiss.wav", quiet)):
        with pytest.raises(MediaRejected, match=f"sample {name} is silent"):
            load_samples([wav(tmp_path / name, audio)], None, enhance=False)


def test_badly_clipped_speech_is_rejected_and_mild_clipping_warned(tmp_path: Path) -> None:
    speech = real("a05", 10)
    hard = np.clip(speech * 8, -1, 1)
    with pytest.raises(MediaRejected, match=r"badly clipped \(\d+\.\d% of its samples.*level turned down"):
        load_samples([wav(tmp_path / "hard.wav", hard)], None, enhance=False)
    peak = np.max(np.abs(speech))
    mild = np.clip(speech / peak * 2, -1, 1)  # only the loudest peaks are cut
    share = clipped_share(mild.astype(np.float32))
    assert 0.0005 <= share < 0.01
    result = load_samples([wav(tmp_path / "mild.wav", mild)], None, enhance=False)
    assert any("slightly clipped" in w for w in result.warnings)


def test_clipping_is_not_seen_in_clean_speech_or_a_loud_sine() -> None:
    assert clipped_share(real("a05", 20)) == 0.0
    t = np.arange(R) / R
    assert clipped_share((0.999 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)) == 0.0


@pytest.mark.parametrize(("kind", "what"), [("tone", "music or a tone"), ("chord", "music or a tone"),
                                            ("melody", "music or a tone"), ("drums", "noise or percussion"),
                                            ("noise", "noise or percussion"), ("sweep", "continuous tone")])
def test_music_tones_and_noise_are_rejected(tmp_path: Path, kind: str, what: str) -> None:
    path = wav(tmp_path / f"{kind}.wav", music(kind))
    with pytest.raises(MediaRejected, match=f"sample {kind}.wav (sounds like|is) (a )?{what}"):
        load_samples([path], None, enhance=False)


def test_drums_under_a_melody_are_music(tmp_path: Path) -> None:
    path = wav(tmp_path / "song.wav", 0.5 * music("drums") + 0.5 * music("melody"))
    with pytest.raises(MediaRejected, match="music"):
        load_samples([path], None, enhance=False)


# -- warned ---------------------------------------------------------------------------------------


def test_noisy_speech_is_kept_with_a_warning(tmp_path: Path) -> None:
    speech = real("a05", 10)
    noise = np.random.default_rng(1).normal(0, 1, len(speech))
    noise *= np.sqrt(np.mean(speech**2)) * 10 ** (-10 / 20)
    result = load_samples([wav(tmp_path / "noisy.wav", speech + noise)], None, enhance=False)
    assert any("noisy" in w and "enhance_audio_quality" in w for w in result.warnings)


def test_speech_over_music_is_kept_with_a_warning(tmp_path: Path) -> None:
    speech = real("a05", 6, start=2)
    backing = music("chord") + music("melody")
    backing *= np.sqrt(np.mean(speech**2) / np.mean(backing**2))
    loud = load_samples([wav(tmp_path / "loud.wav", speech + backing * 10 ** (-3 / 20))], None, enhance=False)
    assert any("music or a hum behind the speech" in w for w in loud.warnings), loud.warnings
    soft = wav(tmp_path / "soft.wav", speech + backing * 10 ** (-8 / 20))
    softer = load_samples([soft], None, enhance=False)
    assert any("is noisy" in w for w in softer.warnings), softer.warnings
    clean = load_samples([wav(tmp_path / "clean.wav", speech)], None, enhance=False)
    assert clean.warnings == ()


@needs_resemblyzer
def test_two_speakers_are_warned_about_one_is_not(tmp_path: Path) -> None:
    one = load_samples([wav(tmp_path / "one.wav", real("a05", 40))], None, enhance=False)
    assert not any("more than one voice" in w for w in one.warnings)
    man, woman = wav(tmp_path / "man.wav", real("a05", 20)), shared("audio/a03_*")
    two = load_samples([man, woman], None, enhance=False)
    assert any("more than one voice" in w for w in two.warnings), two.warnings
    mixed = np.concatenate([real("lv03", 20), real("a05", 20)])  # two men, one file
    both = load_samples([wav(tmp_path / "both.wav", mixed)], None, enhance=False)
    assert any("more than one voice" in w for w in both.warnings), both.warnings


def test_only_the_first_five_minutes_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_SPEECH_S == 300.0
    # The same rule with a 10 s limit: half a real minute of audio to decode instead of seven.
    limit = 10.0
    monkeypatch.setattr(samples_module, "MAX_SPEECH_S", limit)
    path = shared("audio/a01_*")  # 8 s, about 6 s of speech
    one = load_samples([path], None, enhance=False).speech_seconds
    crossing = int(limit // one) + 1
    result = load_samples([path] * (crossing + 1), [f"take {i}" for i in range(crossing + 1)], enhance=False)
    assert result.speech_seconds == limit
    assert len(result.samples) == crossing  # the one crossing five minutes is cut; the next is left out
    assert result.samples[-1].text is None and result.samples[0].text == "take 0"
    assert len(result.samples[-1].audio) < len(result.samples[0].audio)
    assert any("was cut after" in w for w in result.warnings)
    assert any("was left out" in w for w in result.warnings)


# -- clean-up -------------------------------------------------------------------------------------


def test_enhance_trims_silence_lowers_noise_and_sets_loudness(tmp_path: Path) -> None:
    speech = real("a05", 8) * 0.2
    rng = np.random.default_rng(3)
    gap = np.zeros(2 * R)
    raw = np.concatenate([gap, speech[: 4 * R], gap, gap, speech[4 * R:], gap])
    noise_rms = np.sqrt(np.mean(speech**2)) * 10 ** (-22 / 20)
    raw = raw + rng.normal(0, noise_rms, len(raw))
    path = wav(tmp_path / "raw.wav", raw)

    plain = load_samples([path], None, enhance=False).samples[0].audio
    cleaned = load_samples([path], None, enhance=True)
    out = cleaned.samples[0].audio
    assert len(plain) == len(raw)
    # 8 s of added silence go (0.1 s stays at each end, half a second inside), and so do the long
    # pauses of the speech itself; the speech stays
    assert len(out) / R < len(speech) / R + 0.8, len(out) / R
    alone = load_samples([wav(tmp_path / "speech.wav", speech)], None, enhance=False)
    assert cleaned.speech_seconds > 0.9 * alone.speech_seconds
    # the background between words drops by at least 6 dB relative to the speech level
    def floor_to_peak(x: np.ndarray) -> float:
        level = energy_db(x, R)
        return float(np.percentile(level, 95) - np.percentile(level, 5))
    assert floor_to_peak(out) > floor_to_peak(plain) + 6
    voiced = out[np.abs(out) > 0.02]
    assert -20 < 20 * np.log10(np.sqrt(np.mean(voiced**2))) < -12  # about -16 dBFS speech
    assert np.max(np.abs(out)) <= 0.99


def test_enhance_keeps_clean_speech_intact() -> None:
    path = shared("voice_ref/r01_*.wav")
    before = load_samples([path], None, enhance=False)
    after = load_samples([path], None, enhance=True)
    assert abs(after.speech_seconds - before.speech_seconds) < 0.5
    assert len(after.samples[0].audio) <= len(before.samples[0].audio)
