"""A cloned voice's style beyond its timbre: phrase intonation, speaking rate, frame replacement.

All on constructed pitch tracks, frames and tones (a second or two of WORLD analysis at most), with
a stand-in recogniser and stock voice where training runs; how much each moves speaker similarity
and word errors is measured by bench/voice_eval.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digihuman.speech.asr.base import Segment, Transcript
from digihuman.speech.tts.base import AudioChunk, SpeechOptions
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.speech.voices.conversion import Conversion, Pitch, SpeakerStats, TargetFrames, convert
from digihuman.speech.voices.features import ORDER, RATE, Frames, with_context
from digihuman.speech.voices.intonation import Intonation, phrases, restyle
from digihuman.speech.voices.parallel import (CONTEXT, DETAIL_K, KNN_DIMS, K, ParallelFrames, ParallelIndex,
                                              build)

FRAME_S = 0.005


def phrase_track(slope: float, seconds: float = 1.5, base: float = 120.0, swing: float = 0.0,
                 seed: int = 0, micro: float = 0.0) -> np.ndarray:
    """Log-linear F0 falling (or rising) by ``slope`` per second, with slow swings and quick wobble."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds / FRAME_S)) * FRAME_S
    log = np.log(base) + slope * (t - t.mean()) + swing * np.sin(2 * np.pi * 2.0 * t) + micro * rng.standard_normal(len(t))
    return np.exp(log)


def with_pauses(*parts: np.ndarray, pause_s: float = 0.4) -> np.ndarray:
    gap = np.zeros(int(pause_s / FRAME_S))
    return np.concatenate([x for p in parts for x in (p, gap)])


def measured_slope(f0: np.ndarray) -> float:
    voiced = f0 > 0
    return float(np.polyfit(np.flatnonzero(voiced) * FRAME_S, np.log(f0[voiced]), 1)[0])


def test_phrases_split_at_pauses_and_short_bits_are_left_out() -> None:
    f0 = with_pauses(phrase_track(0.0, 1.0), phrase_track(0.0, 0.1), phrase_track(0.0, 0.5))
    found = phrases(f0)
    assert [s.stop - s.start for s in found] == [200, 100]  # the 0.1 s bit has too few voiced frames
    # a short unvoiced stretch (a consonant) does not end a phrase
    inner = phrase_track(0.0, 1.0)
    inner[80:100] = 0.0
    assert len(phrases(inner)) == 1


def test_intonation_measures_declination_swings_and_wobble() -> None:
    falling = with_pauses(*(phrase_track(-0.3, swing=0.1, micro=0.03, seed=i) for i in range(3)))
    style = Intonation.of([falling])
    assert style is not None
    assert style.slope == pytest.approx(-0.3, abs=0.05)
    assert 0.05 < style.swing < 0.1  # a sine of amplitude 0.1 has a spread of 0.07
    assert style.micro == pytest.approx(0.03, rel=0.3)
    assert Intonation.of([phrase_track(-0.3)]) is None  # one phrase is no style
    assert Intonation.from_json(style.to_json()) == Intonation(**style.to_json())
    assert Intonation.from_json(None) is None


def test_restyle_moves_each_phrase_towards_the_target_and_keeps_voicing() -> None:
    stock = with_pauses(phrase_track(0.2, swing=0.1, seed=1), phrase_track(0.0, swing=0.1, seed=2))
    target = Intonation(slope=-0.4, swing=0.035, micro=0.01)
    out = restyle(stock, target)
    assert np.array_equal(out > 0, stock > 0)
    for phrase in phrases(stock):
        # half of the phrase's own slope kept, half taken from the target's declination
        assert measured_slope(out[phrase]) == pytest.approx(0.5 * measured_slope(stock[phrase]) - 0.2, abs=0.03)
        # each phrase keeps its mean log-F0 (the level mapping's job); swings halved to the target's
        voiced = stock[phrase] > 0
        assert np.log(out[phrase][voiced]).mean() == pytest.approx(np.log(stock[phrase][voiced]).mean(), abs=1e-3)
        assert Intonation.of([out[phrase], out[phrase]]).swing == pytest.approx(0.035, rel=0.15)
    assert np.array_equal(restyle(stock, target, amount=0.0), stock)
    # an extreme target is bounded: swings at most doubled
    wild = restyle(stock, Intonation(0.1, 5.0, 0.01))
    spread = np.log(wild[wild > 0]).std() / np.log(stock[stock > 0]).std()
    assert 1.5 < spread < 2.2


