"""What a media file is: image, video or audio, its format and main stream properties.

Opening a file is not proof that it is media: FFmpeg guesses demuxers from file names
and content, and will read a text file named ``.txt`` as an ANSI-art "video" (tty demuxer)
or a file named ``.png`` as an image until its first packet fails to decode. So a file
counts as media only when at least one frame of each stream we report actually decodes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from digihuman.errors import MediaRejected, TooLarge

Kind = Literal["image", "video", "audio"]
Expect = Literal["image", "video", "audio", "visual", "speech"]

MIN_DURATION_S = 0.1
# Demuxing (not decoding) is cheap; this bounds the read of a file whose streams are far apart.
MAX_PACKETS = 2000
MAX_ERRORS = 8
# Text demuxers and the codecs that render text as pictures: they "decode" any text file.
TEXT_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp"})
IMAGE_EXTENSIONS = {"mjpeg": "jpg", "jpegls": "jpg", "apng": "png", "jpeg2000": "jp2", "tiff": "tif"}
FORMAT_EXTENSIONS = {"mpegts": "ts", "mpeg": "mpg", "w64": "wav"}
WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})
# Real recordings lie within these rates; a header claiming 1 Hz makes a small file "last" for days,
# and whatever resamples it to a working rate would allocate for all of them.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000


@dataclass(frozen=True)
class MediaInfo:
    """The facts about a probed file that routes and pipelines decide on."""

    kind: Kind
    format_name: str
    extension: str
    duration_s: float | None
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None

    @property
    def has_audio(self) -> bool:
        """Whether the file has a decodable audio track."""
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        """Whether the file has pictures (a still image counts)."""
        return self.video_codec is not None

    def describe(self) -> str:
        """What the file is, for messages: "an audio file (wav)", "a video without an audio track (mp4)"."""
        if self.kind == "image":
            return f"an image ({self.extension})"
        if self.kind == "audio":
            return f"an audio file ({self.extension})"
        track = "" if self.has_audio else " without an audio track"
        return f"a video{track} ({self.extension})"


def probe(path: Path, *, field: str = "The file") -> MediaInfo:
    """Identify the media at ``path`` by opening it and decoding one frame per stream.

    Raises MediaRejected, naming ``field``, for anything that is not readable audio, video or image.
    """
    import av

    def reject(why: str) -> MediaRejected:
        return MediaRejected(
            f"{field} is not an audio, video or image file that can be read: {why}; "
            "send a common format such as mp4, mov, webm, wav, mp3, png or jpeg."
        )

    try:
        container = av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, OSError, EOFError, ValueError) as e:
        raise reject("its format was not recognised") from e
    with container:
        fmt = container.format.name
        if fmt in TEXT_FORMATS:
            raise reject("it looks like a text file")
        video = next((s for s in container.streams.video if _usable(s) and not _is_cover(s)), None)
        audio = next((s for s in container.streams.audio if _usable(s)), None)
        if video is None and audio is None:
            raise reject("it has no audio or video track")
        is_image_format = fmt in IMAGE_FORMATS or fmt.endswith("_pipe")
        frames = _decode_some(container, [s for s in (video, audio) if s is not None], is_image_format)
        for stream, what in ((video, "pictures"), (audio, "sound")):
            if stream is not None and frames[stream.index] == 0:
                raise reject(f"its {what} ({_codec(stream)}) could not be decoded")

        kind: Kind = "audio"
        if video is not None:
            # a single picture in an image format is an image; an animated gif/webp plays as a video
            kind = "image" if is_image_format and frames[video.index] < 2 else "video"
        vctx = video.codec_context if video is not None else None
        actx = audio.codec_context if audio is not None else None
        if actx is not None and not MIN_SAMPLE_RATE <= actx.sample_rate <= MAX_SAMPLE_RATE:
            raise MediaRejected(f"{field} has sound sampled at {actx.sample_rate} Hz, which no real recording "
                                f"uses; send audio sampled at {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz.")
        return MediaInfo(
            kind=kind,
            format_name=fmt,
            extension=_extension(container, kind, video, audio),
            duration_s=None if kind == "image" else (_duration(container, video or audio)
                                                     or _demuxed_duration(path, (video or audio).index)),
            width=vctx.width if vctx else None,
            height=vctx.height if vctx else None,
            fps=_fps(video) if kind == "video" else None,
            video_codec=_codec(video),
            audio_codec=_codec(audio),
            sample_rate=actx.sample_rate if actx else None,
            channels=actx.layout.nb_channels if actx else None,
        )


def require(info: MediaInfo, expect: Expect, field: str) -> None:
    """Raise MediaRejected unless ``info`` is what ``field`` needs.

    ``visual`` is an image or a video; ``speech`` is audio, or a video with an audio track.
    """
    if expect == "speech":
        if not info.has_audio:
            raise MediaRejected(f"{field} has no sound: it is {info.describe()}.")
    elif expect == "visual":
        if info.kind not in ("image", "video"):
            raise MediaRejected(f"{field} is not an image or a video: it is {info.describe()}.")
    elif info.kind != expect:
        article = "an" if expect in ("image", "audio") else "a"
        noun = "audio file" if expect == "audio" else expect
        raise MediaRejected(f"{field} is not {article} {noun}: it is {info.describe()}.")
    if info.kind != "image" and info.duration_s is not None and info.duration_s < MIN_DURATION_S:
        raise MediaRejected(
            f"{field} is too short ({info.duration_s:.2f} s): send at least {MIN_DURATION_S} seconds."
        )


def require_length(info: MediaInfo, field: str, max_seconds: float) -> None:
    """Raise TooLarge when the sound of ``info`` plays longer than ``max_seconds``."""
    if info.has_audio and info.duration_s is not None and info.duration_s > max_seconds:
        raise TooLarge(f"{field} is {_minutes(info.duration_s)} long; the limit is {_minutes(max_seconds)}, "
                       "so send a shorter recording.")


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f}".removesuffix(".0") + " min"


def _usable(stream) -> bool:
    # FFmpeg may create a stream it has no decoder for (an .svg read by image2): codec_context is None
    return stream.codec_context is not None and stream.codec_context.name not in TEXT_CODECS


def _is_cover(stream) -> bool:
    import av

    # cover art in an mp3 or m4a is a video stream, but the file is still audio
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _decode_some(container, streams: list, count_two: bool) -> dict[int, int]:
    """Decode until each stream gave a frame (two for a possible animation), without reading on."""
    import av

    wanted = {s.index: (2 if count_two and s.type == "video" else 1) for s in streams}
    frames = dict.fromkeys(wanted, 0)
    packets = errors = 0
    drained = False
    try:
        for packet in container.demux(streams):
            packets += 1
            index = packet.stream.index
            if frames[index] < wanted[index]:
                try:
                    frames[index] += len(packet.decode())
                except av.FFmpegError:
                    errors += 1  # one damaged packet does not make a file unreadable; many do
            if all(frames[i] >= wanted[i] for i in wanted) or packets >= MAX_PACKETS or errors > MAX_ERRORS:
                break
        else:
            drained = True  # demux ends with flush packets, which drained the decoders
    except (av.FFmpegError, EOFError):
        pass  # a damaged or truncated container: judge it by what decoded before the damage
    if not drained:
        for stream in streams:
            if frames[stream.index] == 0:
                # a decoder may hold frames back (B-frames, threading); flushing releases them
                with contextlib.suppress(av.FFmpegError):
                    frames[stream.index] += len(stream.codec_context.decode(None))
    return frames


def _codec(stream) -> str | None:
    # the codec, not the decoder: "mp3" rather than "mp3float"
    return stream.codec_context.codec.canonical_name if stream is not None else None


def _duration(container, stream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    if stream.duration is not None and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _demuxed_duration(path: Path, index: int) -> float | None:
    """The end of the last packet, for files whose header gives no length (demuxing decodes nothing)."""
    import av

    end = 0
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            stream = container.streams[index]
            for packet in container.demux(stream):
                if packet.pts is not None and packet.duration:
                    end = max(end, packet.pts + packet.duration)
            return float(end * stream.time_base) if end and stream.time_base else None
    except (av.FFmpegError, OSError, EOFError):
        return None


def _fps(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _extension(container, kind: Kind, video, audio) -> str:
    fmt = container.format.name
    if kind == "image" or fmt in IMAGE_FORMATS or fmt.endswith("_pipe"):
        codec = _codec(video)
        return IMAGE_EXTENSIONS.get(codec, codec)
    if fmt.startswith("mov,mp4"):
        if container.metadata.get("major_brand", "").strip().lower() == "qt":
            return "mov"
        return "mp4" if video is not None else "m4a"
    if fmt.startswith("matroska"):
        codecs = {_codec(s) for s in (video, audio) if s is not None}
        return "webm" if codecs <= WEBM_CODECS else "mkv"
    if fmt == "asf":
        return "wmv" if video is not None else "wma"
    first = fmt.split(",")[0]
    return FORMAT_EXTENSIONS.get(first, first)
