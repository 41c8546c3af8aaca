"""The official openai SDK, pointed at a running server by its base_url: models, chat, speech, transcription.

The server runs under uvicorn in a thread, so the SDK's own HTTP client, multipart encoder and
response parsing are what is tested. Most tests use small fake engines; the last ones use the real
Piper voice and whisper, and fail where those are not installed.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest

from digihuman.config import MediaSettings, Settings
from digihuman.engines import Engines
from digihuman.services import Services
from digihuman.speech.align.features import load_audio
from digihuman.speech.asr.base import Segment, Transcript
from digihuman.speech.asr.scoring import error_rate
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, Voice
from digihuman.text.router import ChatRouter
from digihuman.timeline import Word
from tests import fake_engines
from tests.api.exchange import train_voice
from tests.conftest import API_KEY, AUTH
from tests.mediagen import make_wav
from tests.support.live_server import api_server, run_queued
from tests.text.chat_fakes import ScriptedModel

CODECS = {"mp3": {"mp3", "mp3float"}, "opus": {"opus", "libopus"}, "aac": {"aac"}, "flac": {"flac"},
          "wav": {"pcm_s16le"}}
TEXT = "Hello there. How are you."
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


class RecordingTTS:
    """The fake voices, remembering which voice spoke each text."""

    def __init__(self) -> None:
        self.tts = fake_engines.FakeTTS()
        self.spoken: list[tuple[str, str, SpeechOptions]] = []

    def voices(self) -> list[Voice]:
        return self.tts.voices()

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        self.spoken.append((text, voice_id, options))
        return self.tts.synthesize(text, voice_id, options)


class BurstRecognizer:
    """Hears each burst of sound as a word, named by its count ("one", "two", ...); a pause of half a
    second or more ends a segment. The timing comes from the audio, decoded by the shared loader."""

    rate = 16000

    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        samples = load_audio(audio, self.rate)
        frame = self.rate // 100
        frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
        loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.02
        spans: list[list[float]] = []
        for i in np.flatnonzero(loud):
            if spans and i / 100 - spans[-1][1] < 0.1:
                spans[-1][1] = (i + 1) / 100
            else:
                spans.append([i / 100, (i + 1) / 100])
        words = tuple(Word(NUMBERS[k], a, b) for k, (a, b) in enumerate(spans))
        segments: list[list[Word]] = []
        for w in words:
            if segments and w.start - segments[-1][-1].end < 0.5:
                segments[-1].append(w)
            else:
                segments.append([w])
        return Transcript(" ".join(w.text for w in words), language or "en",
                          round(len(samples) / self.rate, 3), words,
                          segments=tuple(Segment(s[0].start, s[-1].end, " " + " ".join(w.text for w in s),
                                                 tokens=tuple(range(len(s)))) for s in segments))


TTS = RecordingTTS()


def build(settings: Settings) -> Engines:
    """The fake engines, with a scripted chat model and a recogniser of bursts of sound."""
    return replace(fake_engines.build(settings), tts=TTS, asr=BurstRecognizer(),
                   chat=ChatRouter([ScriptedModel(name="scripted", base=False)]))


def sdk(base: str, api_key: str = API_KEY) -> openai.OpenAI:
    """The official client, pointed at ``base`` by its base_url only; no retries, so errors show at once."""
    return openai.OpenAI(base_url=f"{base}/v1", api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    """(base URL, services) of a server with the fake engines and a 5 s cap on transcribed audio."""
    with api_server(tmp_path_factory.mktemp("openai") / "data", engine_factory=f"{__name__}:build",
                    media=MediaSettings(max_audio_seconds=5.0)) as served:
        yield served


@pytest.fixture
def client(served: tuple[str, Services]) -> openai.OpenAI:
    return sdk(served[0])


def decoded(data: bytes) -> tuple[str, float]:
    """The codec and the duration in seconds of encoded audio, counted in decoded samples."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.codec_context.sample_rate


def expected_seconds(text: str, speed: float = 1.0) -> float:
    """How long the fake voice speaks ``text``: a tone per sentence."""
    samples = sum(len(fake_engines.tone(s, speed=speed)) for s in text.split(".") if s.strip())
    return samples / fake_engines.RATE


def bursts(path: Path, spans: list[tuple[float, float]], seconds: float) -> Path:
    """A 16 kHz WAV of tone bursts over the given (start, end) spans, silent elsewhere."""
    import wave

    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    signal = np.zeros_like(t)
    for a, b in spans:
        inside = (t >= a) & (t < b)
        signal[inside] = 0.4 * np.sin(2 * np.pi * 220 * t[inside])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


# -- models and chat --------------------------------------------------------------------------------


