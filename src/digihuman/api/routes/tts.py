"""Text-to-speech: POST /v1/tts (streamed audio), GET /v1/voices."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput, NotFound
from digihuman.media.audio import CONTENT_TYPES, EncodeOptions, encode_stream
from digihuman.pipelines.speech import speech_chunks
from digihuman.speech.tts.base import AudioChunk, SpeechOptions

router = APIRouter(tags=["text-to-speech"])


class TtsRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20000)
    reference_id: str | None = Field(None, description="Stock voice id or voice model id; default: first stock voice.")
    format: Literal["wav", "pcm", "mp3", "opus"] = "wav"
    mp3_bitrate: Literal[64, 128, 192] = 128
    chunk_length: int = Field(200, ge=100, le=300)
    normalize: bool = True
    latency: Literal["normal", "balanced"] = "normal"
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    sample_rate: int | None = Field(None, ge=8000, le=48000)


@router.post("/v1/tts", response_class=StreamingResponse)
def tts(body: TtsRequest, owner: Owner, services: ServicesDep) -> StreamingResponse:
    voice_id = body.reference_id
    if voice_id is None:
        voice_id = services.engines.require_tts().voices()[0].id
    check_voice(services, voice_id, owner, "reference_id")
    if not body.text.strip():
        raise InvalidInput("text is empty: give the words to speak.")
    options = SpeechOptions(chunk_length=body.chunk_length, sample_rate=body.sample_rate, latency=body.latency,
                            temperature=body.temperature, top_p=body.top_p)
    chunks = speech_chunks(services, voice_id, body.text, owner, options)
    return speech_response(chunks, EncodeOptions(body.format, body.sample_rate, body.mp3_bitrate, body.normalize))


def speech_response(chunks: Iterator[AudioChunk], options: EncodeOptions) -> StreamingResponse:
    """The speech encoded as ``options`` asks, streamed as it is made, with its content type."""
    encoded = encode_stream(chunks, options)
    # Make the first piece before answering, so engine errors still get a proper status.
    first = next(encoded, b"")
    return StreamingResponse(chain([first], encoded), media_type=CONTENT_TYPES[options.format],
                             headers={"Content-Disposition": f'inline; filename="speech.{options.format}"'})


# What each voice says as its sample, by language; others say the English line.
SAMPLE_TEXT = {
    "en": "Hello! This is how I sound. I can read your script in a clear and natural voice.",
    "zh": "你好！这是我的声音。我可以用清晰自然的声音朗读你的文案。",
}


@router.get("/v1/voices")
def voices(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    catalogue = services.engines.require_tts().voices()
    base = services.settings.public_url
    return ok({"voices": [
        {"id": v.id, "name": v.name, "language": v.language, "gender": v.gender,
         "sample_rate": v.sample_rate, "description": v.description,
         "sample_url": f"{base}/v1/voices/{v.id}/sample"}
        for v in catalogue
    ]})


@router.get("/v1/voices/{voice_id}/sample", response_class=FileResponse)
def sample(voice_id: str, owner: Owner, services: ServicesDep) -> FileResponse:
    """A short MP3 of the voice, made on first request and kept."""
    tts = services.engines.require_tts()
    voice = next((v for v in tts.voices() if v.id == voice_id), None)
    if voice is None:
        raise NotFound(f"voice {voice_id!r} does not exist; GET /v1/voices lists them.")
    key = f"voices/samples/{voice_id}.mp3"
    if not services.storage.exists(key):
        text = SAMPLE_TEXT.get(voice.language.split("-")[0], SAMPLE_TEXT["en"])
        audio = b"".join(encode_stream(tts.synthesize(text, voice_id, SpeechOptions()),
                                       EncodeOptions("mp3", normalize=True)))
        services.storage.put_bytes(key, audio)
    return FileResponse(services.storage.local_path(key), media_type="audio/mpeg")
