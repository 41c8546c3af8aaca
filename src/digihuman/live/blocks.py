"""Streamed audio in blocks: what a live session plans and plays while a client is still sending sound.

A client's microphone sends sound as it is spoken, so it is planned and played a block at a time (the
first block longer: a buffer against the client's jitter). An offline render plans a whole utterance,
hearing the sound before and after every frame; a block's plan hears

- the sound before it (``context_s``), taken from a frame boundary of the model on: the plan's frames
  then fall where the stream's frames do. Cut at the block's own start (a 0.5 s block is 12.5 frames
  at 25 fps) every other block was planned half a frame off, which cost more agreement with the
  offline plan than anything else. The context also gives the acoustic timeline's per-sound levels and
  percentiles, and the mapping's look-back, real speech to measure;
- the sound after it (``lookahead_s``): the mapping looks frames ahead (the mouth moves before the
  sound it makes), and a pause is only known to go on once its continuation is heard. A block is
  released once that much of the following sound has come: the look-ahead is latency.

Pearson r of the chosen mouths' opening against one offline plan of a05 (30 s, v09's avatar, planning
only: bench/live_eval.py ``plan_agreement``): 0.889 with the context cut at the block's start (0.3 s)
and no look-ahead; from a frame boundary 0.950; with 1 s of context 0.962; and 0.2 s of look-ahead
0.976 (0.1 s: 0.974, 0.3 s: 0.978; 2 s of context: 0.983, for half as much planning again). Streamed
over the socket, decoded and face-tracked against an offline render (20 s): 0.876 before, 0.904
without look-ahead, 0.927 with 0.2 s, at 0.25 s more from audio_start to "speaking" (1.15 -> 1.40 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digihuman.live.speech import RATE

FIRST_BLOCK_S = 1.0  # the first block is longer, a buffer against the client's jitter
BLOCK_S = 0.5  # then sound is planned and played in blocks this long
CONTEXT_S = 1.0  # sound before each block planned along with it (from the frame boundary before this)
LOOKAHEAD_S = 0.2  # sound after each block planned along with it: a block waits for it


@dataclass(frozen=True)
class BlockOptions:
    """How streamed audio is cut for planning."""

    first_s: float = FIRST_BLOCK_S
    block_s: float = BLOCK_S
    context_s: float = CONTEXT_S
    lookahead_s: float = LOOKAHEAD_S  # also what it adds to the time before streamed sound is heard


@dataclass(frozen=True)
class AudioBlock:
    """One block of streamed sound (16 kHz float32) and the sound it is planned with."""

    samples: np.ndarray  # to play
    context: np.ndarray  # the sound just before it; its first sample starts a frame of the model
    ahead: np.ndarray  # the sound just after it (played with the next block; empty for the last one)
    index: int  # blocks of the stream before this one

    @property
    def planned(self) -> np.ndarray:
        """Everything the block's plan hears: context, the block, look-ahead."""
        return np.concatenate([self.context, self.samples, self.ahead]).astype(np.float32)

    @property
    def offset_s(self) -> float:
        """Seconds of the plan before the block's first sample."""
        return len(self.context) / RATE


class BlockCutter:
    """Cuts a stream's sound (16 kHz float32, pushed as it comes) into :class:`AudioBlock` s.

    Sample 0 of the stream is taken to start a frame (a stream starts on a frame of the live session
    when nothing else is playing); ``fps`` is the frame rate of the plans (the avatar model's).
    """

    def __init__(self, fps: float, options: BlockOptions = BlockOptions()) -> None:
        self.fps, self.options = float(fps), options
        self._pending = np.zeros(0, np.float32)  # come, not yet cut into a block
        self._history = np.zeros(0, np.float32)  # the end of what has been cut: the next context
        self._position = 0  # samples cut into blocks so far
        self._count = 0

    def push(self, samples: np.ndarray, final: bool = False) -> list[AudioBlock]:
        """Blocks complete once ``samples`` have come; ``final``: the stream ends, the rest is one
        last block (without look-ahead: there is nothing after it)."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        ahead = int(round(self.options.lookahead_s * RATE))
        blocks = []
        while True:
            size = int(round((self.options.first_s if self._count == 0 else self.options.block_s) * RATE))
            if len(self._pending) < size + ahead:
                break
            blocks.append(self._cut(size, ahead))
        if final and len(self._pending):
            blocks.append(self._cut(len(self._pending), 0))
        return blocks

    def _cut(self, size: int, ahead: int) -> AudioBlock:
        samples = self._pending[:size].copy()
        block = AudioBlock(samples, self._context(), self._pending[size: size + ahead].copy(), self._count)
        self._pending = self._pending[size:]
        self._position += size
        self._count += 1
        keep = int(np.ceil((self.options.context_s + 1.0 / self.fps) * RATE)) + 1
        self._history = np.concatenate([self._history, samples])[-keep:]
        return block

    def _context(self) -> np.ndarray:
        """The sound since the model frame boundary at or before ``context_s`` before the next block."""
        frame = int(np.floor(max(0.0, self._position / RATE - self.options.context_s) * self.fps + 1e-9))
        start = int(round(frame * RATE / self.fps))
        return self._history[len(self._history) - (self._position - start):]
