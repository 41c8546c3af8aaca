"""OpenAI-compatible audio: POST /v1/audio/speech (streamed speech) and POST /v1/audio/transcriptions.

The official openai SDK works against both by changing only its base_url. Errors keep the server's
envelope, with OpenAI's ``error`` object beside it (api/envelope.py); the SDK picks its exception
class by the HTTP status alone.

What OpenAI's engines have and ours do not is accepted and left unused: ``instructions`` (no voice
here takes style prompts), and a transcription's ``prompt`` and ``temperature`` (the recogniser
chooses its own prompt and decodes by beam search with its own fallbacks).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.routes.tts import speech_response
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput, TooLarge
from digihuman.media.audio import EncodeOptions, encode_stream
from digihuman.media.fetch import human_size
from digihuman.pipelines.speech import speech_chunks
from digihuman.services import Services
from digihuman.speech.asr.base import Transcript
from digihuman.speech.asr.formats import subtitles
from digihuman.speech.frontend import base_language, text_language
from digihuman.speech.tts.base import SpeechOptions, Voice

router = APIRouter(tags=["openai audio"])

# OpenAI's voices, with the gender they sound; each speaks with a stock voice of the text's language.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "neutral", "ash": "male", "ballad": "male", "coral": "female", "echo": "male",
    "fable": "neutral", "onyx": "male", "nova": "female", "sage": "female", "shimmer": "female",
    "verse": "male", "marin": "female", "cedar": "male",
}
# Model names clients send; all of them are served by this server's one engine of each kind. Dated
# variants ("gpt-4o-mini-tts-2025-12-15") are taken by their prefix.
SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "digihuman-tts")
TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-transcribe",
                        "whisper", "tiny.en", "base", "digihuman-asr")
# OpenAI's pcm is 16-bit mono at 24 kHz with nothing to say so; clients assume that rate.
PCM_RATE = 24000


class SpeechRequest(BaseModel):
    model: str
    input: str = Field(min_length=1, max_length=4096)
    voice: str | dict[str, str] = Field(
        description="A stock voice id (GET /v1/voices), one of your voice model ids, an OpenAI voice name, "
                    "or {\"id\": <one of those>}.")
    instructions: str | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"


@router.post("/v1/audio/speech", response_class=StreamingResponse)
def speech(body: SpeechRequest, owner: Owner, services: ServicesDep) -> StreamingResponse:
    _check_model(body.model, SPEECH_MODELS, "speech")
    if not body.input.strip():
        raise InvalidInput("input is empty: give the words to speak.")
    voice_id = _voice_id(services, body.voice, body.input, owner)
    fmt = body.response_format
    options = SpeechOptions(speed=body.speed, sample_rate=PCM_RATE if fmt == "pcm" else None)
    chunks = speech_chunks(services, voice_id, body.input, owner, options)
    encode = EncodeOptions(fmt, options.sample_rate, normalize=True)
    if body.stream_format == "sse":
        events = _sse(encode_stream(chunks, encode))
        first = next(events)  # made before answering, so engine errors still get their status
        return StreamingResponse(_chain(first, events), media_type="text/event-stream")
    return speech_response(chunks, encode)


def _voice_id(services: Services, voice: str | dict[str, str], text: str, owner: str) -> str:
    """The stock voice or voice model that speaks ``text`` for the requested ``voice``."""
    if isinstance(voice, dict):  # OpenAI's custom-voice reference, {"id": "..."}
        voice = voice.get("id", "")
    if not voice.strip():
        raise InvalidInput("voice is empty: give a stock voice id (GET /v1/voices), a voice model id or an "
                           f"OpenAI voice name ({', '.join(OPENAI_VOICES)}).")
    tts = services.engines.require_tts()
    stock = tts.voices()
    if voice.lower() in OPENAI_VOICES and voice not in {v.id for v in stock}:
        return _stock_voice_for(stock, text_language(text), OPENAI_VOICES[voice.lower()]).id
    check_voice(services, voice, owner, "voice")
    return voice


def _stock_voice_for(stock: list[Voice], language: str, gender: str) -> Voice:
    """The first stock voice of ``language`` of that gender, else of that language, else the first of all."""
    speaking = [v for v in stock if base_language(v.language) == language] or stock
    return next((v for v in speaking if v.gender == gender), speaking[0])


def _sse(encoded: Iterator[bytes]) -> Iterator[str]:
    """OpenAI's speech events: base64 audio deltas, then a done event."""
    for data in encoded:
        if data:
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
            yield f"data: {json.dumps(event)}\n\n"
    done = {"type": "speech.audio.done", "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}
    yield f"data: {json.dumps(done)}\n\n"


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


@router.post("/v1/audio/transcriptions", response_model=None)
def transcriptions(
    file: Annotated[UploadFile, File(description="The audio (or video) to transcribe: wav, mp3, m4a...")],
    model: Annotated[str, Form()],
    owner: Owner,
    services: ServicesDep,
    language: Annotated[str | None, Form(description="ISO 639-1 code of the speech; detected when absent.")
                        ] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[Literal["json", "text", "srt", "verbose_json", "vtt"], Form()] = "json",
    temperature: Annotated[float | None, Form(ge=0.0, le=1.0)] = None,
    timestamp_granularities: Annotated[list[Literal["word", "segment"]] | None,
                                       Form(alias="timestamp_granularities[]")] = None,
) -> dict[str, Any] | PlainTextResponse:
    _check_model(model, TRANSCRIPTION_MODELS, "transcription")
    limit = services.intake.limit(False)
    if file.size is not None and file.size > limit:
        raise TooLarge(f"file is larger than the {human_size(limit)} limit; send a shorter or more "
                       "compressed recording.")
    # Recognition runs inside the request: the intake's cap on the length of speech bounds how long.
    stored = services.intake.take_upload(file.file, "file", "speech")
    transcript = services.engines.require_asr().transcribe(services.storage.local_path(stored.key), language)
    if response_format == "json":
        return {"text": transcript.text, "usage": _usage(transcript)}
    if response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if response_format in ("srt", "vtt"):
        return PlainTextResponse(subtitles(transcript, response_format),
                                 media_type="text/vtt" if response_format == "vtt" else "text/plain")
    return _verbose(transcript, "word" in (timestamp_granularities or ()))


def _verbose(t: Transcript, words: bool) -> dict[str, Any]:
    """OpenAI's verbose_json: segments always, words when asked for."""
    body: dict[str, Any] = {
        "task": "transcribe", "language": t.language, "duration": t.duration, "text": t.text,
        "segments": [{"id": i, "seek": s.seek, "start": s.start, "end": s.end, "text": s.text,
                      "tokens": list(s.tokens), "temperature": s.temperature, "avg_logprob": s.avg_logprob,
                      "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob}
                     for i, s in enumerate(t.segments)],
        "usage": _usage(t),
    }
    if words:
        body["words"] = [{"word": w.text, "start": w.start, "end": w.end} for w in t.words]
    return body


def _usage(t: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": round(t.duration, 3)}


def _check_model(model: str, known: tuple[str, ...], what: str) -> None:
    if not any(model == name or model.startswith(name + "-") for name in known):
        raise InvalidInput(f"unknown {what} model {model!r}; use one of: {', '.join(known)}.")
