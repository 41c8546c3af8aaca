"""The talking-head protocol: avatar models and lip-synced rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from digihuman.progress import Progress


@dataclass(frozen=True)
class RenderOptions:
    """How to render one video."""

    quality: Literal["standard", "v2"] = "standard"  # v2 spends more time on blending and smoothing
    watermark: str | None = None  # when set, also write a copy with this corner mark
    # the caller re-encodes the video (e.g. a remix): encode fast and nearly lossless instead of small
    intermediate: bool = False


@dataclass(frozen=True)
class RenderResult:
    """Files a render wrote (all inside the output folder it was given)."""

    video: Path  # clean H.264 + AAC MP4
    cover: Path  # a still frame (PNG or JPEG)
    preview: Path  # animated WebP
    duration_s: float
    watermarked: Path | None = None


@dataclass(frozen=True)
class AvatarInfo:
    """What training an avatar model produced, beside the files in its folder."""

    cover: Path
    frames: int
    duration_s: float
    warnings: tuple[str, ...] = field(default=())


class TalkingHead(Protocol):
    """Makes a face say given speech."""

    def train(self, video: Path, model_dir: Path, progress: Progress) -> AvatarInfo:
        """Build an avatar model from a talking video into ``model_dir``."""

    def render(
        self, avatar: Path, audio: Path, out_dir: Path, options: RenderOptions, progress: Progress
    ) -> RenderResult:
        """Render ``avatar`` (a photo, a video or an avatar model folder) saying ``audio``."""
