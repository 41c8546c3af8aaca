"""The background clip copied from the training video's own packets: the renders read the very
pictures the training saw, forwards and backwards, and the clip is encoded when it cannot be copied."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from digihuman.render.avatar import AvatarModel, train_avatar
from digihuman.render.background import PacketSource, copy_window
from digihuman.render.clip import ClipReader, ping_pong, read_plan


def decoded(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def write_gop_video(path: Path, frames: int, keyint: int, bframes: int, pix_fmt: str = "yuv420p") -> Path:
    """A 96x64 H.264 video whose every frame differs (a moving gradient), keyframe every
    ``keyint`` frames, with ``bframes`` B-frames between references."""
    import av

    y, x = np.mgrid[0:64, 0:96]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, pix_fmt
        stream.options = {"g": str(keyint), "keyint_min": str(keyint), "bf": str(bframes),
                          "sc_threshold": "0", "crf": "20"}
        for i in range(frames):
            rgb = np.stack([(x * 2 + i * 5) % 256, (y * 3 + i * 7) % 256, (x + y + i * 11) % 256], axis=2)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def read_in_plan(path: Path, plan: np.ndarray, chunk: int | None = None) -> list[np.ndarray]:
    reader = ClipReader(path)
    if chunk is not None:
        reader._chunk = chunk  # a GOP longer than a backward run holds: decoded again per chunk
    try:
        return list(read_plan(reader, plan, "yuv420p"))
    finally:
        reader.close()


def test_short_video_background_is_its_packets(clip: Path, model: AvatarModel) -> None:
    """A video all background is copied: the clip decodes to the source's own frames, in ping-pong
    order too (backwards from the last frame across the clip's one long GOP)."""
    start, frames = model.background
    assert model.manifest["background"]["copied"] is True
    assert (start, frames) == (0, model.manifest["frames"])
    source = decoded(clip)
    clip_frames = decoded(model.folder / "background.mp4")
    assert len(clip_frames) == frames == len(source)
    assert all(np.array_equal(a, b) for a, b in zip(clip_frames, source))
    plan = ping_pong(frames, 2 * frames + 3)  # forwards, backwards, forwards past the turn at 0
    played = read_in_plan(model.folder / "background.mp4", plan)
    assert len(played) == len(plan)
    assert all(np.array_equal(got, source[i]) for got, i in zip(played, plan))


@pytest.mark.parametrize("bframes", [0, 2])
def test_window_at_a_keyframe_is_copied_and_plays_backwards(tmp_path: Path, bframes: int) -> None:
    video = write_gop_video(tmp_path / "v.mp4", 100, 30, bframes)
    source = decoded(video)
    clip = tmp_path / "bg.mp4"
    assert copy_window(video, clip, 30, 45)  # 30..74: one whole GOP and half the next
    assert len(decoded(clip)) == 45
    plan = ping_pong(45, 150)
    for chunk in (None, 7):  # the GOP held whole, or in chunks decoded again from its keyframe
        played = read_in_plan(clip, plan, chunk)
        assert len(played) == len(plan)
        assert all(np.array_equal(got, source[30 + i]) for got, i in zip(played, plan))


def test_windows_that_cannot_be_copied(tmp_path: Path) -> None:
    video = write_gop_video(tmp_path / "v.mp4", 100, 30, 2)
    packets = PacketSource.open(video)
    assert packets is not None and packets.index.keyframes.tolist() == [0, 30, 60, 90]
    assert not packets.copyable(31, 40)  # not at a keyframe
    assert not packets.copyable(30, 80)  # past the end
    assert packets.copyable(0, 100) and packets.copyable(60, 40)
    assert not (tmp_path / "no.mp4").exists() and not packets.copy(tmp_path / "no.mp4", 10, 20)
    # full-range YUV: the render would hand the encoder planes of another range
    assert PacketSource.open(write_gop_video(tmp_path / "j.mp4", 20, 10, 0, "yuvj420p")) is None


def test_background_is_encoded_when_it_cannot_be_copied(clip: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import digihuman.render.background as background

    monkeypatch.setattr(background, "COPYABLE_CODECS", ())
    train_avatar(clip, tmp_path)
    model = AvatarModel.load(tmp_path)
    assert model.manifest["background"]["copied"] is False
    source, clip_frames = decoded(clip), decoded(tmp_path / "background.mp4")
    assert len(clip_frames) == model.background[1] == len(source)
    assert min(psnr(a, b) for a, b in zip(clip_frames, source)) > 40


def test_render_from_a_copied_background(model: AvatarModel, tmp_path: Path) -> None:
    """A render longer than the window plays it back and forth; away from the face every frame is
    the training video's frame at that point of the plan (less only the render's own encoding)."""
    from digihuman.render.base import RenderOptions
    from digihuman.render.video import render_model
    from tests.render.conftest import write_speech

    speech = write_speech(tmp_path / "speech.wav", 3.5, 1.5)  # longer than the 3.5 s window
    result = render_model(model.folder, speech, tmp_path / "out", RenderOptions())
    rendered = decoded(result.video)
    fps, frames = model.fps, model.background[1]
    assert len(rendered) == round(result.duration_s * fps)
    assert len(rendered) > frames  # the plan turned around at the end of the window
    source = decoded(model.folder / "background.mp4")
    plan = ping_pong(frames, len(rendered))
    height = rendered[0].shape[0] * 2 // 3
    top = slice(0, height // 4)  # above the face: the background only
    assert min(psnr(r[top], source[i][top]) for r, i in zip(rendered, plan)) > 35
