"""Output writing: exact durations with interleaved audio, watermark, preview, cover."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from digihuman.media.probe import probe
from digihuman.render.output import (PreviewCollector, RenderWriter, Soundtrack, VideoSpec, VideoWriter,
                                     to_rgb, to_yuv, watermark, watermark_yuv, write_cover)
from tests.mediagen import make_wav


def frames(n: int, width: int = 161, height: int = 120) -> list[np.ndarray]:
    out = []
    for i in range(n):
        img = np.full((height, width, 3), 40, np.uint8)
        img[40:80, (i * 3) % width: (i * 3) % width + 20] = 230
        out.append(img)
    return out


def stream_seconds(path: Path) -> dict[str, float]:
    with av.open(str(path)) as c:
        return {s.type: float(s.duration * s.time_base) for s in c.streams}


def test_audio_is_cut_or_padded_to_the_video(tmp_path: Path) -> None:
    for audio_s in (1.0, 3.0):  # shorter and longer than the 2 s of video
        wav = make_wav(tmp_path / f"a{audio_s}.wav", seconds=audio_s)
        out = tmp_path / f"v{audio_s}.mp4"
        with VideoWriter(out, VideoSpec(161, 120, 25), audio=wav) as writer:
            for img in frames(50):
                writer.write(img)
        info = probe(out)
        assert (info.width, info.height, info.fps) == (160, 120, 25.0)  # odd width made even
        seconds = stream_seconds(out)
        assert abs(seconds["video"] - 2.0) < 1e-6
        assert abs(seconds["audio"] - 2.0) < 0.03  # one AAC frame of priming at most


def test_fractional_frame_rate_and_no_audio(tmp_path: Path) -> None:
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, VideoSpec(64, 64, 30000 / 1001)) as writer:
        for img in frames(30, 64, 64):
            writer.write(img)
    info = probe(out)
    assert abs(info.fps - 29.97) < 0.01 and not info.has_audio


def test_watermark_marks_only_the_corner() -> None:
    img = np.full((360, 640, 3), 90, np.uint8)
    marked = watermark(img, "digihuman")
    changed = np.argwhere(np.any(marked != img, axis=2))
    assert changed.size > 0
    assert changed[:, 0].min() > 360 * 0.8 and changed[:, 1].min() > 640 * 0.6
    assert np.array_equal(img, np.full((360, 640, 3), 90, np.uint8))  # input untouched


def test_watermark_in_yuv_equals_converting_the_marked_frame() -> None:
    rng = np.random.default_rng(0)
    for height, width in ((1920, 1080), (122, 162), (64, 64)):  # the box's chroma blocks line up at any size
        img = rng.integers(0, 255, (height, width, 3), np.uint8)
        marked = to_yuv(img)
        watermark_yuv(marked, img, "digihuman")
        assert np.array_equal(marked, to_yuv(watermark(img, "digihuman")))
        assert not np.array_equal(marked, to_yuv(img))


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)


def corner_marked(marked: np.ndarray, clean: np.ndarray) -> bool:
    """Whether ``marked`` differs from ``clean`` in its bottom-right corner only."""
    height, width = clean.shape[:2]
    differs = np.argwhere(np.abs(clean - marked).max(axis=2) > 24)
    return bool(differs.size > 0 and differs[:, 0].min() > height * 0.6 and differs[:, 1].min() > width * 0.4)


def test_render_writer_writes_one_video_marked_when_asked(tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", seconds=1.0)
    videos = {}
    for mark in ("digihuman", None):
        out = tmp_path / str(mark)
        out.mkdir()
        with RenderWriter(out, VideoSpec(161, 120, 25), wav, mark) as writer:
            for img in frames(40):
                writer.write(img)
        assert sorted(p.name for p in out.iterdir()) == ["preview.webp", "video.mp4"]
        info = probe(writer.video)
        assert (info.width, info.height) == (160, 120) and info.has_audio
        assert abs(stream_seconds(writer.video)["video"] - 1.6) < 1e-6  # 40 frames
        videos[mark] = writer.video
    assert corner_marked(first_frame(videos["digihuman"]), first_frame(videos[None]))


def decoded_sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])


def test_the_sound_is_cut_to_the_video_and_the_same_as_a_plain_writers(tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", seconds=3.0)
    with RenderWriter(tmp_path, VideoSpec(160, 120, 25), wav, "digihuman") as writer:
        for img in frames(50):
            writer.write(img)
    alone = tmp_path / "alone.mp4"
    with VideoWriter(alone, VideoSpec(160, 120, 25), audio=wav) as single:
        for img in frames(50):
            single.write(img)
    assert np.array_equal(decoded_sound(writer.video), decoded_sound(alone))
    assert abs(stream_seconds(writer.video)["audio"] - 2.0) < 0.03  # cut to the video


def test_a_soundtrack_hands_out_each_packet_once_in_order(tmp_path: Path) -> None:
    sound = Soundtrack(make_wav(tmp_path / "a.wav", seconds=2.0))
    got = []
    for k in range(1, 9):
        got += [p.pts for p in sound.packets(k * 0.25, final=k == 8)]
    assert len(got) > 90 and got == sorted(set(got))  # 2 s of 1024-sample AAC frames at 48 kHz
    assert not sound._packets  # nothing kept once taken


def test_render_writer_abandons_on_error(tmp_path: Path) -> None:
    try:
        with RenderWriter(tmp_path, VideoSpec(64, 64, 25), None, "digihuman") as writer:
            for img in frames(10, 64, 64):
                writer.write(img)
            raise KeyError("stop")
    except KeyError:
        pass
    assert not writer.preview.exists()


def test_an_encoder_failure_is_raised_and_the_encoder_thread_stops(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    write_yuv = VideoWriter.write_yuv

    def failing(self: VideoWriter, yuv: np.ndarray) -> None:
        if self.frames == 3:
            raise OSError("No space left on device")
        write_yuv(self, yuv)

    monkeypatch.setattr(VideoWriter, "write_yuv", failing)
    with pytest.raises(OSError, match="No space"):
        with RenderWriter(tmp_path, VideoSpec(64, 64, 25), None, "digihuman") as writer:
            for img in frames(20, 64, 64):
                writer.write(img)
    assert not [t for t in threading.enumerate() if t.name.startswith("encode ")]
    assert not writer.preview.exists()


def test_a_preview_from_yuv_frames_looks_like_one_from_rgb_frames() -> None:
    rows, cols = np.mgrid[0:1080, 0:1920]
    picture = np.dstack([rows * 255 // 1080, cols * 255 // 1920, (rows + cols) * 255 // 3000]).astype(np.uint8)
    from_rgb, from_yuv = PreviewCollector(fps=25), PreviewCollector(fps=25)
    from_rgb.add(to_rgb(to_yuv(picture)))
    from_yuv.add_yuv(to_yuv(picture))
    assert from_yuv.frames[0].shape == from_rgb.frames[0].shape == (180, 320, 3)
    assert np.abs(from_yuv.frames[0].astype(int) - from_rgb.frames[0]).mean() < 1.5


def test_the_preview_is_written_once_its_frames_are_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = []
    write = PreviewCollector.write
    monkeypatch.setattr(PreviewCollector, "write", lambda self, path: writes.append(path) or write(self, path))
    with RenderWriter(tmp_path, VideoSpec(160, 120, 25), None, None) as writer:
        for img in frames(100, 160, 120):  # the preview holds the first 4 s
            writer.write_yuv(to_yuv(img))
        assert writer.preview.is_file()
    assert writes == [writer.preview]  # not written again at the end


def test_preview_and_cover(tmp_path: Path) -> None:
    collector = PreviewCollector(fps=25)
    for img in frames(200):
        collector.add(img)
    assert len(collector.frames) == 32  # 4 s at 8 fps, bounded whatever the length
    preview = collector.write(tmp_path / "p.webp")
    assert preview.read_bytes()[:4] == b"RIFF" and b"ANIM" in preview.read_bytes()[:64]
    cover = write_cover(frames(1)[0], tmp_path / "c.jpg")
    assert probe(cover).kind == "image"


def test_yuv_parts_cut_and_paste_like_rgb() -> None:
    from digihuman.render.output import even_box, paste_yuv, yuv_part

    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (122, 162, 3), np.uint8)
    yuv = to_yuv(img)
    box = even_box((31, 17, 90, 61), 162, 122)
    assert box == (30, 16, 90, 62)
    x0, y0, x1, y1 = box
    assert np.array_equal(yuv_part(yuv, box), to_yuv(img[y0:y1, x0:x1]))
    marked = img.copy()
    marked[y0:y1, x0:x1] = 255 - marked[y0:y1, x0:x1]
    pasted = yuv.copy()
    paste_yuv(pasted, to_yuv(marked[y0:y1, x0:x1]), box)
    assert np.array_equal(pasted, to_yuv(marked))
    rows, cols = np.mgrid[0:122, 0:162]
    smooth = np.dstack([rows, cols, np.full_like(rows, 90)]).astype(np.uint8)
    assert np.abs(to_rgb(to_yuv(smooth)).astype(int) - smooth).max() <= 3  # the inverse (4:2:0, rounding)


def test_render_writer_takes_yuv_frames(tmp_path: Path) -> None:
    with RenderWriter(tmp_path, VideoSpec(160, 120, 25), None, "digihuman") as writer:
        for img in frames(40, 160, 120):
            yuv = to_yuv(img)
            writer.write_yuv(yuv)
        with pytest.raises(ValueError, match="160x120"):
            writer.write_yuv(to_yuv(frames(1, 64, 64)[0]))
    marked, picture = first_frame(writer.video), frames(1, 160, 120)[0].astype(int)
    assert corner_marked(marked, picture)
    assert np.abs(marked - picture).mean() < 3
    assert writer.preview.is_file()


def test_a_soundtrack_resamples_the_speech_as_the_video_advances() -> None:
    """Ten minutes of speech at 48 kHz are 115 MB: a soundtrack never holds them whole, and its
    packets are those of the speech resampled at once."""
    import hashlib
    import tracemalloc

    from digihuman.media.audio import resample
    from digihuman.speech.utterance import Speech

    rng = np.random.default_rng(2)
    samples = (0.2 * rng.standard_normal(120 * 16000)).astype(np.float32)  # 2 min; 23 MB at 48 kHz

    def encoded(speech: Speech) -> tuple[str, int]:
        sound = Soundtrack(speech)
        digest, count = hashlib.sha256(), 0
        for k in range(1, 3001):  # as a 25 fps video asks, frame by frame
            for packet in sound.packets(k / 25, final=k == 3000):
                digest.update(bytes(packet) + packet.pts.to_bytes(8, "little", signed=True))
                count += 1
        return digest.hexdigest(), count

    whole = encoded(Speech(resample(samples, 16000, Soundtrack.RATE), Soundtrack.RATE))
    speech = Speech(samples, 16000)
    tracemalloc.start()
    try:
        streamed = encoded(speech)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed == whole and whole[1] > 5000
    assert peak < 12e6, peak  # some seconds of samples at a time (at once: 23 MB, and 46 MB at its peak)
    assert len(speech.at(16000)) == len(samples)  # the speech is left as it was
