"""A trained avatar's render reads the speech's encoder states while the timeline is built, and runs
the encoder once; plan_render alone (the live path) still computes them itself."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from digihuman.render import content
from digihuman.render.avatar import AvatarModel
from digihuman.render.base import RenderOptions
from digihuman.render.engine import SampleTalkingHead
from digihuman.speech.align import mouth_track
from digihuman.speech.align.features import RATE
from digihuman.speech.utterance import Speech
from digihuman.timeline import Timeline


class Encoder:
    """content_states stand-in: counts its runs; with a barrier, each run waits for the timeline."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.barrier = barrier
        self.runs = 0

    def __call__(self, samples: np.ndarray, encoder: str = content.ENCODER) -> np.ndarray:
        self.runs += 1
        if self.barrier is not None:
            self.barrier.wait()
        return np.full((len(samples) // 320, 384), 0.5, np.float32)  # one row per 20 ms, tiny.en's width


def test_the_states_are_read_while_the_timeline_is_built_and_only_once(
        model: AvatarModel, speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert model.mapping.content == content.ENCODER  # the test model reads what is said
    both = threading.Barrier(2, timeout=30)  # broken unless the encoder and the timeline run at once
    encoder = Encoder(both)
    monkeypatch.setattr(content, "content_states", encoder)

    class Head(SampleTalkingHead):
        def timeline(self, speech: Speech) -> Timeline:
            both.wait()
            return Timeline(speech.duration, "en", method="silence")

    result = Head().render(model.folder, Speech.from_file(speech), tmp_path, RenderOptions(),
                           lambda percent, stage: None)
    assert result.video.is_file()
    assert encoder.runs == 1


def test_plan_render_uses_the_states_given_or_computes_them_itself(
        model: AvatarModel, speech: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digihuman.render.video import plan_render, speech_content

    encoder = Encoder()
    monkeypatch.setattr(content, "content_states", encoder)
    sound = Speech.from_file(speech)
    timeline = Timeline(sound.duration, "en", method="silence")
    mouth = mouth_track(timeline, model.fps)
    started = speech_content(model, sound)
    assert started is not None
    given = plan_render(model, sound.at(RATE), timeline, mouth, content=started)
    assert encoder.runs == 1
    alone = plan_render(model, sound.at(RATE), timeline, mouth)  # as a live stream plans
    assert encoder.runs == 2
    np.testing.assert_array_equal(given.targets, alone.targets)
