"""A real HTTP server in this process: uvicorn on a free 127.0.0.1 port, with a worker thread running its
tasks, or none (the test then runs them with ``run_queued`` to see each state a task passes through)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
                work: bool = True) -> Iterator[LiveServer]:
    """``make_settings(public_url)`` builds the settings; ``wrap(app)`` may put an ASGI layer around the app;
    ``work`` runs queued tasks in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(url)
    services = Services(settings)
    app: ASGIApp = create_app(settings, services, housekeeping=False)
    if wrap is not None:
        app = wrap(app)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    stop = threading.Event()
    worker = threading.Thread(target=_work, args=(services, stop), daemon=True)
    if work:
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
        if work:
            worker.join(timeout=30)
        sock.close()


def _work(services: Services, stop: threading.Event) -> None:
    """Run queued tasks one by one, as a worker process would."""
    worker = Worker(services)
    while not stop.wait(0.05):
        for task_id in services.tasks.queued_ids():
            worker.run(task_id)


def run_queued(services: Services) -> int:
    """Run every queued task now, as a worker would; returns how many ran."""
    worker = Worker(services)
    ids = services.tasks.queued_ids()
    for task_id in ids:
        worker.run(task_id)
    return len(ids)


@contextmanager
def api_server(data_dir: Path, **overrides: object) -> Iterator[tuple[str, Services]]:
    """(base URL, services) of a server with the test settings of tests.conftest and ``overrides``,
    whose tasks run only when the test calls ``run_queued``."""
    from tests.conftest import make_settings

    with live_server(lambda url: make_settings(data_dir, public_url=url, **overrides), work=False) as served:
        yield served.url, served.services
