"""Photo mouths up close: the painted inside of the mouth beside filmed mouths of the same opening.

Three kinds of portrait (neutral p01, p07 whose lips are parted, p03, and an elderly face: a closed-mouth
frame of v09) say English speech (a01) through the engine's own timeline and mouth track. The frames
with the widest openings are rendered twice in one run: with this working tree's painter and warp, and
with those of a base revision (``--base``, default HEAD), so the sheets compare before and after on
the same poses. Filmed mouths come from talking videos (v09, v01, lv03) at matching openings, measured
the same way (inner-lip gap in canonical face units).

Writes under bench/results/mouth/: ``sheet_<portrait>.png`` (rows: base, now, filmed; columns: the
three widest openings, then two at the filmed speakers' widest; every mouth scaled to one width),
``now_1x_<portrait>.png`` (the crops at 1:1), and ``photo_mouth.json`` with the per-frame render
time of both variants, measured interleaved on every frame of the track (fastest of three), and
numbers for the inside of the mouth (brightness, redness, teeth share) at the filmed-like openings
beside the same numbers for the filmed mouths opened 0.12-0.2.

    .venv/bin/python bench/photo_mouth.py [--base REV] [--portraits p01,p07,p03,old]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "bench" / "results" / "mouth"
PHOTOS = {"p01": "image/p01_f_white_hallo_ref6.jpg", "p07": "image/p07_m_asian_frame_from_v01.png",
          "p03": "image/p03_f_white_sadtalker_people0.png"}
ELDERLY = "video/v09_en_m_oldman_infinitetalk_ref.mp4"
FILMED = ("video/v09_en_m_oldman_infinitetalk_ref.mp4", "video/v01_en_m_asian_retalk_face1.mp4",
          "video/lv03_en_m_lieu_edtalk_pose_source2.mp4", "video/v03_en_f_white_glasses_retalk_face5.mp4")
SPEECH = "audio/a01_en_m_hdtf_radio34.wav"
PAIRS = ((13, 14), (82, 87), (312, 317))
CROP_W = 200  # sheet cell width, pixels


def load_base(rev: str, name: str):  # noqa: ANN201 - a module
    """``digihuman.render.<name>`` as it was at ``rev``, imported under another name."""
    text = subprocess.run(["git", "show", f"{rev}:src/digihuman/render/{name}.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    path = OUT / f"_base_{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"digihuman.render._base_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Variant:
    """A portrait animated with one version of the warp and the painter."""

    def __init__(self, rgb: np.ndarray, face, warp_mod, paint_mod) -> None:  # noqa: ANN001
        self.rgb, self.face = rgb, face
        self.rig = warp_mod.FaceRig(face, (rgb.shape[1], rgb.shape[0]))
        opened = self.rig.pose(warp_mod.MouthPose(jaw=0.6))
        self.warp = warp_mod.MeshWarp(self.rig, (rgb.shape[1], rgb.shape[0]), triangulate_with=opened)
        self.paint_mod = paint_mod
        self.palette = paint_mod.MouthPalette.of(rgb, face.landmarks)
        self.pose_type = warp_mod.MouthPose
        self.frame = rgb.copy()
        own = getattr(paint_mod, "OwnTeeth", None)
        self.extra = (own.of(rgb, face.landmarks, self.rig.scale),) if own else ()
        if self.extra and self.extra[0] is not None:
            from dataclasses import replace

            self.palette = replace(self.palette, teeth=(self.extra[0].colour / 0.9).astype(np.float32))

    def render(self, pose) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        pose = self.pose_type(pose.jaw, pose.width, pose.round, pose.teeth)
        target = self.rig.pose(pose)
        crop = self.warp.warp(self.rgb, target)
        x0, y0, x1, y1 = self.warp.box
        self.paint_mod.paint_mouth(crop, (x0, y0), target, pose, self.palette, self.face.pose.to_canonical,
                                   self.rig.scale, *self.extra)
        self.frame[y0:y1, x0:x1] = crop
        return self.frame, target


def mouth_crop(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The mouth and chin around ``landmarks`` (pixels), scaled so the crop is CROP_W wide at 2x the
    mouth's width... i.e. every mouth is shown at the same size."""
    import cv2

    left, right = landmarks[61, :2], landmarks[291, :2]
    w = float(np.linalg.norm(right - left))
    cx, cy = (left + right) / 2
    x0, x1 = int(cx - 0.85 * w), int(cx + 0.85 * w)
    y0, y1 = int(cy - 0.55 * w), int(cy + 0.85 * w)
    pad = max(0, -x0, -y0, x1 - rgb.shape[1], y1 - rgb.shape[0])
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    crop = padded[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    size = (CROP_W, int(CROP_W * crop.shape[0] / crop.shape[1]))
    return cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)


def opening(landmarks: np.ndarray, scale: float) -> float:
    return float(np.mean([landmarks[lo, 1] - landmarks[up, 1] for up, lo in PAIRS]) / scale)


