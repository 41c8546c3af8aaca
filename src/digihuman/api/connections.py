"""The HTTP connection protocol the server runs: uvicorn's h11 one, with a deadline on request headers.

uvicorn closes a kept-alive connection that sits idle, but a connection whose request headers trickle in
a byte at a time is never timed out, so a few hundred such clients would hold every socket. Here each
request's headers must be complete within ``header_timeout_s`` of the connection opening (or of the
previous response finishing); otherwise the connection is closed, as nginx's client_header_timeout does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def with_header_deadline(header_timeout_s: float) -> type[H11Protocol]:
    """An h11 protocol class for ``uvicorn.run(http=...)`` that drops connections slow to send headers."""

    class HeaderDeadline(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline
