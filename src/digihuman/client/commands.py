"""The CLI's ``--server`` variants: render, tts, voice create and remix done by a remote server.

Each takes the same arguments as its local command and prints the same JSON (plus the
task id); inputs are uploaded, outputs downloaded to the paths given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from digihuman.client.sync import Client
from digihuman.errors import InvalidInput


def _client(args: argparse.Namespace) -> Client:
    return Client(args.server, args.key)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def json_option(text: str | None, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{name} is not valid JSON: {e.msg}; write it like '{{\"mirror\": true}}'.") from e
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be a JSON object, like '{{\"mirror\": true}}'.")
    return value


def render(args: argparse.Namespace) -> int:
    """--avatar is a photo or video (file or URL), or the model_id of an avatar trained on the server."""
    avatar = str(args.avatar)
    with _client(args) as dh:
        if args.quality == "v2":
            task_id = dh.generate_video_v2(avatar, args.audio)
        elif Path(avatar).exists() or avatar.startswith(("http://", "https://")):
            task_id = dh.generate_video(avatar, args.audio, no_watermark=not args.watermark)
        else:
            task_id = dh.render_fast(avatar, args.audio)
        task = dh.wait(task_id, progress=args.progress)
        outputs, out = task["outputs"], Path(args.out)
        dh.download(outputs["video"], out)  # the server's own mark burnt in when --watermark asked for it
        preview = None
        if outputs.get("preview"):
            preview = dh.download(outputs["preview"], out.with_suffix(".webp"))
    _print_json({"video": str(out), "preview": str(preview) if preview else None,
                 "duration_s": outputs.get("duration_s"), "task_id": task_id})
    return 0


def tts(args: argparse.Namespace) -> int:
    with _client(args) as dh:
        print(dh.tts(args.text, Path(args.out), voice=args.voice, normalize=args.normalize,
                     sample_rate=args.sample_rate, chunk_length=args.chunk_length))
    return 0


def voice_create(args: argparse.Namespace) -> int:
    """The voice model is made on the server, titled --title (or after --out); prints its id to use."""
    title = args.title or (Path(args.out).name if args.out else "")
    if not title:
        raise InvalidInput("give the server's voice model a name with --title.")
    with _client(args) as dh:
        model = dh.clone_voice(args.samples, title, texts=args.text, mode=args.mode, enhance=args.enhance)
        dh.wait(model["task_id"], progress=args.progress)
        model = dh.voice_model(model["_id"])
    _print_json({"model_id": model["_id"], "title": model["title"], "train_mode": model.get("train_mode"),
                 "languages": model.get("languages"), "state": model["state"], "task_id": model["task_id"],
                 "warnings": model.get("warnings", [])})
    return 0


def remix(args: argparse.Namespace) -> int:
    transforms = json_option(args.transforms, "--transforms")
    style = json_option(args.style, "--style")
    with _client(args) as dh:
        task_id = dh.remix(args.video, script=args.script, captions=args.caption, voice=args.voice,
                           rewrite=args.rewrite, transforms=transforms, style=style, music=args.music)
        task = dh.wait(task_id, progress=args.progress)
        out = dh.download(task["outputs"]["video"], Path(args.out))
    _print_json({"video": str(out), "duration_s": task["outputs"].get("duration_s"), "task_id": task_id})
    return 0


COMMANDS = {"render": render, "tts": tts, "voice create": voice_create, "remix": remix}
