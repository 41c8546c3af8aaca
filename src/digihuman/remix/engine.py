"""The video remixer: sound first (re-dub, speed, music), then one streaming pass over the picture.

    options      parse + validate transforms / subtitle_style        (options.py)
    sound        original soundtrack, or the script spoken anew       (redub.py, soundtrack.py)
                 → words timed (a known script aligned, else recognised) → sped up → music ducked under it
    footage      the source, or the face lip-synced to the new speech (redub.py, footage.py)
    each frame   crop/zoom/mirror/colour/aspect → floating text → subtitles → H.264 encoder
                 (transforms.py, floating.py, subtitles.py, render/output.py)

Frames are decoded, drawn on and encoded one at a time, so memory does not grow with the video.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.errors import InvalidInput, MediaRejected
from digihuman.progress import Progress, scaled
from digihuman.remix import floating as floating_text
from digihuman.remix import redub, soundtrack
from digihuman.remix.base import RemixRequest, RemixResult, SpeakFn
from digihuman.remix.footage import footage_info, frames_at
from digihuman.remix.lettering import is_cjk
from digihuman.remix.options import SubtitleStyle, Transforms, parse_style, parse_transforms
from digihuman.render.base import TalkingHead
from digihuman.speech.asr.base import Recognizer
from digihuman.text.base import ChatModel
from digihuman.timeline import Word
from digihuman.timings import stage

log = logging.getLogger(__name__)
# x264 superfast at crf 22 measures as clean as veryfast at crf 20 (PSNR 43.9 vs 43.8 dB on 720p
# talking footage) for about a third less encoding time, in files about half as big again
OUTPUT_PRESET, OUTPUT_CRF = "superfast", 22
MAX_FPS = 30.0  # 50/60 fps sources are written at 30: half the encoding, no visible loss for talking videos


@dataclass(frozen=True)
class Sound:
    """The remix's soundtrack before speed and music, and what is said in it."""

    samples: np.ndarray  # mono float32 at soundtrack.RATE
    script: str  # the text to show
    words: tuple[Word, ...]  # recognised timings, seconds into ``samples``
    footage: Path  # the video to show under it
    loop: bool  # play the footage again from its start when the sound is longer


