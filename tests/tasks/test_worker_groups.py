"""Workers split by group: each builds only its own engines and never runs another group's tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from digihuman.services import Services
from digihuman.tasks.payloads import AVATAR_GENERATE, VOICE_SAY, VoiceSayPayload
from digihuman.tasks.worker import Worker
from tests.conftest import make_settings

# Modules that only other groups' engines import (the protocols in */base.py are light and shared).
RENDER_MODULES = ("digihuman.render.engine", "mediapipe")
CHAT_MODULES = ("digihuman.text.llamacpp", "digihuman.text.router")
REMIX_MODULES = ("digihuman.remix.engine",)


def _in_fresh_process(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a new interpreter (this one has imported everything) and return its JSON line."""
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from digihuman.config import Settings
        from digihuman.services import Services
        from digihuman.tasks.worker import Worker
        settings = Settings(data_dir=Path(sys.argv[1]), public_url="http://x", api_keys=["k"])
        """) + textwrap.dedent(code) + textwrap.dedent("""
        out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("digihuman", "mediapipe"))
        print(json.dumps(out))
        """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_speech_worker_runs_its_task_without_loading_render_chat_or_remix(tmp_path: Path) -> None:
    out = _in_fresh_process("""
        from digihuman.tasks.payloads import VoiceSayPayload
        services = Services(settings, groups=("speech",))
        task = services.tasks.create("voice.say", VoiceSayPayload(voice_id="en-joe", text="Hi.").to_json(),
                                     owner=None, timeout_s=120, max_attempts=1)
        Worker(services).run(task.id)
        done = services.tasks.get(task.id)
        e = services.engines
        out = {"status": done.status, "built": [f for f in ("tts", "asr", "voice_cloner", "talking_head", "chat",
                                                          "remixer") if getattr(e, f) is not None]}
        """, tmp_path)
    assert out["status"] == "succeeded"
    assert "tts" in out["built"] and not {"talking_head", "chat", "remixer"} & set(out["built"])
    loaded = set(out["modules"])
    assert not loaded & {*RENDER_MODULES, *CHAT_MODULES, *REMIX_MODULES}, loaded


def test_a_render_worker_builds_no_chat_or_remix_engine(tmp_path: Path) -> None:
    out = _in_fresh_process("""
        e = Services(settings, groups=("render",)).engines
        out = {"chat": e.chat is None, "remixer": e.remixer is None, "head": e.talking_head is not None}
        """, tmp_path)
    assert out == {"chat": True, "remixer": True, "head": True, "modules": out["modules"]}
    assert not set(out["modules"]) & {*CHAT_MODULES, *REMIX_MODULES}


def test_a_task_from_the_common_queue_is_sent_on_to_its_group(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    api = Services(settings)
    task = api.tasks.create(AVATAR_GENERATE, {}, owner=None, timeout_s=60, max_attempts=1)
    api.queue.submit(task.id, 60)  # no kind: as queued by a version without groups
    speech = Services(settings, groups=("speech",))
    message = speech.queue.huey.dequeue()
    Worker(speech).run(*message.args)
    # Not claimed by the speech worker: still queued, now on the render queue, for a render worker.
    assert api.tasks.get(task.id).status == "queued" and api.tasks.get(task.id).attempts == 0
    assert api.queue.depths()["render"] == 1 and api.queue.depths()["common"] == 0


def test_an_unserved_group_leaves_its_tasks_pending(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    api = Services(settings)
    say = api.tasks.create(VOICE_SAY, VoiceSayPayload(voice_id="en-joe", text="Hi.").to_json(), owner=None,
                           timeout_s=60, max_attempts=1)
    api.queue.submit(say.id, 60, VOICE_SAY)
    render_only = Services(settings, groups=("render",))
    assert render_only.queue.huey.dequeue() is None
    assert api.tasks.get(say.id).status == "queued" and api.queue.depth() == 1


def test_an_unknown_kind_stops_the_worker_with_one_sentence(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "digihuman", "worker", "--kinds", "render,tts", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 2
    assert "unknown worker kinds tts; choose from render, speech, voice, chat, remix." in done.stderr


def test_serve_checks_its_kinds_before_starting() -> None:
    done = subprocess.run([sys.executable, "-m", "digihuman", "serve", "--kinds", "renders", "--port", "1"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 2
    assert "unknown worker kinds renders; choose from render, speech, voice, chat, remix." in done.stderr


def test_the_embedded_worker_of_serve_runs_only_the_kinds_asked_for() -> None:
    from digihuman.tasks.supervisor import WorkerSupervisor

    assert WorkerSupervisor(2, {}, "render,speech").command[-4:] == ["--workers", "2", "--kinds", "render,speech"]
    assert "--kinds" not in WorkerSupervisor(1, {}).command
