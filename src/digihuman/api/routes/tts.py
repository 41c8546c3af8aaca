"""Text-to-speech: POST /v1/tts (streamed audio; JSON or Fish Audio's MessagePack), GET /v1/voices."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.msgpack_body import object_body, validated
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput, NotFound
from digihuman.media.audio import CONTENT_TYPES, EncodeOptions, encode_stream, normalize_loudness
from digihuman.pipelines.references import MAX_REFERENCES, Reference, reference_voice
from digihuman.pipelines.speech import speech_chunks
from digihuman.speech.tts.base import AudioChunk, SpeechOptions

router = APIRouter(tags=["text-to-speech"])


# Models Fish Audio's SDK names in its ``model`` header.
FISH_MODELS = ("s1", "s2-pro", "speech-1.5", "speech-1.6")


class ReferenceAudio(BaseModel):
    """Speech of the voice to clone: raw bytes in MessagePack, base64 in JSON."""

    audio: bytes
    text: str = Field("", max_length=5000, description="What the audio says; helps tell its language.")

    @field_validator("audio", mode="before")
    @classmethod
    def _base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError as e:
                raise ValueError("must be base64 in JSON (or raw bytes in MessagePack)") from e
        return value


class Prosody(BaseModel):
    speed: float = Field(1.0, ge=0.5, le=2.0, description="Speaking rate: 1.5 takes two thirds of the time.")
    volume: float = Field(0.0, ge=-20.0, le=20.0, description="Gain in dB.")


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
    references: list[ReferenceAudio] = Field(
        default_factory=list, max_length=MAX_REFERENCES,
        description="Speech of a voice to clone for this request (zero-shot), used without reference_id.")
    prosody: Prosody | None = None


async def tts_body(request: Request) -> TtsRequest:
    """The body in JSON or in MessagePack (Fish Audio's SDK), validated alike."""
    limit = request.app.state.services.settings.media.max_input_bytes
    return validated(TtsRequest, await object_body(request, limit))


# The body is read by tts_body, so the schema is given here: JSON and MessagePack carry the same fields.
_BODY_SCHEMA = {"requestBody": {"required": True, "content": {
    kind: {"schema": {"$ref": "#/components/schemas/TtsRequest"}}
    for kind in ("application/json", "application/msgpack")}}}


@router.post("/v1/tts", response_class=StreamingResponse, openapi_extra=_BODY_SCHEMA)
def tts(
    owner: Owner,
    services: ServicesDep,
    body: Annotated[TtsRequest, Depends(tts_body)],
    model: Annotated[str | None, Header(description=f"Fish Audio's model ({', '.join(FISH_MODELS)}); "
                                                    "this server speaks with its own engines.")] = None,
) -> StreamingResponse:
    if not body.text.strip():
        raise InvalidInput("text is empty: give the words to speak.")
    options = SpeechOptions(chunk_length=body.chunk_length, sample_rate=body.sample_rate, latency=body.latency,
                            temperature=body.temperature, top_p=body.top_p,
                            speed=body.prosody.speed if body.prosody else 1.0)
    voice_id = body.reference_id
    if voice_id is None and body.references:
        model_dir = reference_voice(services, [Reference(r.audio, r.text) for r in body.references])
        chunks = services.engines.require_voice_cloner().synthesize(model_dir, body.text, options)
    else:
        if voice_id is None:
            voice_id = services.engines.require_tts().voices()[0].id
        check_voice(services, voice_id, owner, "reference_id")
        chunks = speech_chunks(services, voice_id, body.text, owner, options)
    normalize = body.normalize
    if body.prosody and body.prosody.volume:
        # The gain must come after loudness normalisation, which would undo it.
        chunks, normalize = louder(chunks, body.prosody.volume, body.normalize), False
    return speech_response(chunks, EncodeOptions(body.format, body.sample_rate, body.mp3_bitrate, normalize))


def louder(chunks: Iterator[AudioChunk], gain_db: float, normalize: bool) -> Iterator[AudioChunk]:
    """``chunks`` ``gain_db`` louder (or quieter), after loudness normalisation if asked; clipped."""
    gain = 10 ** (gain_db / 20)
    for chunk in chunks:
        samples = normalize_loudness(chunk.samples) if normalize else chunk.samples
        yield replace(chunk, samples=np.clip(samples * gain, -1.0, 1.0).astype(np.float32))


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