def label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = img.copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def elderly_photo() -> Path:
    """A frame of v09 with the mouth closed, saved outside the repository's tracked files."""
    import cv2

    from digihuman.face import track_video

    path = OUT / "_elderly.png"
    if path.exists():
        return path
    track = track_video(MEDIA / ELDERLY, stride=5, max_frames=40)
    i = int(np.argmin(track.mouth["opening"]))
    from digihuman.face import read_frames

    for frame in read_frames(MEDIA / ELDERLY):
        if frame.index == track.frame_indices[i]:
            cv2.imwrite(str(path), frame.rgb[:, :, ::-1])
            return path
    raise RuntimeError("v09 frame not found")


def interior(rgb: np.ndarray, landmarks: np.ndarray, scale: float) -> dict[str, float]:
    """What the inside of the mouth looks like, in numbers comparable between filmed and rendered
    mouths: median and 90th-percentile brightness, redness (R - G) and the tracker's teeth share."""
    import cv2

    from digihuman.face.landmarks import LIPS_INNER
    from digihuman.face.mouth import teeth_visibility

    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[list(LIPS_INNER), :2]).astype(np.int32)], 1)
    pixels = rgb[cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0].astype(np.float64)
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    return {"luma_median": float(np.median(luma)), "luma_p90": float(np.percentile(luma, 90)),
            "red": float((pixels[:, 0] - pixels[:, 1]).mean()),
            "teeth": teeth_visibility(rgb, landmarks, scale)}


def filmed_interiors(low: float = 0.12, high: float = 0.2) -> dict[str, dict[str, float]]:
    """Per filmed clip, the median of :func:`interior` over its frames opened ``low``..``high``."""
    from digihuman.face import read_frames

    data = np.load(OUT / "_filmed.npz")
    out = {}
    for k, clip in enumerate(FILMED):
        o, lm, idx = data[f"open{k}"], data[f"lm{k}"], data[f"idx{k}"]
        wanted = {int(idx[i]): i for i in np.flatnonzero((o > low) & (o < high))}
        stats = []
        for frame in read_frames(MEDIA / clip):
            if frame.index in wanted:
                marks = lm[wanted[frame.index]]
                scale = float(np.linalg.norm(marks[152, :2] - marks[10, :2])) / 1.85  # face height ~1.85
                stats.append(interior(frame.rgb, marks, scale))
        if stats:
            medians = {key: round(float(np.median([s[key] for s in stats])), 3) for key in stats[0]}
            out[Path(clip).name[:4].rstrip("_")] = medians | {"frames": len(stats)}
    return out


def filmed_mouths(openings: list[float]) -> list[np.ndarray]:
    """For each asked opening, the filmed mouth (any clip) closest to it; cached tracks."""
    from digihuman.face import read_frames, track_video

    cache = OUT / "_filmed.npz"
    if not cache.exists():
        store = {}
        for k, clip in enumerate(FILMED):
            track = track_video(MEDIA / clip, stride=2, max_frames=150)
            store[f"open{k}"] = track.mouth["opening"].astype(np.float64)
            store[f"idx{k}"] = track.frame_indices
            store[f"lm{k}"] = track.landmarks
        np.savez(cache, **store)
    data = np.load(cache)
    out = []
    used: set[tuple[int, int]] = set()
    for k_want, want in enumerate(openings):
        clip_k = k_want % len(FILMED)  # a different person in each column where possible
        best = None
        for k in [clip_k] + [j for j in range(len(FILMED)) if j != clip_k]:
            o = data[f"open{k}"]
            order = np.argsort(np.abs(o - want))
            for i in order[:5]:
                if (k, int(i)) not in used and abs(o[i] - want) < 0.04:
                    best = (k, int(i))
                    break
            if best:
                break
        if best is None:  # wider than anything filmed: the widest filmed mouths, one clip each
            o = data[f"open{clip_k}"]
            best = next((clip_k, int(i)) for i in np.argsort(-o) if (clip_k, int(i)) not in used
                        and all(abs(int(i) - j) > 3 for c, j in used if c == clip_k))
        used.add(best)
        k, i = best
        index = int(data[f"idx{k}"][i])
        for frame in read_frames(MEDIA / FILMED[k]):
            if frame.index == index:
                crop = mouth_crop(frame.rgb, data[f"lm{k}"][i])
                out.append(label(crop, f"filmed {Path(FILMED[k]).name[:3]} o={data[f'open{k}'][i]:.2f}"))
                break
    return out


