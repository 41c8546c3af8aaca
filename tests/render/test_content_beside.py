"""A trained avatar's render reads the speech's encoder states once and only the speech's pauses (no
words: its mapping reads the sound itself), unless its mapping reads phones; plan_render alone (the
live path) still computes the states itself."""

from __future__ import annotations

import shutil
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
    """content_states stand-in: counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, samples: np.ndarray, encoder: str = content.ENCODER) -> np.ndarray:
        self.runs += 1
        return np.full((len(samples) // 320, 384), 0.5, np.float32)  # one row per 20 ms, tiny.en's width


class WordsForbidden(SampleTalkingHead):
    """A head whose recogniser must not be asked: its timeline (words and phones) fails the test."""

    def timeline(self, speech: Speech) -> Timeline:
        raise AssertionError("the speech's words were asked for")


def test_a_trained_avatar_reads_the_states_once_and_never_the_words(
        model: AvatarModel, speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert model.mapping.content == content.ENCODER and not model.mapping.reads_timeline
    encoder = Encoder()
    monkeypatch.setattr(content, "content_states", encoder)
    result = WordsForbidden().render(model.folder, Speech.from_file(speech), tmp_path, RenderOptions(),
                                     lambda percent, stage: None)
    assert result.video.is_file()
    assert encoder.runs == 1


def test_a_mapping_that_reads_phones_still_gets_the_words(
        model: AvatarModel, speech: Path, tmp_path: Path) -> None:
    from digihuman.render.mapping import feature_width, prior_mapping

    folder = tmp_path / "model"
    shutil.copytree(model.folder, folder)
    prior_mapping(feature_width(0)).save(folder / "mapping.npz")  # the generic mapping: phones in
    assert AvatarModel.load(folder).mapping.reads_timeline
    asked: list[float] = []

    class Head(SampleTalkingHead):
        def timeline(self, speech: Speech) -> Timeline:
            asked.append(speech.duration)
            return super().timeline(speech)

    result = Head().render(folder, Speech.from_file(speech), tmp_path / "out", RenderOptions(),
                           lambda percent, stage: None)
    assert result.video.is_file() and len(asked) == 1


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
