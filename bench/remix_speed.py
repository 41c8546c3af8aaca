"""Video remix speed: real-time factor on a 30 s 720p video, and one frame per remix option.

The source: the first 30 s of lv02 (512×512, 30 fps, French speech), scaled to 1280 wide and cut to
1280×720 around the face. Scenarios (each timed from the request to the finished MP4, models
already loaded):

    subtitles           recognise the speech, burn in subtitles
    subtitles+effects   + two floating captions, mirror, zoom 1.1, colour grade, 9:16 with blurred fill
    redub+lipsync       an English script spoken by the stock voice en-joe, the face lip-synced to it
                        (the talking head learns the face from the video's first 12 s first: that is in
                        the time)

Real-time factor = wall seconds / seconds of output video (< 1: faster than real time). The machine
is shared: wall figures taken while other work runs are noisy; CPU s (all threads of this process)
moves much less with the load, so compare runs by it.

Frames: one PNG per option into bench/results/remix_frames/ (from an 8 s cut of the same source), and
the middle frame of each timed scenario (speed_<scenario>.png).

    .venv/bin/python bench/remix_speed.py [--seconds 30] [--frames-only] [--skip-redub] [--skip-frames]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
SOURCE = MEDIA / "video" / "lv02_fr_m_macron_dfrf_french.mp4"
MUSIC = MEDIA / "audio" / "a03_en_f_latentsync_demo1.wav"  # stands in for music: a voice-over with a bed
SCRIPT = ("Welcome back to the channel. Today I want to talk about three habits that changed my mornings. "
          "First, I put my phone in another room before I sleep, so the first thing I see is daylight and not "
          "a screen. Second, I drink a large glass of water and take a short walk, even when it rains. Third, I "
          "write down the one task that matters most today, and I do it before lunch. None of this is new, but "
          "doing it every day made a real difference. Tell me in the comments which habit you will try first.")


def make_720p(target: Path, seconds: float) -> Path:
    """The first ``seconds`` of lv02 as 1280×720 (scaled to cover, the middle kept), with its sound."""
    sys.path.insert(0, str(ROOT))
    from tests.render.conftest import cut_video

    return cut_video(SOURCE, target, seconds, 1280, 720)


class Stages:
    """A Progress that notes when each stage is first reported."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seen: dict[str, float] = {}

    def __call__(self, percent: float, stage: str) -> None:
        self.seen.setdefault(stage, round(time.perf_counter() - self.start, 2))


def engines():  # noqa: ANN201
    from digihuman.remix.engine import VideoRemixer
    from digihuman.render.engine import SampleTalkingHead
    from digihuman.speech.asr.whisper import WhisperRecognizer
    from digihuman.speech.tts.base import SpeechOptions
    from digihuman.speech.tts.catalogue import SpeechCatalogue

    asr = WhisperRecognizer()
    tts = SpeechCatalogue.installed()
    return VideoRemixer(asr, SampleTalkingHead(recognizer=asr)), \
        (lambda text: tts.synthesize(text, "en-joe", SpeechOptions())), asr


def scenarios(source: Path) -> dict[str, tuple[dict, bool]]:
    effects = {"mirror": True, "zoom": 1.1, "color": {"brightness": 0.03, "contrast": 1.1, "saturation": 1.2,
                                                      "warmth": 0.2}, "aspect": "9:16"}
    return {
        "subtitles": ({}, False),
        "subtitles+effects": ({"floating_text": ("今日{重点}：三个习惯", "Tip {#1}"), "transforms": effects}, False),
        "redub+lipsync": ({"script": SCRIPT}, True),
    }