def frames_of(mcep: np.ndarray, f0: np.ndarray | None = None) -> Frames:
    f0 = np.full(len(mcep), 120.0) if f0 is None else f0
    return Frames(f0, mcep, np.zeros((len(mcep), 1)))


def test_conversion_restyles_pitch_only_when_asked_and_both_styles_are_known() -> None:
    rng = np.random.default_rng(3)
    f0 = with_pauses(phrase_track(0.3, seed=4), phrase_track(0.3, seed=5))
    source = frames_of(rng.standard_normal((len(f0), ORDER + 1)), f0)
    pitch = Pitch(float(np.log(120.0)), 0.1)
    styled = SpeakerStats(source.mcep.mean(axis=0), pitch)
    target = TargetFrames(frames_of(rng.standard_normal((300, ORDER + 1))))
    target.stats = SpeakerStats(target.stats.mean, pitch, Intonation(-0.3, 0.05, 0.01))
    plain = convert(source, styled, target, Conversion(knn_weight=0.0))
    restyled = convert(source, styled, target, Conversion(knn_weight=0.0, intonation=1.0))
    first = phrases(f0)[0]
    assert measured_slope(plain.f0[first]) == pytest.approx(0.3, abs=0.03)
    assert measured_slope(restyled.f0[first]) == pytest.approx(0.5 * 0.3 - 0.5 * 0.3, abs=0.03)
    # a model from before (no target style) converts as it always did
    target.stats = SpeakerStats(target.stats.mean, pitch)
    assert np.array_equal(convert(source, styled, target, Conversion(knn_weight=0.0, intonation=1.0)).f0, plain.f0)


def test_own_frames_replace_the_stock_envelope_but_not_its_loudness() -> None:
    rng = np.random.default_rng(6)
    keys = np.repeat(3.0 * rng.standard_normal((2, ORDER + 1)), K, axis=0)  # exactly K frames of each sound
    delta = rng.standard_normal((len(keys), ORDER + 1))
    index = ParallelIndex(ParallelFrames(keys, np.ones(len(keys), bool), delta))
    source = frames_of(np.repeat(keys[[0, K]], 10, axis=0) + 0.2)  # near each sound, not on it
    difference = index.correction(source)
    own = index.correction(source, own=1.0)
    reference = keys + delta  # the reference's own frames
    expected = np.repeat([reference[:K].mean(axis=0), reference[K:].mean(axis=0)], 10, axis=0)
    assert np.allclose((source.mcep + own)[:8, 1:], expected[:8, 1:])
    assert np.allclose((source.mcep + own)[12:, 1:], expected[12:, 1:])
    assert np.array_equal(own[:, 0], difference[:, 0])
    half = index.correction(source, own=0.5)
    assert np.allclose(half, (own + difference) / 2)



