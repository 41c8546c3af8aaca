"""Text-to-speech: POST /v1/tts (streamed audio), GET /v1/voices."""

from __future__ import annotations

from itertools import chain
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput
from digihuman.media.audio import CONTENT_TYPES, EncodeOptions, encode_stream
from digihuman.pipelines.speech import speech_chunks
from digihuman.speech.tts.base import SpeechOptions

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
    encoded = encode_stream(chunks, EncodeOptions(body.format, body.sample_rate, body.mp3_bitrate, body.normalize))
    # Make the first piece before answering, so engine errors still get a proper status.
    first = next(encoded, b"")
    return StreamingResponse(chain([first], encoded), media_type=CONTENT_TYPES[body.format],
                             headers={"Content-Disposition": f'inline; filename="speech.{body.format}"'})


@router.get("/v1/voices")
def voices(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    catalogue = services.engines.require_tts().voices()
    return ok({"voices": [
        {"id": v.id, "name": v.name, "language": v.language, "gender": v.gender,
         "sample_rate": v.sample_rate, "description": v.description}
        for v in catalogue
    ]})
