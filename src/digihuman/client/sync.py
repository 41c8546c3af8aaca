"""The blocking client: ``Client(server, key).wait(client.generate_video("me.png", "hi.wav"))``."""

from __future__ import annotations

import time
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


class Client(Jobs):
    """A digihuman server at ``base_url``; the key defaults to $DIGIHUMAN_API_KEY.

    ``httpx_options`` go to the underlying ``httpx.Client`` (e.g. ``transport``, ``event_hooks``).
    """

    def __init__(self, base_url: str, key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                 **httpx_options: Any) -> None:
        self.base_url, self.key = base_url.rstrip("/"), api_key(key)
        # Servers with object storage answer /files/ with a redirect to the store (httpx drops the key there).
        self.http = httpx.Client(timeout=timeout, **{"follow_redirects": True, **httpx_options})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _run(self, flow: flows.Flow[Any]) -> Any:
        try:
            call = next(flow)
            while True:
                call = flow.send(self._execute(call))
        except StopIteration as done:
            return done.value

    def _execute(self, call: calls.Call[Any]) -> Any:
        with ExitStack() as files:
            request = self.http.build_request(**self.request_args(call, files))
            try:
                response = self.http.send(request, stream=True)
            except httpx.TransportError as e:
                raise ServerUnreachable(self.base_url, e) from e
            try:
                if call.save_to is not None and not response.is_error:
                    with call.save_to.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                else:
                    response.read()
                return call.parse(response)
            finally:
                response.close()

    def wait(self, task_id: str, *, progress: bool = True, file: IO[str] | None = None,
             poll_s: float = 1.0) -> dict[str, Any]:
        """Block until the task ends; its object when it succeeded, TaskFailed/TaskCancelled otherwise.

        Progress comes from the server's event stream, or from polling where the server has none.
        """
        watch = Watch(task_id, progress, file)
        self.last_watch = watch  # how the last outcome arrived and the progress seen on the way
        try:
            try:
                for _ in range(RECONNECTS):
                    if (done := self._follow(task_id, watch)) is not None:
                        return done
            except EventsMissing:
                pass
            while (done := watch.on_task(self.task(task_id))) is None:
                time.sleep(poll_s)
            return done
        finally:
            watch.close()

    def _follow(self, task_id: str, watch: Watch) -> dict[str, Any] | None:
        """The task from its event stream; None when the stream ended early."""
        call = calls.events(task_id)
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_S)
        with ExitStack() as files:
            try:
                with self.http.stream(**self.request_args(call, files), timeout=timeout) as response:
                    if response.is_error:
                        response.read()
                        check_events_answer(response)
                    decoder = EventDecoder()
                    for line in response.iter_lines():
                        if (event := decoder.feed(line)) and (done := watch.on_event(event)) is not None:
                            return done
            except httpx.TransportError:  # a dropped stream: reconnect, then poll
                return None
        return None
