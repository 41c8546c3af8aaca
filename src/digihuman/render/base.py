"""The talking-head protocol: avatar models and lip-synced rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from digihuman.progress import Progress

if TYPE_CHECKING:
    from digihuman.speech.utterance import Speech


@dataclass(frozen=True)
class RenderOptions:
    """How to render one video."""

    quality: Literal["standard", "v2"] = "standard"  # v2 spends more time on blending and smoothing
    watermark: str | None = None  # when set, the video carries this mark in its corner
    # the caller re-encodes the video (e.g. a remix): encode fast and nearly lossless instead of small
    intermediate: bool = False
    # long side of the output in pixels (even); None: the avatar's own size, at most
    # PHOTO_MAX_SIDE for a photo and VIDEO_MAX_SIDE for a video
    max_side: int | None = None


PHOTO_MAX_SIDE = 1080  # a photo's one mouth gains nothing from more pixels; the warp costs per pixel
VIDEO_MAX_SIDE = 1920


def output_size(width: int, height: int, max_side: int | None, default_cap: int) -> tuple[int, int]:
    """The even output size for a ``width`` x ``height`` avatar: long side ``max_side`` when given
    (up or down), else the avatar's own, capped at ``default_cap``; the aspect ratio is kept."""
    long_side = max(width, height)
    target = max_side if max_side is not None else min(long_side, default_cap)
    factor = target / long_side
    if abs(factor - 1.0) < 1e-9:
        return width - width % 2, height - height % 2
    return max(2, round(width * factor / 2) * 2), max(2, round(height * factor / 2) * 2)


@dataclass(frozen=True)
class RenderResult:
    """Files a render wrote (all inside the output folder it was given)."""

    video: Path  # H.264 + AAC MP4 (with the options' watermark, if any)
    cover: Path  # a still frame (PNG or JPEG), clean
    preview: Path  # animated WebP, clean
    duration_s: float


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
        self, avatar: Path, speech: Speech, out_dir: Path, options: RenderOptions, progress: Progress
    ) -> RenderResult:
        """Render ``avatar`` (a photo, a video or an avatar model folder) saying ``speech``: its
        samples are the soundtrack, and its timeline (or text) times the mouth when known."""
