"""A real HTTP server in this process: uvicorn on a free 127.0.0.1 port, with a worker thread running its tasks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from digihuman.api.app import create_app
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.worker import Worker


@dataclass(frozen=True)
class LiveServer:
    url: str
    services: Services


@contextmanager
def live_server(make_settings: Callable[[str], Settings], *, change_app: Callable[[Any], None] | None = None,
                ) -> Iterator[LiveServer]:
    """``make_settings(public_url)`` builds the settings; ``change_app(fastapi_app)`` may alter the app first."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(url)
    services = Services(settings)
    app = create_app(settings, services, housekeeping=False)
    if change_app is not None:
        change_app(app.app)  # create_app wraps the FastAPI app in its body limit
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
