"""Face tracking benchmark: speed, how often a face is found, and landmark jitter before/after smoothing.

For each test video (../shared/media/video) at its native resolution: milliseconds per frame of
``track_video`` end to end (decode, FaceMesh, pose, mouth descriptors), the share of frames where
FaceMesh found the face, and the jitter of the landmarks on the stillest second of the video
(the one-second window where the rigid points move least): RMS frame-to-frame second difference,
in % of the eye-corner distance, for the rigid points (eyes, nose, forehead) and the outer lips,
raw and after the One-Euro filter. Plus the filter's response to a synthetic 4 Hz lip movement
(amplitude kept, lag), and the photo path on every portrait.

Run from the repository root:  ``.venv/bin/python bench/face_track.py [--all]``  (``--all`` adds the
50-60 s long videos). Prints a table and writes ``bench/results/face_track.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
SHORT = ("v01", "v03", "v05", "v07")
LONG = ("lv02", "lv03")


def still_window(landmarks: np.ndarray, scale: np.ndarray, frames: int) -> tuple[int, int]:
    """The ``frames``-long window where the rigid points' centre moves least."""
    from digihuman.face.landmarks import RIGID

    centre = landmarks[:, list(RIGID), :2].mean(axis=1) / scale[:, None]
    speed = np.r_[0.0, np.linalg.norm(np.diff(centre, axis=0), axis=1)]
    start = int(np.argmin(np.convolve(speed, np.ones(frames) / frames, "valid")))
    return start, start + frames


def lip_response(frequency: float = 4.0, fps: float = 30.0) -> tuple[float, float]:
    """Amplitude kept (0-1) and lag (ms) of the default filter on a noiseless lip movement."""
    from digihuman.face import smooth_track

    t = np.arange(0, 3, 1 / fps)
    x = 0.05 * np.sin(2 * np.pi * frequency * t)  # 0.1 face units peak to peak
    y = smooth_track(np.stack([x, np.zeros_like(x)], -1)[:, None, :], t)[:, 0, 0]
    steady = slice(int(fps), None)
    phasor = np.exp(-2j * np.pi * frequency * t[steady])
    gain = (y[steady] * phasor).sum() / (x[steady] * phasor).sum()
    return float(abs(gain)), float(-np.angle(gain) / (2 * np.pi * frequency) * 1000)


def bench_video(path: Path) -> dict:
    from digihuman.errors import MediaRejected
    from digihuman.face import jitter, smooth_track, track_video
    from digihuman.face.landmarks import LIPS_OUTER, RIGID

    start = time.perf_counter()
    try:
        track = track_video(path, smoothing=None)
    except MediaRejected as e:
        return {"video": path.name, "rejected": e.message}
    seconds = time.perf_counter() - start
    raw = track.landmarks
    eye = np.linalg.norm(raw[:, 33] - raw[:, 263], axis=1)  # the unit track_video smooths in
    start = time.perf_counter()
    smooth = smooth_track(raw, track.times, eye)
    smooth_ms = (time.perf_counter() - start) / len(track) * 1000
    a, b = still_window(smooth, eye, max(3, round(track.fps)))
    unit = float(np.median(track.scale))
    centre = smooth[a:b][:, list(RIGID), :2].mean(axis=1)
    motion = 100 * float(np.linalg.norm(np.diff(centre, axis=0), axis=1).mean()) / unit

    def jit(points: np.ndarray, group: tuple[int, ...]) -> float:
        return 100 * jitter(points[a:b][:, list(group)], unit)

    return {
        "video": path.name,
        "size": f"{track.width}x{track.height}",
        "frames": len(track),
        "ms_per_frame": 1000 * seconds / len(track),
        "smoothing_ms_per_frame": smooth_ms,
        "face_fraction": float(track.detected.mean()),
        "face_px": unit,
        "still_window_s": [float(track.times[a]), float(track.times[b - 1])],
        "still_window_motion_pct_per_frame": motion,
        "jitter_rigid_raw_pct": jit(raw, RIGID),
        "jitter_rigid_smooth_pct": jit(smooth, RIGID),
        "jitter_lips_raw_pct": jit(raw, LIPS_OUTER),
        "jitter_lips_smooth_pct": jit(smooth, LIPS_OUTER),
    }


