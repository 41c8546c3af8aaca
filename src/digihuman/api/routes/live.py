"""Live avatar (ours, API.md §7): POST /v1/live, the fragmented-MP4 WebSocket, say/chat/interrupt, DELETE.

The session itself (:mod:`digihuman.live`) knows nothing of HTTP; this router creates it from a
request (the key's trained avatar, a voice, a chat model), hands out URLs that carry its token, and
speaks the WebSocket protocol: binary messages that together are one fragmented MP4, JSON events,
and the client's JSON commands and PCM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.voices import check_voice
from digihuman.errors import Conflict, DigihumanError, InvalidInput, NotFound
from digihuman.live.registry import registry_of
from digihuman.live.session import LiveOptions, LiveSession
from digihuman.live.stream import SessionEnded
from digihuman.services import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["live avatar"])

MIN_SIZE, MIN_FPS = 128, 5.0
# The socket's client plays what it receives at once: chunks waiting longer than this for a slow client
# (or a starved encoder) are skipped, so what it sees and hears stays within a second of now.
SOCKET_QUEUE_S = 1.0
# WebSocket close codes (4000-4999 are the application's): the HTTP status the error would have had
CLOSE_UNAUTHORIZED, CLOSE_NOT_FOUND = 4401, 4404


class LiveRequest(BaseModel):
    avatar_id: str = Field(min_length=1, max_length=200, description="model_id of one of your trained avatars")
    voice: str | None = Field(None, max_length=200, description="stock voice or voice model id")
    chat_model: str | None = Field(None, max_length=200, description="model that answers 'chat' messages")
    size: int | None = Field(None, description="long side of the stream in pixels (default 512)")
    fps: float | None = Field(None, description="frames per second (default 25)")
    system_prompt: str | None = Field(None, max_length=4000, description="how the chat model should answer")


class LiveText(BaseModel):
    text: str = Field(min_length=1, max_length=20000)


@router.post("/v1/live")
def create_live(body: LiveRequest, request: Request, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    """Start a live session of a trained avatar; its ws_url and whep_url carry the session token."""
    from digihuman.pipelines.avatar import avatar_model_prefix
    from digihuman.render.avatar import AvatarModel
    from digihuman.render.base import output_size

    settings = services.settings.live
    size = _bounded(body.size, settings.default_size, MIN_SIZE, settings.max_size, "size", "pixels")
    fps = _bounded(body.fps, settings.default_fps, MIN_FPS, settings.max_fps, "fps", "frames per second")
    record = services.catalog.avatar(body.avatar_id, owner)
    if record.status.state != "trained":
        raise Conflict(f"avatar model {record.id} is {record.status.state}, not trained; "
                       "wait until its training task has succeeded.")
    try:
        folder = services.storage.local_dir(avatar_model_prefix(record.id))
    except NotFound as e:
        raise NotFound(f"the files of avatar model {record.id} are gone; train it again.") from e
    model = AvatarModel.load(folder)
    voice = body.voice or _default_voice(services)
    check_voice(services, voice, owner, "voice")
    answer = _answerer(services, body.chat_model) if body.chat_model else None
    options = LiveOptions(fps=float(fps), size=output_size(*model.size, int(size), int(size)),
                          system_prompt=body.system_prompt or "",
                          audio_lookahead_s=settings.audio_lookahead_s)
    prepare = _chat_warmer(services, body.chat_model, options.system_prompt) if body.chat_model else None
    session, expires = registry_of(request.app).create(owner, model, options, _speaker(services, voice, owner),
                                                       answer, prepare)
    base = services.settings.public_url.rstrip("/")
    ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
    path = f"/v1/live/{session.id}"
    return ok({
        "session_id": session.id,
        "ws_url": f"{ws_base}{path}/ws?token={session.token}",
        "whep_url": f"{base}{path}/whep?token={session.token}",
        "expires_at": int(expires),
        "width": session.size[0], "height": session.size[1], "fps": session.fps,
        "voice": voice, "chat_model": body.chat_model,
    })


@router.delete("/v1/live/{session_id}")
def end_live(session_id: str, request: Request, owner: Owner) -> dict[str, Any]:
    registry = registry_of(request.app)
    registry.owned(session_id, owner)
    registry.end(session_id)
    return ok({"session_id": session_id, "ended": True})


@router.post("/v1/live/{session_id}/say")
def live_say(session_id: str, body: LiveText, request: Request, owner: Owner) -> dict[str, Any]:
    registry_of(request.app).owned(session_id, owner).say(body.text)
    return ok({"session_id": session_id})


@router.post("/v1/live/{session_id}/chat")
def live_chat(session_id: str, body: LiveText, request: Request, owner: Owner) -> dict[str, Any]:
    registry_of(request.app).owned(session_id, owner).chat(body.text)
    return ok({"session_id": session_id})


@router.post("/v1/live/{session_id}/interrupt")
def live_interrupt(session_id: str, request: Request, owner: Owner) -> dict[str, Any]:
    registry_of(request.app).owned(session_id, owner).interrupt()
    return ok({"session_id": session_id})


@router.websocket("/v1/live/{session_id}/ws")
async def live_socket(websocket: WebSocket, session_id: str) -> None:
    """One fragmented MP4 (binary messages, init segment first) plus JSON events; commands come back."""
    await websocket.accept()
    try:
        session = registry_of(websocket.app).get(session_id, websocket.query_params.get("token", ""))
    except DigihumanError as e:
        await websocket.send_text(json.dumps({"type": "error", "msg": e.message}))
        await websocket.close(CLOSE_UNAUTHORIZED if e.status == 401 else CLOSE_NOT_FOUND)
        return
    sending = asyncio.Lock()
    sender = asyncio.create_task(_send_stream(websocket, session, sending))
    try:
        await _receive_commands(websocket, session, sending)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _send_stream(websocket: WebSocket, session: LiveSession, sending: asyncio.Lock) -> None:
    from digihuman.live.fmp4 import FragmentedMp4

    subscription = session.subscribe(SOCKET_QUEUE_S)
    muxer = FragmentedMp4(session.size[0], session.size[1], session.fps, session.sample_rate)
    try:
        async with sending:
            await websocket.send_bytes(muxer.init)
        while True:
            try:
                chunk = await subscription.get()
            except SessionEnded:
                async with sending:
                    await websocket.send_text(json.dumps({"type": "error", "msg": "the live session has ended."}))
                await websocket.close()
                return
            data = await asyncio.to_thread(muxer.feed, chunk)
            async with sending:
                for event in chunk.events:
                    await websocket.send_text(json.dumps(event, ensure_ascii=False))
                if data:
                    await websocket.send_bytes(data)
    except (WebSocketDisconnect, RuntimeError):  # the client went away mid-send
        pass
    finally:
        subscription.close()
        with contextlib.suppress(Exception):
            muxer.close()


async def _receive_commands(websocket: WebSocket, session: LiveSession, sending: asyncio.Lock) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            if message.get("bytes") is not None:
                session.audio_feed(message["bytes"])
            elif message.get("text") is not None:
                await asyncio.to_thread(_command, session, message["text"])
        except DigihumanError as e:
            async with sending:
                await websocket.send_text(json.dumps({"type": "error", "msg": e.message}, ensure_ascii=False))


def _command(session: LiveSession, text: str) -> None:
    try:
        command = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("messages must be JSON, e.g. {\"type\":\"say\",\"text\":\"hello\"}.") from None
    kind = command.get("type") if isinstance(command, dict) else None
    if kind == "say":
        session.say(command.get("text", ""))
    elif kind == "chat":
        session.chat(command.get("text", ""))
    elif kind == "interrupt":
        session.interrupt()
    elif kind == "audio_start":
        session.audio_start(int(command.get("sample_rate", 16000)))
    elif kind == "audio_end":
        session.audio_end()
    else:
        raise InvalidInput(f"unknown message type {kind!r}; send say, chat, interrupt, audio_start or audio_end.")


def _bounded(value: float | None, default: float, low: float, high: float, field: str, unit: str) -> float:
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidInput(f"{field} {value:g} is out of range: give {low:g}-{high:g} {unit}.")
    return value


def _default_voice(services: Services) -> str:
    """The first English stock voice (else the first stock voice): an avatar model records no language."""
    voices = services.engines.require_tts().voices()
    if not voices:
        raise InvalidInput("this server has no stock voices: give voice, the id of one of your voice models.")
    english = [v for v in voices if v.language.lower().startswith("en")]
    return (english or voices)[0].id


def _speaker(services: Services, voice: str, owner: str):  # noqa: ANN202 - Speak
    from digihuman.pipelines.speech import speech_chunks
    from digihuman.speech.tts.base import SpeechOptions

    def speak(text: str):  # noqa: ANN202
        return speech_chunks(services, voice, text, owner, SpeechOptions())

    return speak


def _answerer(services: Services, model: str):  # noqa: ANN202 - Answer
    from digihuman.text.base import ChatMessage, ChatRequest
    from digihuman.text.router import refusal

    chat = services.engines.require_chat()
    if model not in chat.models():
        raise refusal(chat, model, "chat_model")

    def answer(turns: list[tuple[str, str]]):  # noqa: ANN202
        return chat.stream(ChatRequest(model, tuple(ChatMessage(role, text) for role, text in turns)))

    return answer


def _chat_warmer(services: Services, model: str, system_prompt: str):  # noqa: ANN202 - Prepare
    """Starts the chat model's server (a local model's takes a second or more) and has it read the
    system prompt once, which it keeps for the session's turns: the first answer starts as soon as the
    later ones."""
    from digihuman.text.base import ChatMessage, ChatRequest

    def prepare() -> None:
        turns = (ChatMessage("system", system_prompt),) if system_prompt else ()
        turns += (ChatMessage("user", "Hello"),)
        services.engines.require_chat().complete(ChatRequest(model, turns, max_tokens=1))

    return prepare
