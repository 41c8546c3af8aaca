"""The speech routes end to end with the real engines: stock voices, /v1/tts, create_audio."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from digihuman.engines import build_engines
from digihuman.media.probe import probe
from digihuman.services import Services
from digihuman.speech.asr.scoring import error_rate
from tests.conftest import make_settings


def test_voice_catalogue_lists_english_and_mandarin(real: tuple[TestClient, Services, Path]) -> None:
    client, _, _ = real
    voices = {v["id"]: v for v in client.get("/v1/voices").json()["data"]["voices"]}
    assert voices["en-joe"]["language"] == "en-US" and voices["zh-baker"]["language"] == "zh-CN"
    assert any(v.startswith("espeak-") for v in voices)


def test_tts_speaks_english_that_recognition_reads_back(real: tuple[TestClient, Services, Path], tmp_path: Path) -> None:
    client, services, _ = real
    text = "The meeting starts at ten thirty in room twelve."
    answer = client.post("/v1/tts", json={"text": text, "reference_id": "en-joe", "format": "wav"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    path = tmp_path / "en.wav"
    path.write_bytes(answer.content)
    info = probe(path)
    assert 2.0 < info.duration_s < 6.0
    heard = services.engines.require_asr().transcribe(path, "en").text
    assert error_rate(text, heard, "en").rate <= 0.2, heard


def test_tts_speaks_mandarin_as_mp3(real: tuple[TestClient, Services, Path], tmp_path: Path) -> None:
    client, _, _ = real
    answer = client.post("/v1/tts", json={"text": "今天是二零二四年三月五日。", "reference_id": "zh-baker",
                                          "format": "mp3", "sample_rate": 16000})
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
    path = tmp_path / "zh.mp3"
    path.write_bytes(answer.content)
    info = probe(path)
    assert info.sample_rate == 16000 and 1.5 < info.duration_s < 6.0


def test_unknown_voice_lists_the_real_ones(real: tuple[TestClient, Services, Path]) -> None:
    client, _, _ = real
    answer = client.post("/v1/tts", json={"text": "hello", "reference_id": "nobody"})
    assert answer.status_code == 400 and "en-joe" in answer.json()["msg"]


def test_create_audio_with_a_stock_voice(real: tuple[TestClient, Services, Path], tmp_path: Path) -> None:
    from digihuman.tasks.worker import Worker

    client, services, _ = real
    created = client.post("/agent_api.php", data={"act": "create_audio", "task_text": "Hello from the server.",
                                                  "people_id": "en-joe"})
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    Worker(services).run(task_id)
    status = client.post("/agent_api.php", data={"act": "chk_audio", "task_id": task_id}).json()["data"]
    assert status["zstatus"] == 3, status
    audio = client.get(status["audio_url"].removeprefix("http://testserver"))
    path = tmp_path / "said.wav"
    path.write_bytes(audio.content)
    assert probe(path).duration_s > 0.8


def test_engines_are_built_once_and_lazily() -> None:
    engines = build_engines(make_settings(Path("/tmp/unused"), engine_factory=None))
    assert engines.tts is not None and engines.asr is not None


def test_voice_sample_is_made_once_and_served(real: tuple[TestClient, Services, Path], tmp_path: Path) -> None:
    client, services, _ = real
    listed = {v["id"]: v for v in client.get("/v1/voices").json()["data"]["voices"]}
    url = listed["zh-baker"]["sample_url"].removeprefix("http://testserver")
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/mpeg"
    (tmp_path / "s.mp3").write_bytes(first.content)
    assert probe(tmp_path / "s.mp3").duration_s > 2.0
    assert services.storage.exists("voices/samples/zh-baker.mp3")
    assert client.get(url).content == first.content
    assert client.get("/v1/voices/nobody/sample").status_code == 404