class VideoRemixer:
    """A :class:`~digihuman.remix.base.Remixer` built from the recogniser (word timings, required),
    the talking-head engine (lip sync when re-dubbing; optional) and the chat model (rewriting;
    optional)."""

    def __init__(self, recognizer: Recognizer, talking_head: TalkingHead | None = None,
                 chat: ChatModel | None = None) -> None:
        self.recognizer = recognizer
        self.talking_head = talking_head
        self.chat = chat

    def remix(self, request: RemixRequest, out_dir: Path, progress: Progress,
              speak: SpeakFn | None = None) -> RemixResult:
        """Write ``remix.mp4`` (H.264/AAC) into ``out_dir``."""
        transforms, style = parse_transforms(request.transforms), parse_style(request.subtitle_style)
        floating_text.check(request.floating_text)
        if request.rewrite and speak is None:
            raise InvalidInput("rewrite needs voice: the rewritten script is spoken by that voice.")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="remix-", dir=out_dir))
        try:
            progress(1, "reading the video")
            source = footage_info(request.video)
            if source.duration <= 0:
                raise MediaRejected("video_url has no length: send a video of at least a second.")
            # Word timings only place subtitles: without them the speech is neither aligned nor recognised.
            timed = style.enabled
            if speak is not None:
                sound = self._redub(request, transforms, speak, work, scaled(progress, 2, 45), timed)
            else:
                sound = self._original(request, source.duration, work, scaled(progress, 2, 15), timed)
            start = 45 if speak is not None else 15
            return self._render(request, sound, transforms, style, out_dir, work, scaled(progress, start, 100))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- sound --------------------------------------------------------------------------------

    def _original(self, request: RemixRequest, duration: float, work: Path, progress: Progress,
                  timed: bool) -> Sound:
        samples = soundtrack.fit(soundtrack.load(request.video), int(round(duration * soundtrack.RATE)))
        if not timed:
            return Sound(samples, (request.script or "").strip(), (), request.video, loop=False)
        progress(10, "timing the words")
        script, words = self._timed_words(samples, request.script)
        progress(100, "words timed")
        return Sound(samples, script, words, request.video, loop=False)

    def _redub(self, request: RemixRequest, transforms: Transforms, speak: SpeakFn, work: Path,
               progress: Progress, timed: bool) -> Sound:
        script = (request.script or "").strip()
        original: np.ndarray | None = None  # the video's own sound, decoded once when needed
        if not script:
            progress(2, "recognising the speech")
            original = soundtrack.load(request.video)
            script, _ = self._timed_words(original, None)
            if not script:
                raise InvalidInput("text_content is needed: nobody speaks in the video, so there is no script "
                                   "to re-dub.")
        if request.rewrite:
            progress(8, "rewriting the script")
            script = redub.rewrite(self.chat, script, request.rewrite)
        progress(15, "speaking the script")
        spoken = redub.speak(speak, script)
        speech = spoken.at(soundtrack.RATE)
        words: tuple[Word, ...] = ()
        if timed:
            progress(30, "timing the words")
            _, words = self._timed_words(speech, script)
        progress(40, "lip-syncing")
        synced = redub.lip_sync(self.talking_head, request.video, spoken, work / "lipsync",
                                scaled(progress, 40, 100))
        if transforms.original_volume > 0:
            original = soundtrack.load(request.video) if original is None else original
            bed = soundtrack.fit(original, speech.size, loop=True)
            speech = soundtrack.limit(speech + bed * transforms.original_volume)
        progress(100, "re-dubbed")
        return Sound(speech, script, words, synced or request.video, loop=synced is None)

    def _timed_words(self, samples: np.ndarray, script: str | None) -> tuple[str, tuple[Word, ...]]:
        """The text to show (``script``, or what was heard) and its word timings: a known script is
        aligned to the sound (English and Mandarin); only without one, or in another language, are
        the words recognised."""
        from digihuman.media.audio import resample
        from digihuman.remix.subtitles import onto_speech
        from digihuman.speech.align.features import RATE
        from digihuman.speech.align.timeline import default_builder
        from digihuman.speech.utterance import Speech

        script = (script or "").strip()
        if samples.size < soundtrack.RATE // 2 or float(np.max(np.abs(samples))) < 1e-3:
            return script, ()
        language = _language(script)
        if script and language in ("en", "zh"):
            with stage("alignment"):
                timeline = default_builder().for_speech(Speech(samples, soundtrack.RATE, language, script))
            if timeline.words:
                return script, onto_speech(timeline.words, samples, soundtrack.RATE)
        with stage("recognition"):
            transcript = self.recognizer.transcribe(resample(samples, soundtrack.RATE, RATE), language=language)
        return (script or transcript.text).strip(), onto_speech(transcript.words, samples, soundtrack.RATE)

    # -- picture ------------------------------------------------------------------------------

    def _render(self, request: RemixRequest, sound: Sound, transforms: Transforms, style: SubtitleStyle,
                out_dir: Path, work: Path, progress: Progress) -> RemixResult:
        from digihuman.remix.floating import FloatingLayer
        from digihuman.remix.subtitles import SubtitleLayer
        from digihuman.remix.transforms import Picture
        from digihuman.render.output import VideoSpec, VideoWriter

        source = footage_info(sound.footage)
        speed = transforms.speed
        audio = soundtrack.stretch(sound.samples, speed)
        if request.music is not None:
            progress(2, "mixing the music")
            music = soundtrack.load(request.music)
            audio = soundtrack.mix_music(audio, music, transforms.music_volume, transforms.ducking)
        duration = audio.size / soundtrack.RATE  # the sound was fitted to the footage, or the footage loops
        if duration <= 0:
            raise MediaRejected("video_url is too short to remix: send a video of at least a second.")
        picture = Picture(transforms, source.width, source.height)
        width, height = picture.size
        words = tuple(Word(w.text, w.start / speed, w.end / speed) for w in sound.words)
        subtitles = SubtitleLayer.build(sound.script, words, duration, style, width, height)
        captions = FloatingLayer(request.floating_text, style, width, height, duration, subtitles.top()) \
            if request.floating_text else None
        fps = min(source.fps, MAX_FPS)
        count = max(1, int(round(duration * fps)))
        times = (k / fps * speed for k in range(count))
        out = out_dir / "remix.mp4"
        progress(5, "rendering")
        from digihuman.speech.utterance import Speech

        spec = VideoSpec(width, height, fps, OUTPUT_CRF, OUTPUT_PRESET)
        with VideoWriter(out, spec, Speech(audio, soundtrack.RATE)) as writer:
            for k, rgb in enumerate(frames_at(sound.footage, times, source.duration if sound.loop else None)):
                frame = picture(rgb)
                if np.shares_memory(frame, rgb):  # the decoder's frame may be shown again: draw on a copy
                    frame = frame.copy()
                t = k / fps
                if captions is not None:
                    captions(frame, t)
                subtitles(frame, t)
                writer.write(frame)
                if k % 30 == 0:
                    progress(5 + 95 * k / count, "rendering")
        progress(100, "remixed")
        return RemixResult(out, writer.frames / float(writer.rate))


def _language(script: str | None) -> str | None:
    """A recognition hint from the script's writing: Chinese characters → zh, plain Latin → en."""
    if not script:
        return None
    letters = [ch for ch in script if ch.isalpha()]
    if not letters:
        return None
    if sum(is_cjk(ch) for ch in letters) > 0.3 * len(letters):
        return "zh"
    if all(ch.isascii() for ch in letters):
        return "en"
    return None
