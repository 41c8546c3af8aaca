"""probe() tells images, videos and audio apart, and refuses what is not media; require() words mismatches."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from digihuman.errors import MediaRejected
from digihuman.media.probe import MediaInfo, probe, require
from tests.mediagen import make_gif, make_jpeg, make_png, make_text, make_video, make_wav
from tests.shared_media import shared as _shared

UNREADABLE = "not an audio, video or image file that can be read"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "video": make_video(d / "v.mp4"),
        "mute": make_video(d / "mute.mp4", with_audio=False, size=(80, 48), fps=25),
        "wav": make_wav(d / "a.wav"),
        "png": make_png(d / "i.png", size=(48, 32)),
        "jpeg": make_jpeg(d / "i.jpg"),
        "gif": make_gif(d / "anim.gif", frames=5),
        "still_gif": make_gif(d / "still.gif", frames=1),
    }


@pytest.fixture(scope="module")
def infos(media) -> dict[str, MediaInfo]:
    return {name: probe(path) for name, path in media.items()}


def test_video_with_audio(infos):
    info = infos["video"]
    assert (info.kind, info.extension, info.format_name) == ("video", "mp4", "mov,mp4,m4a,3gp,3g2,mj2")
    assert (info.width, info.height, info.fps) == (64, 64, 10.0)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.sample_rate, info.channels) == (16000, 1)
    assert info.has_video and info.has_audio


def test_video_without_audio(infos):
    info = infos["mute"]
    assert (info.kind, info.extension, info.width, info.height, info.fps) == ("video", "mp4", 80, 48, 25.0)
    assert info.has_video and not info.has_audio
    assert (info.audio_codec, info.sample_rate, info.channels) == (None, None, None)


def test_wav(infos):
    info = infos["wav"]
    assert (info.kind, info.extension, info.format_name) == ("audio", "wav", "wav")
    assert info.audio_codec == "pcm_s16le"
    assert (info.sample_rate, info.channels) == (16000, 1)
    assert info.duration_s == pytest.approx(1.0, abs=0.01)
    assert not info.has_video and (info.width, info.height, info.fps) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "extension", "codec", "size"),
    [
        ("png", "png", "png", (48, 32)),
        ("jpeg", "jpg", "mjpeg", (64, 64)),
        ("still_gif", "gif", "gif", (32, 32)),
    ],
)
def test_images(infos, name, extension, codec, size):
    info = infos[name]
    assert (info.kind, info.extension, info.video_codec) == ("image", extension, codec)
    assert (info.width, info.height) == size
    assert (info.duration_s, info.fps, info.audio_codec) == (None, None, None)


def test_animated_gif_is_a_video(infos):
    info = infos["gif"]
    assert (info.kind, info.extension, info.fps) == ("video", "gif", 10.0)
    assert info.duration_s == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("name", ["fake.mp4", "notes.txt", "fake.png", "fake.wav", "noext"])
def test_text_files_are_rejected_whatever_their_name(tmp_path, name):
    # .txt opens with the tty demuxer and "decodes" as ANSI art; .png opens with image2 and fails to decode
    path = make_text(tmp_path / name, "hello, this is not a video\n" * 50)
    with pytest.raises(MediaRejected, match=UNREADABLE):
        probe(path)


def test_rejection_names_the_field(tmp_path):
    path = make_text(tmp_path / "fake.mp4")
    with pytest.raises(MediaRejected, match=rf"^video_url is {UNREADABLE}: .*send a common format"):
        probe(path, field="video_url")


def test_empty_and_truncated_files_are_rejected(tmp_path, media):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaRejected, match=UNREADABLE):
        probe(empty)
    data = media["video"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the moov index is at the end: no streams are left
    with pytest.raises(MediaRejected, match=UNREADABLE):
        probe(cut)


def test_valid_container_with_garbage_pictures_is_rejected(tmp_path, media):
    # the mp4 structure opens fine; only decoding a frame shows the contents are not video
    data = bytearray(media["video"].read_bytes())
    start, end = data.index(b"mdat") + 4, data.index(b"moov") - 4
    data[start:end] = (b"this is not video data " * (end - start))[: end - start]
    path = tmp_path / "garbage.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaRejected, match=r"its pictures \(h264\) could not be decoded"):
        probe(path)


def test_probe_reads_only_the_start_of_a_long_video(tmp_path):
    path = make_video(tmp_path / "long.mp4", seconds=60.0, fps=5, size=(32, 32), with_audio=False)
    start = time.perf_counter()
    info = probe(path)
    assert time.perf_counter() - start < 0.5
    assert info.duration_s == pytest.approx(60.0, abs=0.2)


def test_require_accepts_matching_media(infos):
    require(infos["video"], "video", "video_url")
    require(infos["video"], "visual", "source_url")
    require(infos["png"], "visual", "source_url")
    require(infos["png"], "image", "image_url")
    require(infos["wav"], "audio", "audio_url")
    require(infos["wav"], "speech", "audio_url")
    require(infos["video"], "speech", "audio_url")


@pytest.mark.parametrize(
    ("name", "expect", "message"),
    [
        ("wav", "video", r"video_url is not a video: it is an audio file \(wav\)\."),
        ("mute", "speech", r"video_url has no sound: it is a video without an audio track \(mp4\)\."),
        ("png", "speech", r"video_url has no sound: it is an image \(png\)\."),
        ("video", "image", r"video_url is not an image: it is a video \(mp4\)\."),
        ("video", "audio", r"video_url is not an audio file: it is a video \(mp4\)\."),
        ("wav", "visual", r"video_url is not an image or a video: it is an audio file \(wav\)\."),
        ("png", "video", r"video_url is not a video: it is an image \(png\)\."),
    ],
)
def test_require_mismatch_messages(infos, name, expect, message):
    with pytest.raises(MediaRejected, match=f"^{message}$"):
        require(infos[name], expect, "video_url")


def test_require_refuses_too_short_media(tmp_path, infos):
    blip = probe(make_wav(tmp_path / "blip.wav", seconds=0.05))
    too_short = r"^audio_url is too short \(0\.05 s\): send at least 0\.1 seconds\.$"
    with pytest.raises(MediaRejected, match=too_short):
        require(blip, "speech", "audio_url")
    empty_video = dataclasses.replace(infos["video"], duration_s=0.0)
    with pytest.raises(MediaRejected, match="video_url is too short"):
        require(empty_video, "visual", "video_url")



@pytest.mark.media
def test_real_hevc_video_with_audio():
    info = probe(_shared("video/v05_*.mp4"))
    assert (info.kind, info.extension, info.video_codec) == ("video", "mp4", "hevc")
    assert (info.width, info.height) == (1080, 1920)
    assert info.has_audio and info.duration_s == pytest.approx(10.0, abs=0.1)
    require(info, "speech", "video_url")


@pytest.mark.media
def test_real_video_without_audio():
    info = probe(_shared("video/v07_*.mp4"))
    assert info.kind == "video" and not info.has_audio
    with pytest.raises(MediaRejected, match="has no sound: it is a video without an audio track"):
        require(info, "speech", "video_url")


@pytest.mark.media
def test_real_image():
    info = probe(_shared("image/p01_*"))
    assert (info.kind, info.extension, info.width, info.height) == ("image", "jpg", 624, 624)


@pytest.mark.media
def test_real_audio():
    info = probe(_shared("audio/a01_*.wav"))
    assert (info.kind, info.sample_rate, info.extension) == ("audio", 16000, "wav")
    assert info.duration_s == pytest.approx(8.0, abs=0.01)


@pytest.mark.media
def test_real_long_video_is_probed_quickly():
    start = time.perf_counter()
    info = probe(_shared("video/lv02_*.mp4"))
    assert time.perf_counter() - start < 1.0
    assert info.kind == "video" and info.duration_s == pytest.approx(50.4, abs=0.1)
