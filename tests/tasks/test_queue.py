"""The queue: JSON-only messages, persistence on SQLite and Redis."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from huey.registry import Message

from digihuman.errors import InvalidInput
from digihuman.tasks.kinds import GROUPS, KIND_GROUPS, parse_groups
from digihuman.tasks.payloads import AVATAR_GENERATE, VOICE_SAY, VOICE_TRAIN
from digihuman.tasks.queue import JsonSerializer, TaskQueue
from tests.conftest import make_settings


def test_messages_are_json_not_pickle() -> None:
    serializer = JsonSerializer()
    message = Message("id1", "digihuman.run", dt.datetime(2026, 1, 2, 3, 4, 5), 0, 0, None, ("task-1",), {},
                      None, None, None, None, 30.0, None, None)
    raw = serializer.serialize(message)
    assert json.loads(raw)["$msg"][6] == ["task-1"]  # readable JSON
    back = serializer.deserialize(raw)
    assert isinstance(back, Message) and back.eta == message.eta and list(back.args) == ["task-1"]
    with pytest.raises(TypeError, match="plain data"):
        serializer.serialize({"obj": object()})


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_submitted_tasks_survive_a_new_queue_object(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    overrides = {"redis_url": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    settings = make_settings(tmp_path / "d", **overrides)
    TaskQueue(settings).submit("t1", 60)
    TaskQueue(settings).submit("t2", 60)
    # A restarted server builds a fresh queue object: the messages are still there, in order.
    reopened = TaskQueue(settings)
    assert reopened.depth() == 2
    first = reopened.huey.dequeue()
    assert list(first.args) == ["t1"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_each_group_has_its_queue_and_a_worker_reads_only_its_own(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    overrides = {"redis_url": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    settings = make_settings(tmp_path / "d", **overrides)
    api = TaskQueue(settings)  # the API server: submits to every group
    api.submit("render-1", 60, AVATAR_GENERATE)
    api.submit("speech-1", 60, VOICE_SAY)
    api.submit("voice-1", 60, VOICE_TRAIN)
    assert api.depths() == {"common": 0, "render": 1, "speech": 1, "voice": 1, "chat": 0, "remix": 0}

    speech = TaskQueue(settings, groups=("speech", "voice"))
    taken = {list(m.args)[0] for m in iter(speech.huey.dequeue, None)}
    assert taken == {"speech-1", "voice-1"}
    # Nobody serves render here: its task waits, counted, not lost.
    assert api.depth() == 1 and api.depths()["render"] == 1
    render = TaskQueue(settings, groups=("render",))
    assert list(render.huey.dequeue().args) == ["render-1"]
    assert render.huey.dequeue() is None


def test_groups_alternate_so_a_busy_one_cannot_starve_another(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d")
    queue = TaskQueue(settings)
    for i in range(3):
        queue.submit(f"r{i}", 60, AVATAR_GENERATE)
    queue.submit("s0", 60, VOICE_SAY)
    order = [list(m.args)[0] for m in iter(queue.huey.dequeue, None)]
    assert order.index("s0") <= 1 and order.count("r0") == 1 and len(order) == 4


def test_every_task_kind_has_a_group() -> None:
    from digihuman.tasks.jobs import JOBS

    assert set(JOBS) == set(KIND_GROUPS)
    assert set(KIND_GROUPS.values()) <= set(GROUPS)
    assert parse_groups("") == GROUPS and parse_groups("speech, render") == ("render", "speech")
    with pytest.raises(InvalidInput, match="unknown worker kinds tts"):
        parse_groups("render,tts")
