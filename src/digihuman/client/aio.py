"""The asyncio client: ``await client.wait(await client.generate_video("me.png", "hi.wav"))``.

The same jobs, requests and parsing as the blocking client (see jobs.py, flows.py, calls.py);
only the sending is awaited.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from typing import IO, Any, Self

import httpx

from digihuman.client import calls, flows
from digihuman.client.errors import ServerUnreachable
from digihuman.client.jobs import DEFAULT_TIMEOUT_S, Jobs, api_key
from digihuman.client.watch import (
    RECONNECTS,
    STREAM_READ_S,
    EventDecoder,
    EventsMissing,
    Watch,
    check_events_answer,
)


class AsyncClient(Jobs):
    """A digihuman server at ``base_url``; every job method returns an awaitable of its result."""

    def __init__(self, base_url: str, key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                 **httpx_options: Any) -> None:
        self.base_url, self.key = base_url.rstrip("/"), api_key(key)
        # Servers with object storage answer /files/ with a redirect to the store (httpx drops the key there).
        self.http = httpx.AsyncClient(timeout=timeout, **{"follow_redirects": True, **httpx_options})

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _run(self, flow: flows.Flow[Any]) -> Any:
        try:
            call = next(flow)
            while True:
                call = flow.send(await self._execute(call))
        except StopIteration as done:
            return done.value

    async def _execute(self, call: calls.Call[Any]) -> Any:
        with ExitStack() as files:
            request = self.http.build_request(**self.request_args(call, files))
            try:
                response = await self.http.send(request, stream=True)
            except httpx.TransportError as e:
                raise ServerUnreachable(self.base_url, e) from e
            try:
                if call.save_to is not None and not response.is_error:
                    with call.save_to.open("wb") as out:
                        async for chunk in response.aiter_bytes():
                            out.write(chunk)
                else:
                    await response.aread()
                return call.parse(response)
            finally:
                await response.aclose()

    async def wait(self, task_id: str, *, progress: bool = True, file: IO[str] | None = None,
                   poll_s: float = 1.0) -> dict[str, Any]:
        """As Client.wait, awaited."""
        watch = Watch(task_id, progress, file)
        self.last_watch = watch
        try:
            try:
                for _ in range(RECONNECTS):
                    if (done := await self._follow(task_id, watch)) is not None:
                        return done
            except EventsMissing:
                pass
            while (done := watch.on_task(await self.task(task_id))) is None:
                await asyncio.sleep(poll_s)
            return done
        finally:
            watch.close()

    async def _follow(self, task_id: str, watch: Watch) -> dict[str, Any] | None:
        call = calls.events(task_id)
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_S)
        with ExitStack() as files:
            try:
                async with self.http.stream(**self.request_args(call, files), timeout=timeout) as response:
                    if response.is_error:
                        await response.aread()
                        check_events_answer(response)
                    decoder = EventDecoder()
                    async for line in response.aiter_lines():
                        if (event := decoder.feed(line)) and (done := watch.on_event(event)) is not None:
                            return done
            except httpx.TransportError:
                return None
        return None
