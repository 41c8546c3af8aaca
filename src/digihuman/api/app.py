"""The FastAPI application: routers, error envelope, body limits, metrics, housekeeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digihuman import __version__
from digihuman.api.envelope import error_response, install_error_handlers
from digihuman.api.metrics import Metrics
from digihuman.api.routes import agent, avatar, chat, files, remix, system, tasks, tts, voice_models, webhooks
from digihuman.api.routes import openai_audio
from digihuman.api.routes import live, live_webrtc
from digihuman.api.routes import studio
from digihuman.api.routes import avatars as avatar_models
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.delivery import Deliverer
from digihuman.tasks.reaper import Reaper
from digihuman.timings import StageTimings

# Routes that take file uploads get the upload limit instead of the small body limit.
UPLOAD_PATHS = ("/v1/files", "/model", "/v1/audio/transcriptions")
# MessagePack bodies here carry reference audio as raw bytes (Fish Audio's SDK): they get the upload limit too.
MSGPACK_UPLOAD_PATHS = ("/v1/tts",)
# Routes under these take uploads too (PATCH /model/{id}: a new cover picture).
UPLOAD_PREFIXES = ("/model/",)
# Uploads may be large: their whole body may take this many times the body timeout.
UPLOAD_TIMEOUT_FACTOR = 15


def create_app(settings: Settings, services: Services | None = None, *, housekeeping: bool = True) -> FastAPI:
    """The API server for ``settings``; ``housekeeping`` runs the reaper in this process."""
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = Reaper(services) if housekeeping else None
        deliverer = Deliverer(services) if housekeeping else None  # task callbacks, sent from this process
        if reaper and deliverer:
            reaper.start()
            deliverer.start()
        yield
        if getattr(app.state, "live", None) is not None:  # live sessions end with their server
            await asyncio.to_thread(app.state.live.close)  # waits for the sessions' threads
        if getattr(app.state, "whep_viewers", None) is not None:  # and their WebRTC peers say goodbye
            await app.state.whep_viewers.close_all()
        if reaper and deliverer:
            reaper.stop()
            deliverer.stop()

    # /docs and /redoc with their scripts served from this server: they must work with no internet.
    app = FastAPIOffline(title="digihuman", version=__version__, lifespan=lifespan,
                         static_url="/docs-assets",
                         description="Self-hosted digital-human API: talking videos, speech, voice cloning, remix.")
    app.state.services = services
    app.state.metrics = Metrics(services)
    install_error_handlers(app)
    # The routers' own routes, built once per process when their modules load, serve every app made
    # here: include_router would build each route again for each app on its first request (~80 ms
    # of CPU an app). Nothing here is added at inclusion (no prefix, tags or dependencies), and no
    # dependency overrides are used, so the routes are the same ones.
    for module in (avatar, agent, voice_models, tts, chat, remix, files, tasks, system, webhooks, studio,
                   avatar_models, openai_audio, live, live_webrtc):
        app.router.routes.extend(module.router.routes)

    app.add_middleware(CountRequests, metrics=app.state.metrics)
    return BodyLimit(app, settings.max_body_bytes, settings.media.max_training_bytes,  # type: ignore[return-value]
                     timeout_s=settings.body_timeout_s)


class CountRequests:
    """Counts requests and their latency by route and status.

    A plain ASGI middleware rather than @app.middleware("http"): that one reads the body through
    a task group, which turns BodyLimit's 413 into an ExceptionGroup and so into a 400.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def counted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            with StageTimings().active():  # the request's intake time, kept with the task it submits
                await self.app(scope, receive, counted_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - start)


class BodyLimit:
    """Refuses request bodies over the limit, by Content-Length or while they stream in, and bodies
    that arrive too slowly (408): ``timeout_s`` for the whole of a JSON or form body; uploads, which
    may be large, get that long between chunks and :data:`UPLOAD_TIMEOUT_FACTOR` times it in all."""

    def __init__(self, app: FastAPI, limit: int, upload_limit: int, *, timeout_s: float = 60.0) -> None:
        self.app, self.limit, self.upload_limit, self.timeout_s = app, limit, upload_limit, timeout_s
        self.state = app.state  # tests and the CLI reach the services through here

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        upload = (path in UPLOAD_PATHS or path.startswith(UPLOAD_PREFIXES)
                  or (path in MSGPACK_UPLOAD_PATHS and _is_msgpack(scope)))
        limit = self.upload_limit + 1024 * 1024 if upload else self.limit
        deadline = time.monotonic() + self.timeout_s * (UPLOAD_TIMEOUT_FACTOR if upload else 1)
        body_done = False
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._refuse(scope, receive, send, limit)
        seen = 0

        async def counted() -> Message:
            nonlocal seen, body_done
            if body_done:  # after the body, receive() only waits for a disconnect: no deadline on that
                return await receive()
            wait = min(deadline - time.monotonic(), self.timeout_s)
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.001))
            except TimeoutError:
                raise HTTPException(408, f"the request body took longer than {self.timeout_s:g} s to arrive; "
                                         "send it in one go, or upload large media with POST /v1/files.") from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > limit:
                # HTTPException passes FastAPI's body parsing untouched and becomes the 413 envelope.
                raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await error_response(Request(scope), 413, _too_large(limit))(scope, receive, send)


def _is_msgpack(scope: Scope) -> bool:
    kind = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return kind in (b"application/msgpack", b"application/x-msgpack", b"application/vnd.msgpack")


def _too_large(limit: int) -> str:
    return (f"the request body is larger than {limit // 1024} KiB; "
            "upload large media with POST /v1/files and pass its url.")