def test_models_list(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["scripted"]


def test_chat_completion(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="scripted", temperature=0.5, max_tokens=50,
                                            messages=[{"role": "user", "content": "hello world"}])
    assert answer.choices[0].message.content == "HELLO WORLD"
    assert answer.choices[0].finish_reason == "stop" and answer.usage.total_tokens > 0


def test_chat_completion_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="scripted", stream=True,
                                            messages=[{"role": "user", "content": "hello world"}])
    pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == "HELLO WORLD"


# -- speech -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_speech_in_each_format(client: openai.OpenAI, fmt: str) -> None:
    response = client.audio.speech.create(model="tts-1", voice="fake-en", input=TEXT, response_format=fmt)
    codec, seconds = decoded(response.content)
    assert codec in CODECS[fmt]
    # compressed formats add an encoder delay and pad their last frame; never more than 0.1 s here
    assert abs(seconds - expected_seconds(TEXT)) < 0.1, seconds


def test_speech_pcm_is_24khz_16bit(client: openai.OpenAI) -> None:
    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice="fake-en", input=TEXT,
                                          response_format="pcm")
    assert response.response.headers["content-type"] == "audio/pcm"
    assert abs(len(response.content) / 2 / 24000 - expected_seconds(TEXT)) < 0.01


def test_speech_defaults_to_mp3(client: openai.OpenAI) -> None:
    response = client.audio.speech.create(model="tts-1-hd", voice="fake-en", input=TEXT)
    assert response.response.headers["content-type"] == "audio/mpeg"
    assert decoded(response.content)[0] in CODECS["mp3"]


def test_speech_streamed(client: openai.OpenAI) -> None:
    text = " ".join(f"Sentence number {i}." for i in range(12))
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="fake-en", input=text,
                                                            response_format="wav") as response:
        assert response.headers["content-type"] == "audio/wav"
        # sent as it is made: chunked, with no length known up front
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        pieces = list(response.iter_bytes())
    assert pieces[0][:4] == b"RIFF"
    assert abs(decoded(b"".join(pieces))[1] - expected_seconds(text)) < 0.01


def test_openai_voices_speak_with_a_stock_voice_of_the_text_language(client: openai.OpenAI) -> None:
    client.audio.speech.create(model="tts-1", voice="alloy", input="Good morning.", response_format="wav")
    assert TTS.spoken[-1][:2] == ("Good morning.", "fake-en")
    client.audio.speech.create(model="tts-1", voice="nova", input="早上好，今天天气很好。",
                               response_format="wav")
    assert TTS.spoken[-1][:2] == ("早上好，今天天气很好。", "fake-zh")
    # the custom-voice object form names a voice by id
    client.audio.speech.create(model="tts-1", voice={"id": "fake-zh"}, input="Good morning.",
                               response_format="wav")
    assert TTS.spoken[-1][1] == "fake-zh"


def test_a_voice_model_speaks(served: tuple[str, Services], client: openai.OpenAI, tmp_path: Path) -> None:
    base, services = served
    with httpx.Client(base_url=base, headers=AUTH) as http:
        model_id = train_voice(http, functools.partial(run_queued, services),  # type: ignore[arg-type]
                               make_wav(tmp_path / "voice.wav", seconds=3.0, freq=150.0))
    spoken = len(TTS.spoken)
    response = client.audio.speech.create(model="tts-1", voice=model_id, input="Spoken by my voice.",
                                          response_format="wav")
    samples = np.frombuffer(response.content[44:], "<i2").astype(np.float32)
    # the fake cloned voice is a 140 Hz tone: count its zero crossings
    crossings = np.count_nonzero(np.diff(np.signbit(samples))) / 2 / (len(samples) / fake_engines.RATE)
    assert abs(crossings - 140) < 5 and len(TTS.spoken) == spoken


def test_speed_changes_the_duration(client: openai.OpenAI) -> None:
    normal = decoded(client.audio.speech.create(model="tts-1", voice="fake-en", input=TEXT,
                                                response_format="wav").content)[1]
    fast = decoded(client.audio.speech.create(model="tts-1", voice="fake-en", input=TEXT,
                                              response_format="wav", speed=2.0).content)[1]
    assert TTS.spoken[-1][2].speed == 2.0 and abs(fast - normal / 2) < 0.01


def test_speech_sse(client: openai.OpenAI) -> None:
    import base64
    import json

    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice="fake-en", input=TEXT,
                                          response_format="wav", stream_format="sse")
    events = [json.loads(line.removeprefix("data: ")) for line in response.text.splitlines() if line]
    assert events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert abs(decoded(audio)[1] - expected_seconds(TEXT)) < 0.01


