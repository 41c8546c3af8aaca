"""The compositor's per-pixel arithmetic, done by OpenCV in one pass, against the plain formulas:
the alpha blend, the sampling map of the placed (and bent) mouth picture, and the encoder's output
quality at the render's settings."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from digihuman.render.clip import ClipWriter
from digihuman.render.composite import _mix, _sample_map
from digihuman.render.output import VideoSpec, VideoWriter, to_yuv


def _plain_mix(picture: np.ndarray, roi: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a3 = alpha[:, :, None]
    mixed = picture.astype(np.float32) * a3 + roi.astype(np.float32) * (1 - a3) + 0.5
    return np.clip(mixed, 0, 255).astype(np.uint8)


def test_blend_is_the_alpha_sum_within_one_level() -> None:
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (90, 120, 3), np.uint8)
    roi = rng.integers(0, 256, (90, 120, 3), np.uint8)
    alpha = rng.random((90, 120), dtype=np.float32)
    alpha[:10] = 0.0
    alpha[-10:] = 1.0
    out = _mix(picture, roi, alpha)
    assert out.dtype == np.uint8 and out.shape == picture.shape
    assert np.abs(out.astype(int) - _plain_mix(picture, roi, alpha)).max() <= 1
    assert np.array_equal(out[:10], roi[:10])  # alpha 0: the background untouched
    assert np.array_equal(out[-10:], picture[-10:])  # alpha 1: the mouth picture as it is
    # a box inside larger arrays (the lips' part of the face box) blends the same as a copy of it
    part = (slice(20, 50), slice(7, 81))
    assert np.array_equal(_mix(picture[part], roi[part], alpha[part]),
                          _mix(picture[part].copy(), roi[part].copy(), alpha[part].copy()))


def test_sampling_map_is_the_affine_of_each_bent_pixel() -> None:
    rng = np.random.default_rng(4)
    to_crop = np.array([[0.93, 0.08, -40.5], [-0.11, 1.02, -17.25]])
    origin = np.array([211.0, 93.0])
    width, height = 70, 50
    bend = (rng.standard_normal((height, width, 2)) * 4).astype(np.float32)
    px, py = np.meshgrid(np.arange(width) + origin[0], np.arange(height) + origin[1])
    for field in (bend, None):
        sx = px + (field[:, :, 0] if field is not None else 0)
        sy = py + (field[:, :, 1] if field is not None else 0)
        expected = np.stack([to_crop[0, 0] * sx + to_crop[0, 1] * sy + to_crop[0, 2],
                             to_crop[1, 0] * sx + to_crop[1, 1] * sy + to_crop[1, 2]], axis=2)
        got = _sample_map(to_crop, (width, height), origin, field)
        assert got.shape == (height, width, 2) and got.dtype == np.float32
        assert np.abs(got - expected).max() < 1e-3
    # remap reads (x, y) from the one array as it does from two
    picture = rng.integers(0, 256, (120, 160, 3), np.uint8)
    sample = _sample_map(to_crop, (width, height), origin, bend)
    one = cv2.remap(picture, sample, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    two = cv2.remap(picture, np.ascontiguousarray(sample[:, :, 0]), np.ascontiguousarray(sample[:, :, 1]),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(one, two)


def _psnr_of_written(path: Path, writer: VideoWriter | ClipWriter) -> float:
    """Write 30 frames of a textured, moving picture with ``writer`` to ``path``; PSNR (dB) of the
    decoded frames against them."""
    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (200, 280, 3), np.uint8), (0, 0), 1.5)
    written = []
    with writer:
        for i in range(30):
            yuv = to_yuv(np.ascontiguousarray(texture[i: i + 120, i: i + 160]))
            writer.write_yuv(yuv)
            written.append(yuv.astype(np.float64))
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="yuv420p").astype(np.float64) for f in c.decode(video=0)]
    assert len(decoded) == len(written)
    mse = np.mean([np.mean((a - b) ** 2) for a, b in zip(decoded, written)])
    return float(10 * np.log10(255.0 ** 2 / mse))


def test_rendered_video_and_background_clip_keep_the_frames_clean(tmp_path: Path) -> None:
    """The encoder settings of renders (crf 18) and of the background clip (crf 15) trade CPU for a
    few tenths of a dB at most: the frames stay above 40 dB (43 and 47 dB here)."""
    video, clip = tmp_path / "v.mp4", tmp_path / "c.mp4"
    assert _psnr_of_written(video, VideoWriter(video, VideoSpec(160, 120, 25, crf=18))) > 40.0
    assert _psnr_of_written(clip, ClipWriter(clip, 160, 120, 25.0)) > 40.0
