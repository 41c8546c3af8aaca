"""The ``resolution`` option of talking-head requests: the long side of the output video."""

from __future__ import annotations

from typing import Any

from digihuman.errors import InvalidInput

MIN_SIDE, MAX_SIDE = 128, 3840


def check_resolution(value: Any, field: str = "resolution") -> int | None:
    """The even long side in pixels (128-3840) a request asks for; None when it leaves it out."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        side = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        side = None
    if isinstance(side, bool) or not isinstance(side, int) or not MIN_SIDE <= side <= MAX_SIDE or side % 2:
        raise InvalidInput(f"{field} must be an even number of pixels from {MIN_SIDE} to {MAX_SIDE} (the long "
                           f"side of the video), not {str(value)[:20]!r}; leave it out for the avatar's own size.")
    return side
