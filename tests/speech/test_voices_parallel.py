"""Parallel frames: the stock voice saying the reference's words, aligned and paired with the reference.

The alignment, the matching and the conversion are checked on constructed frames; one voice model
is trained from 12 s of a real speaker (a05 of ../shared/media) with the real recogniser and stock
voice, and spoken in both languages. Quality figures come from bench/voice_eval.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digihuman.media.audio import write_wav
from digihuman.speech.asr.whisper import WhisperRecognizer, load_audio
from digihuman.speech.tts.base import AudioChunk, SpeechOptions
from digihuman.speech.tts.catalogue import SpeechCatalogue
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.speech.voices.conversion import Conversion, Pitch, SpeakerStats, TargetFrames, convert
from digihuman.speech.voices.features import ORDER, RATE, Frames
from digihuman.speech.voices.parallel import K, ParallelFrames, ParallelIndex, align, units_of
from tests.conftest import STOCK_VOICE_FRAMES
from tests.shared_media import shared


def frames_of(mcep: np.ndarray, voiced: bool = True) -> Frames:
    f0 = np.full(len(mcep), 120.0 if voiced else 0.0)
    return Frames(f0, mcep, np.zeros((len(mcep), 1)))


def test_alignment_follows_a_slower_speaker_and_pins_both_ends() -> None:
    rng = np.random.default_rng(0)
    stock = rng.standard_normal((60, 16))
    # the target says the same thing 1.5x slower, with its own noise
    where = np.minimum((np.arange(90) / 1.5).astype(int), 59)
    target = stock[where] + 0.1 * rng.standard_normal((90, 16))
    path = align(stock, target)
    assert path[0] == 0 and path[-1] == 89
    assert np.all(np.diff(path) >= 0) and np.all(np.diff(path) <= 3)
    # each stock row lands on a target row that repeats it
    assert np.mean(where[path] == np.arange(60)) > 0.9


def test_each_stock_frame_takes_the_difference_paired_with_its_own_sound() -> None:
    rng = np.random.default_rng(1)
    sounds = 3.0 * rng.standard_normal((2, ORDER + 1))
    keys = np.repeat(sounds, 2 * K, axis=0) + 0.01 * rng.standard_normal((4 * K, ORDER + 1))
    delta = np.repeat([[1.0] * (ORDER + 1), [-2.0] * (ORDER + 1)], 2 * K, axis=0)
    index = ParallelIndex(ParallelFrames(keys, np.ones(len(keys), bool), delta))
    source = frames_of(np.repeat(sounds, 10, axis=0))  # 10 frames of each sound
    out = index.correction(source)
    # frames whose context (2 each side) stays within one sound
    assert np.allclose(out[:8], 1.0) and np.allclose(out[12:], -2.0)


def test_parallel_conversion_keeps_overall_level_and_bounds_loudness() -> None:
    rng = np.random.default_rng(2)
    keys = rng.standard_normal((4 * K, ORDER + 1))
    delta = 0.3 * rng.standard_normal((4 * K, ORDER + 1))
    delta[:, 0] = np.linspace(-5.0, 5.0, len(delta))  # some wildly louder or quieter paired frames
    index = ParallelIndex(ParallelFrames(keys, np.ones(len(keys), bool), delta))
    source = frames_of(keys[rng.integers(0, len(keys), 200)] + 0.05 * rng.standard_normal((200, ORDER + 1)))
    stats = SpeakerStats(source.mcep.mean(axis=0), Pitch(float(np.log(120.0)), 0.1))
    target = TargetFrames(frames_of(rng.standard_normal((300, ORDER + 1))))
    loud = convert(source, stats, target, Conversion(parallel_smooth=1, loudness=1.0), index)
    change = loud.mcep[:, 0] - source.mcep[:, 0]
    assert np.all(np.abs(change) <= 1.0 + 1e-9) and np.ptp(change) > 0.5
    quiet = convert(source, stats, target, Conversion(parallel_smooth=1, loudness=0.0), index)
    assert np.array_equal(quiet.mcep[:, 0], source.mcep[:, 0])
    assert not np.allclose(quiet.mcep[:, 1:], source.mcep[:, 1:])
    # without parallel frames (an older model), or with them switched off, the cross-speaker kNN runs
    plain = convert(source, stats, target, Conversion(parallel_smooth=0, loudness=1.0), index)
    assert np.array_equal(plain.mcep, convert(source, stats, target, Conversion()).mcep)


def test_recognised_segments_are_grouped_into_windows_and_a_given_transcript_takes_the_whole_sample() -> None:
    audio = np.zeros(70 * RATE, np.float32)
    segments = [(float(s), float(s) + 8.0, f"part {s}") for s in range(0, 70, 10)]
    units = units_of(audio, None, segments, budget_s=120.0)
    assert [text for _, text, _ in units] == ["part 0 part 10 part 20", "part 30 part 40 part 50", "part 60"]
    assert all(len(a) <= 30.2 * RATE for a, _, _ in units)
    assert [offset for _, _, offset in units] == [0, int(29.9 * RATE), int(59.9 * RATE)]
    assert len(units_of(audio, None, segments, budget_s=25.0)) == 1
    whole = units_of(audio[: 10 * RATE], "the words", None, budget_s=120.0)
    assert len(whole) == 1 and whole[0][1:] == ("the words", 0) and len(whole[0][0]) == 10 * RATE
    assert units_of(audio[: 10 * RATE], "the words", None, budget_s=5.0) == []


def test_parallel_correction_is_averaged_less_than_the_cross_speaker_one_on_short_references() -> None:
    from digihuman.speech.voices.world import PARALLEL_SMOOTH, smoothing_for

    for language, width in PARALLEL_SMOOTH.items():
        assert width % 2 == 1
        assert all(width <= smoothing_for(s, language) for s in (4.0, 10.0, 20.0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SpeechCatalogue]:
    from digihuman.speech.voices.world import WorldVoiceCloner

    audio = np.asarray(load_audio(shared("audio/a05_*.wav")), np.float32)
    folder = tmp_path_factory.mktemp("parallel")
    sample = folder / "a05.wav"
    write_wav([AudioChunk(audio[: 12 * RATE], RATE)], sample)
    catalogue = SpeechCatalogue.installed()
    WorldVoiceCloner(catalogue, WhisperRecognizer(), STOCK_VOICE_FRAMES).train(
        [sample], None, VoiceTrainOptions(language="en"), folder / "voice", lambda p, s: None)
    return folder / "voice", catalogue


def test_fast_training_pairs_the_stock_voice_with_the_samples_and_older_models_still_speak(
        trained: tuple[Path, SpeechCatalogue], tmp_path: Path) -> None:
    from digihuman.speech.voices.world import PARALLEL_SMOOTH, WorldVoiceCloner

    model_dir, catalogue = trained
    meta = json.loads((model_dir / "voice.json").read_text())
    assert meta["conversion"]["parallel_smooth"] == PARALLEL_SMOOTH["en"] and meta["conversion"]["loudness"] > 0
    assert meta["conversion"]["detail"] == 0  # the fine envelope cost words
    assert "slope" in meta["intonation"] and ParallelFrames.load(model_dir / "parallel.npz").speed != 1.0
    pairs = ParallelFrames.load(model_dir / "parallel.npz")
    assert len(pairs) > 500  # most of ~8 s of speech was paired
    assert np.median(np.abs(pairs.delta[:, 1:])) < 1.0  # paired frames are the same sound, not noise
    cloner = WorldVoiceCloner(catalogue, cache_dir=STOCK_VOICE_FRAMES)
    for text in ("Please bring the blue folder to the meeting room.", "我们明天上午在会议室见面。"):
        spoken = cloner.synthesize(model_dir, text, SpeechOptions())
        audio = np.concatenate([c.samples for c in spoken])
        assert 1.0 < len(audio) / RATE < 8.0 and np.sqrt(np.mean(audio**2)) > 0.01
    # a model made before parallel frames: no parallel.npz, no new settings in voice.json
    old = tmp_path / "old"
    old.mkdir()
    (old / "frames.npz").write_bytes((model_dir / "frames.npz").read_bytes())
    for key in ("parallel_smooth", "loudness", "own", "intonation", "tempo", "detail", "sharpen"):
        del meta["conversion"][key]
    del meta["intonation"]
    (old / "voice.json").write_text(json.dumps(meta))
    chunks = cloner.synthesize(old, "Good morning to you.", SpeechOptions())
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) > RATE // 2 and np.sqrt(np.mean(audio**2)) > 0.01
