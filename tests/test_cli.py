"""The `digihuman` command as a user runs it: serve (API + worker), keys, restarts."""

from __future__ import annotations

import importlib.util
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

from tests.mediagen import make_png, make_video, make_wav

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
        with httpx.Client(timeout=1) as http:  # one client: each new one builds a TLS context (~50 ms CPU)
            while time.monotonic() < deadline:
                try:
                    if http.get(self.url + "/health").status_code == 200:
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


# Each `digihuman serve` start costs seconds of imports on a busy machine, so the tests below each
# follow one server through several things a user does with it.


def test_serve_generates_a_key_once_renders_and_restarts_a_dead_worker(data_dir: Path,
                                                                       tmp_path: Path) -> None:
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

            # The embedded worker is restarted after it dies, and runs what is submitted next.
            consumer = _worker_pids(server.proc.pid)
            assert consumer, "serve should have started a worker"
            os.killpg(consumer[0], signal.SIGKILL)
            later = c.post("/avatar/generation", json={"avatar_url": face, "audio_url": speech})
            assert wait_final(c, later.json()["data"]["id"])["web_work_status"] == 200
        assert _worker_pids(server.proc.pid) and _worker_pids(server.proc.pid) != consumer
        assert "embedded worker exited; restarting it" in server.output()
    finally:
        assert server.stop() == 0
    # A second start reuses the stored key and prints none.
    again = Server(data_dir, workers=0)
    try:
        assert "dh_" not in again.output()
    finally:
        again.stop()


def test_keys_create_prints_a_working_key_and_a_restart_loses_no_queued_task(data_dir: Path,
                                                                             tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "digihuman", "keys", "create", "--name", "ci", "--data-dir",
                           str(data_dir)], capture_output=True, text=True, check=True, env={**os.environ})
    key = made.stdout.strip()
    assert key.startswith("dh_")
    headers = {"Authorization": f"Bearer {key}"}
    api_only = Server(data_dir, workers=0)  # accepts tasks, runs none
    try:
        assert "dh_" not in api_only.output()  # a key exists, so none is generated
        answer = httpx.get(api_only.url + "/v1/tasks/nope", headers=headers)
        assert answer.status_code == 404 and answer.json()["code"] == 404
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


def _worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent), "-f", "digihuman worker"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