def main() -> None:
    import cv2

    from digihuman.face import FaceMesh, read_image, track_image
    from digihuman.face.tracking import locate_face
    from digihuman.render import mouth_interior, photo_warp
    from digihuman.render.photo import mouth_poses
    from digihuman.render.photo_warp import OPEN_MAX
    from digihuman.speech.align import mouth_track
    from digihuman.speech.align.timeline import default_builder
    from digihuman.speech.utterance import Speech

    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="HEAD")
    ap.add_argument("--portraits", default="p01,p07,p03,old")
    ap.add_argument("--columns", type=int, default=5)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    base_warp, base_paint = load_base(args.base, "photo_warp"), load_base(args.base, "mouth_interior")

    speech = Speech.from_file(MEDIA / SPEECH, language="en")
    timeline = default_builder().for_speech(speech)
    poses = mouth_poses(mouth_track(timeline, 25.0), timeline)
    jaws = np.array([p.jaw for p in poses])
    # the widest openings, at least 0.3 s apart, and two at the filmed speakers' wide openings
    # (inner-lip gap ~0.13 and ~0.17: their 99th percentiles), where the filmed row matches best
    picks: list[int] = []
    for i in np.argsort(-jaws):
        if all(abs(int(i) - j) > 7 for j in picks):
            picks.append(int(i))
        if len(picks) == args.columns - 2:
            break
    picks = sorted(picks) + [int(np.argmin(np.abs(jaws - o / OPEN_MAX))) for o in (0.17, 0.13)]
    mesh = FaceMesh(static=True)
    report: dict = {"speech": SPEECH, "frames": len(poses), "base": args.base, "portraits": {}}
    for name in args.portraits.split(","):
        path = elderly_photo() if name == "old" else MEDIA / PHOTOS[name]
        face = track_image(path)
        rgb = read_image(path)
        if max(rgb.shape[:2]) > 1080:
            raise SystemExit("use photos up to 1080 px in this bench")
        base = Variant(rgb, face, base_warp, base_paint)
        now = Variant(rgb, face, photo_warp, mouth_interior)
        rows: dict[str, list[np.ndarray]] = {"base": [], "now": [], "now1x": []}
        openings = []
        insides: dict[str, list[dict[str, float]]] = {"base": [], "now": []}
        for n, i in enumerate(picks):
            for key, variant in (("base", base), ("now", now)):
                frame, target = variant.render(poses[i])
                o = opening(target, variant.rig.scale)
                if n >= len(picks) - 2:  # the openings filmed speakers reach; landmarks found by the
                    # tracker, as on the filmed frames (its inner-lip line is not the exact one)
                    seen = locate_face(frame, mesh)
                    if seen is not None:
                        insides[key].append(interior(frame, seen, variant.rig.scale))
                rows[key].append(label(mouth_crop(frame, target), f"{key} jaw={poses[i].jaw:.2f} o={o:.2f}"))
            openings.append(o)
            left, right = target[61], target[291]
            w = float(np.linalg.norm(right - left))
            cx, cy = (left + right) / 2
            rows["now1x"].append(frame[int(cy - 0.5 * w):int(cy + 0.8 * w),
                                       int(cx - 0.8 * w):int(cx + 0.8 * w)].copy())
        filmed = filmed_mouths(openings)
        h = min(min(c.shape[0] for c in r) for r in (rows["base"], rows["now"], filmed))
        sheet = np.vstack([np.hstack([c[:h] for c in r]) for r in (rows["base"], rows["now"], filmed)])
        cv2.imwrite(str(OUT / f"sheet_{name}.png"), sheet[:, :, ::-1])
        h1 = min(c.shape[0] for c in rows["now1x"])
        cv2.imwrite(str(OUT / f"now_1x_{name}.png"), np.hstack([c[:h1] for c in rows["now1x"]])[:, :, ::-1])
        # speed: every frame of the track, both variants interleaved in blocks of 10 frames, each
        # block timed three times and the fastest kept (the CPU is shared: the minimum is the
        # figure least disturbed by other work)
        spent = {"base": 0.0, "now": 0.0}
        for start in range(0, len(poses), 10):
            best = {"base": np.inf, "now": np.inf}
            for attempt in range(3):
                order = (("base", base), ("now", now)) if attempt % 2 == 0 else (("now", now), ("base", base))
                for key, variant in order:
                    t = time.perf_counter()
                    for pose in poses[start:start + 10]:
                        variant.render(pose)
                    best[key] = min(best[key], time.perf_counter() - t)
            for key in spent:
                spent[key] += best[key]
        ms = {k: 1000 * v / len(poses) for k, v in spent.items()}
        report["portraits"][name] = {"size": list(rgb.shape[:2][::-1]), "ms_per_frame": ms,
                                     "ratio_now_to_base": ms["now"] / ms["base"],
                                     "openings": [round(o, 3) for o in openings],
                                     "interior": {k: {key: round(float(np.mean([s[key] for s in v])), 3)
                                                      for key in v[0]} for k, v in insides.items()}}
        print(name, report["portraits"][name], flush=True)
    report["filmed_interior"] = filmed_interiors()
    print("filmed", report["filmed_interior"])
    (OUT / "photo_mouth.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
