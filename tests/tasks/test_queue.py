"""The queue: JSON-only messages, persistence on SQLite and Redis."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from huey.registry import Message

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
