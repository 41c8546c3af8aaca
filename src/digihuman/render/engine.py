"""The sample-based talking head: the person's own filmed mouths, selected and blended.

    avatar model folder  ->  render straight from it (high-speed path; V2 with quality="v2")
    talking video        ->  train an implicit model in a temporary folder, then render from it
    photo                ->  digihuman.render.photo.render_photo (mesh warp of the one mouth it has)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from digihuman.errors import EngineUnavailable
from digihuman.progress import Progress, scaled
from digihuman.render.avatar import MANIFEST, TrainOptions, train_avatar
from digihuman.render.base import AvatarInfo, RenderOptions, RenderResult
from digihuman.timings import stage

if TYPE_CHECKING:
    from digihuman.speech.utterance import Speech
    from digihuman.timeline import Timeline

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic"})
PHOTO_FPS = 25.0


class SampleTalkingHead:
    """A :class:`~digihuman.render.base.TalkingHead` built from the avatar's own filmed mouths.

    ``recognizer`` (optional, a speech recogniser) gives the speech timeline words when nothing else
    does (the user's audio without its text), so English is force-aligned phone by phone instead of
    read from the sound alone: for photos, whose one mouth is moved by the phones, and for models whose
    mapping reads them. Models trained now map the sound itself to the mouth and need only its pauses.
    """

    def __init__(self, recognizer: object | None = None,
                 train_options: TrainOptions = TrainOptions()) -> None:
        self.recognizer = recognizer
        self.train_options = train_options

    def train(self, video: Path, model_dir: Path, progress: Progress) -> AvatarInfo:
        """Build an avatar model from a talking video (>= 3 s) into ``model_dir``."""
        return train_avatar(Path(video), Path(model_dir), progress, self.train_options)

    def render(self, avatar: Path, speech: Speech, out_dir: Path, options: RenderOptions,
               progress: Progress) -> RenderResult:
        """Render ``avatar`` (an avatar model folder, a talking video or a photo) saying ``speech``."""
        avatar, out_dir = Path(avatar), Path(out_dir)
        if avatar.is_dir() and (avatar / MANIFEST).is_file():
            return self._render_model(avatar, speech, out_dir, options, progress)
        if avatar.suffix.lower() in IMAGE_SUFFIXES:
            with stage("speech analysis"):
                timeline = self.timeline(speech)
            return self._render_photo(avatar, speech, out_dir, options, progress, timeline)
        model_dir = Path(tempfile.mkdtemp(prefix="avatar-", dir=out_dir if out_dir.is_dir() else None))
        try:
            with stage("training"):
                self.train(avatar, model_dir, scaled(progress, 0, 50))
            return self._render_model(model_dir, speech, out_dir, options, scaled(progress, 50, 100))
        finally:
            shutil.rmtree(model_dir, ignore_errors=True)

    def timeline(self, speech: Speech) -> Timeline:
        """When the mouth says what: the speech's own timeline (text-to-speech), its text aligned, or
        (only when nothing is known) the recogniser's words."""
        from digihuman.speech.align.timeline import default_builder

        return default_builder().for_speech(speech, self.recognizer)  # type: ignore[arg-type]

    def _render_model(self, model_dir: Path, speech: Speech, out_dir: Path, options: RenderOptions,
                      progress: Progress) -> RenderResult:
        from digihuman.render.video import render_model

        # render_model starts the speech's encoder states, then finds only its pauses: a mapping from
        # the sound itself needs no more, and recognising and aligning the words would change nothing
        # in the video (lip-sync bench: the same r with or without them) at most of a render's speech
        # analysis. Only a mapping that reads phones is given this head's timeline. The states are
        # left to render_model alone, which lets go of them once the frames are planned
        return render_model(model_dir, speech, out_dir, options, progress, timeline_of=self.timeline)

    def _render_photo(self, image: Path, speech: Speech, out_dir: Path, options: RenderOptions,
                      progress: Progress, timeline: Timeline) -> RenderResult:
        from digihuman.speech.align import mouth_track

        try:
            from digihuman.render.photo import render_photo
        except ImportError as e:
            raise EngineUnavailable("the photo talking head", "digihuman.render.photo is missing") from e
        with stage("selection"):
            mouth = mouth_track(timeline, PHOTO_FPS)
        return render_photo(image, speech, mouth, timeline, out_dir, options, progress)
