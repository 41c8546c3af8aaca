"""Unit selection: which filmed mouth to show on each output frame.

As in concatenative speech synthesis, every output frame has a *target* (the mouth descriptors the
speech asks for, through the person's learned mapping) and a set of *candidates* (the library frames
nearest to it, also matching the background frame's head pose). A Viterbi search picks one
candidate per frame, minimising target cost + concatenation cost: following a source frame with its
own successor is free (it is filmed motion), holding a frame is cheap, and any other step pays a
jump cost plus how far the chosen frame is from the natural successor — so runs of real filmed
motion are preferred and unavoidable jumps land on similar mouths.

During silence the mouth rests: every silent frame shows the model's rest frame (closed, relaxed,
still), and the search leads into and out of it as smoothly as it can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# How much each standardised descriptor counts (opening, width, rounding, jaw drop, teeth): the
# opening is what viewers read lip sync from (and what the mapping predicts best); width and rounding
# next; teeth are a detail. Doubling the opening's weight: selected-mouth best-lag r +0.015 on lv03,
# +0.01 on lv02, +0.07 on v09 (lip-sync bench clips, planning only); tripling it, with the kernel
# mapping: +0.015 on lv03, +0.01 on v09, -0.002 on lv02 (bench/lipsync_ablation.py).
WEIGHTS = np.array([3.0, 0.6, 0.5, 0.6, 0.3], np.float32)
# target cost added to a mouth turned further than SelectOptions.max_pose from its background frame:
# larger than any descriptor distance, so it is chosen only when every candidate is as far turned
TOO_TURNED = 1e4


@dataclass(frozen=True)
class SelectOptions:
    """Costs of the unit-selection search."""

    candidates: int = 24  # library frames considered per output frame
    jump: float = 0.6  # cost of showing a frame that is not the previous one's successor
    # cost of showing the same frame again (a frozen mouth reads as dead). Not more: at 1.0, 2-4 %
    # of the speaking frames repeat the last one instead of 17-21 %, but the lips jerk more (landmark
    # jitter lv03 15.3 -> 16.2, v01 11.7 -> 13.0) and lip-sync r does not follow (lip-sync bench,
    # rendered best-lag r: lv03 +0.01, lv02 -0.002, v09 -0.007, v01 -0.02, v03 -0.02)
    hold: float = 0.25
    mismatch: float = 1.0  # per unit of distance between the chosen and the natural next frame
    # per degree of yaw/pitch difference between the mouth's frame and the background's: the mouth is
    # bent onto the background's jaw and shaded to its light, so a small pose difference no longer
    # shows, and a large weight filled the candidates with well-posed mouths of the wrong opening
    pose: float = 0.02
    # degrees (yaw + pitch) beyond which a mouth's head is too far turned from the background's for
    # the jaw bend to carry: its cheek edge lands inside the background's face (lv03 bench render: a
    # mouth 18 degrees of yaw from its background showed a dark patch on the cheek). Such mouths are
    # chosen only when no other candidate is left (lip-sync bench: 2 of 600 frames on lv03, 2 of 604 on
    # lv02, none on v09 had been further; lv03's dark patch went, r unchanged).
    max_pose: float = 20.0
    # frames each side averaged into the target: none, the mapping's context already smooths it and
    # averaging flattened the peaks (lip-sync bench: selected r +0.02 to +0.03 on lv02, lv03)
    smooth_target: int = 0
    # spread the opening and jaw drop asked for over the person's own filmed range (quantile mapping).
    # Off: the mapping's stretched predictions already reach it (lip-sync bench, lv02: rendered
    # opening spread 0.98x the filmed without, 1.15x with, best-lag r 0.506 vs 0.500)
    match_range: bool = False
    # ask for openings further from the person's mean by 1 / the library's opening reliability (see
    # opening_reliability): the chosen mouths then open as far as asked, not as far as the tracker's
    # noise made them look (lip-sync bench, rendered opening spread vs filmed: lv03 0.88 -> 0.94,
    # lv02 1.03 -> 1.04, v09 0.98 -> 1.03; best-lag r, within the bench's noise: lv03 0.522 -> 0.517,
    # lv02 0.574 -> 0.557, v09 0.425 -> 0.473, v01 0.849 -> 0.851, v03 0.752 -> 0.735)
    undo_noise: bool = True


def target_cost(targets: np.ndarray, library: np.ndarray) -> np.ndarray:
    """(T, N) weighted squared distances between targets (T, 5) and library descriptors (N, 5)."""
    a, b = targets * WEIGHTS, library * WEIGHTS
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)


def match_range(targets: np.ndarray, library: np.ndarray, silent: np.ndarray,
                columns: tuple[int, ...] = (0, 3)) -> np.ndarray:
    """``targets`` with the ``columns`` (opening, jaw drop) of the speaking frames replaced by the
    library's values at the same rank: the order of the predictions is kept, their spread becomes the
    person's. Pauses are left alone (they show the rest frame)."""
    speaking = np.flatnonzero(~silent)
    if len(speaking) < 10 or len(library) < 10:
        return targets
    out = targets.copy()
    ranks = (np.argsort(np.argsort(targets[speaking][:, list(columns)], axis=0), axis=0) + 0.5) / len(speaking)
    for j, c in enumerate(columns):
        out[speaking, c] = np.quantile(library[:, c], ranks[:, j])
    return out


