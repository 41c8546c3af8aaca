"""Fixtures for the HTTP contract tests: two API keys, a local media server, extra servers."""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.api.app import create_app
from digihuman.config import Settings
from digihuman.services import Services
from tests.api.exchange import OTHER_KEY, make_black_png, make_black_video, train_voice
from tests.conftest import API_KEY, AUTH, make_settings
from tests.mediagen import make_jpeg, make_png, make_text, make_video, make_wav


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
         ) -> Iterator[tuple[TestClient, Services, Path]]:
    """A server with the real engines, one per test module (its models load once), and a scratch folder."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    settings = make_settings(root / "data", engine_factory=None)
    services = Services(settings)
    with TestClient(create_app(settings, services, housekeeping=False), headers=AUTH) as client:
        yield client, services, root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The default server of the API tests accepts two keys, to test what one key may see of another's."""
    return make_settings(tmp_path / "data", api_keys=[API_KEY, OTHER_KEY])


@pytest.fixture
def bare(client: TestClient) -> TestClient:
    """A client of the same server that sends no API key."""
    return TestClient(client.app)


class MediaServer:
    """A local HTTP server of generated media files, as user-given input URLs."""

    def __init__(self, root: Path, base: str) -> None:
        self.root, self.base = root, base

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    root = tmp_path_factory.mktemp("served")
    make_png(root / "face.png")
    make_jpeg(root / "face.jpg")
    make_black_png(root / "black.png")
    make_black_video(root / "black.mp4", seconds=3.5)  # long enough to train an avatar from
    make_video(root / "clip.mp4", seconds=1.0)
    make_video(root / "silent.mp4", seconds=1.0, with_audio=False)
    make_video(root / "talk2.mp4", seconds=2.0)
    make_video(root / "talk5.mp4", seconds=5.0)
    make_video(root / "talk32.mp4", seconds=32.0, size=(32, 32), fps=5)
    make_wav(root / "speech.wav", seconds=1.0)
    make_wav(root / "voice.wav", seconds=3.0, freq=150.0)
    make_text(root / "notes.mp4", "this is not a video\n" * 20)
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield MediaServer(root, f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Services]]]:
    """make_client(**settings overrides) -> (client with the first key, its services), on a fresh data dir."""
    counter = itertools.count()
    with contextlib.ExitStack() as stack:

        def make(**overrides: object) -> tuple[TestClient, Services]:
            settings = make_settings(tmp_path / f"server{next(counter)}", **overrides)
            services = Services(settings)
            app = create_app(settings, services, housekeeping=False)
            return stack.enter_context(TestClient(app, headers=AUTH)), services

        yield make


@pytest.fixture
def voice_model(client: TestClient, run_queued: Callable[[], int], media: MediaServer) -> str:
    """The id of a trained private voice model of the first key."""
    return train_voice(client, run_queued, media.root / "voice.wav")
