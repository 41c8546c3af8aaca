"""A real HTTP server in this process: uvicorn on a free 127.0.0.1 port, with a worker thread running its tasks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from digihuman.api.app import create_app
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.worker import Worker


@dataclass(frozen=True)
class LiveServer:
    url: str
    services: Services


@contextmanager
def live_server(make_settings: Callable[[str], Settings], *, wrap: Callable[[ASGIApp], ASGIApp] | None = None,
                ) -> Iterator[LiveServer]:
    """``make_settings(public_url)`` builds the settings; ``wrap(app)`` may put an ASGI layer around the app."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(url)
    services = Services(settings)
    app: ASGIApp = create_app(settings, services, housekeeping=False)
    if wrap is not None:
        app = wrap(app)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    stop = threading.Event()
    worker = threading.Thread(target=_work, args=(services, stop), daemon=True)
    worker.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url, services)
    finally:
        stop.set()
        server.should_exit = True
        thread.join(timeout=10)
        worker.join(timeout=30)
        sock.close()


def _work(services: Services, stop: threading.Event) -> None:
    """Run queued tasks one by one, as a worker process would."""
    worker = Worker(services)
    while not stop.wait(0.05):
        for task_id in services.tasks.queued_ids():
            worker.run(task_id)
