"""Task kinds and the job that runs each; a task record's ``kind`` names one of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from digihuman.pipelines import avatar, remix, voice
from digihuman.tasks.context import JobContext

AVATAR_GENERATE = "avatar.generate"  # /avatar/generation
AVATAR_V2 = "avatar.v2"  # create_v2
AVATAR_TRAIN = "avatar.train"  # create_model_fast
AVATAR_FAST = "avatar.fast"  # create_video_fast
VOICE_TRAIN = "voice.train"  # POST /model, create_model_audio
VOICE_SAY = "voice.say"  # create_audio
REMIX = "remix"  # /generate_video

JOBS: dict[str, Callable[[JobContext], dict[str, Any]]] = {
    AVATAR_GENERATE: avatar.generate,
    AVATAR_V2: avatar.generate,
    AVATAR_TRAIN: avatar.train,
    AVATAR_FAST: avatar.render_fast,
    VOICE_TRAIN: voice.train,
    VOICE_SAY: voice.say,
    REMIX: remix.remix,
}
