"""Training an avatar model and rendering from it, end to end on a short real clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digihuman.errors import MediaRejected
from digihuman.render.avatar import AvatarModel, train_avatar
from digihuman.render.base import RenderOptions, RenderResult
from digihuman.render.engine import SampleTalkingHead
from digihuman.speech.utterance import Speech
from tests.render.conftest import cut_video
from tests.shared_media import shared

pytestmark = pytest.mark.media


def probe(path: Path) -> dict:
    """Frame count, frame rate, size and audio duration of an MP4, read from the decoded streams."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        fps = float(v.average_rate)
        width, height = v.width, v.height
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
        rate = c.streams.audio[0].rate
    return {"frames": frames, "fps": fps, "size": (width, height), "audio_s": samples / rate}


@pytest.fixture(scope="module")
def rendered(model: AvatarModel, speech: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    out = tmp_path_factory.mktemp("render")
    return SampleTalkingHead().render(model.folder, Speech.from_file(speech), out, RenderOptions(watermark="digihuman"),
                                      lambda p, s: None)


def test_model_folder_holds_what_rendering_needs(model: AvatarModel) -> None:
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["version"] == 1
    for name in ("track.npz", "mouths.bin", "mapping.npz", "background.mp4", "cover.jpg"):
        assert (model.folder / name).stat().st_size > 0, name
    crop = model.mouth(int(model.arrays["rest"]))
    assert crop.ndim == 3 and crop.shape[2] == 3 and crop.mean() > 20  # a picture, not a blank
    assert manifest["usable_frames"] > 0.8 * manifest["frames"]


def test_render_matches_audio_and_source(rendered: RenderResult, model: AvatarModel) -> None:
    facts = probe(rendered.video)
    assert facts["size"] == model.size
    assert facts["fps"] == pytest.approx(model.fps, rel=1e-3)
    assert facts["frames"] / facts["fps"] == pytest.approx(3.0, abs=1 / facts["fps"])
    assert rendered.duration_s == pytest.approx(3.0, abs=1 / facts["fps"])
    # the soundtrack is cut to the video: equal within one AAC frame
    assert facts["audio_s"] == pytest.approx(facts["frames"] / facts["fps"], abs=0.03)
    assert [p.name for p in rendered.video.parent.glob("*.mp4")] == ["video.mp4"]  # one video, marked
    assert rendered.preview.stat().st_size > 0 and rendered.cover.stat().st_size > 0


def test_mouth_moves_with_speech_and_rests_in_silence(rendered: RenderResult) -> None:
    from digihuman.face import track_video

    track = track_video(rendered.video)
    opening = track.mouth["opening"]
    fps = track.fps
    talking = opening[int(0.2 * fps): int(1.9 * fps)]
    silent = opening[int(2.25 * fps):]
    assert talking.std() > 0.01  # it moves with the speech
    assert talking.max() > silent.max() + 0.02  # opens wider than at rest
    assert silent.std() < 0.3 * talking.std()  # and holds still in the pause


def test_picture_outside_the_mouth_is_untouched(model: AvatarModel) -> None:
    import cv2

    from digihuman.face.pose import apply_affine, invert_affine
    from digihuman.render.clip import ClipReader
    from digihuman.render.composite import BlendOptions, Compositor

    reader = ClipReader(model.folder / "background.mp4")
    start, frames = model.background
    backgrounds = list(reader.forward(0, min(frames, 6)))
    reader.close()
    library = model.arrays["descriptors"][:, 0]
    widest = int(np.argmax(library))  # the most different mouth is the hardest case
    for multiband in (False, True):
        compositor = Compositor(model, BlendOptions(multiband=multiband))
        for i, background in enumerate(backgrounds):
            out = compositor(background, start + i, model.mouth(widest), widest)
            assert not np.array_equal(out, background)  # the mouth was put in
            polys = compositor.mask_polygon(start + i, widest)
            from_canonical = invert_affine(model.arrays["to_canonical"][start + i])
            mask = np.zeros(background.shape[:2], np.uint8)
            for p in polys:
                cv2.fillPoly(mask, [np.round(apply_affine(from_canonical, p)).astype(np.int32)], 255)
            outside = cv2.dilate(mask, np.ones((5, 5), np.uint8)) == 0
            # outside the background frame's own face contour (neck, collar, hair): its pixels exactly
            assert np.array_equal(out[outside], background[outside]), (multiband, i)


def test_blending_in_yuv_converts_only_the_face_box(model: AvatarModel) -> None:
    """The render keeps frames in the clip's YUV: the face box comes out exactly as blending the whole
    frame in RGB would make it, and every other pixel is the decoded clip's own."""
    from digihuman.render.clip import ClipReader
    from digihuman.render.composite import Compositor
    from digihuman.render.output import even_box, paste_yuv, to_rgb, to_yuv, yuv_part
    from digihuman.render.video import blend_yuv

    reader = ClipReader(model.folder / "background.mp4")
    start, frames = model.background
    decoded = list(reader.forward(0, min(frames, 4), "yuv420p"))
    reader.close()
    widest = int(np.argmax(model.arrays["descriptors"][:, 0]))
    in_rgb, in_yuv = Compositor(model), Compositor(model)  # each smooths its own lip colour
    for i, yuv in enumerate(decoded):
        height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
        expected = to_yuv(in_rgb(to_rgb(yuv), start + i, model.mouth(widest), widest))
        out = yuv.copy()
        blend_yuv(in_yuv, out, start + i, model.mouth(widest), widest)
        box = in_yuv.box(start + i, (width, height))
        assert box is not None
        wide = even_box(box, width, height)
        assert np.array_equal(yuv_part(out, wide), yuv_part(expected, wide))
        untouched = yuv.copy()
        paste_yuv(untouched, yuv_part(out, wide), wide)
        assert np.array_equal(out, untouched)  # nothing outside the box changed
        assert not np.array_equal(out, yuv)  # and the mouth was put in


@pytest.mark.parametrize("quality", ["standard", "v2"])
def test_frames_prepared_in_threads_are_the_serial_blend(
        model: AvatarModel, speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quality: str) -> None:
    """Compositing threads prepare frames out of order; the frames the encoder gets are exactly
    those of blending each frame in turn (the lip colour smoothed in frame order)."""
    from digihuman.render import video
    from digihuman.render.clip import ClipReader, read_plan
    from digihuman.render.composite import BlendOptions, Compositor
    from digihuman.render.output import RenderWriter
    from digihuman.speech.align import mouth_track
    from digihuman.speech.align.features import RATE
    from digihuman.speech.align.timeline import default_builder

    sound = Speech.from_file(speech)
    timeline = default_builder().for_speech(sound)
    plan = video.plan_render(model, sound.at(RATE), timeline, mouth_track(timeline, model.fps), quality)
    written: list[np.ndarray] = []
    original = RenderWriter.write_yuv

    def keep(self: RenderWriter, yuv: np.ndarray) -> None:
        written.append(yuv.copy())
        original(self, yuv)

    monkeypatch.setattr(RenderWriter, "write_yuv", keep)
    video.write_render(model, plan, sound, tmp_path, RenderOptions(quality=quality))
    compositor = Compositor(model, BlendOptions(multiband=quality == "v2"))
    reader = ClipReader(model.folder / "background.mp4")
    fades, start = video._fades(plan), model.background[0]
    assert len(written) == plan.frames
    for t, yuv in enumerate(read_plan(reader, plan.background, "yuv420p")):
        mouth = video._mouth_at(model, plan, fades, t)
        video.blend_yuv(compositor, yuv, start + int(plan.background[t]), mouth, int(plan.mouth[t]))
        assert np.array_equal(written[t], yuv), t
    reader.close()


def test_v2_renders(model: AvatarModel, speech: Path, tmp_path: Path) -> None:
    result = SampleTalkingHead().render(model.folder, Speech.from_file(speech), tmp_path, RenderOptions(quality="v2"),
                                        lambda p, s: None)
    facts = probe(result.video)
    assert facts["frames"] / facts["fps"] == pytest.approx(3.0, abs=1 / facts["fps"])


def test_short_video_is_rejected(tmp_path: Path) -> None:
    short = cut_video(shared("video/v01*.mp4"), tmp_path / "short.mp4", 2.0)
    with pytest.raises(MediaRejected, match="too short") as caught:
        train_avatar(short, tmp_path / "model")
    assert caught.value.status == 422


def test_video_avatar_trains_implicitly(clip: Path, speech: Path, tmp_path: Path) -> None:
    reports: list[float] = []
    result = SampleTalkingHead().render(clip, Speech.from_file(speech), tmp_path, RenderOptions(),
                                        lambda p, s: reports.append(p))
    assert result.video.is_file() and reports and max(reports) <= 100.0
    # the temporary model is gone
    assert [p for p in tmp_path.iterdir() if p.name.startswith("avatar-")] == []


def test_background_encoded_beside_tracking_is_the_second_pass_clip(clip: Path, tmp_path: Path) -> None:
    """A video that is all background has its clip encoded from the tracking decode: the very clip
    the second pass makes, to the byte."""
    from digihuman.face import track_video
    from digihuman.face.tracking import video_rate
    from digihuman.progress import no_progress
    from digihuman.render.avatar import TrainOptions, _BackgroundBeside, _cut_library

    beside = _BackgroundBeside(tmp_path / "beside.mp4", video_rate(clip)[0], TrainOptions().background_crf)
    try:
        track = track_video(clip, on_frame=beside.put)
    finally:
        beside.finish()
    _cut_library(clip, track, 120.0, 0, len(track), 0, tmp_path, TrainOptions(), no_progress)
    assert beside.frames == len(track) > 60
    assert (tmp_path / "beside.mp4").read_bytes() == (tmp_path / "background.mp4").read_bytes()