def opening_reliability(opening: np.ndarray, usable: np.ndarray) -> float:
    """The share (0.7-1) of the variance of the library's measured openings (N,) in source-frame order
    that is the mouth's own rather than the face tracker's noise.

    Why it matters: selection takes the frames whose *measured* opening is nearest the one asked
    for, and at the extremes those are often frames the tracker over-read; drawn into a new frame and
    seen again, they look nearer the person's mean (lip-sync bench: in a 256-pixel video the rendered
    openings spread 0.82x the selected ones' measurements, in a 512-pixel one 1.0x). The noise is what a frame departs
    from the mean of its two neighbours: a mouth moves smoothly over three frames at 25-30 fps,
    tracker noise does not (for white noise that departure's variance is 1.5x the noise's)."""
    o = np.asarray(opening, np.float64)
    ok = usable[1:-1] & usable[:-2] & usable[2:]
    if ok.sum() < 20 or o[usable].var() <= 0:
        return 1.0
    noise = float((o[1:-1] - 0.5 * (o[:-2] + o[2:]))[ok].var()) / 1.5
    return float(np.clip(1.0 - noise / float(o[usable].var()), 0.7, 1.0))


def colour_outliers(lip_lab: np.ndarray, usable: np.ndarray, limit: float = 4.0) -> np.ndarray:
    """(N,) bool: usable library frames whose lip colour (mean Lab, (N, 3)) is far from the person's
    median — a hand or microphone in front of the mouth, motion blur, a light flash, a tracking slip
    that put the lip ring on skin (frames whose ring could not be measured are not judged). Distance in robust units per channel (1.4826 x the median absolute
    deviation, floored at 1.5 Lab units so a very even colour does not make every frame an outlier);
    at most 10 % of the frames are rejected, the furthest first."""
    out = np.zeros(len(usable), bool)
    lab = np.asarray(lip_lab, np.float64)
    ok = usable & np.isfinite(lab).all(axis=1)
    if ok.sum() < 20:
        return out
    median = np.median(lab[ok], axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(lab[ok] - median), axis=0), 1.5)
    distance = np.sqrt((((lab - median) / spread) ** 2).mean(axis=1))
    distance[~ok] = -np.inf
    far = np.flatnonzero(distance > limit)
    keep_at_most = int(0.1 * ok.sum())
    if len(far) > keep_at_most:
        far = far[np.argsort(distance[far])[::-1][:keep_at_most]]
    out[far] = True
    return out


def select_units(targets: np.ndarray, library: np.ndarray, usable: np.ndarray, library_pose: np.ndarray,
                 background_pose: np.ndarray, silent: np.ndarray, rest: int,
                 options: SelectOptions = SelectOptions()) -> np.ndarray:
    """Library frame index per output frame.

    ``targets`` (T, 5) and ``library`` (N, 5) are standardised descriptors; ``library_pose`` (N, 2)
    and ``background_pose`` (T, 2) yaw and pitch in degrees; ``silent`` (T,) marks pauses.
    """
    t_count, n = len(targets), len(library)
    if options.smooth_target > 0 and t_count > 2:
        k = options.smooth_target
        kernel = np.ones(2 * k + 1) / (2 * k + 1)
        padded = np.pad(targets, ((k, k), (0, 0)), mode="edge")
        targets = np.stack([np.convolve(padded[:, j], kernel, "valid") for j in range(targets.shape[1])], 1)
    pool = np.flatnonzero(usable)
    if options.match_range:
        targets = match_range(targets, library[pool], silent)
    elif options.undo_noise:
        targets = targets.copy()
        targets[:, 0] /= opening_reliability(library[:, 0], usable)
    k = min(options.candidates, len(pool))
    cands = np.empty((t_count, k), np.int64)
    costs = np.empty((t_count, k), np.float32)
    for lo in range(0, t_count, 512):  # blocks: (512, N) distances at a time, whatever the length
        hi = min(t_count, lo + 512)
        d = target_cost(targets[lo:hi], library[pool])
        turn = np.abs(background_pose[lo:hi, None, :] - library_pose[pool][None, :, :]).sum(2)
        d += options.pose * turn + np.where(turn > options.max_pose, TOO_TURNED, 0.0)
        if k < len(pool):
            part = np.argpartition(d, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(len(pool)), (hi - lo, 1))
        cands[lo:hi] = pool[part]
        costs[lo:hi] = np.take_along_axis(d, part, axis=1)
    # pauses: the rest frame only, at no cost
    cands[silent] = rest
    costs[silent] = np.inf
    costs[silent, 0] = 0.0
    successor = np.minimum(np.arange(n) + 1, n - 1)
    weighted = library * WEIGHTS
    back = np.zeros((t_count, k), np.int32)
    total = costs[0].astype(np.float64)
    for t in range(1, t_count):
        prev, cur = cands[t - 1], cands[t]
        nxt = successor[prev]
        gap = np.linalg.norm(weighted[nxt][:, None, :] - weighted[cur][None, :, :], axis=2)
        trans = options.jump + options.mismatch * gap
        trans = np.where(cur[None, :] == nxt[:, None], 0.0, trans)
        trans = np.where(cur[None, :] == prev[:, None], options.hold, trans)
        step = total[:, None] + trans
        back[t] = np.argmin(step, axis=0)
        total = step[back[t], np.arange(k)] + costs[t]
    path = np.empty(t_count, np.int64)
    j = int(np.argmin(total))
    for t in range(t_count - 1, -1, -1):
        path[t] = cands[t, j]
        j = int(back[t, j])
    return path


def jumps(path: np.ndarray) -> np.ndarray:
    """(T,) bool: frames whose mouth is neither the previous frame's nor its successor."""
    out = np.zeros(len(path), bool)
    if len(path) > 1:
        step = np.diff(path)
        out[1:] = (step != 0) & (step != 1)
    return out
