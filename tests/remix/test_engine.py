"""The remixer end to end with the real recogniser, voices and talking head, on short small clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digihuman.errors import InvalidInput
from digihuman.media.probe import probe
from digihuman.progress import no_progress
from digihuman.remix import soundtrack
from digihuman.remix.base import RemixRequest
from tests.remix.conftest import BACKGROUND, f0, frame_at, harmonic, write_clip

pytestmark = pytest.mark.media


def band(rgb: np.ndarray) -> np.ndarray:
    """The subtitle band: the bottom quarter of the frame."""
    return rgb[int(rgb.shape[0] * 0.72) :]


def drawn(rgb: np.ndarray) -> int:
    """Pixels of the subtitle band that are not the flat background (text, outline, shadow)."""
    return int(np.count_nonzero(np.abs(band(rgb).astype(int) - BACKGROUND).max(axis=2) > 40))


@pytest.fixture(scope="module")
def subtitled(remixer, speech_clip, tmp_path_factory):  # noqa: ANN001, ANN201
    request = RemixRequest(video=speech_clip.path, floating_text=("Big {NEWS}",),
                           subtitle_style={"highlight_color": "#FF00FF"})
    return remixer.remix(request, tmp_path_factory.mktemp("subtitled"), no_progress)


def test_the_output_plays_as_h264_aac_as_long_as_the_source(subtitled, speech_clip) -> None:  # noqa: ANN001
    info = probe(subtitled.video)
    assert info.kind == "video" and info.has_audio
    assert abs(info.duration_s - speech_clip.duration) < 0.1
    assert abs(subtitled.duration_s - speech_clip.duration) < 0.05
    import av

    with av.open(str(subtitled.video)) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.audio[0].codec_context.name) == ("h264", "aac")


def test_subtitles_show_while_words_are_spoken_and_not_in_the_pause(subtitled, speech_clip) -> None:  # noqa: ANN001
    a0, a1 = speech_clip.first
    b0, b1 = speech_clip.second
    for t in (a0 + 0.3 * (a1 - a0), a0 + 0.7 * (a1 - a0), b0 + 0.5 * (b1 - b0)):
        assert drawn(frame_at(subtitled.video, t)) > 200, t
    pause = (a1 + b0) / 2  # 1.25 s after the first sentence ends, 1.25 s before the second starts
    assert drawn(frame_at(subtitled.video, pause)) == 0
    assert drawn(frame_at(subtitled.video, 0.3)) == 0  # nothing said yet (whisper may start a word early)


def test_floating_caption_has_its_highlight_colour(subtitled, speech_clip) -> None:  # noqa: ANN001
    rgb = frame_at(subtitled.video, speech_clip.duration / 2)
    top = rgb[: rgb.shape[0] // 3].astype(int)
    magenta = (top[..., 0] > 180) & (top[..., 1] < 90) & (top[..., 2] > 180)
    white = np.all(top > 215, axis=2)
    assert magenta.sum() > 30 and white[:, 60:].sum() > 30  # "NEWS" highlighted, "Big" plain white


def test_mirror_really_mirrors(remixer, speech_clip, tmp_path) -> None:  # noqa: ANN001
    request = RemixRequest(video=speech_clip.path, transforms={"mirror": True},
                           subtitle_style={"enabled": False})
    rgb = frame_at(remixer.remix(request, tmp_path, no_progress).video, 0.2).astype(int)
    assert np.all(rgb[5, -5] > 230) and np.all(np.abs(rgb[5, 5] - BACKGROUND) < 12)  # square moved right


def test_aspect_change_gives_the_asked_size(remixer, speech_clip, tmp_path) -> None:  # noqa: ANN001
    request = RemixRequest(video=speech_clip.path, transforms={"aspect": "9:16"})
    info = probe(remixer.remix(request, tmp_path, no_progress).video)
    assert (info.width, info.height) == (180, 320)


def test_speed_shortens_the_video_and_keeps_the_pitch(remixer, tmp_path) -> None:  # noqa: ANN001
    clip = write_clip(tmp_path / "tone.mp4", harmonic(3.0, f0=150.0))
    request = RemixRequest(video=clip, transforms={"speed": 1.5}, subtitle_style={"enabled": False})
    result = remixer.remix(request, tmp_path / "out", no_progress)
    assert abs(result.duration_s - 2.0) < 0.06
    sound = soundtrack.load(result.video)
    assert abs(sound.size / soundtrack.RATE - 2.0) < 0.06
    assert abs(f0(sound[soundtrack.RATE // 2 :]) - 150.0) < 5


def test_music_is_ducked_under_speech(remixer, speech_clip, tmp_path) -> None:  # noqa: ANN001
    t = np.arange(4 * soundtrack.RATE) / soundtrack.RATE
    music = soundtrack.write((0.3 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32), tmp_path / "music.wav")
    request = RemixRequest(video=speech_clip.path, music=music, subtitle_style={"enabled": False},
                           transforms={"music_volume": 0.5, "ducking": 0.2})
    sound = soundtrack.load(remixer.remix(request, tmp_path / "out", no_progress).video)

    def tone_level(a: float, b: float) -> float:  # the 2 kHz music alone, by its spectral line
        piece = sound[int(a * soundtrack.RATE) : int(b * soundtrack.RATE)]
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(piece.size)))
        k = int(round(2000 * piece.size / soundtrack.RATE))
        return float(spectrum[k - 2 : k + 3].max())

    a0, a1 = speech_clip.first
    b0, _ = speech_clip.second
    speaking = tone_level(a0 + 0.4, a1 - 0.4)
    quiet = tone_level(a1 + 0.7, b0 - 0.3)
    assert speaking < 0.35 * quiet


def test_redub_with_a_stock_voice_says_the_new_script_lip_synced(remixer, real_clip, speech_engines,
                                                               tmp_path) -> None:  # noqa: ANN001
    from digihuman.speech.tts.base import SpeechOptions

    tts, recognizer = speech_engines
    script = "Good morning everyone. Today we cook pasta with fresh tomatoes."
    request = RemixRequest(video=real_clip, script=script)
    result = remixer.remix(request, tmp_path, no_progress,
                           lambda text: tts.synthesize(text, "en-joe", SpeechOptions()))
    heard = recognizer.transcribe(result.video, language="en").text.lower()
    for word in ("morning", "cook", "pasta", "tomatoes"):
        assert word in heard, heard
    info = probe(result.video)
    assert info.has_audio and info.duration_s > 3.0
    # the new speech is longer than the 4 s clip's first sentence; the face was lip-synced to it:
    # the video is as long as the new speech, not the source
    speech = sum(c.samples.size / c.sample_rate for c in tts.synthesize(script, "en-joe", SpeechOptions()))
    assert abs(info.duration_s - speech) < 0.2 * speech  # Piper's durations vary a little from run to run


def test_rewrite_without_a_voice_is_refused(remixer, speech_clip, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput, match="rewrite needs voice"):
        remixer.remix(RemixRequest(video=speech_clip.path, rewrite="default"), tmp_path, no_progress)


def test_redub_without_a_face_loops_the_footage(remixer, tmp_path, speech_engines) -> None:  # noqa: ANN001
    from digihuman.speech.tts.base import SpeechOptions

    tts, _ = speech_engines
    clip = write_clip(tmp_path / "short.mp4", harmonic(1.0))  # 1 s, no face
    result = remixer.remix(RemixRequest(video=clip, script="This sentence takes longer than one second to say."),
                           tmp_path / "out", no_progress, lambda text: tts.synthesize(text, "en-joe", SpeechOptions()))
    assert result.duration_s > 2.0
    assert np.all(frame_at(result.video, result.duration_s - 0.2)[5, 5] > 230)  # still the (looped) picture


def test_rewrite_uses_the_style_preset_of_the_chat_model(speech_engines, real_clip, tmp_path) -> None:  # noqa: ANN001
    from digihuman.remix.engine import VideoRemixer
    from digihuman.speech.tts.base import SpeechOptions
    from digihuman.text.base import ChatResult

    asked = []

    class Chat:
        def complete(self, request):  # noqa: ANN001, ANN202
            asked.append(request.model)
            return ChatResult("Fresh words for a new video.", 5, 6)

    tts, recognizer = speech_engines
    remixer = VideoRemixer(recognizer, talking_head=None, chat=Chat())
    result = remixer.remix(RemixRequest(video=real_clip, script="Old words.", rewrite="xiaohongshu"), tmp_path,
                           no_progress, lambda text: tts.synthesize(text, "en-joe", SpeechOptions()))
    assert asked == ["rewrite-xiaohongshu"]
    assert "fresh words" in recognizer.transcribe(result.video, language="en").text.lower()


def test_without_subtitles_no_words_are_timed(tmp_path) -> None:  # noqa: ANN001
    from digihuman.remix.engine import VideoRemixer

    class Deaf:
        def transcribe(self, audio, language=None):  # noqa: ANN001, ANN202
            raise AssertionError("nothing needs word timings when no subtitles are shown")

    clip = write_clip(tmp_path / "tone.mp4", harmonic(1.0))
    result = VideoRemixer(Deaf()).remix(RemixRequest(video=clip, subtitle_style={"enabled": False}),
                                        tmp_path / "out", no_progress)
    assert abs(result.duration_s - 1.0) < 0.05


def test_an_unreadable_video_is_rejected(remixer, tmp_path: Path) -> None:  # noqa: ANN001
    from digihuman.errors import MediaRejected

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(MediaRejected):
        remixer.remix(RemixRequest(video=bad), tmp_path / "out", no_progress)


def test_a_chinese_script_is_timed_character_by_character_to_mandarin_speech(speech_engines, tmp_path) -> None:  # noqa: ANN001
    from digihuman.remix.subtitles import cues, onto_speech, timed_units
    from tests.remix.conftest import say

    tts, recognizer = speech_engines
    first, second = say(tts, "今天天气很好。", "zh-baker"), say(tts, "我们去公园散步吧！", "zh-baker")
    gap = np.zeros(2 * soundtrack.RATE, np.float32)
    speech = np.concatenate([gap[: soundtrack.RATE], first, gap, second])
    wav = soundtrack.write(speech, tmp_path / "zh.wav")
    words = onto_speech(recognizer.transcribe(wav, language="zh").words, speech, soundtrack.RATE)
    second_start = (soundtrack.RATE + first.size + gap.size) / soundtrack.RATE
    shown = cues(timed_units("今天天气很好。我们去公园散步吧！", words, 8.0), 24, 300, 2)
    # Whisper often starts a phrase's first character inside the pause before it; snapped onto the sound,
    # each sentence shows when it is spoken.
    assert [c.text for c in shown] == ["今天天气很好。", "我们去公园散步吧！"]
    assert 0.6 < shown[0].start < 1.4 and shown[0].end <= shown[1].start
    assert abs(shown[1].start - second_start) < 0.2


def test_redub_can_keep_the_original_soundtrack_low_underneath(remixer, tmp_path, speech_engines) -> None:  # noqa: ANN001
    from digihuman.speech.tts.base import SpeechOptions

    tts, _ = speech_engines
    t = np.arange(3 * soundtrack.RATE) / soundtrack.RATE
    clip = write_clip(tmp_path / "ambience.mp4", (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32))

    def line_3k(keep: float) -> float:
        request = RemixRequest(video=clip, script="Short words.", transforms={"original_volume": keep},
                               subtitle_style={"enabled": False})
        result = remixer.remix(request, tmp_path / f"keep{keep}", no_progress,
                               lambda text: tts.synthesize(text, "en-joe", SpeechOptions()))
        sound = soundtrack.load(result.video)
        spectrum = np.abs(np.fft.rfft(sound * np.hanning(sound.size)))
        k = int(round(3000 * sound.size / soundtrack.RATE))
        return float(spectrum[k - 3 : k + 4].max() / spectrum.max())

    assert line_3k(0.3) > 10 * line_3k(0.0)
