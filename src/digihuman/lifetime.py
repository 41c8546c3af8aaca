"""Processes that end with the process that started them, even when it is killed with kill -9."""

from __future__ import annotations

import contextlib
import os


def parent_death_signal(sig: int, parent: int) -> None:
    """Receive ``sig`` when ``parent`` dies (Linux); exit now if it already has."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: a killed parent may leave this process behind
        ctypes.CDLL(None).prctl(1, int(sig))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)
