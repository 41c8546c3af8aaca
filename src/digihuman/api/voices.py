"""Resolving a voice id given in a request: a stock voice or a trained voice model."""

from __future__ import annotations

from typing import Literal

from digihuman.errors import Conflict, InvalidInput, NotFound
from digihuman.services import Services


def check_voice(services: Services, voice_id: str, owner: str, field: str) -> Literal["stock", "model"]:
    """Which kind ``voice_id`` is; 400 listing the valid ids when it is neither, 503 without an engine."""
    engines = services.engines
    stock = [v.id for v in engines.tts.voices()] if engines.tts is not None else []
    if voice_id in stock:
        return "stock"
    try:
        model = services.catalog.voice(voice_id, owner)
    except NotFound:
        if engines.tts is None:
            engines.require_tts()
        raise InvalidInput(
            f"{field} {voice_id!r} is neither a stock voice nor one of your voice models; "
            f"stock voices: {', '.join(stock) or 'none'} (GET /v1/voices), voice models: GET /model."
        ) from None
    engines.require_voice_cloner()
    if model.status.state == "failed":
        raise Conflict(f"voice model {voice_id} failed to train ({model.status.error or 'no reason given'}) "
                       "and cannot speak; create it again from other samples.")
    if model.status.state != "trained":
        raise Conflict(f"voice model {voice_id} is {model.status.state}, not trained; wait until it is trained.")
    return "model"
