"""Hostile inputs: oversized text and names, lying media headers, slow clients and servers, other
tenants' model files and metrics, and bodies that cannot be parsed; each is refused or bounded with
a message saying what to fix."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digihuman.api.app import create_app
from digihuman.errors import FetchFailed, MediaRejected
from digihuman.media.fetch import FetchPolicy, fetch
from digihuman.media.probe import probe
from digihuman.services import Services
from digihuman.speech.tts.base import AudioChunk
from digihuman.tasks.worker import Worker
from tests.api.exchange import OTHER, assert_error, assert_ok
from tests.conftest import API_KEY, make_settings
from tests.fake_engines import RATE, tone


def act(client: TestClient, name: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/agent_api.php", data={"act": name, **fields})


def owner_of(services: Services, key: str = API_KEY) -> str:
    owner = services.keys.identify(key)
    assert owner is not None
    return owner


# 1. Text to speak ---------------------------------------------------------------------------------

def test_850_kb_of_text_is_refused_naming_the_field_and_limit(client):
    assert_error(act(client, "create_audio", task_text="a" * 850_000, people_id="fake-en"), 413,
                 "task_text", "20000 characters")


@pytest.mark.parametrize("path,body,field", [
    ("/avatar/generation", {"use_voice": {"voice_engine_id": "fake-en", "text": "x" * 101}}, "use_voice.text"),
    ("/avatar/generation", {"create_voice": {"audio_url": "AUDIO", "text": "x" * 101}}, "create_voice.text"),
    ("/generate_video", {"video_url": "VIDEO", "text_content": "x" * 101}, "text_content"),
])
def test_one_text_limit_on_every_route(make_client, media, path, body, field):
    client, _ = make_client(max_text_chars=100)
    body = json.loads(json.dumps(body).replace("AUDIO", media.url("voice.wav")).replace("VIDEO", media.url("clip.mp4")))
    if path == "/avatar/generation":
        body["avatar_url"] = media.url("face.png")
    assert_error(client.post(path, json=body), 413, field, "100 characters")
    assert_error(act(client, "create_audio", task_text="x" * 101, people_id="fake-en"), 413, "task_text", "100")


def test_cancel_stops_a_long_speech_task_within_5_s(make_client, monkeypatch):
    client, services = make_client(tasks={"heartbeat_s": 0.2})
    spoken: list[str] = []

    def slow(text, voice_id, options):  # type: ignore[no-untyped-def]
        for sentence in text.split("."):
            time.sleep(0.3)  # a real engine takes about this long per chunk
            spoken.append(sentence)
            yield AudioChunk(tone(sentence), RATE, sentence)

    monkeypatch.setattr(services.engines.tts, "synthesize", slow)
    text = "This is one sentence of a very long script." * 100  # 30 s of synthesis
    task_id = assert_ok(act(client, "create_audio", task_text=text, people_id="fake-en"))["task_id"]
    worker = threading.Thread(target=Worker(services).run, args=(task_id,))
    worker.start()
    time.sleep(1.0)
    assert services.tasks.get(task_id).status.value == "running"
    cancelled_at = time.monotonic()
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 5.0
    task = services.tasks.get(task_id)
    assert task.status.value == "cancelled", task
    assert len(spoken) < 40
    progress = assert_ok(act(client, "chk_audio", task_id=task_id))
    assert progress["zstatus"] == 4


# 2. Lying audio headers and long audio -----------------------------------------------------------

def lying_wav(path: Path, rate: int = 1, data_bytes: int = 192_000) -> Path:
    """A WAV whose header claims ``rate`` Hz: at 1 Hz, 192 KB of samples "last" 96,000 s."""
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    path.write_bytes(header + bytes(data_bytes))
    return path


def test_a_1_hz_wav_is_refused_at_intake(client, media, tmp_path):
    wav = lying_wav(tmp_path / "lie.wav")
    started = time.monotonic()
    with pytest.raises(MediaRejected, match="8000-192000 Hz"):
        probe(wav, field="audio_url")
    response = client.post("/v1/files", files={"file": ("lie.wav", wav.read_bytes(), "audio/wav")})
    assert_error(response, 422, "1 Hz", "8000-192000 Hz")
    assert time.monotonic() - started < 5.0
    (media.root / "lie.wav").write_bytes(wav.read_bytes())
    assert_error(client.post("/avatar/generation", json={"avatar_url": media.url("face.png"),
                                                         "audio_url": media.url("lie.wav")}), 422, "audio_url")


def test_audio_longer_than_the_limit_is_refused(make_client, media):
    client, services = make_client(media={"max_audio_seconds": 2.0})
    assert_error(client.post("/avatar/generation", json={"avatar_url": media.url("face.png"),
                                                         "audio_url": media.url("voice.wav")}),
                 413, "audio_url", "3 s long", "limit is 2 s")
    assert services.tasks.queued_ids() == []
    assert_ok(client.post("/avatar/generation", json={"avatar_url": media.url("face.png"),
                                                      "audio_url": media.url("speech.wav")}))


# 3. Slow download servers -------------------------------------------------------------------------

class Trickle(BaseHTTPRequestHandler):
    """Sends its body one byte at a time (/trickle), or headers and then nothing (/stall)."""

    release = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            if self.path == "/trickle":
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if self.release.wait(0.2):
                        return
            else:
                self.release.wait(30)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def trickle():
    Trickle.release.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)  # loopback only
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Trickle.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", ["/trickle", "/stall"])
def test_a_download_ends_at_its_deadline(trickle, tmp_path, path):
    policy = FetchPolicy(max_bytes=1 << 20, read_timeout_s=30.0, deadline_s=1.0,
                         allowed_hosts=frozenset({"127.0.0.1"}))
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="took longer than 1 s"):
        fetch(trickle + path, tmp_path / "out", policy, "audio_url")
    assert time.monotonic() - started < 2.0
    assert not (tmp_path / "out").exists()


def test_downloads_are_bounded_and_health_stays_up(make_client, trickle):
    client, services = make_client(media={"max_concurrent_downloads": 1, "download_deadline_s": 3.0})
    body = {"avatar_url": trickle + "/trickle", "audio_url": trickle + "/trickle"}
    first: list = []
    slow = threading.Thread(target=lambda: first.append(client.post("/avatar/generation", json=body)))
    slow.start()
    time.sleep(0.5)
    assert_error(client.post("/avatar/generation", json=body), 503, "too many downloads", "retry")
    started = time.monotonic()
    assert client.get("/health").status_code == 200
    assert time.monotonic() - started < 1.0
    slow.join(timeout=10)
    assert_error(first[0], 502, "avatar_url", "took longer than 3 s")


# 4. Model files are their owner's ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["voice", "avatar"])
def test_model_files_are_served_only_to_their_owner(client, bare, services, kind):
    owner = owner_of(services)
    if kind == "voice":
        model = services.catalog.create_voice(owner, "public voice", visibility="public")
        key = f"voices/{model.id}/voice.json"
    else:
        model = services.catalog.create_avatar(owner, "my avatar")
        key = f"avatars/{model.id}/model.npz"
    services.storage.put_bytes(key, b'{"secret": 1}')
    assert_error(bare.get(f"/files/{key}"), 401, "API key")
    assert_error(client.get(f"/files/{key}", headers=OTHER), 404, "does not exist")
    assert client.get(f"/files/{key}").content == b'{"secret": 1}'


# 5. Slow request bodies ---------------------------------------------------------------------------

def test_a_body_that_arrives_too_slowly_gets_408(tmp_path):
    settings = make_settings(tmp_path / "data", body_timeout_s=0.3)
    app = create_app(settings, Services(settings), housekeeping=False)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/avatar/generation", "raw_path": b"/avatar/generation",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"content-length", b"100"), (b"authorization", f"Bearer {API_KEY}".encode())]}
    sent: list[dict] = []

    async def receive() -> dict:
        if not sent and not getattr(receive, "started", False):
            receive.started = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b'{"avatar_url": ', "more_body": True}
        await asyncio.sleep(30)  # the client goes quiet
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def run() -> float:
        started = time.monotonic()
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert elapsed < 3.0
    assert sent[0]["status"] == 408
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["code"] == 408 and "took longer than 0.3 s" in body["msg"]


# 6. Names and model quotas ------------------------------------------------------------------------

def test_model_names_are_bounded(client, media):
    assert_error(act(client, "create_model", model_name="n" * 100_000), 400, "model_name", "at most 200")
    assert_error(act(client, "create_model_fast", model_name="n" * 201, video_url=media.url("talk5.mp4")), 400,
                 "model_name", "at most 200")
    assert assert_ok(act(client, "create_model", model_name="n" * 200))["model_id"]


def test_voice_and_avatar_models_count_against_a_quota(make_client, media):
    client, services = make_client(max_voice_models_per_key=2, max_avatar_models_per_key=1)
    for i in range(2):
        assert_ok(act(client, "create_model", model_name=f"voice {i}"))
    assert_error(act(client, "create_model", model_name="one too many"), 429, "2 voice models")
    assert_ok(act(client, "create_model_fast", model_name="face", video_url=media.url("talk5.mp4")))
    assert_error(act(client, "create_model_fast", model_name="face 2", video_url=media.url("talk5.mp4")), 429,
                 "1 avatar models")
    assert services.catalog.count_voices(owner_of(services)) == 2


# 7. Smaller holes ---------------------------------------------------------------------------------

def test_invalid_utf8_and_deep_nesting_say_what_is_wrong(client):
    headers = {"Content-Type": "application/json"}
    assert_error(client.post("/avatar/generation", content=b'{"avatar_url": "\xff\xfe"}', headers=headers), 400,
                 "not valid UTF-8 JSON")
    assert_error(client.post("/avatar/generation", content=b"[" * 100_000, headers=headers), 400,
                 "nested too deeply")


def test_files_take_head_and_ignore_a_malformed_range(client, bare, media):
    data = (media.root / "speech.wav").read_bytes()
    url = assert_ok(client.post("/v1/files", files={"file": ("s.wav", data, "audio/wav")}))["url"]
    path = url.removeprefix("http://testserver")
    for bad in ("bytes=abc", "lines=1-2", "bytes=5-1"):
        response = bare.get(path, headers={"Range": bad})
        assert response.status_code == 200 and response.content == data, (bad, response.status_code)
    head = bare.head(path)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    assert bare.get(path, headers={"Range": "bytes=0-9"}).status_code == 206


def test_echoed_ids_are_cut_short(client):
    long_id = "z" * 10_000
    msg = assert_error(client.get(f"/v1/tasks/{long_id}"), 404)
    assert len(msg) < 300 and "z" * 64 + "…" in msg
    msg = assert_error(act(client, "create_audio", task_text="hi", people_id=long_id), 400)
    assert len(msg) < 400 and "z" * 65 not in msg


def test_metrics_show_a_tenant_only_its_own_tasks(client, services, media):
    tenant = services.keys.create("tenant")
    assert_ok(client.post("/avatar/generation", json={"avatar_url": media.url("face.png"),
                                                      "audio_url": media.url("speech.wav")}))
    mine = client.get("/metrics", headers={"Authorization": f"Bearer {tenant}"}).text
    assert 'digihuman_tasks{kind="avatar.generate"' not in mine
    assert "digihuman_http_requests_total" in mine
    operator = client.get("/metrics").text
    assert 'digihuman_tasks{kind="avatar.generate",status="queued"} 1.0' in operator
    tenant_client = TestClient(client.app, headers={"Authorization": f"Bearer {tenant}"})
    tenant_client.post("/agent_api.php", data={"act": "create_audio", "task_text": "hi", "people_id": "fake-en"})
    mine = tenant_client.get("/metrics").text
    assert 'digihuman_tasks{kind="voice.say",status="queued"} 1.0' in mine
    assert 'kind="avatar.generate"' not in mine


def test_an_unknown_rewrite_style_is_refused_at_submit(client, services, media):
    assert_error(client.post("/generate_video", json={"video_url": media.url("clip.mp4"), "voice": "fake-en",
                                                      "rewrite": "pirate"}), 400, "unknown rewrite style",
                 "'pirate'", "xiaohongshu")
    assert services.tasks.queued_ids() == []


LLAMA_OVER_CONTEXT = ('the chat backend refused the request: {"error":{"code":400,"message":"the request exceeds the '
                      'available context size, try increasing it","type":"exceed_context_size_error",'
                      '"n_prompt_tokens":5210,"n_ctx":4096}}')


@pytest.mark.parametrize("stream", [False, True])
def test_over_context_chat_errors_are_a_sentence(client, services, monkeypatch, stream):
    from digihuman.errors import InvalidInput

    def refuse(request):  # type: ignore[no-untyped-def]
        raise InvalidInput(LLAMA_OVER_CONTEXT)  # what OpenAIChat raises for llama-server's 400

    def refuse_stream(request):  # type: ignore[no-untyped-def]
        refuse(request)
        yield ""

    monkeypatch.setattr(services.engines.chat, "complete", refuse)
    monkeypatch.setattr(services.engines.chat, "stream", refuse_stream)
    response = client.post("/v1/chat/completions", json={"model": "fake-rewrite", "stream": stream,
                                                          "messages": [{"role": "user", "content": "x " * 6000}]})
    msg = assert_error(response, 400, "longer than the model's context of 4096 tokens", "shorten them")
    assert "{" not in msg and response.json()["error"]["message"] == msg