def bench_photos() -> list[dict]:
    from digihuman.errors import MediaRejected
    from digihuman.face import FaceMesh, track_image

    rows = []
    paths = sorted((MEDIA / "image").glob("p*"))
    with FaceMesh(static=True) as mesh:
        start = time.perf_counter()
        track_image(paths[0], mesh=mesh)  # imports MediaPipe and loads the graph
        rows.append({"photo": "import+load", "ms": 1000 * (time.perf_counter() - start),
                     "result": ""})
        for path in paths:
            start = time.perf_counter()
            try:
                face = track_image(path, mesh=mesh)
                found = f"{face.box.size:.0f} px face"
            except MediaRejected as e:
                found = e.message
            rows.append({"photo": path.name, "ms": 1000 * (time.perf_counter() - start), "result": found})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="also the long videos (lv02, lv03)")
    parser.add_argument("--out", type=Path, default=RESULTS / "face_track.json")
    args = parser.parse_args()
    if not MEDIA.is_dir():
        sys.exit(f"no test media at {MEDIA}")
    from digihuman.face import OneEuroParams

    photos = bench_photos()  # also loads MediaPipe, so its import is not charged to the first video
    names = SHORT + (LONG if args.all else ())
    videos = [bench_video(p) for n in names for p in sorted((MEDIA / "video").glob(f"{n}_*"))[:1]]
    gain, lag = lip_response()

    head = (f"{'video':<6} {'size':>9} {'frames':>6} {'ms/frame':>8} {'face':>6} {'face px':>7} "
            f"{'still':>6} {'rigid jitter %':>16} {'lips jitter %':>15}")
    print(head)
    print(f"{'':<47} {'motion':>6} {'raw':>7} {'smooth':>8} {'raw':>7} {'smooth':>7}")
    for v in videos:
        name = v["video"].split("_")[0]
        if "rejected" in v:
            print(f"{name:<6} rejected: {v['rejected']}")
            continue
        print(f"{name:<6} {v['size']:>9} {v['frames']:>6} {v['ms_per_frame']:>8.1f} "
              f"{v['face_fraction']:>6.0%} {v['face_px']:>7.0f} "
              f"{v['still_window_motion_pct_per_frame']:>6.2f} "
              f"{v['jitter_rigid_raw_pct']:>7.3f} {v['jitter_rigid_smooth_pct']:>8.3f} "
              f"{v['jitter_lips_raw_pct']:>7.3f} {v['jitter_lips_smooth_pct']:>7.3f}")
    params = OneEuroParams()
    cost = np.mean([v.get("smoothing_ms_per_frame", 0) for v in videos])
    print(f"\nOne-Euro min_cutoff={params.min_cutoff} Hz beta={params.beta} d_cutoff={params.d_cutoff} Hz: "
          f"a 4 Hz lip movement keeps {gain:.0%} of its amplitude, {lag:.0f} ms lag; "
          f"smoothing costs {cost:.2f} ms/frame")
    print("jitter: RMS second difference on the stillest second, % of the eye-corner distance ('face px');")
    print("'still motion': how much the head still moves in that second (% per frame): real motion, which")
    print("the filter is meant to keep, counts as jitter too (v05's head never stops swaying)\n")
    print(f"{'photo':<11} {'ms':>6}  result")
    for p in photos:
        print(f"{p['photo'].split('_')[0]:<11} {p['ms']:>6.0f}  {p['result']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "smoothing": {"min_cutoff": params.min_cutoff, "beta": params.beta, "d_cutoff": params.d_cutoff,
                      "lip_4hz_gain": gain, "lip_4hz_lag_ms": lag},
        "videos": videos, "photos": photos,
    }, indent=2))
    print(f"\nwrote {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
