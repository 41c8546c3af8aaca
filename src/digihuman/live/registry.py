"""The live sessions of this API server: created under limits, found by token, ended when idle.

Sessions live in the API process (their frames are made where their sockets are), so the registry
is per application: :func:`registry_of` keeps one on ``app.state``. A reaper thread ends sessions
nobody has watched for ``idle_timeout_s`` and sessions past their expiry.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from typing import Any

from digihuman.config import LiveSettings
from digihuman.errors import NotFound, ServerBusy, TooManyTasks, Unauthorized
from digihuman.live.session import Answer, LiveOptions, LiveSession, Prepare, Speak
from digihuman.render.avatar import AvatarModel

REAP_EVERY_S = 5.0
_MAKING = threading.Lock()  # two first requests at once must not make two registries


class LiveRegistry:
    """Every live session of one API server."""

    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, LiveSession] = {}
        self._expiry: dict[str, float] = {}
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._blas: Any = None

    def create(self, owner: str, model: AvatarModel, options: LiveOptions, speak: Speak,
               answer: Answer | None = None, prepare: Prepare | None = None) -> tuple[LiveSession, float]:
        """A new running session and its expiry (epoch seconds); 429 over the key's limit, 503 over
        the server's."""
        with self._lock:
            self._forget_closed()
            mine = sum(1 for s in self._sessions.values() if s.owner == owner)
            if mine >= self.settings.max_sessions_per_key:
                raise TooManyTasks(
                    f"this key already has {mine} live sessions (the limit is "
                    f"{self.settings.max_sessions_per_key}); end one with DELETE /v1/live/{{session_id}}.")
            if len(self._sessions) >= self.settings.max_sessions:
                raise ServerBusy(f"the server runs its limit of {self.settings.max_sessions} live sessions; "
                                 "try again when one has ended.")
            session = LiveSession(uuid.uuid4().hex, secrets.token_urlsafe(24), owner, model, options, speak,
                                  answer, prepare)
            self._sessions[session.id] = session
            expires = time.time() + self.settings.token_ttl_s
            self._expiry[session.id] = expires
            self._start()
        return session, expires

    def get(self, session_id: str, token: str) -> LiveSession:
        """The session ``session_id`` if ``token`` is its token."""
        session = self._find(session_id)
        if not token or not hmac.compare_digest(session.token.encode(), str(token).encode()):
            raise Unauthorized("wrong or missing session token: use the ws_url or whep_url POST /v1/live returned.")
        return session

    def owned(self, session_id: str, owner: str) -> LiveSession:
        """The session ``session_id`` if ``owner``'s key created it (404 otherwise, as if unknown)."""
        session = self._find(session_id)
        if session.owner != owner:
            raise NotFound(f"live session {session_id!r} does not exist or has ended.")
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
            self._expiry.pop(session_id, None)
        if session is not None:
            session.close()

    def sessions(self) -> list[LiveSession]:
        with self._lock:
            return [s for s in self._sessions.values() if not s.closed]

    def close(self) -> None:
        """End every session and the reaper (server shutdown); returns once their threads have stopped."""
        self._stop.set()
        for session in self.sessions():
            self.end(session.id)
        if self._reaper is not None and self._reaper is not threading.current_thread():
            self._reaper.join(REAP_EVERY_S)

    def _find(self, session_id: str) -> LiveSession:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or session.closed:
            raise NotFound(f"live session {session_id!r} does not exist or has ended.")
        return session

    def _forget_closed(self) -> None:
        for sid in [sid for sid, s in self._sessions.items() if s.closed]:
            del self._sessions[sid]
            self._expiry.pop(sid, None)

    def _start(self) -> None:
        if self._blas is None:
            # Live frames do many small matrix operations (the jaw bend's solve, a few products) from
            # several session threads at once: BLAS threads only fight over the cores for them.
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController().limit(limits=1, user_api="blas")
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="live-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while not self._stop.wait(REAP_EVERY_S):
            self.reap()

    def reap(self) -> list[str]:
        """End sessions idle too long or past expiry; returns their ids."""
        now, mono = time.time(), time.monotonic()
        ended = []
        for session in self.sessions():
            idle = session.watchers() == 0 and mono - session.last_watched > self.settings.idle_timeout_s
            if idle or now > self._expiry.get(session.id, now + 1):
                self.end(session.id)
                ended.append(session.id)
        with self._lock:
            self._forget_closed()
        return ended


def registry_of(app: Any) -> LiveRegistry:
    """The live registry of a FastAPI application (made on first use, from its services' settings)."""
    state = app.state
    with _MAKING:
        registry = getattr(state, "live", None)
        if registry is None:
            registry = state.live = LiveRegistry(state.services.settings.live)
    return registry


def get_session(app: Any, session_id: str, token: str) -> LiveSession:
    """The running session ``session_id`` of ``app`` whose token is ``token`` (404 / 401 otherwise)."""
    return registry_of(app).get(session_id, token)
