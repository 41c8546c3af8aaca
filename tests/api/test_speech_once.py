"""A job's speech is made once and what is known of it is used: a text-to-speech render never
recognises, an uploaded audio with its text is aligned to those words, and the audio file is
decoded once per job.

These run the real sample-based talking head (a shared photo at a small size) behind the API, with
a recogniser that fails the test when asked, and a voice that states its phones as a synthesiser does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digihuman.config import Settings
from digihuman.engines import Engines
from digihuman.speech.asr.base import Transcript
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, Voice
from digihuman.speech.utterance import Speech
from digihuman.timeline import Phone, Word
from tests.api.exchange import assert_error, assert_ok, upload
from tests.conftest import make_settings
from tests.fake_engines import RATE, tone
from tests.shared_media import shared

VOICE_WAV = "voice_ref/r01_en_m_f5tts_basic_ref_en.wav"  # 5.3 s of English, its words in the .txt beside it


class RecognitionForbidden(AssertionError):
    pass


class RaisingRecognizer:
    """Fails whoever asks it: where words or phones are known, nothing may be recognised."""

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        raise RecognitionForbidden("the recogniser was asked although the words were known")


class RecordingRecognizer:
    """Answers with fixed words and notes what it was given."""

    def __init__(self, words: tuple[Word, ...]) -> None:
        self.words, self.calls = words, []

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        self.calls.append(audio)
        return Transcript(" ".join(w.text for w in self.words), "en", 5.3, self.words)


class PhoneTTS:
    """A stock voice whose chunks carry timed phones, as Piper's and the Mandarin voice's do."""

    def voices(self) -> list[Voice]:
        return [Voice("phone-en", "Phones", "en-US", "male", RATE)]

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        samples = tone(text)
        step = len(samples) / RATE / 4
        phones = tuple(Phone(s, round(k * step, 3), round((k + 1) * step, 3))
                       for k, s in enumerate(("HH", "AH0", "L", "OW1")))
        yield AudioChunk(samples, RATE, text, phones)


def build(settings: Settings) -> Engines:
    from digihuman.render.engine import SampleTalkingHead

    return Engines(tts=PhoneTTS(), talking_head=SampleTalkingHead(recognizer=RaisingRecognizer()))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", engine_factory="tests.api.test_speech_once:build")


def _succeeded(client, run_queued, body: dict) -> dict:  # noqa: ANN001
    task_id = assert_ok(client.post("/avatar/generation", json={**body, "resolution": 256,
                                                                "no_watermark": True}))["id"]
    assert run_queued() == 1
    task = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert task["status"] == "succeeded", task["error"]
    return task


def test_a_text_to_speech_render_uses_the_voice_s_phones_and_never_recognises(client, run_queued):
    photo = upload(client, shared("image/p01_*"))
    task = _succeeded(client, run_queued, {"avatar_url": photo, "use_voice": {
        "voice_engine_id": "phone-en", "text": "Hello there, this is a photo speaking."}})
    timings = task["outputs"]["timings"]
    assert "speech synthesis" in timings
    assert "recognition" not in timings and "alignment" not in timings  # the phones came with the speech
    assert task["outputs"]["duration_s"] == pytest.approx(len(tone("Hello there, this is a photo speaking.")) / RATE,
                                                          abs=0.05)


def test_audio_with_its_text_is_aligned_to_those_words_and_decoded_once(client, run_queued, monkeypatch):
    import av

    from digihuman.media import audio as media_audio

    wav = shared(VOICE_WAV)
    text = wav.with_suffix(".txt").read_text().strip()
    photo, audio_url = upload(client, shared("image/p01_*")), upload(client, wav)
    decoded: list[Path] = []
    decode, opened = media_audio.decode_audio, av.open

    def counting_decode(path: Path, *args: object, **kwargs: object):  # noqa: ANN202
        out = decode(path, *args, **kwargs)
        decoded.append(Path(path))
        return out

    def guarded_open(target: object, *args: object, **kwargs: object):  # noqa: ANN202
        if decoded and isinstance(target, (str, Path)) and Path(target) == decoded[0]:
            raise AssertionError(f"{target} was opened again after the job decoded it")
        return opened(target, *args, **kwargs)

    monkeypatch.setattr(media_audio, "decode_audio", counting_decode)
    monkeypatch.setattr(av, "open", guarded_open)
    task = _succeeded(client, run_queued, {"avatar_url": photo, "audio_url": audio_url, "text": text})
    assert len(decoded) == 1, decoded  # one decode of the job's audio, shared by every stage
    timings = task["outputs"]["timings"]
    assert "alignment" in timings and "recognition" not in timings
    assert task["outputs"]["duration_s"] == pytest.approx(5.33, abs=0.05)


def test_text_goes_with_audio_url_only(client):
    photo = "http://127.0.0.1:9/face.png"
    assert_error(client.post("/avatar/generation", json={"avatar_url": photo, "text": "hello"}), 400,
                 "exactly one")


def test_known_words_are_aligned_and_only_unknown_ones_recognised():
    from digihuman.render.engine import SampleTalkingHead
    from digihuman.speech.align.lexicon import words_of

    wav = shared(VOICE_WAV)
    text = wav.with_suffix(".txt").read_text().strip()
    aligned = SampleTalkingHead(recognizer=RaisingRecognizer()).timeline(Speech.from_file(wav, text=text))
    assert aligned.method == "align"
    assert [w.text for w in aligned.words] == words_of(text)
    assert all(b.start >= a.end - 1e-3 for a, b in zip(aligned.words, aligned.words[1:]))

    recognizer = RecordingRecognizer(aligned.words)
    speech = Speech.from_file(wav)
    heard = SampleTalkingHead(recognizer=recognizer).timeline(speech)
    assert heard.method == "align" and [w.text for w in heard.words] == words_of(text)
    # asked once, with the samples the job decoded (16 kHz), not the file
    assert len(recognizer.calls) == 1 and isinstance(recognizer.calls[0], np.ndarray)
    assert len(recognizer.calls[0]) == pytest.approx(speech.duration * 16000, abs=2)


def test_speech_from_chunks_keeps_the_voice_s_phones():
    chunks = [AudioChunk(tone("first part"), RATE, "first part", (Phone("F", 0.0, 0.2), Phone("ER1", 0.2, 0.5))),
              AudioChunk(tone("second"), RATE, "second", (Phone("S", 0.0, 0.1),))]
    speech = Speech.from_chunks(iter(chunks), text="first part. second")
    first = len(chunks[0].samples) / RATE
    assert speech.sample_rate == RATE and len(speech.samples) == sum(len(c.samples) for c in chunks)
    assert speech.text == "first part. second" and speech.timeline is not None
    assert speech.timeline.method == "tts" and speech.language == "en"
    assert [p.symbol for p in speech.timeline.phones] == ["F", "ER1", "S"]
    assert speech.timeline.phones[2].start == pytest.approx(first, abs=1e-3)  # the second chunk's offset
    assert len(speech.at(48000)) == pytest.approx(len(speech.samples) * 3, abs=4)
    assert speech.at(48000) is speech.at(48000)  # resampled once


def test_a_long_known_text_is_aligned_close_to_the_voice_s_own_phones():
    """A known text without word times is aligned in one pass (on the 49 s clip of
    bench/speech_once.py, chunks cut at guessed word times put the phones 0.33 s off the voice's own,
    median; the one pass 0.03 s)."""
    import difflib

    from digihuman.render.engine import SampleTalkingHead
    from digihuman.speech.tts.catalogue import SpeechCatalogue

    text = ("Good morning, and thank you for joining us today. Over the next minute I would like to walk you "
            "through three simple ideas that changed the way our team works. The first idea is to write things "
            "down. When a plan lives only in somebody's head, it changes every time it is told, and nobody can "
            "check it. A short note, shared with everyone, keeps the whole team honest. The second idea is to "
            "measure before you change anything. We used to guess where the time went, and we were usually "
            "wrong. A few numbers, taken the same way each week, told us more than hours of debate. The third "
            "idea is to finish small pieces. A large project that is almost done helps nobody, while a small "
            "piece that works can be used today.")
    voiced = Speech.from_chunks(SpeechCatalogue.installed().synthesize(text, "en-joe", SpeechOptions()), text=text)
    assert voiced.duration > 30.0
    truth = voiced.timeline.phones
    aligned = SampleTalkingHead(recognizer=RaisingRecognizer()).timeline(
        Speech(voiced.samples, voiced.sample_rate, text=text)).phones
    a, b = [p.symbol.rstrip("012") for p in truth], [p.symbol.rstrip("012") for p in aligned]
    blocks = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks()
    errors = [abs(truth[i + k].start - aligned[j + k].start) for i, j, n in blocks for k in range(n)]
    assert len(errors) >= 0.9 * len(truth)
    assert float(np.median(errors)) < 0.08, float(np.median(errors))
