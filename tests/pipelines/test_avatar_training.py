"""A video avatar's first render: the speech's timeline is made while the avatar trains."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from digihuman.pipelines.avatar import train_beside_timeline
from digihuman.speech.utterance import Speech
from digihuman.timeline import Timeline
from digihuman.timings import StageTimings


class TimingHead:
    """A talking head whose training and timeline each wait for the other to have started."""

    def __init__(self, fail: bool = False) -> None:
        self.both = threading.Barrier(2, timeout=10)  # broken unless both run at once
        self.fail = fail
        self.calls: list[str] = []

    def train(self, video: Path, model_dir: Path, progress: object) -> None:
        self.calls.append("train")
        self.both.wait()
        if self.fail:
            raise RuntimeError("training failed")

    def timeline(self, speech: Speech) -> Timeline:
        self.calls.append("timeline")
        self.both.wait()
        return Timeline(speech.duration, "en", method="silence")


def _context(timings: StageTimings) -> SimpleNamespace:
    return SimpleNamespace(stage=timings.stage, progress=lambda percent, stage: None)


def test_the_timeline_is_made_while_the_avatar_trains(tmp_path: Path) -> None:
    head, timings = TimingHead(), StageTimings()
    speech = Speech(np.zeros(16000, np.float32), 16000)
    out = train_beside_timeline(_context(timings), head, tmp_path / "v.mp4", tmp_path, speech)
    assert out.timeline is not None and out.timeline.duration == pytest.approx(1.0)
    assert sorted(head.calls) == ["timeline", "train"]  # each once, at the same time (the barrier)
    assert set(timings.as_dict()) == {"training", "speech analysis"}
    assert out.samples is speech.samples


def test_a_known_timeline_is_kept_and_training_runs_alone(tmp_path: Path) -> None:
    known = Timeline(1.0, "en", method="tts")
    speech = Speech(np.zeros(16000, np.float32), 16000, timeline=known)

    class Head:
        def train(self, video: Path, model_dir: Path, progress: object) -> None:
            pass

        def timeline(self, speech: Speech) -> Timeline:
            raise AssertionError("the speech's own timeline is used")

    out = train_beside_timeline(_context(StageTimings()), Head(), tmp_path / "v.mp4", tmp_path, speech)
    assert out.timeline is known


def test_a_failed_training_fails_after_the_timeline_thread_ends(tmp_path: Path) -> None:
    head = TimingHead(fail=True)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="training failed"):
        train_beside_timeline(_context(StageTimings()), head, tmp_path / "v.mp4", tmp_path,
                              Speech(np.zeros(16000, np.float32), 16000))
    assert threading.active_count() == before  # no thread outlives the task
