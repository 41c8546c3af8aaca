"""The live picture: the avatar's calm footage played back and forth, a chosen mouth blended in.

The footage runs on its own clock (model frames), forever, whether the avatar speaks or not: during
silence the person keeps the blinks, breathing and head motion they had when filmed, with the model's
rest mouth; speech only changes which library mouth is blended in. Frames are decoded in play order
(forwards, then backwards one GOP at a time, :mod:`digihuman.render.clip`), so memory stays bounded
however long a session runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from digihuman.render.avatar import AvatarModel
from digihuman.render.clip import ClipReader, ping_pong, read_plan
from digihuman.render.composite import BlendOptions, Compositor

MOUTH_CACHE = 64  # decoded library mouths kept (a pause shows one mouth for seconds)


def window_frames(count: int, first: int, frames: int) -> np.ndarray:
    """Background-window frame of model frames ``first`` .. ``first + frames - 1`` of an endless
    ping-pong over a window of ``count`` frames."""
    if count <= 1:
        return np.zeros(frames, np.int64)
    period = 2 * (count - 1)
    phase = first % period
    return ping_pong(count, phase + frames)[phase:]


class Footage:
    """The background window's frames in endless ping-pong order, at the model's frame rate."""

    def __init__(self, model: AvatarModel) -> None:
        self._reader = ClipReader(model.folder / model.manifest["background"]["file"])
        self.count = model.background[1]
        self._frames = self._endless()
        self.position = -1  # model frame of the last frame handed out
        self._last: np.ndarray | None = None

    def _endless(self) -> Iterator[np.ndarray]:
        period = max(1, 2 * (self.count - 1))
        while True:
            yield from read_plan(self._reader, ping_pong(self.count, period))

    def at(self, k: int) -> np.ndarray:
        """Model frame ``k`` (never earlier than the last one asked for): skipped frames are decoded
        and dropped, as a live stream at a lower frame rate than the footage's must."""
        while self.position < k:
            self._last = next(self._frames)
            self.position += 1
        assert self._last is not None
        return self._last

    def close(self) -> None:
        self._reader.close()


class FramePainter:
    """Makes the session's frames: footage frame ``k`` with library mouth ``row``, at the output size."""

    def __init__(self, model: AvatarModel, size: tuple[int, int]) -> None:
        self.model = model
        self.size = size
        self.start = model.background[0]
        self.footage = Footage(model)
        self._compositor = Compositor(model, BlendOptions())
        self._mouths: OrderedDict[int, np.ndarray] = OrderedDict()
        self._last: tuple[int, int, np.ndarray] | None = None  # (k, mouth row, frame)

    def window_frame(self, k: int) -> int:
        return int(window_frames(self.footage.count, k, 1)[0])

    def paint(self, k: int, mouth_row: int) -> np.ndarray:
        """RGB uint8 frame of model frame ``k`` showing library mouth ``mouth_row``."""
        import cv2

        if self._last is not None and self._last[:2] == (k, mouth_row):
            # footage filmed at fewer frames per second than the stream's shows a frame twice
            return self._last[2]
        background = self.footage.at(k)
        frame = self._compositor(background, self.start + self.window_frame(k), self._mouth(mouth_row),
                                 mouth_row)
        if (frame.shape[1], frame.shape[0]) != self.size:
            shrink = self.size[0] < frame.shape[1]
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        self._last = (k, mouth_row, frame)
        return frame

    def _mouth(self, row: int) -> np.ndarray:
        crop = self._mouths.get(row)
        if crop is None:
            crop = self.model.mouth(row)
            self._mouths[row] = crop
            if len(self._mouths) > MOUTH_CACHE:
                self._mouths.popitem(last=False)
        else:
            self._mouths.move_to_end(row)
        return crop

    def close(self) -> None:
        self.footage.close()
