"""Source footage read at the output's frame times: faster or slower, or looped, one frame in memory.

The decoder runs forwards only; each output frame takes the latest source frame shown at its time
(frames in between are skipped without conversion). Looping past the end reopens the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.errors import MediaRejected


@dataclass(frozen=True)
class FootageInfo:
    width: int
    height: int
    fps: float
    duration: float


def footage_info(path: Path) -> FootageInfo:
    """Size, frame rate and length of the video in ``path``."""
    from digihuman.media.probe import probe

    info = probe(path, field="video_url")
    if info.kind != "video" or not info.width or not info.height:
        raise MediaRejected("video_url has no picture: send a video file.")
    return FootageInfo(info.width, info.height, info.fps or 25.0, info.duration_s or 0.0)


def frames_at(path: Path, times: Iterator[float] | list[float],
              loop_after: float | None = None) -> Iterator[np.ndarray]:
    """RGB frames of ``path`` at each of ``times`` (seconds, non-decreasing, or wrapping at
    ``loop_after`` when given: the video then plays again from its start)."""
    import av

    container = None
    decoded: Iterator | None = None
    current = upcoming = None
    current_rgb: np.ndarray | None = None
    last_t = -1.0
    try:
        for t in times:
            if loop_after:
                t = t % loop_after
            if container is None or t < last_t:
                if container is not None:
                    container.close()
                container = av.open(str(path))
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                decoded = container.decode(stream)
                current, current_rgb = None, None
                upcoming = next(decoded, None)
            last_t = t
            # move on while the next frame is due at or before t (half a millisecond of slack for rounding)
            while upcoming is not None and (current is None or (upcoming.time or 0.0) <= t + 5e-4):
                current, current_rgb = upcoming, None
                upcoming = next(decoded, None)  # type: ignore[arg-type]
            if current is None:
                raise MediaRejected("video_url has no frames that can be decoded: send another video.")
            if current_rgb is None:
                current_rgb = current.to_ndarray(format="rgb24")
            yield current_rgb
    finally:
        if container is not None:
            container.close()
