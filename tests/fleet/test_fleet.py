"""A fleet without a shared disk: one API server and two workers split by --kinds, each process with its
own data dir, meeting only through PostgreSQL, Redis and an S3 object store, finish real tasks of every
kind with the real engines on tiny inputs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digihuman.client import Client
from tests.render.conftest import cut_video
from tests.shared_media import shared

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.media, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
KEY = "fleet-key-0123456789abcdef"
RENDER, OTHERS = "render", "speech,voice,chat,remix"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """One `digihuman` command with its own data dir, logging to a file there."""

    def __init__(self, args: list[str], data_dir: Path, env: dict[str, str]) -> None:
        data_dir.mkdir(parents=True)
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "digihuman", *args, "--data-dir", str(data_dir)],
                                     env=env, cwd=REPO, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def task_ids(self) -> set[str]:
        """Ids of the tasks this process started (from its JSON log lines)."""
        ids = set()
        for line in self.output().splitlines():
            if line.startswith("{") and '"task started"' in line:
                ids.add(json.loads(line)["task_id"])
        return ids

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def fleet(tmp_path: Path, redis_url: str, postgres_url: str, s3_storage_url: str) -> Iterator[dict]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "DIGIHUMAN_DATABASE_URL": postgres_url,
           "DIGIHUMAN_REDIS_URL": redis_url, "DIGIHUMAN_STORAGE_URL": s3_storage_url, "DIGIHUMAN_PUBLIC_URL": url,
           "DIGIHUMAN_API_KEYS": KEY, "DIGIHUMAN_ALLOWED_HOSTS": "127.0.0.1",
           # one llama.cpp thread: its threads wait for each other, and the workers and tests hold the cores
           "DIGIHUMAN_CHAT__LLAMACPP_THREADS": "1"}
    for name in ("DIGIHUMAN_ENGINE_FACTORY", "DIGIHUMAN_DATA_DIR"):
        env.pop(name, None)
    processes = {
        "api": Process(["serve", "--port", str(port), "--workers", "0"], tmp_path / "api", env),
        RENDER: Process(["worker", "--kinds", RENDER], tmp_path / "render", env),
        OTHERS: Process(["worker", "--kinds", OTHERS], tmp_path / "others", env),
    }
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=1) as http:  # one client: each new one builds a TLS context (~50 ms CPU)
            while True:
                try:
                    if http.get(url + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or processes["api"].proc.poll() is not None:
                    pytest.fail("the API server did not start:\n" + processes["api"].output()[-3000:])
                time.sleep(0.2)
        yield {"url": url, "processes": processes, "root": tmp_path}
    finally:
        for process in processes.values():
            process.stop()


def _done(dh: Client, task_id: str, fleet: dict) -> dict:
    try:
        task = dh.wait(task_id, progress=False)
    except Exception as e:
        logs = "\n".join(f"--- {n}\n{p.output()[-2000:]}" for n, p in fleet["processes"].items())
        raise AssertionError(f"task {task_id} did not succeed: {e}\n{logs}") from e
    assert task["status"] == "succeeded", task
    return task


def _fetch(url: str) -> bytes:
    """A task output, from the object store that /files/ redirects to."""
    got = httpx.get(url, follow_redirects=True, timeout=60)
    assert got.status_code == 200 and got.content, (url, got.status_code, got.headers, got.content[:300])
    return got.content


def test_a_fleet_split_by_kinds_finishes_every_kind_of_task(fleet: dict) -> None:
    root, processes = fleet["root"], fleet["processes"]
    with Client(fleet["url"], KEY, timeout=120) as dh:
        # Everything is queued at once: the render worker and the other worker work side by side.
        render = dh.generate_video(shared("image/p01_*"), cut_video(shared("video/v03_*"), root / "say.mp4", 1.0),
                                   resolution=160, no_watermark=True)
        voice = dh.clone_voice([shared("voice_ref/r01_*.wav")], "fleet voice", texts=[
            "Some call me nature, others call me mother nature."], mode="fast")
        remix = dh.remix(cut_video(shared("video/v03_*"), root / "clip.mp4", 1.5), script="Hello there.")

        # Served by the API server itself: speech and a rewrite with the bundled chat model.
        spoken = dh.tts("Hello.", root / "hello.wav", voice="en-joe")
        assert spoken.stat().st_size > 8000
        answer = dh.chat("Say hello.", "gemma3-270m")
        assert isinstance(answer, str) and answer.strip()

        # The voice model trained on one machine speaks on another: it travels through the object store.
        _done(dh, voice["task_id"], fleet)
        with httpx.Client(base_url=fleet["url"], headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
            said = http.post("/agent_api.php", data={"act": "create_audio", "task_text": "Hi.",
                                                     "people_id": voice["_id"]}).json()
        assert said["code"] == 200, said
        speech = _done(dh, said["data"]["task_id"], fleet)
        assert _fetch(speech["outputs"]["audio"])[:4] == b"RIFF"

        video = _done(dh, render, fleet)
        remixed = _done(dh, remix, fleet)
        assert _fetch(video["outputs"]["video"])[4:8] == b"ftyp"
        assert _fetch(remixed["outputs"]["video"])[4:8] == b"ftyp"

    # Each worker ran only its own groups' tasks.
    assert processes[RENDER].task_ids() == {render}
    assert processes[OTHERS].task_ids() == {voice["task_id"], said["data"]["task_id"], remix}
    # No shared disk: nobody's data dir holds stored files; they are all in the bucket.
    for name in ("api", "render", "others"):
        assert not (root / name / "files").exists() or not any((root / name / "files").rglob("*.mp4"))