# -- voice models ---------------------------------------------------------------------------------


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``digihuman ARGS`` in this process; (exit code, stdout, stderr)."""
    from digihuman.cli import main

    with pytest.raises(SystemExit) as ended:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(ended.value.code), out, err


def main_frequency(path: Path) -> float:
    import av
    import numpy as np

    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        samples = np.concatenate([f.to_ndarray()[0] for frame in c.decode(audio=0) for f in resampler.resample(frame)])
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / 16000)[np.argmax(spectrum)])


@pytest.fixture
def fake_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGIHUMAN_ENGINE_FACTORY", "tests.fake_engines:build")
    monkeypatch.setenv("DIGIHUMAN_DATA_DIR", str(tmp_path / "data"))


def test_voice_create_then_tts_speaks_with_the_model(fake_engines: None, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    sample = make_wav(tmp_path / "me.wav", seconds=2.0)
    code, out, err = cli(["voice", "create", sample, "--text", "hello there", "--mode", "full", "--enhance",
                          "--language", "en", "--out", tmp_path / "voice"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["model_dir"] == str(tmp_path / "voice") and info["train_mode"] == "full"
    assert info["languages"] == ["en"] and abs(info["speech_seconds"] - 2.0) < 0.1 and info["warnings"] == []
    assert (tmp_path / "voice" / "voice.json").is_file()
    assert not list(tmp_path.glob(".voice.partial*"))

    # The fake cloner speaks at 140 Hz, the fake stock voice at 180 Hz: the folder picks the cloner.
    code, out, err = cli(["tts", "--voice", tmp_path / "voice", "--text", "hello", "--out", tmp_path / "a.wav"],
                         capsys)
    assert code == 0, err
    assert abs(main_frequency(tmp_path / "a.wav") - 140) < 3
    code, out, err = cli(["tts", "--voice", "fake-en", "--text", "hello", "--out", tmp_path / "b.mp3"], capsys)
    assert code == 0, err
    assert abs(main_frequency(tmp_path / "b.mp3") - 180) < 3

    # A model folder can be made again in place.
    code, out, err = cli(["voice", "create", sample, "--out", tmp_path / "voice"], capsys)
    assert code == 0, err


def test_voice_create_says_what_is_wrong(fake_engines: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    sample = make_wav(tmp_path / "me.wav", seconds=2.0)
    code, out, err = cli(["voice", "create", sample, "--text", "a", "--text", "b", "--out", tmp_path / "v"], capsys)
    assert code == 2 and out == ""
    assert err.strip() == ("error: 2 --text given for 1 samples: give one per sample, in order, "
                           "or none to have them recognised.")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    code, out, err = cli(["voice", "create", sample, "--out", tmp_path / "notes"], capsys)
    assert code == 2 and "already holds something other than a voice model" in err
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"
    code, out, err = cli(["voice", "create", sample], capsys)
    assert code == 2 and "--out is required" in err
    code, out, err = cli(["tts", "--voice", tmp_path / "v", "--text", "hi", "--out", tmp_path / "x.flac"], capsys)
    assert code == 2 and "--out must end in .wav" in err


HAS_CLONER = all(importlib.util.find_spec(m) for m in ("pyworld", "piper", "faster_whisper"))


@pytest.mark.media
@pytest.mark.skipif(not HAS_CLONER, reason="the voice cloning engine (pyworld, piper) is not installed")
def test_voice_create_and_speak_with_the_real_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from digihuman.speech.asr.scoring import error_rate
    from tests.shared_media import shared

    monkeypatch.delenv("DIGIHUMAN_ENGINE_FACTORY", raising=False)
    monkeypatch.setenv("DIGIHUMAN_DATA_DIR", str(tmp_path / "data"))
    sample = shared("voice_ref/r01_*.wav")
    code, out, err = cli(["voice", "create", sample, "--text", sample.with_suffix(".txt").read_text().strip(),
                          "--out", tmp_path / "voice"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["languages"][0] == "en" and 3.0 < info["speech_seconds"] < 5.4

    text = "Please bring the blue book to the kitchen."
    code, out, err = cli(["tts", "--voice", tmp_path / "voice", "--text", text, "--out", tmp_path / "said.wav"],
                         capsys)
    assert code == 0, err
    code, out, err = cli(["asr", tmp_path / "said.wav", "--language", "en"], capsys)
    heard = json.loads(out)["text"]
    # a cloned voice may be misheard by a word (once "blown book"); the sentence as a whole must come through
    assert error_rate(text, heard, "en").rate <= 0.3, heard

    # Too little speech: a clear error, and no model folder (nor a half-made one) is left behind.
    code, out, err = cli(["voice", "create", shared("voice_ref/r03_*.wav"), "--out", tmp_path / "short"], capsys)
    assert code == 2 and re.search(r"error: The samples hold only 2\.\d s of speech: record at least 3 s", err), err
    assert not (tmp_path / "short").exists() and not list(tmp_path.glob(".short.partial"))


def test_remix_writes_the_video_and_re_dubs_with_a_voice(fake_engines: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import json

    video = make_video(tmp_path / "in.mp4")
    code, out, err = cli(["remix", video, "--out", tmp_path / "out.mp4", "--script", "hello there",
                          "--voice", "fake-en", "--caption", "a {big} day", "--transforms", '{"mirror": true}'],
                         capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["video"] == str(tmp_path / "out.mp4") and result["duration_s"] > 0
    assert abs(main_frequency(tmp_path / "out.mp4") - 180) < 3  # spoken by the fake stock voice

    code, out, err = cli(["remix", video, "--out", tmp_path / "x.mp4", "--transforms", "{mirror}"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: --transforms is not valid JSON") and '{"mirror": true}' in err
    code, out, err = cli(["remix", video, "--out", tmp_path / "x.mp4", "--style", "[1]"], capsys)
    assert code == 2 and "--style must be a JSON object" in err