def test_fine_envelope_comes_from_the_closest_reference_frames_and_the_rest_is_the_difference() -> None:
    rng = np.random.default_rng(7)
    sounds = 3.0 * rng.standard_normal((2, ORDER + 1))
    keys = np.repeat(sounds, K, axis=0) + 0.3 * rng.standard_normal((2 * K, ORDER + 1))
    delta = rng.standard_normal((len(keys), ORDER + 1))
    index = ParallelIndex(ParallelFrames(keys, np.ones(len(keys), bool), delta))
    source = frames_of(np.repeat(sounds, 10, axis=0))
    difference, close = index.corrections(source, detail=True)
    assert np.array_equal(difference, index.correction(source))
    reference = keys + delta
    # each frame's fine envelope: the mean reference frame of its DETAIL_K closest keys (with context)
    query = with_context(source.mcep[:, 1:KNN_DIMS], CONTEXT)
    candidates = with_context(keys[:, 1:KNN_DIMS], CONTEXT)
    for frame in (2, 15):
        closest = np.argsort(np.sum((candidates - query[frame]) ** 2, axis=1))[:DETAIL_K]
        assert np.allclose(close[frame], reference[closest].mean(axis=0))
    stats = SpeakerStats(source.mcep.mean(axis=0), Pitch(float(np.log(120.0)), 0.1))
    target = TargetFrames(frames_of(rng.standard_normal((300, ORDER + 1))))
    plain = convert(source, stats, target, Conversion(parallel_smooth=3, loudness=0.0), index)
    fine = convert(source, stats, target, Conversion(parallel_smooth=3, loudness=0.0, detail=13), index)
    assert np.array_equal(fine.mcep[:, :13], plain.mcep[:, :13])
    assert np.allclose(fine.mcep[:, 13:], close[:, 13:])


def test_sharpening_deepens_formant_valleys_and_keeps_each_frames_energy() -> None:
    from digihuman.speech.voices.features import _mcep_to_log_sp

    rng = np.random.default_rng(8)
    mcep = 0.3 * rng.standard_normal((50, ORDER + 1)) / (1 + np.arange(ORDER + 1))
    source = frames_of(mcep)
    stats = SpeakerStats(mcep.mean(axis=0), Pitch(float(np.log(120.0)), 0.1))
    target = TargetFrames(frames_of(mcep))
    plain = convert(source, stats, target, Conversion(knn_weight=0.0))
    sharp = convert(source, stats, target, Conversion(knn_weight=0.0, sharpen=0.3))
    log_sp = _mcep_to_log_sp()
    energy = [np.log(np.exp(m @ log_sp.T).sum(axis=1)) for m in (plain.mcep, sharp.mcep)]
    assert np.allclose(energy[0], energy[1])
    assert np.allclose(sharp.mcep[:, 2:], 1.3 * plain.mcep[:, 2:])
    assert np.array_equal(sharp.mcep[:, 1], plain.mcep[:, 1])
    # peaks stand out more: a wider spread of each frame's log spectrum
    assert np.all((sharp.mcep @ log_sp.T).std(axis=1) > (plain.mcep @ log_sp.T).std(axis=1))

def tone(seconds: float, rate: float = 4.0) -> np.ndarray:
    """Voiced syllables at ``rate`` a second, silent between them, as a stand-in for speech."""
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * 130.0 * h * t) / h for h in range(1, 12))
    return (0.2 * voice * np.clip(np.sin(2 * np.pi * rate * t), 0.0, None) ** 2).astype(np.float32)


