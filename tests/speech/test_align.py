"""Phone and viseme timelines on real speech (../shared/media): English, Mandarin, any language, TTS.

What must hold on every timeline: phones sorted, non-overlapping, inside the audio and covering
its speech; silences where the sound is silent, with the mouth at rest there; every P/B/M closes
the lips on at least one frame; a track has round(duration × fps) frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digihuman.media import audio as media_audio
from digihuman.speech.align import build_timeline, mouth_track, timeline_from_tts, timeline_json
from digihuman.speech.align.features import RATE, energy_db, load_audio
from digihuman.speech.align.silence import speech_mask
from digihuman.speech.align.timeline import TimelineBuilder, default_builder
from digihuman.speech.align.visemes import (
    ARPABET_TO_VISEME,
    PINYIN_FINALS,
    PINYIN_INITIALS,
    VISEMES,
    default_targets,
    viseme_of,
)
from digihuman.speech.tts.base import AudioChunk
from digihuman.timeline import Phone, Timeline
from tests.shared_media import shared

pytestmark = pytest.mark.media


def transcript(name: str) -> str:
    return shared(name).with_suffix(".txt").read_text(encoding="utf-8").strip()


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    media_audio.write_wav([AudioChunk(samples.astype(np.float32), rate)], path)
    return path


@pytest.fixture(scope="module")
def recognizer():
    from digihuman.speech.asr.whisper import WhisperRecognizer

    return WhisperRecognizer()  # the server's models folder: models another test loaded are not loaded again


@pytest.fixture(scope="module")
def english() -> Timeline:
    return build_timeline(shared("voice_ref/r01_en_m_f5tts_basic_ref_en.wav"), text=transcript("voice_ref/r01_en_m_f5tts_basic_ref_en.wav"))


def check_timeline(tl: Timeline, audio: Path, min_cover: float = 0.8) -> None:
    """The invariants every timeline with phones keeps."""
    assert tl.duration == pytest.approx(len(load_audio(audio)) / RATE, abs=0.02)
    starts = [p.start for p in tl.phones]
    assert starts == sorted(starts)
    for a, b in zip(tl.phones, tl.phones[1:]):
        assert a.end <= b.start + 1e-6, (a, b)
    assert all(0 <= p.start < p.end <= tl.duration + 1e-6 for p in tl.phones)
    # Phones cover the speech: most frames the level calls speech lie inside a phone.
    speech = speech_mask(energy_db(load_audio(audio)))
    covered = np.zeros_like(speech)
    for p in tl.phones:
        covered[int(p.start * 100): int(np.ceil(p.end * 100))] = True
    assert covered[speech].mean() >= min_cover
    # Visemes tile the whole audio with known shapes.
    assert tl.visemes[0].start == 0 and tl.visemes[-1].end == pytest.approx(tl.duration, abs=1e-3)
    for a, b in zip(tl.visemes, tl.visemes[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-3)
    assert {v.symbol for v in tl.visemes} <= set(VISEMES)
    for s, e in tl.silences:
        assert 0 <= s < e <= tl.duration + 1e-6


def check_lips_close(tl: Timeline, fps: float) -> None:
    jaw = np.array(mouth_track(tl, fps).jaw)
    for p in tl.phones:
        if p.symbol.rstrip("012") in ("P", "B", "M") or p.symbol in ("b", "p", "m"):
            first, last = int(p.start * fps), max(int(p.start * fps), int(np.ceil(p.end * fps)) - 1)
            assert jaw[first: last + 1].min() == 0.0, p


def test_english_known_text_is_aligned(english: Timeline) -> None:
    audio = shared("voice_ref/r01_en_m_f5tts_basic_ref_en.wav")
    assert english.method == "align" and english.language == "en"
    check_timeline(english, audio)
    assert [w.text for w in english.words] == "some call me nature others call me mother nature".split()
    assert english.phones[0].symbol == "S" and any(p.symbol == "AH0" or p.symbol == "AH1" for p in english.phones)
    assert all(p.openness is not None and 0 <= p.openness <= 1 for p in english.phones)
    check_lips_close(english, 25)


def test_english_words_from_the_recogniser(recognizer) -> None:
    audio = shared("audio/a01_en_m_hdtf_radio34.wav")
    tl = build_timeline(audio, recognizer=recognizer)
    assert tl.method == "align" and tl.language == "en"
    assert any(w.text == "politicians" for w in tl.words)
    check_timeline(tl, audio)
    check_lips_close(tl, 30)
    assert len(mouth_track(tl, 30)) == round(tl.duration * 30)


def test_english_alignment_does_not_depend_on_what_was_aligned_before(recognizer) -> None:
    from digihuman.speech.align.english import EnglishAligner

    samples = load_audio(shared("audio/a05_en_m_musetalk_eng_60s.wav"))[: 30 * RATE]
    words = recognizer.transcribe(samples, language="en").words
    aligner = EnglishAligner()
    first, again = (aligner.align(samples, words)[1] for _ in range(2))
    assert len(first) > 200 and first == again


def test_mandarin_known_text_gives_initials_and_finals() -> None:
    audio = shared("voice_ref/r02_zh_f5tts_basic_ref_zh.wav")
    tl = build_timeline(audio, text=transcript("voice_ref/r02_zh_f5tts_basic_ref_zh.wav"))
    assert tl.method == "pinyin" and tl.language == "zh"
    check_timeline(tl, audio, min_cover=0.7)
    symbols = [p.symbol for p in tl.phones]
    # 对，这就是我 … : d-ui, zh-e, j-iu, sh-(-i), w-o (pypinyin: "" + uo)
    assert symbols[:6] == ["d", "uei", "zh", "e", "j", "iou"]
    assert "-i" in symbols  # 是: the buzzed vowel after sh
    assert all(s in PINYIN_INITIALS or s in PINYIN_FINALS for s in symbols)
    check_lips_close(tl, 25)


def test_mandarin_characters_from_the_recogniser(recognizer) -> None:
    audio = shared("audio/a07_zh_f_sadtalker_bus_chinese.wav")
    tl = build_timeline(audio, language="zh", recognizer=recognizer)
    assert tl.method == "pinyin"
    assert len(tl.phones) >= 10
    check_timeline(tl, audio, min_cover=0.7)


def test_padding_with_digital_silence_is_marked_and_rests_closed(tmp_path: Path) -> None:
    audio = shared("voice_ref/r01_en_m_f5tts_basic_ref_en.wav")
    speech = load_audio(audio)
    padded = write_wav(tmp_path / "padded.wav", np.concatenate([np.zeros(RATE), speech, np.zeros(RATE)]))
    tl = build_timeline(padded, text=transcript("voice_ref/r01_en_m_f5tts_basic_ref_en.wav"))
    check_timeline(tl, padded)
    first, last = tl.silences[0], tl.silences[-1]
    assert first[0] == 0.0 and first[1] >= 1.0
    assert last[1] == pytest.approx(tl.duration, abs=0.02) and last[0] <= tl.duration - 1.0
    assert tl.phones[0].start >= 0.95 and tl.phones[-1].end <= tl.duration - 0.95
    track = mouth_track(tl, 25)
    rest = default_targets().target("SIL")
    for frame in (5, 12, len(track) - 12, len(track) - 5):  # well inside each padding
        assert track.jaw[frame] == pytest.approx(rest[0], abs=0.01) and track.jaw[frame] <= 0.1
        assert track.teeth[frame] == pytest.approx(rest[3], abs=0.01)


def test_acoustic_method_works_on_any_audio(tmp_path: Path) -> None:
    # Mandarin heard as an unknown language, a pure tone, noise, and nothing at all.
    zh = shared("audio/a06_zh_f_sadtalker_chinese_news.wav")
    tl = build_timeline(zh, language="fr")
    assert tl.method == "acoustic" and not tl.phones
    assert tl.visemes[0].start == 0 and tl.visemes[-1].end == pytest.approx(tl.duration, abs=1e-3)
    assert {v.symbol for v in tl.visemes} - {"sil"}, "speech gives shapes other than rest"
    jaw = np.array(mouth_track(tl, 25).jaw)
    assert len(jaw) == round(tl.duration * 25) and jaw.std() > 0.05

    t = np.arange(2 * RATE) / RATE
    rng = np.random.default_rng(0)
    for name, samples in {
        "tone": 0.3 * np.sin(2 * np.pi * 220 * t),
        "noise": 0.1 * rng.standard_normal(len(t)),
        "silence": np.zeros(len(t)),
    }.items():
        path = write_wav(tmp_path / f"{name}.wav", samples)
        tl = build_timeline(path)
        track = mouth_track(tl, 30)
        assert len(track) == 60, name
        assert all(0 <= v <= 1 for v in track.jaw)
        if name == "silence":
            assert tl.method == "silence" and tl.silences == ((0.0, 2.0),)
            assert max(track.jaw) <= 0.1


def test_short_bilabial_closes_the_lips_between_open_vowels() -> None:
    tl = Timeline(
        duration=0.6, language="en",
        phones=(Phone("AA1", 0.1, 0.3), Phone("P", 0.3, 0.31), Phone("AA1", 0.31, 0.5)),
    )
    for fps in (25, 30, 60):
        jaw = np.array(mouth_track(tl, fps).jaw)
        assert jaw.min() == 0.0
        assert jaw[int(0.2 * fps)] > 0.5  # the vowels stay open around it


def test_transparent_consonants_take_the_vowel_shape() -> None:
    targets = default_targets()
    open_tl = Timeline(1.0, "en", phones=(Phone("AA1", 0.2, 0.4), Phone("HH", 0.4, 0.45), Phone("AA1", 0.45, 0.7)))
    jaw = np.array(mouth_track(open_tl, 100).jaw)
    assert jaw[42] > 0.8 * targets.target("AA")[0]


def test_track_length_is_duration_times_fps(english: Timeline) -> None:
    for fps in (24, 25, 29.97, 30, 60):
        track = mouth_track(english, fps)
        assert len(track) == round(english.duration * fps)
        assert len(track.width) == len(track.round) == len(track.teeth) == len(track)
        assert track.fps == fps


def test_tts_phones_are_used_as_they_are(english: Timeline) -> None:
    audio = load_audio(shared("voice_ref/r01_en_m_f5tts_basic_ref_en.wav"))
    cut = int(2.0 * RATE)
    first = [p for p in english.phones if p.end <= 2.0]
    second = [Phone(p.symbol, round(p.start - 2.0, 3), round(p.end - 2.0, 3)) for p in english.phones if p.start >= 2.0]
    chunks = [
        AudioChunk(audio[:cut], RATE, "some call me nature", tuple([Phone("sil", 0, 0.1), *first])),
        AudioChunk(audio[cut:], RATE, "others call me mother nature", tuple(second)),
    ]
    tl = timeline_from_tts(chunks)
    assert tl.method == "tts" and tl.language == "en"
    assert [p.symbol for p in tl.phones] == [p.symbol for p in first + second]
    assert tl.phones[len(first)].start == pytest.approx(second[0].start + 2.0, abs=1e-3)
    assert tl.duration == pytest.approx(len(audio) / RATE, abs=1e-3)
    # A chunk without phones is aligned to its own text.
    tl2 = timeline_from_tts([AudioChunk(audio[:cut], RATE, "some call me nature")])
    assert tl2.method == "tts+align" and [w.text for w in tl2.words] == ["some", "call", "me", "nature"]


def test_mandarin_tts_phones_with_tones() -> None:
    samples = np.zeros(RATE, np.float32)
    samples[2000:14000] = 0.2 * np.sin(np.arange(12000) / 10)
    phones = (Phone("sil", 0, 0.1), Phone("n", 0.12, 0.2), Phone("i3", 0.2, 0.45), Phone("#0", 0.45, 0.45),
              Phone("h", 0.45, 0.55), Phone("ao3", 0.55, 0.85), Phone("sil", 0.85, 1.0))
    tl = timeline_from_tts([AudioChunk(samples, RATE, "你好", phones)])
    assert tl.language == "zh" and [p.symbol for p in tl.phones] == ["n", "i3", "h", "ao3"]
    assert [v.symbol for v in tl.visemes if v.symbol != "sil"] == ["nn", "ih", "kk", "aa"]


def test_json_view(english: Timeline) -> None:
    data = timeline_json(english, mouth_track(english, 25))
    text = json.dumps(data)
    back = json.loads(text)
    assert back["method"] == "align" and back["track"]["frames"] == len(back["track"]["jaw"])
    assert back["phones"][0]["symbol"] == "S" and set(back["viseme_set"]) == set(VISEMES)


def test_viseme_maps_are_complete() -> None:
    assert set(ARPABET_TO_VISEME.values()) <= set(VISEMES)
    assert viseme_of("AH0") == "ih" and viseme_of("AH1") == "aa" and viseme_of("M") == "PP"
    assert viseme_of("iang") == "aa" and viseme_of("zh") == "CH" and viseme_of("u4") == "ou"
    assert viseme_of("#0") == "sil"
    for final in PINYIN_FINALS:
        assert viseme_of(final) in VISEMES


def test_shipped_table_is_articulatory_with_a_model_learned_from_its_own_voices() -> None:
    # The shipped table may hold nothing fitted to recorded or filmed media: the per-phone shapes are
    # the hand table's, and the openness model comes from the product's voices (learn_phone_targets.py).
    from importlib import resources

    from digihuman.speech.align.acoustic import CONTEXT, N_MELS
    from digihuman.speech.align.visemes import hand_targets

    data = json.loads(resources.files("digihuman.speech.align").joinpath("phone_targets.json").read_text())
    assert data["meta"]["made_by"].endswith("--source tts")
    shipped, hand = default_targets(), hand_targets()
    for phone in ARPABET_TO_VISEME:
        assert shipped.target(phone) == pytest.approx(hand.target(phone)), phone
    assert shipped.target("AH0") == pytest.approx(hand.target("IH"))
    assert shipped.target("AY+") == pytest.approx(hand.target("IY"))
    assert shipped.target("AW+") == pytest.approx(hand.target("UW"))
    assert shipped.openness_gain == 0.0 and shipped.pause_gain == 0.0
    assert len(shipped.openness_model().weights) == (5 + N_MELS) * len(CONTEXT)


def test_builder_reuses_its_decoder(english: Timeline) -> None:
    builder = default_builder()
    assert isinstance(builder, TimelineBuilder) and builder.aligner._decoder is not None
    assert default_builder() is builder


def test_import_is_light() -> None:
    code = "import sys, digihuman.speech.align as a; print('pocketsphinx' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
