"""digihuman.client against a real server (uvicorn in a thread, fake engines, a worker thread): sync and
async clients, the progress bar fed by the event stream or by polling, failures, and the CLI's --server."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from digihuman.api.routes import tasks as task_routes
from digihuman.cli import main
from digihuman.client import AsyncClient, Client, ClientError, TaskCancelled, TaskFailed
from digihuman.errors import InvalidInput
from digihuman.media.probe import probe
from tests.api.exchange import make_black_png
from tests.conftest import API_KEY, make_settings
from tests.mediagen import make_png, make_video, make_wav
from tests.support.live_server import LiveServer, live_server


@pytest.fixture(autouse=True)
def quick_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_routes, "EVENT_POLL_S", 0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(lambda url: make_settings(tmp_path / "data", public_url=url)) as s:
        yield s


@pytest.fixture
def old_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without the event stream, as before it existed: its path leads nowhere."""
    def without_events(app: ASGIApp) -> ASGIApp:
        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/events"):
                scope = {**scope, "path": scope["path"] + "-unknown"}
            await app(scope, receive, send)

        return serve

    with live_server(lambda url: make_settings(tmp_path / "old", public_url=url), wrap=without_events) as s:
        yield s


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {"face": make_png(tmp_path / "face.png"), "speech": make_wav(tmp_path / "speech.wav", seconds=1.0),
            "voice": make_wav(tmp_path / "voice.wav", seconds=3.0, freq=150.0),
            "talk": make_video(tmp_path / "talk.mp4", seconds=4.0), "black": make_black_png(tmp_path / "black.png")}


def is_mp4(path: Path, seconds: float | None = None) -> bool:
    info = probe(path)
    return info.kind == "video" and (seconds is None or abs((info.duration_s or 0) - seconds) < 0.3)


def test_sync_video_with_a_progress_bar_fed_by_events(server, media, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIGIHUMAN_FAKE_DELAY_S", "1.5")  # long enough for several progress events
    bar = io.StringIO()
    with Client(server.url, API_KEY) as dh:
        task_id = dh.generate_video(media["face"], media["speech"], name="hello")
        task = dh.wait(task_id, file=bar)
        assert (task["id"], task["status"], task["name"]) == (task_id, "succeeded", "hello")
        assert dh.last_watch.via == "events"
        stages = [stage for _, stage in dh.last_watch.seen]
        assert "rendering" in stages and stages[-1] == "done"
        percents = [p for p, _ in dh.last_watch.seen]
        assert percents == sorted(percents) and len(set(percents)) >= 3
        assert "rendering" in bar.getvalue() and "100%" in bar.getvalue()
        out = dh.download(task["outputs"]["video"], tmp_path / "out.mp4")
    assert is_mp4(out, 1.0)


def test_polling_feeds_the_bar_where_the_server_has_no_events(old_server, media, monkeypatch) -> None:
    monkeypatch.setenv("DIGIHUMAN_FAKE_DELAY_S", "1.0")
    bar = io.StringIO()
    with Client(old_server.url, API_KEY) as dh:
        task = dh.wait(dh.generate_video(media["face"], media["speech"]), file=bar, poll_s=0.1)
        assert task["status"] == "succeeded" and dh.last_watch.via == "polling"
        assert any(stage == "rendering" for _, stage in dh.last_watch.seen)
    assert "rendering" in bar.getvalue()


def test_async_client_runs_the_same_jobs(server, media, tmp_path) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, API_KEY) as dh:
            url = await dh.upload(media["face"])
            assert url.startswith(server.url + "/files/uploads/")
            task = await dh.wait(await dh.generate_video(url, text="Hello there.", voice="fake-en"), progress=False)
            assert dh.last_watch.via == "events"
            assert is_mp4(await dh.download(task["outputs"]["video"], tmp_path / "a.mp4"))
            speech = await dh.tts("Hello there. Second sentence.", tmp_path / "s.wav", voice="fake-en")
            assert probe(speech).kind == "audio"
            assert await dh.chat("one two three", "fake-rewrite") == "three two one"
            with pytest.raises(ClientError, match="unknown model 'rewrite-formal'"):
                await dh.rewrite("one two three", "formal")  # this server's chat offers no presets
            with pytest.raises(TaskFailed, match="no face"):
                await dh.wait(await dh.generate_video(media["black"], media["speech"]), progress=False)

    asyncio.run(scenario())