def run_speed(seconds: float, skip_redub: bool, work: Path) -> list[dict]:
    from digihuman.media.probe import probe
    from digihuman.remix.base import RemixRequest

    source = make_720p(work / "source_720p.mp4", seconds)
    remixer, speak, asr = engines()
    asr.transcribe(source)  # load the models before timing
    rows = []
    for name, (fields, redub) in scenarios(source).items():
        if redub and skip_redub:
            continue
        stages = Stages()
        request = RemixRequest(video=source, **fields)
        started, cpu = time.perf_counter(), time.process_time()
        result = remixer.remix(request, work / name, stages, speak if redub else None)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        info = probe(result.video)
        (RESULTS / "remix_frames").mkdir(parents=True, exist_ok=True)  # the middle frame, to compare runs
        save_frame(result.video, info.duration_s / 2, RESULTS / "remix_frames" / f"speed_{name}.png")
        rows.append({"scenario": name, "source_s": seconds, "output_s": round(info.duration_s, 2),
                     "size": f"{info.width}x{info.height}", "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                     "rtf": round(wall / info.duration_s, 3), "stages_s": stages.seen})
        print(f"  {name}: {wall:.1f} s", flush=True)
    return rows


def save_frame(video: Path, t: float, target: Path) -> None:
    import av
    from PIL import Image

    with av.open(str(video)) as c:
        last = None
        for f in c.decode(video=0):
            if f.time is not None and f.time > t:
                break
            last = f
    Image.fromarray(last.to_ndarray(format="rgb24")).save(target)


def run_frames(work: Path) -> dict[str, str]:
    """One frame per option, from an 8 s cut; returns option → file name."""
    from digihuman.remix.base import RemixRequest

    source = make_720p(work / "source_8s.mp4", 8.0)
    remixer, speak, _ = engines()
    out = RESULTS / "remix_frames"
    out.mkdir(parents=True, exist_ok=True)
    at = 3.0
    options = {
        "original": ({"subtitle_style": {"enabled": False}}, False),
        "subtitles": ({}, False),
        "subtitles_chinese_script": ({"script": "今天我想和大家聊一聊，欧洲的未来和我们共同的责任。谢谢大家。"}, False),
        "floating_text": ({"floating_text": ("今日{重点}：三个{习惯}",)}, False),
        "mirror": ({"transforms": {"mirror": True}}, False),
        "crop_zoom": ({"transforms": {"crop": {"x": 0.2, "y": 0.0, "width": 0.6, "height": 1.0}, "zoom": 1.3}}, False),
        "colour": ({"transforms": {"color": {"brightness": 0.05, "contrast": 1.2, "saturation": 1.5,
                                              "warmth": 0.6}}}, False),
        "aspect_9x16_blur": ({"transforms": {"aspect": "9:16"}}, False),
        "speed_1.5x": ({"transforms": {"speed": 1.5}}, False),
        "music_ducked": ({"transforms": {"music_volume": 0.4, "ducking": 0.25}, "music": MUSIC}, False),
        "redub_lipsync": ({"script": "Good evening. Tonight we look at the future of Europe together."}, True),
    }
    names = {}
    for name, (fields, redub) in options.items():
        fields = dict(fields)
        transforms, style = fields.pop("transforms", {}), fields.pop("subtitle_style", {})
        request = RemixRequest(video=source, transforms=transforms, subtitle_style=style, **fields)
        result = remixer.remix(request, work / f"frame_{name}", lambda p, s: None, speak if redub else None)
        save_frame(result.video, min(at, result.duration_s - 0.1), out / f"{name}.png")
        names[name] = f"remix_frames/{name}.png"
        print(f"  frame: {name}", flush=True)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--frames-only", action="store_true")
    parser.add_argument("--skip-redub", action="store_true")
    parser.add_argument("--skip-frames", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict = {"source": f"lv02 first {args.seconds:g} s as 1280x720 30 fps"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.frames_only:
            rows = run_speed(args.seconds, args.skip_redub, work)
            report["speed"] = rows
            print(f"\n{'scenario':<20}{'output s':>9}{'size':>11}{'wall s':>9}{'RTF':>8}{'CPU s':>8}")
            for r in rows:
                print(f"{r['scenario']:<20}{r['output_s']:>9}{r['size']:>11}{r['wall_s']:>9}{r['rtf']:>8}"
                      f"{r['cpu_s']:>8}")
                print(f"{'':<20}stages (s from start): {r['stages_s']}")
        if not args.skip_frames:
            report["frames"] = run_frames(work)
    target = RESULTS / ("remix_frames.json" if args.frames_only else "remix_speed.json")
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
