"""What API tests exchange with the server: envelopes checked, files uploaded and downloaded, test media."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from fastapi.testclient import TestClient

from digihuman.media.probe import MediaInfo, probe
from tests.support.live_server import run_queued as run_all  # noqa: F401 - the API tests' name for it

OTHER_KEY = "other-key-9876543210"
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}
PUBLIC = "http://testserver/"


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    """The response is the error envelope with ``status``, and its message contains every word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert {"code", "msg", "data"} <= body.keys(), body
    assert body["code"] == status, body
    assert body["data"] is None, body
    msg = body["msg"]
    assert isinstance(msg, str) and len(msg) > 10, body
    assert "Traceback" not in msg and 'File "' not in msg, msg
    for word in words:
        assert word.lower() in msg.lower(), f"{word!r} not in {msg!r}"
    return msg


def assert_ok(response: httpx.Response) -> Any:
    """The response is the success envelope; returns its data."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"code", "msg", "data"}, body
    assert body["code"] == 200 and isinstance(body["msg"], str), body
    return body["data"]


def path_of(url: str) -> str:
    """The path of one of the server's absolute output URLs, for the test client."""
    assert url.startswith(PUBLIC + "files/"), url
    return urlsplit(url).path


def download(client: TestClient, url: str, dest: Path, content_type: str | None = None) -> Path:
    """GET an output URL (without an API key, as a browser would) into ``dest``."""
    response = TestClient(client.app).get(path_of(url))
    assert response.status_code == 200, response.text[:300]
    if content_type is not None:
        assert response.headers["content-type"].split(";")[0] == content_type, response.headers
    dest.write_bytes(response.content)
    assert dest.stat().st_size > 0
    return dest


def probe_url(client: TestClient, url: str, dest: Path, content_type: str | None = None) -> MediaInfo:
    return probe(download(client, url, dest, content_type))


def upload(client: TestClient, path: Path, name: str | None = None) -> str:
    """Upload a file with POST /v1/files; returns the url the API accepts as input."""
    response = client.post("/v1/files", files={"file": (name or path.name, path.read_bytes())})
    data = assert_ok(response)
    assert data["url"].startswith(PUBLIC + "files/uploads/"), data
    return data["url"]


def train_voice(client: TestClient, run_queued: Callable[[], int], sample: Path, **form: Any) -> str:
    """POST /model with one sample, run the training; returns the trained model's id."""
    fields = {"title": "trained voice", "train_mode": "fast", **form}
    files = [("voices", (sample.name, sample.read_bytes(), "audio/wav"))]
    response = client.post("/model", data=fields, files=files)
    assert response.status_code == 201, response.text
    model_id = response.json()["_id"]
    run_queued()
    assert client.get(f"/model/{model_id}").json()["state"] == "trained"
    return model_id


def _black_frame(size: int = 64) -> np.ndarray:
    return np.zeros((size, size, 3), dtype=np.uint8)


def make_black_png(path: Path) -> Path:
    """An all-black picture: a portrait in which no face can be found."""
    import av

    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(_black_frame(), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def make_black_video(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """An all-black MP4 without sound: a video in which no face can be found."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_black_frame(), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