def states(samples: np.ndarray) -> np.ndarray:
    """Stand-in encoder states: loudness per 20 ms, with a constant so silence has a direction too."""
    rows = -(-len(samples) // 320)
    energy = np.array([np.sqrt(np.mean(samples[i * 320:(i + 1) * 320] ** 2) + 1e-8) for i in range(rows)])
    return np.stack([energy, np.full(rows, 0.05)], axis=1)


def test_speaking_rate_is_measured_from_the_pairs_and_older_files_load_at_the_stock_rate(tmp_path: Path) -> None:
    # the speaker says in 2.5 s what the stock voice says in 2 s: 4 syllables a second against 5
    pairs = build([(tone(2.5, 4.0), "words", None)], lambda text: tone(2.0, 5.0), states)
    assert pairs is not None and pairs.speed == pytest.approx(0.8, abs=0.05)
    pairs.save(tmp_path / "new.npz")
    assert ParallelFrames.load(tmp_path / "new.npz").speed == pytest.approx(pairs.speed)
    np.savez_compressed(tmp_path / "old.npz", keys=pairs.keys, voiced=pairs.voiced, delta=pairs.delta)
    assert ParallelFrames.load(tmp_path / "old.npz").speed == 1.0


class StockVoice:
    """A stand-in stock voice: syllable tones, a fifth of a second per word; records the speeds asked for."""

    def __init__(self) -> None:
        self.speeds: list[float] = []

    def synthesize(self, text: str, voice: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        self.speeds.append(options.speed)
        yield AudioChunk(tone(max(0.6, 0.2 * len(text.split())) / options.speed, 5.0), RATE, text)


class Listener:
    """A stand-in recogniser that hears the same words in anything; counts what it is asked."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def transcribe(self, audio: np.ndarray, language: str | None = None) -> Transcript:
        self.asked.append(language)
        seconds = len(audio) / RATE
        words = "one two three four five six seven eight nine ten eleven twelve"
        return Transcript(text=words, language="en", duration=seconds, segments=(Segment(0.0, seconds, words),))

    def detect_language(self, audio: Path) -> tuple[str, float]:
        raise AssertionError("the language was heard with the words")

    def encoder_states(self, samples: np.ndarray, language: str, short_tail: bool = False) -> np.ndarray:
        return states(samples)


def test_training_without_a_transcript_hears_the_sample_once_and_measures_the_speakers_rate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digihuman.speech.voices import world

    sample = tone(3.0, 4.0)
    monkeypatch.setattr(world, "_load", lambda samples, texts, enhance: ([sample], 2.0, []))
    voice, listener = StockVoice(), Listener()
    cloner = world.WorldVoiceCloner(voice, listener)  # type: ignore[arg-type]
    cloner.train([tmp_path / "sample.wav"], None, VoiceTrainOptions(), tmp_path / "voice", lambda p, s: None)
    assert listener.asked == [None]  # once, naming the language as it hears the words
    meta = json.loads((tmp_path / "voice" / "voice.json").read_text())
    assert meta["language"] == "en"
    speed = ParallelFrames.load(tmp_path / "voice" / "parallel.npz").speed
    assert speed < 1.0  # slower syllables than the stand-in stock voice
    # fast training keeps the stock pace (the measured rate cost similarity); a conversion that asks takes it
    voice.speeds.clear()
    list(cloner.synthesize(tmp_path / "voice", "Good morning to you all.", SpeechOptions(speed=1.2)))
    assert voice.speeds == [pytest.approx(1.2)]
    meta["conversion"]["tempo"] = True
    (tmp_path / "voice" / "voice.json").write_text(json.dumps(meta))
    voice.speeds.clear()
    list(cloner.synthesize(tmp_path / "voice", "Good morning to you all.", SpeechOptions(speed=1.2)))
    assert voice.speeds == [pytest.approx(1.2 * speed)]


def test_training_again_on_the_same_words_reuses_the_stock_voices_rendition(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digihuman.speech.voices import world

    sample = tone(3.0, 4.0)
    monkeypatch.setattr(world, "_load", lambda samples, texts, enhance: ([sample], 2.0, []))
    voice = StockVoice()
    cloner = world.WorldVoiceCloner(voice, Listener())  # type: ignore[arg-type]
    for name in ("first", "again"):
        cloner.train([tmp_path / "sample.wav"], None, VoiceTrainOptions(), tmp_path / name, lambda p, s: None)
        if name == "first":
            asked = len(voice.speeds)
    assert asked > 0 and len(voice.speeds) == asked  # the same words were not said again
    first, again = (ParallelFrames.load(tmp_path / name / "parallel.npz") for name in ("first", "again"))
    assert np.array_equal(first.keys, again.keys) and np.array_equal(first.delta, again.delta)
