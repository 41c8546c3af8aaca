"""x264 settings for rendered videos: CPU seconds, size and PSNR of each variant on the same frames.

The frames are the first seconds of a real clip at the render sizes (512², 720×1280, 1080×1920),
held in memory as YUV 4:2:0, so only the encoder is timed (the process's CPU time, which counts
x264's own threads: on a shared machine that is steadier than wall time). PSNR is of the decoded
output against those frames (Y, U and V weighted 4:1:1), i.e. against the lossless composite.

    .venv/bin/python bench/encoder_options.py [--seconds 6] [--sizes 512,720p,1080p]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
MEDIA = ROOT.parent / "shared" / "media" / "video"
SOURCES = {  # name: (clip, width)
    "512": ("lv02_fr_m_macron_dfrf_french.mp4", 512),
    "720p": ("v05_f_halfbody_1080p_latentsync_demo1.mp4", 720),
    "1080p": ("v05_f_halfbody_1080p_latentsync_demo1.mp4", 1080),
}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def frames(clip: Path, width: int, seconds: float) -> tuple[list[np.ndarray], float]:
    """The first ``seconds`` of ``clip`` scaled to ``width`` (even height), as YUV 4:2:0 arrays."""
    import av
    import cv2

    from digihuman.render.output import to_yuv

    out = []
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate)
        for frame in c.decode(stream):
            if frame.time >= seconds:
                break
            rgb = frame.to_ndarray(format="rgb24")
            height = round(rgb.shape[0] * width / rgb.shape[1] / 2) * 2
            if rgb.shape[1] != width:
                rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            out.append(to_yuv(rgb))
    return out, fps


def psnr(path: Path, reference: list[np.ndarray]) -> float:
    import av

    errors = []
    with av.open(str(path)) as c:
        for decoded, ref in zip(c.decode(video=0), reference):
            got = decoded.to_ndarray(format="yuv420p").astype(np.float64)
            h = ref.shape[0] * 2 // 3
            y, uv = (got[:h] - ref[:h]) ** 2, (got[h:] - ref[h:]) ** 2
            errors.append((4 * y.mean() + 2 * uv.mean()) / 6)  # U and V are each half of uv
    return float(10 * np.log10(255.0 ** 2 / np.mean(errors)))


def encode(yuvs: list[np.ndarray], fps: float, path: Path, options: dict[str, str]) -> tuple[float, float]:
    """(CPU s, wall s) to encode ``yuvs`` with the libx264 ``options``."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    h, w = yuvs[0].shape[0] * 2 // 3, yuvs[0].shape[1]
    c0, t0 = cpu_s(), time.perf_counter()
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = options
        for i, yuv in enumerate(yuvs):
            f = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            f.pts, f.time_base = i, 1 / rate
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return cpu_s() - c0, time.perf_counter() - t0


BASE = {"crf": "18", "preset": "veryfast", "x264-params": "me=dia:subme=1"}  # before partitions=none
VARIANTS = {
    "previous": BASE,
    "threads=1": {**BASE, "threads": "1"},
    "sliced:threads=2": {**BASE, "x264-params": "me=dia:subme=1:sliced-threads=1:threads=2"},
    "superfast": {"crf": "18", "preset": "superfast"},
    "aq-mode=0": {**BASE, "x264-params": "me=dia:subme=1:aq-mode=0"},
    "partitions=none": {**BASE, "x264-params": "me=dia:subme=1:partitions=none"},
    "weightp=0": {**BASE, "x264-params": "me=dia:subme=1:weightp=0"},
    "rc-lookahead=5": {**BASE, "x264-params": "me=dia:subme=1:rc-lookahead=5"},
    "bframes=5": {**BASE, "x264-params": "me=dia:subme=1:bframes=5"},
    "partitions=none:weightp=0": {**BASE, "x264-params": "me=dia:subme=1:partitions=none:weightp=0"},
    "subme=0": {**BASE, "x264-params": "me=dia:subme=0"},
    "crf=17": {**BASE, "crf": "17", "x264-params": "me=dia:subme=1:partitions=none"},
}


def shipped() -> dict[str, str]:
    """What a render writes now (VideoSpec's preset and x264 parameters at the render's crf)."""
    from digihuman.render.output import VideoSpec
    from digihuman.render.video import OUTPUT_CRF

    spec = VideoSpec(2, 2, 25, crf=OUTPUT_CRF)
    return {"crf": str(spec.crf), "preset": spec.preset, "x264-params": spec.x264_params}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--sizes", default="512,720p,1080p")
    parser.add_argument("--variants", default=",".join([*VARIANTS, "shipped"]))
    parser.add_argument("--rounds", type=int, default=2, help="each variant encoded this often, interleaved")
    args = parser.parse_args()
    VARIANTS["shipped"] = shipped()
    names = args.variants.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            clip, width = SOURCES[size]
            yuvs, fps = frames(MEDIA / clip, width, args.seconds)
            cpu: dict[str, list[float]] = {n: [] for n in names}
            wall: dict[str, list[float]] = {n: [] for n in names}
            for _ in range(args.rounds):
                for name in names:
                    c, w = encode(yuvs, fps, Path(tmp) / f"{size}_{name}.mp4", VARIANTS[name])
                    cpu[name].append(c)
                    wall[name].append(w)
            base_cpu = min(cpu["previous"]) if "previous" in cpu else None
            for name in names:
                path = Path(tmp) / f"{size}_{name}.mp4"
                row = {"size": size, "variant": name, "frames": len(yuvs),
                       "cpu_ms_per_frame": round(1000 * min(cpu[name]) / len(yuvs), 2),
                       "cpu_vs_previous": round(min(cpu[name]) / base_cpu, 3) if base_cpu else None,
                       "wall_ms_per_frame": round(1000 * min(wall[name]) / len(yuvs), 2),
                       "kbit_s": round(path.stat().st_size * 8 / 1000 / (len(yuvs) / fps)),
                       "psnr_db": round(psnr(path, yuvs), 3)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = ROOT / "bench" / "results" / "encoder_options.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seconds": args.seconds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
