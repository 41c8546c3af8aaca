"""The video-remix protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from digihuman.progress import Progress
from digihuman.speech.tts.base import AudioChunk


@dataclass(frozen=True)
class RemixRequest:
    """One remix job: the source video and what to do with it."""

    video: Path
    script: str | None = None  # subtitles / new script; transcribed from the video when None
    floating_text: tuple[str, ...] = ()  # "{...}" marks highlighted spans
    rewrite: str | None = None  # rewrite style, or None to keep the script
    transforms: dict[str, Any] = field(default_factory=dict)
    subtitle_style: dict[str, Any] = field(default_factory=dict)
    music: Path | None = None  # background music file (the transforms' music_url, taken in)


@dataclass(frozen=True)
class RemixResult:
    video: Path
    duration_s: float


class Remixer(Protocol):
    """Re-edits a video into a new one."""

    def remix(
        self,
        request: RemixRequest,
        out_dir: Path,
        progress: Progress,
        speak: "SpeakFn | None" = None,
    ) -> RemixResult:
        """Write the remixed video into ``out_dir``; ``speak`` re-dubs text when a voice was asked for."""


class SpeakFn(Protocol):
    def __call__(self, text: str) -> Iterator[AudioChunk]: ...
