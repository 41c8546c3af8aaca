"""Speed and memory of the sample-based talking head at 512, 720p and 1080p.

For each resolution: training time per input second (``--train-seconds`` of talking video, 10 by
default); rendering real-time factor (compute seconds per second of video) of the high-speed path
and V2 on ``--seconds`` of speech; and in the same run the floor — decoding the background clip and encoding the same number of
frames with the soundtrack, no other work — so each is also given as a ratio to the floor. The photo
path is timed too when ``digihuman.render.photo.render_photo`` exists. Peak memory (max RSS of a
child process) is measured for a 60 s render at 720p, and a 600 s one with ``--long``.

End to end through the HTTP API (``--e2e``, or ``--e2e-only`` to skip the in-process figures): a
``digihuman serve`` on a free port with a temporary data dir (one worker process, the real engines);
for each of 512², 720p, 1080×1920 and a photo the avatar and the speech are uploaded, then the time
from POST /avatar/generation to the task's success is taken, with the task's own stage profile (wall
and CPU seconds per stage, from ``outputs.timings``) and the worker's peak RSS (VmHWM, reset per
request). Each video avatar is asked for three times: the second request reuses the trained avatar,
and so does the third, which leaves out ``no_watermark`` as a request does by default.

Sources: lv02 (512×512, 50 s) and v05 (1080×1920, scaled to 720×1280 for 720p; 10 s), the first
``--train-seconds`` of each (a shorter clip whole);
speech: a05 (60 s; looped to 600 s with ``--long``); photo: p07.

    .venv/bin/python bench/render_speed.py [--seconds 60] [--long] [--memory-only] [--e2e | --e2e-only]
                                           [--train-seconds 10]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
SOURCES = {  # name: (clip, width to scale to or None)
    "512": ("video/lv02_fr_m_macron_dfrf_french.mp4", None),
    "720p": ("video/v05_f_halfbody_1080p_latentsync_demo1.mp4", 720),
    "1080p": ("video/v05_f_halfbody_1080p_latentsync_demo1.mp4", None),
}
TRAIN_S = 10.0


def cut(source: Path, target: Path, seconds: float, width: int | None) -> Path:
    """The first ``seconds`` of ``source`` (scaled to ``width``), with its sound."""
    sys.path.insert(0, str(ROOT))
    from tests.render.conftest import cut_video

    if width is None:
        import av

        with av.open(str(source)) as c:
            width = c.streams.video[0].width
        # display orientation: a rotated phone video's width is its height
    return cut_video(source, target, seconds, width)


def speech(target: Path, seconds: float) -> Path:
    """``seconds`` of English speech (a05, looped), 16 kHz WAV."""
    from digihuman.media.audio import write_wav
    from digihuman.speech.align.features import load_audio
    from digihuman.speech.tts.base import AudioChunk

    samples = load_audio(MEDIA / "audio" / "a05_en_m_musetalk_eng_60s.wav")
    reps = int(np.ceil(seconds * 16000 / len(samples)))
    samples = np.tile(samples, reps)[: int(seconds * 16000)]
    write_wav([AudioChunk(samples, 16000)], target)
    return target


def floor(model_dir: Path, audio: Path, frames: int) -> float:
    """Seconds to decode ``frames`` background frames (ping-pong) and encode them with the sound."""
    from digihuman.render.avatar import AvatarModel
    from digihuman.render.clip import ClipReader, ping_pong, read_plan
    from digihuman.render.output import VideoSpec, VideoWriter

    model = AvatarModel.load(model_dir)
    t0 = time.perf_counter()
    reader = ClipReader(model_dir / "background.mp4")
    spec = VideoSpec(*model.size, model.fps, crf=18)  # as the renders write
    with tempfile.TemporaryDirectory() as tmp, VideoWriter(Path(tmp) / "f.mp4", spec, audio) as w:
        # in the clip's own YUV, as a render at the avatar's size passes it on
        for yuv in read_plan(reader, ping_pong(model.background[1], frames), "yuv420p"):
            w.write_yuv(yuv)
    reader.close()
    return time.perf_counter() - t0


def render_once(model_dir: Path, audio: Path, quality: str) -> tuple[float, float]:
    """(compute seconds, video seconds) of one render."""
    from digihuman.render.base import RenderOptions
    from digihuman.render.video import render_model

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = render_model(model_dir, audio, Path(tmp), RenderOptions(quality=quality))
        return time.perf_counter() - t0, result.duration_s


def photo_rtf(audio: Path, width: int) -> float | None:
    try:
        from digihuman.render.photo import render_photo
    except ImportError:
        return None
    import cv2

    from digihuman.render.base import RenderOptions
    from digihuman.speech.align import build_timeline, mouth_track

    with tempfile.TemporaryDirectory() as tmp:
        image = cv2.imread(str(MEDIA / "image" / "p07_m_asian_frame_from_v01.png"))
        h = round(image.shape[0] * width / image.shape[1] / 2) * 2
        path = Path(tmp) / "p.png"
        cv2.imwrite(str(path), cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA))
        t0 = time.perf_counter()
        timeline = build_timeline(audio)
        result = render_photo(path, audio, mouth_track(timeline, 25.0), timeline, Path(tmp) / "out",
                              RenderOptions(), lambda p, s: None)
        return (time.perf_counter() - t0) / result.duration_s


def peak_memory(model_dir: Path, seconds: float, work: Path) -> dict[str, float]:
    """Peak RSS (MB) of a fresh process rendering ``seconds`` of speech as a job does: the speech
    decoded ("speech"), then the avatar engine's render from the trained model ("render": the
    process's peak over all of it — the speech's pauses, its encoder states, planning and the frames).

    Read from /proc (VmHWM): getrusage's ru_maxrss would include the parent's size, which a child
    inherits across fork and exec.
    """
    audio = speech(work / f"mem_{int(seconds)}.wav", seconds)
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "src")!r})
from pathlib import Path
from digihuman.progress import no_progress
from digihuman.render.base import RenderOptions
from digihuman.render.engine import SampleTalkingHead
from digihuman.speech.utterance import Speech

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

speech = Speech.from_file(Path({str(audio)!r}))
first = hwm()
SampleTalkingHead().render(Path({str(model_dir)!r}), speech, Path({str(work / "mem_out")!r}), RenderOptions(),
                           no_progress)
print(first, hwm())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    speech_mb, render_mb = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
    return {"speech": round(speech_mb), "render": round(render_mb)}


def main() -> None:
    import argparse

    from digihuman.render.avatar import train_avatar

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="speech length (default 60; 600 with --long)")
    parser.add_argument("--long", action="store_true", help="also measure memory at 600 s")
    parser.add_argument("--memory-only", action="store_true", help="only the 720p peak-memory figures")
    parser.add_argument("--e2e", action="store_true", help="also time tasks through the HTTP API")
    parser.add_argument("--e2e-only", action="store_true", help="only time tasks through the HTTP API")
    parser.add_argument("--train-seconds", type=float, default=TRAIN_S,
                        help="seconds of talking video each avatar is trained on (default 10)")
    args = parser.parse_args()
    seconds = args.seconds or (600.0 if args.long else 60.0)
    if args.e2e_only:
        from render_e2e import run_e2e

        run_e2e(seconds, speech, cut, floor, SOURCES, MEDIA, RESULTS, args.train_seconds)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio = speech(work / "speech.wav", seconds)
        for name, (clip, width) in SOURCES.items():
            if args.memory_only and name != "720p":
                continue
            video = cut(MEDIA / clip, work / f"{name}.mp4", args.train_seconds, width)
            model_dir = work / f"model_{name}"
            t0 = time.perf_counter()
            info = train_avatar(video, model_dir)
            train = (time.perf_counter() - t0) / info.duration_s
            fast, dur = render_once(model_dir, audio, "standard")
            v2, _ = render_once(model_dir, audio, "v2")
            from digihuman.render.avatar import AvatarModel

            model = AvatarModel.load(model_dir)
            base = floor(model_dir, audio, int(round(dur * model.fps)))
            row = {"res": name, "size": list(model.size), "fps": round(model.fps, 2),
                   "train_s_per_s": round(train, 2), "rtf_fast": round(fast / dur, 3),
                   "rtf_v2": round(v2 / dur, 3),
                   "rtf_floor": round(base / dur, 3), "fast_over_floor": round(fast / base, 2),
                   "v2_over_floor": round(v2 / base, 2)}
            if name in ("512", "720p"):
                p = photo_rtf(audio, 512 if name == "512" else 720)
                row["rtf_photo"] = None if p is None else round(p, 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if name == "720p":
                memory = {"60": peak_memory(model_dir, 60.0, work)}
                if args.long:
                    memory["600"] = peak_memory(model_dir, 600.0, work)
                print("peak RSS MB (720p):", memory, flush=True)
                if args.memory_only:
                    memory_json = json.dumps({"peak_rss_mb": memory}, indent=1)
                    (RESULTS / "render_speed_memory.json").write_text(memory_json)
                    return
    print(f"\n{'res':6} {'size':>10} {'train s/s':>9} {'RTF fast':>8} {'RTF v2':>7} {'floor':>6} "
          f"{'fast/fl':>7} {'v2/fl':>6} {'photo':>6}")
    for r in rows:
        photo = r.get("rtf_photo")
        size = "x".join(map(str, r["size"]))
        print(f"{r['res']:6} {size:>10} {r['train_s_per_s']:9.2f} {r['rtf_fast']:8.3f} {r['rtf_v2']:7.3f} "
              f"{r['rtf_floor']:6.3f} {r['fast_over_floor']:7.2f} {r['v2_over_floor']:6.2f} "
              f"{'-' if photo is None else f'{photo:.3f}':>6}")
    print("peak RSS MB (720p render):", memory)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "render_speed.json").write_text(json.dumps({"rows": rows, "peak_rss_mb": memory,
                                                           "speech_s": seconds}, indent=1))
    if args.e2e:
        from render_e2e import run_e2e

        run_e2e(seconds, speech, cut, floor, SOURCES, MEDIA, RESULTS, args.train_seconds)


if __name__ == "__main__":
    main()
