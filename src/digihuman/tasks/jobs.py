"""Task kinds, the payload each takes and the job that runs it; a task record's ``kind`` names one of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from digihuman.pipelines import avatar, remix, voice
from digihuman.tasks.context import JobContext
from digihuman.tasks.payloads import (
    AVATAR_FAST,
    AVATAR_GENERATE,
    AVATAR_TRAIN,
    AVATAR_V2,
    REMIX,
    VOICE_SAY,
    VOICE_TRAIN,
    AvatarFastPayload,
    AvatarGeneratePayload,
    AvatarTrainPayload,
    AvatarV2Payload,
    Payload,
    RemixPayload,
    VoiceSayPayload,
    VoiceTrainPayload,
)

__all__ = ["AVATAR_FAST", "AVATAR_GENERATE", "AVATAR_TRAIN", "AVATAR_V2", "JOBS", "PAYLOADS", "REMIX", "VOICE_SAY",
           "VOICE_TRAIN"]

JOBS: dict[str, Callable[[JobContext], dict[str, Any]]] = {
    AVATAR_GENERATE: avatar.generate,
    AVATAR_V2: avatar.generate,
    AVATAR_TRAIN: avatar.train,
    AVATAR_FAST: avatar.render_fast,
    VOICE_TRAIN: voice.train,
    VOICE_SAY: voice.say,
    REMIX: remix.remix,
}

PAYLOADS: dict[str, type[Payload]] = {cls.KIND: cls for cls in (
    AvatarGeneratePayload, AvatarV2Payload, AvatarTrainPayload, AvatarFastPayload, VoiceTrainPayload,
    VoiceSayPayload, RemixPayload)}
