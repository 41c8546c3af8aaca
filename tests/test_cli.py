"""The `digihuman` command as a user runs it: serve (API + worker), keys, restarts."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mediagen import make_png, make_wav

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, workers: int, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        environ = {**os.environ, "PYTHONPATH": str(REPO), "DIGIHUMAN_ENGINE_FACTORY": "tests.fake_engines:build",
                   **(env or {})}
        environ.pop("DIGIHUMAN_API_KEYS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digihuman", "serve", "--port", str(self.port), "--data-dir", str(data_dir),
             "--workers", str(workers)],
            env=environ, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        pytest.fail("server did not start:\n" + self.log.read_text())

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def upload(client: httpx.Client, path: Path) -> str:
    with path.open("rb") as handle:
        answer = client.post("/v1/files", files={"file": (path.name, handle)})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["url"]


def wait_final(client: httpx.Client, task_id: str, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get(f"/avatar/task/{task_id}").json()["data"]
        if data["web_work_status"] in (200, -1):
            return data
        time.sleep(0.2)
    pytest.fail(f"task {task_id} did not finish: {data}")


def test_serve_generates_a_key_once_and_renders(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, workers=1)
    try:
        keys = sorted(set(re.findall(r"dh_[A-Za-z0-9_\-]{20,}", server.output())))
        assert len(keys) == 1, server.output()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys[0]}"}, timeout=10) as c:
            face, speech = upload(c, make_png(tmp_path / "face.png")), upload(c, make_wav(tmp_path / "a.wav"))
            task = c.post("/avatar/generation", json={"avatar_url": face, "audio_url": speech, "no_watermark": True})
            assert task.status_code == 200, task.text
            done = wait_final(c, task.json()["data"]["id"])
            assert done["web_work_status"] == 200, done
            video = httpx.get(done["work_video_path"], timeout=10)
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            assert video.content[4:8] == b"ftyp"
            assert httpx.get(server.url + "/avatar/task/x").status_code == 401
    finally:
        assert server.stop() == 0
    # A second start reuses the stored key and prints none.
    again = Server(data_dir, workers=0)
    try:
        assert "dh_" not in again.output()
    finally:
        again.stop()


def test_keys_create_prints_a_working_key(data_dir: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "digihuman", "keys", "create", "--name", "ci", "--data-dir",
                           str(data_dir)], capture_output=True, text=True, check=True, env={**os.environ})
    key = made.stdout.strip()
    assert key.startswith("dh_")
    server = Server(data_dir, workers=0)
    try:
        assert "dh_" not in server.output()  # a key exists, so none is generated
        answer = httpx.get(server.url + "/v1/tasks/nope", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 404 and answer.json()["code"] == 404
    finally:
        server.stop()


def test_server_restart_loses_no_queued_task(data_dir: Path, tmp_path: Path) -> None:
    key = subprocess.run([sys.executable, "-m", "digihuman", "keys", "create", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, check=True).stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    api_only = Server(data_dir, workers=0)  # accepts tasks, runs none
    try:
        with httpx.Client(base_url=api_only.url, headers=headers, timeout=10) as c:
            face, speech = upload(c, make_png(tmp_path / "f.png")), upload(c, make_wav(tmp_path / "s.wav"))
            ids = [c.post("/avatar/generation", json={"avatar_url": face, "audio_url": speech}).json()["data"]["id"]
                   for _ in range(3)]
    finally:
        api_only.stop()
    # The public URL changes with the port; the inputs were stored as keys, so that does not matter.
    server = Server(data_dir, workers=1)
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as c:
            assert [wait_final(c, task_id)["web_work_status"] for task_id in ids] == [200, 200, 200]
    finally:
        server.stop()


def test_embedded_worker_is_restarted_after_it_dies(data_dir: Path, tmp_path: Path) -> None:
    key = subprocess.run([sys.executable, "-m", "digihuman", "keys", "create", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, check=True).stdout.strip()
    server = Server(data_dir, workers=1)
    try:
        consumer = _worker_pids(server.proc.pid)
        assert consumer, "serve should have started a worker"
        os.killpg(consumer[0], signal.SIGKILL)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            face, speech = upload(c, make_png(tmp_path / "f.png")), upload(c, make_wav(tmp_path / "s.wav"))
            task_id = c.post("/avatar/generation", json={"avatar_url": face, "audio_url": speech}).json()["data"]["id"]
            assert wait_final(c, task_id)["web_work_status"] == 200
        assert _worker_pids(server.proc.pid) and _worker_pids(server.proc.pid) != consumer
        assert "embedded worker exited; restarting it" in server.output()
    finally:
        assert server.stop() == 0


def _worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent), "-f", "digihuman worker"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]
