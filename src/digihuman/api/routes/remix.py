"""Video remix: POST /generate_video, GET /query_video/{task_id}."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok
from digihuman.api.limits import check_text
from digihuman.api.submit import check_quota, owned_task, submit
from digihuman.api.voices import check_voice
from digihuman.errors import InvalidInput
from digihuman.remix.floating import check as check_floating
from digihuman.remix.options import parse_style, parse_transforms
from digihuman.remix.redub import PRESETS, preset
from digihuman.services import Services
from digihuman.tasks.jobs import REMIX
from digihuman.tasks.payloads import RemixPayload
from digihuman.tasks.records import TaskStatus

router = APIRouter(tags=["video remix"])
STATUS = {TaskStatus.QUEUED: "pending", TaskStatus.RUNNING: "processing", TaskStatus.SUCCEEDED: "completed",
          TaskStatus.FAILED: "failed", TaskStatus.CANCELLED: "failed"}

TRANSFORMS_DOC = """Picture and sound changes (ours); every key optional:
`mirror` (bool, flip left-right);
`crop` ({x, y, width, height}: fractions 0..1 of the frame; the window is scaled back up);
`zoom` (1..4, into the centre);
`speed` (0.5..2; the voice keeps its pitch);
`color` ({brightness -1..1, contrast 0..3, saturation 0..3, warmth -1..1});
`aspect` ("16:9" | "9:16" | "1:1" | "4:3" | "3:4": new frame shape, picture fitted inside) with
`fill` ("blur": its own blurred enlargement, default | "black");
`music_url` (http(s) or /files URL of background music, looped) with `music_volume` (0..1, default 0.3)
and `ducking` (0..1: share of the music kept under speech, default 0.25);
`original_volume` (0..1, default 0: when re-dubbing, the original soundtrack kept underneath)."""

STYLE_DOC = """Subtitle and floating-text look (ours); every key optional:
`enabled` (bool, default true); `size` (px; default 6 % of the frame's shorter side); `color`, `outline_color`
("#RRGGBB", a colour name or [r, g, b]; white on black); `outline` (share of the size, 0..0.3, default
0.08); `shadow` (bool, default true); `box` (bool: dark box behind the lines); `margin` (0..0.4 of the
height above the bottom, default 0.06); `max_lines` (1..4, default 2); `width` (0.3..1 of the frame, default
0.88); floating text: `floating_size` (px; default 7.5 % of the shorter side), `floating_color` (white),
`highlight_color` (of {...} spans, default "#FFD600"), `floating_position` ("top" | "middle"),
`animation` ("slide" | "fade" | "none")."""


class GenerateVideo(BaseModel):
    video_url: str = Field(description="The video to remix: an http(s) URL or the url of a file uploaded to "
                                       "/v1/files.")
    text_content: str | None = Field(
        None,
        description="The script: shown as subtitles timed to the speech (and spoken when `voice` is given); "
                    "transcribed from the video when absent.")
    custom_floating_text: list[str] = Field(
        default_factory=list, max_length=50,
        description="Floating captions shown in turn, animated in and out; `{...}` marks a highlighted span.")
    voice: str | None = Field(None, description="Re-dub: a stock voice id or one of your voice models speaks the "
                                                "script, lip-synced when the video shows a face (ours).")
    rewrite: bool | str | None = Field(
        None, description="Rewrite the script before re-dubbing (needs `voice`): true (spoken-video style) or a "
                          "style: xiaohongshu, formal, or any rewrite-<name> preset (ours).")
    transforms: dict[str, Any] = Field(default_factory=dict, description=TRANSFORMS_DOC)
    subtitle_style: dict[str, Any] = Field(default_factory=dict, description=STYLE_DOC)
    callback_url: str | None = Field(
        None, description="Told when the task ends: the task object is POSTed there, signed (ours).")


@router.post("/generate_video")
def generate(body: GenerateVideo, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    services.engines.require_remixer()
    transforms = parse_transforms(body.transforms)
    parse_style(body.subtitle_style)
    check_floating(body.custom_floating_text)
    if body.text_content is not None:
        check_text(services, body.text_content, "text_content")
    if body.rewrite and not body.voice:
        raise InvalidInput("rewrite needs voice: the rewritten script is spoken by that voice.")
    rewrite = _rewrite_style(services, body.rewrite)
    if body.voice:
        check_voice(services, body.voice, owner, "voice")
    services.intake.check(body.video_url, "video_url")
    if transforms.music_url:
        services.intake.check(transforms.music_url, "transforms.music_url")
    check_quota(services, owner)
    video = services.intake.take_url(body.video_url, "video_url", "video")
    music = services.intake.take_url(transforms.music_url, "transforms.music_url", "speech") \
        if transforms.music_url else None
    payload = RemixPayload(video_key=video.key, text_content=body.text_content,
                           custom_floating_text=tuple(body.custom_floating_text), voice=body.voice, rewrite=rewrite,
                           transforms=body.transforms, subtitle_style=body.subtitle_style,
                           music_key=music.key if music else None)
    return ok({"task_id": submit(services, owner, payload, callback_url=body.callback_url).id})


def _rewrite_style(services: Services, rewrite: bool | str | None) -> str | None:
    """The rewrite style asked for, refused now if the chat engine has no preset for it."""
    style = "default" if rewrite is True else (rewrite or None)
    if style is None or style in PRESETS:
        return style
    chat = services.engines.chat
    offered = [m for m in chat.models() if m.startswith("rewrite-")] if chat is not None else []
    if preset(style) not in offered:
        known = ", ".join(["true", *PRESETS, *(m for m in offered if m not in PRESETS.values())])
        raise InvalidInput(f"unknown rewrite style {style!r}; use one of: {known}.")
    return style


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


@router.get("/query_video/{task_id}")
def query(task_id: str, owner: Owner, services: ServicesDep) -> dict[str, Any]:
    task = owned_task(services, task_id, owner, (REMIX,))
    video = (task.outputs or {}).get("video")
    return ok({
        "task_id": task.id,
        "status": STATUS[task.status],
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "error_message": task.error_message,
        "result_urls": {"oss_path": video, "public_url": services.storage.url(video)} if video else None,
        "progress": round(task.progress, 1),
        "stage": task.stage,
    })