def test_every_job_through_the_sync_client(server, media, tmp_path) -> None:
    with Client(server.url, API_KEY) as dh:
        v2 = dh.wait(dh.generate_video_v2(media["talk"], media["speech"]), progress=False)
        assert v2["kind"] == "avatar.v2" and is_mp4(dh.download(v2["outputs"]["video"], tmp_path / "v2.mp4"))
        avatar = dh.train_avatar(media["talk"], "anna")
        assert avatar["model_name"] == "anna" and avatar["warning"]  # 4 s: usable, shorter than advised
        dh.wait(avatar["task_id"], progress=False)
        fast = dh.wait(dh.render_fast(avatar["model_id"], media["speech"]), progress=False)
        assert is_mp4(dh.download(fast["outputs"]["video"], tmp_path / "fast.mp4"))
        voice = dh.clone_voice([media["voice"]], "me", texts=["hello from me"])
        dh.wait(voice["task_id"], progress=False)
        assert dh.voice_model(voice["_id"])["state"] == "trained"
        cloned = dh.wait(dh.generate_video(media["face"], text="In my voice.", voice=voice["_id"]), progress=False)
        assert cloned["status"] == "succeeded"
        remixed = dh.wait(dh.remix(media["talk"], script="New words.", captions=["{big} news"],
                                   transforms={"mirror": True}, music=media["speech"]), progress=False)
        assert is_mp4(dh.download(remixed["outputs"]["video"], tmp_path / "remix.mp4"))
        assert dh.webhook_secret().startswith("whsec_")


def test_failures_are_clear_exceptions(server, media, monkeypatch) -> None:
    with Client(server.url, API_KEY) as dh:
        with pytest.raises(ClientError, match="does not exist") as missing:
            dh.wait("nope", progress=False)
        assert missing.value.status == 404
        with pytest.raises(InvalidInput, match="neither a file nor"):
            dh.generate_video("no/such/face.png", media["speech"])
        monkeypatch.setenv("DIGIHUMAN_FAKE_DELAY_S", "3")
        task_id = dh.generate_video(media["face"], media["speech"])
        dh.cancel(task_id)
        with pytest.raises(TaskCancelled, match="cancelled") as cancelled:
            dh.wait(task_id, progress=False)
        assert cancelled.value.task["status"] == "cancelled"
    with Client(server.url, "wrong-key") as wrong, pytest.raises(ClientError, match="invalid API key") as denied:
        wrong.upload(media["face"])
    assert denied.value.status == 401
    monkeypatch.delenv("DIGIHUMAN_API_KEY", raising=False)
    with pytest.raises(InvalidInput, match="DIGIHUMAN_API_KEY"):
        Client(server.url)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    """What the command printed: its JSON (or {"out": the line}), and {"err": stderr}."""
    with pytest.raises(SystemExit) as ended:
        main(list(argv))
    captured = capsys.readouterr()
    assert ended.value.code == 0, captured.err
    out = json.loads(captured.out) if captured.out.lstrip().startswith("{") else {"out": captured.out.strip()}
    return {**out, "err": captured.err}


def test_cli_drives_a_remote_server(server, media, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DIGIHUMAN_API_KEY", API_KEY)
    remote = ("--server", server.url)
    rendered = cli(capsys, "render", "--avatar", str(media["face"]), "--audio", str(media["speech"]),
                   "--out", str(tmp_path / "r.mp4"), *remote)
    assert is_mp4(Path(rendered["video"]), 1.0) and Path(rendered["preview"]).stat().st_size > 0
    assert server.services.tasks.get(rendered["task_id"]).status.value == "succeeded"
    spoken = cli(capsys, "tts", "--text", "Hello there.", "--voice", "fake-en", "--out", str(tmp_path / "t.wav"),
                 *remote, "--key", API_KEY)
    assert probe(Path(spoken["out"])).kind == "audio"
    voice = cli(capsys, "voice", "create", str(media["voice"]), "--title", "remote me", *remote)
    assert (voice["title"], voice["state"]) == ("remote me", "trained")
    remixed = cli(capsys, "remix", str(media["talk"]), "--out", str(tmp_path / "m.mp4"), "--script", "Hi.",
                  "--voice", voice["model_id"], "--progress", *remote)
    assert is_mp4(Path(remixed["video"])) and "100%" in remixed["err"]  # --progress: the bar on stderr


def test_cli_reports_a_failed_remote_task(server, media, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DIGIHUMAN_API_KEY", API_KEY)
    with pytest.raises(SystemExit) as ended:
        main(["render", "--avatar", str(media["black"]), "--audio", str(media["speech"]),
              "--out", str(tmp_path / "r.mp4"), "--server", server.url])
    assert ended.value.code == 2
    assert "failed" in capsys.readouterr().err and not (tmp_path / "r.mp4").exists()
