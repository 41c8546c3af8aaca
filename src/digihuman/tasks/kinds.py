"""Worker groups: which queue a task kind travels on, and which engines a worker of each group loads.

Render workers (big images, many cores) and speech workers (small, many) scale apart:
``digihuman worker --kinds render`` consumes only the render queue and builds only the
engines render jobs use. A task whose group no worker serves stays queued (visible as
``queued`` in ``GET /v1/tasks``) until one starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from digihuman.errors import InvalidInput
from digihuman.tasks.payloads import (
    AVATAR_FAST,
    AVATAR_GENERATE,
    AVATAR_TRAIN,
    AVATAR_V2,
    REMIX,
    VOICE_SAY,
    VOICE_TRAIN,
)

RENDER, SPEECH, VOICE, CHAT, REMIX_GROUP = "render", "speech", "voice", "chat", "remix"
GROUPS: tuple[str, ...] = (RENDER, SPEECH, VOICE, CHAT, REMIX_GROUP)

# Every task kind belongs to exactly one group (tests check that JOBS has no kind missing here).
KIND_GROUPS: dict[str, str] = {
    AVATAR_GENERATE: RENDER,  # avatar/video synthesis
    AVATAR_V2: RENDER,
    AVATAR_TRAIN: RENDER,  # avatar model training
    AVATAR_FAST: RENDER,
    VOICE_SAY: SPEECH,  # text-to-speech with a stock voice or a voice model
    VOICE_TRAIN: VOICE,  # voice model training
    REMIX: REMIX_GROUP,
}

# The Engines fields each group's jobs use. A render job may speak a script (tts, voice_cloner) and
# aligns English phones with the recogniser; a remix re-dubs, lip-syncs and rewrites, so it needs all.
GROUP_ENGINES: dict[str, frozenset[str]] = {
    RENDER: frozenset({"tts", "asr", "voice_cloner", "talking_head"}),
    SPEECH: frozenset({"tts", "asr", "voice_cloner"}),
    VOICE: frozenset({"tts", "asr", "voice_cloner"}),
    CHAT: frozenset({"chat", "asr"}),
    REMIX_GROUP: frozenset({"tts", "asr", "voice_cloner", "talking_head", "chat", "remixer"}),
}


def group_of(kind: str) -> str:
    """The group whose workers run tasks of ``kind``."""
    try:
        return KIND_GROUPS[kind]
    except KeyError:
        raise InvalidInput(f"task kind {kind!r} belongs to no worker group; add it to tasks/kinds.py.") from None


def parse_groups(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Groups from ``render,speech`` (or a list); empty or None means all, in the canonical order."""
    names = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value or ())
    names = [n for n in names if n]
    if not names or names == ["all"]:
        return GROUPS
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise InvalidInput(f"unknown worker kinds {', '.join(unknown)}; choose from {', '.join(GROUPS)}.")
    return tuple(g for g in GROUPS if g in names)


def engines_for(groups: Iterable[str]) -> frozenset[str]:
    """The Engines fields a worker serving ``groups`` builds."""
    return frozenset().union(*(GROUP_ENGINES[g] for g in groups))
