"""CPU and wall seconds of each stage of avatar training, on the first 12 s of v05 (1080×1920) and
lv02 (512×512), in one process, one stage after the other:

    decode          PyAV to RGB (and RGB + the decoder's YUV, as the second pass reads)
    facemesh        FaceMesh alone on the first 150 frames
    track           track_video (decode, FaceMesh, smoothing, pose, mouth descriptors)
    track+bg        track_video feeding the background clip's encoder (a video all background)
    hear            the soundtrack: decode, recognise, content states
    mapping         fitting the speech -> mouth mapping
    cut             the second pass: mouth crops (warp, JPEG) and the background clip
    cut (no bg)     the second pass when the clip was made beside the tracking
    train           train_avatar end to end (s per video second = train wall / clip seconds)

CPU is the process's (all threads); the machine may be shared, so compare runs made side by side
(``--src`` times another checkout's ``src`` the same way). Writes ``bench/results/train_stages.json``.

    .venv/bin/python bench/train_stages.py [--src PATH] [--out NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media" / "video"
RESULTS = ROOT / "bench" / "results"
CLIPS = {"1080p": "v05_f_halfbody_1080p_latentsync_demo1.mp4", "512": "lv02_fr_m_macron_dfrf_french.mp4"}
SECONDS = 12.0


def cpu() -> float:
    t = os.times()
    return t.user + t.system


class Stage:
    """Times the block into ``out[name]`` as (CPU s, wall s)."""

    def __init__(self, name: str, out: dict) -> None:
        self.name, self.out = name, out

    def __enter__(self) -> None:
        self.cpu, self.wall = cpu(), time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.out[self.name] = [round(cpu() - self.cpu, 2), round(time.perf_counter() - self.wall, 2)]


def stages(video: Path) -> dict:
    import numpy as np

    import digihuman.render.avatar as avatar
    from digihuman.face import read_frames, track_video
    from digihuman.face.landmarks import FaceMesh

    out: dict = {}
    with Stage("decode", out):
        for _ in read_frames(video):
            pass
    with Stage("decode rgb+yuv", out):
        for _ in read_frames(video, yuv=True):
            pass
    pictures = [f.rgb for f in read_frames(video, max_frames=150)]
    with Stage("facemesh 150 frames", out), FaceMesh(static=False) as mesh:
        for rgb in pictures:
            mesh.detect(rgb)
    del pictures
    with Stage("track", out):
        track = track_video(video)
    with Stage("hear", out):
        heard = avatar.hear(video)
    descriptors, usable, motion = avatar._descriptors(track), avatar._usable(track), avatar._motion(track)
    start, frames = avatar.calm_window(motion, track.fps, avatar.TrainOptions().max_background_s)
    ppu = float(np.clip(round(float(np.median(track.scale))), 48, avatar.TrainOptions().max_crop_px_per_unit))
    with Stage("mapping", out):
        avatar._learn_mapping(track, descriptors, usable, heard)
    beside = hasattr(avatar, "_BackgroundBeside")
    for name, background in (("cut", True), ("cut (no bg)", False)) if beside else (("cut", True),):
        with tempfile.TemporaryDirectory() as tmp, Stage(name, out):
            extra = {} if background else {"background": False}
            avatar._cut_library(video, track, ppu, start, frames, 0, Path(tmp), avatar.TrainOptions(),
                                lambda *a: None, **extra)
    if beside:
        from digihuman.face.tracking import video_rate

        with tempfile.TemporaryDirectory() as tmp, Stage("track+bg", out):
            clip = avatar._BackgroundBeside(Path(tmp) / "bg.mp4", video_rate(video)[0], 15)
            try:
                track_video(video, on_frame=clip.put)
            finally:
                clip.finish()
    with tempfile.TemporaryDirectory() as tmp, Stage("train", out):
        avatar.train_avatar(video, Path(tmp))
    seconds = len(track) / track.fps
    out.update(frames=len(track), seconds=round(seconds, 2),
               train_s_per_s=round(out["train"][1] / seconds, 2),
               train_cpu_per_s=round(out["train"][0] / seconds, 2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--out", default="train_stages")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src))
    sys.path.insert(0, str(ROOT / "bench"))
    from render_speed import cut

    results = {"src": str(args.src), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in CLIPS.items():
            video = cut(MEDIA / source, Path(tmp) / f"{name}.mp4", SECONDS, None)
            results[name] = stages(video)
            print(name, json.dumps(results[name]), f"load {os.getloadavg()[0]:.1f}", flush=True)
    results["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
