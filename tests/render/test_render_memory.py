"""A render's memory stays flat with the speech's length: what planning needed (the speech's encoder
states, 46 MB per 10 minutes) is let go before the frame loop, which keeps only a few frames."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest

from digihuman.render import content, video
from digihuman.render.avatar import AvatarModel
from digihuman.render.base import RenderOptions
from digihuman.render.engine import SampleTalkingHead
from digihuman.speech.utterance import Speech


def test_the_encoder_states_are_let_go_before_the_frames_are_written(
        model: AvatarModel, speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[np.ndarray]] = []

    def states(samples: np.ndarray, encoder: str = content.ENCODER) -> np.ndarray:
        out = np.full((len(samples) // 320, 384), 0.5, np.float32)  # one row per 20 ms, tiny.en's width
        made.append(weakref.ref(out))
        return out

    held_while_writing: list[bool] = []
    write_render = video.write_render

    def watched(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - write_render's own
        gc.collect()
        held_while_writing.append(any(ref() is not None for ref in made))
        return write_render(*args, **kwargs)

    monkeypatch.setattr(content, "content_states", states)
    monkeypatch.setattr(video, "write_render", watched)
    result = SampleTalkingHead().render(model.folder, Speech.from_file(speech), tmp_path, RenderOptions(),
                                        lambda percent, stage: None)
    assert result.video.is_file()
    assert len(made) == 1 and held_while_writing == [False]
