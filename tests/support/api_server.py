"""The API served by uvicorn on a free local port, in a thread, with tasks run only when a test asks:
for tests whose client is a real HTTP SDK and that check each state a task passes through."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digihuman.api.app import create_app
from digihuman.services import Services
from digihuman.tasks.worker import Worker
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(data_dir: Path, **overrides: object) -> Iterator[tuple[str, Services]]:
    """(base URL, services) of a server on 127.0.0.1 whose public URL is that base; the test settings
    of tests.conftest with ``overrides``; stopped on exit."""
    import uvicorn

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(data_dir, public_url=base, **overrides)
    services = Services(settings)
    app = create_app(settings, services, housekeeping=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield base, services
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)


def run_queued(services: Services) -> int:
    """Run every queued task in this process, as a worker would; returns how many ran."""
    worker = Worker(services)
    ids = services.tasks.queued_ids()
    for task_id in ids:
        worker.run(task_id)
    return len(ids)