def test_speech_errors_raise_the_sdk_exception_of_their_status(served: tuple[str, Services],
                                                               client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(served[0], "wrong-key").audio.speech.create(model="tts-1", voice="alloy", input="hi")
    with pytest.raises(openai.BadRequestError) as unknown:
        client.audio.speech.create(model="tts-1", voice="nobody", input="hi")
    assert "fake-en" in unknown.value.message and unknown.value.body["code"] == 400
    with pytest.raises(openai.BadRequestError, match="speed"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=5.0)
    with pytest.raises(openai.BadRequestError, match="unknown speech model"):
        client.audio.speech.create(model="dall-e-3", voice="alloy", input="hi")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


# -- transcription ------------------------------------------------------------------------------------

SPANS = [(0.2, 0.6), (0.8, 1.2), (2.0, 2.5)]  # "one two" (a pause) "three"


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    return bursts(tmp_path / "speech.wav", SPANS, 3.0)


def test_transcription_json(client: openai.OpenAI, speech: Path) -> None:
    with speech.open("rb") as f:
        result = client.audio.transcriptions.create(model="whisper-1", file=f)
    assert result.text == "one two three"


def test_transcription_text(client: openai.OpenAI, speech: Path) -> None:
    text = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=speech, response_format="text")
    assert text.strip() == "one two three"


def test_transcription_srt_and_vtt(client: openai.OpenAI, speech: Path) -> None:
    srt = client.audio.transcriptions.create(model="whisper-1", file=speech, response_format="srt")
    assert srt == "1\n00:00:00,200 --> 00:00:01,200\none two\n\n2\n00:00:02,000 --> 00:00:02,500\nthree\n\n"
    vtt = client.audio.transcriptions.create(model="whisper-1", file=speech, response_format="vtt")
    assert vtt == ("WEBVTT\n\n00:00:00.200 --> 00:00:01.200\none two\n\n"
                   "00:00:02.000 --> 00:00:02.500\nthree\n\n")


def test_transcription_verbose_json_with_words(client: openai.OpenAI, speech: Path) -> None:
    result = client.audio.transcriptions.create(model="whisper-1", file=speech, language="en",
                                                response_format="verbose_json",
                                                timestamp_granularities=["word", "segment"])
    assert (result.text, result.language, result.duration) == ("one two three", "en", 3.0)
    assert [(s.id, s.start, s.end, s.text) for s in result.segments] == [(0, 0.2, 1.2, " one two"),
                                                                         (1, 2.0, 2.5, " three")]
    assert result.segments[0].tokens == [0, 1] and result.model_extra["task"] == "transcribe"
    assert [(w.word, w.start, w.end) for w in result.words] == [("one", 0.2, 0.6), ("two", 0.8, 1.2),
                                                                 ("three", 2.0, 2.5)]
    segments_only = client.audio.transcriptions.create(model="whisper-1", file=speech,
                                                       response_format="verbose_json")
    assert segments_only.words is None and len(segments_only.segments) == 2


def test_transcription_refusals(client: openai.OpenAI, speech: Path, tmp_path: Path) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown transcription model"):
        client.audio.transcriptions.create(model="tts-1", file=speech)
    with pytest.raises(openai.UnprocessableEntityError):
        client.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"not audio at all" * 20))
    with pytest.raises(openai.APIStatusError, match="limit is 5 s") as long:
        client.audio.transcriptions.create(model="whisper-1", file=bursts(tmp_path / "long.wav", SPANS, 8.0))
    assert long.value.status_code == 413


# -- the real engines ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """The SDK against a server with the engines installed here (Piper, whisper...)."""
    with api_server(tmp_path_factory.mktemp("openai-real") / "data", engine_factory=None) as (base, _):
        yield sdk(base)


def test_real_speech_round_trip(real: openai.OpenAI) -> None:
    """Piper speaks for "alloy"; whisper reads it back with word and segment times."""
    # Long enough that one misheard word (Piper samples its prosody each time) is not a failure.
    text = "The meeting starts at ten thirty in room twelve, and everyone should bring the quarterly report."
    audio = real.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="mp3").content
    result = real.audio.transcriptions.create(model="whisper-1", file=("speech.mp3", audio), language="en",
                                              response_format="verbose_json",
                                              timestamp_granularities=["word"])
    assert error_rate(text, result.text, "en").rate <= 0.2, result.text
    assert result.language == "en" and 3.0 < result.duration < 9.0
    assert result.segments and all(s.tokens and s.end > s.start for s in result.segments)
    assert len(result.words) >= 7 and all(b.start >= a.end for a, b in zip(result.words, result.words[1:]))


def test_real_speech_speed(real: openai.OpenAI) -> None:
    text = "Speaking faster takes less time."
    normal = decoded(real.audio.speech.create(model="tts-1", voice="en-joe", input=text,
                                              response_format="flac").content)[1]
    fast = decoded(real.audio.speech.create(model="tts-1", voice="en-joe", input=text, response_format="flac",
                                            speed=2.0).content)[1]
    # Piper gives every phone at least one frame of sound, so twice the speed takes ~0.6 of the time
    assert 0.4 < fast / normal < 0.75, (normal, fast)
