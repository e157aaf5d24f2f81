"""Video files: open with clear errors, index once, then frame-exact reads.

Frame ``i`` is the i-th frame in presentation order. Random access seeks to the keyframe
at or before ``i`` and decodes forward, skipping the work of frames nobody will see
(non-reference frames are not decoded, skipped frames are never converted to RGB).
Reading in order never seeks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from .convert import FrameConverter, Geometry, rotation_of
from .errors import DamagedMediaError, MediaError, os_reason, timecode
from .index import FrameIndex, IndexBuilder
from .mp4index import composition_offsets
from .reader import MediaInfo, ReaderBase

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".3gp")

# Seconds FFmpeg may block on opening or reading before giving up: no hangs on odd files.
IO_TIMEOUT = (20.0, 20.0)
MAX_SIDE = 16384
# Frames decoded beyond the target before a read is declared lost (a broken stream).
_REORDER_SLACK = 64

_STILL_FORMATS = {"image2", "ico"}


def _is_still_image_format(name: str) -> bool:
    return any(part.endswith("_pipe") or part in _STILL_FORMATS for part in name.split(","))


def check_readable_file(path: Path) -> None:
    """Fail with words for the common reasons a file cannot even be looked at."""
    if not path.exists():
        raise MediaError("file not found", path)
    if path.is_dir():
        raise MediaError("this is a folder, not a video file (open it as an image sequence)", path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise MediaError(f"cannot be read: {os_reason(exc) or exc.strerror or exc}", path) from exc
    if not head:
        raise MediaError("the file is empty (0 bytes)", path)


def _open_error(path: Path, exc: Exception) -> MediaError:
    reason = os_reason(exc)
    if reason and not isinstance(exc, av.error.InvalidDataError):
        return MediaError(f"cannot be opened: {reason}", path)
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp" or b"moov" in head or b"mdat" in head:
        return MediaError(
            "the file is incomplete: its index (the 'moov' box) is missing, so no frame can be "
            "found. The recording or copy was probably interrupted.",
            path,
        )
    return MediaError("this is not a video file, or it is too damaged to recognise", path)


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    fmt = container.format.name
    if _is_still_image_format(fmt):
        kind = (container.streams.video[0].codec_context.name.upper() if container.streams.video else fmt)
        raise MediaError(
            f"this is a still image ({kind}), not a video; open it as an image sequence instead", path
        )
    if not streams:
        if container.streams.audio:
            raise MediaError("this file contains only audio, no video", path)
        raise MediaError("this file contains no video stream", path)
    vs = streams[0]
    if vs.codec_context is None:
        raise MediaError("the video is in a format (codec) this application cannot decode", path)
    return vs


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except Exception:  # noqa: BLE001 - unknown format name
        return 8


class _Probe:
    """Everything learnt once on open and shared by clones of a reader."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: DamagedMediaError | None = None
        self.learnt: tuple[Geometry, MediaInfo] | None = None  # set by the first reader
        try:
            container = av.open(str(path), timeout=IO_TIMEOUT)
        except (av.error.FFmpegError, OSError) as exc:
            raise _open_error(path, exc) from exc
        try:
            vs = _video_stream(container, path)
            self.container_name = container.format.name
            self.stream_index = vs.index
            self.codec = vs.codec_context.name
            self.declared_frames = vs.frames
            self.declared_seconds = self._declared_seconds(container, vs)
            audio = [s for s in container.streams.audio if s.codec_context is not None]
            self.audio_codec = audio[0].codec_context.name if audio else None
            self.rate = vs.average_rate or vs.guessed_rate
            self.index = self._build_index(container, vs)
        finally:
            container.close()

    @staticmethod
    def _declared_seconds(container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> float | None:
        if vs.duration and vs.time_base:
            return float(vs.duration * vs.time_base)
        if container.duration:
            return container.duration / 1_000_000
        return None

    def _build_index(self, container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> FrameIndex:
        for s in container.streams:
            if s.index != vs.index:
                s.discard = av.stream.Discard.all
        tb = vs.time_base or Fraction(1, 90000)
        file_size = self.path.stat().st_size
        damaged = ""
        builder = None
        if "mp4" in container.format.name:
            builder = self._index_from_sample_tables(container, vs, tb, file_size)
            if builder is None:  # the check read packets: start the pass over from the top
                with av.open(str(self.path), timeout=IO_TIMEOUT) as again:
                    for s in again.streams:
                        if s.index != vs.index:
                            s.discard = av.stream.Discard.all
                    builder, damaged = self._index_from_packets(again, again.streams[vs.index], tb, file_size)
            else:
                damaged = builder.damaged
        else:
            builder, damaged = self._index_from_packets(container, vs, tb, file_size)
        if len(builder) == 0:
            raise MediaError(f"no video frame can be read: {damaged or 'the video stream is empty'}", self.path)
        index = builder.build()
        if not damaged and self.declared_frames and len(index) < 0.98 * self.declared_frames - 1:
            damaged = f"the file is cut short (it declares {self.declared_frames} frames)"
        span = float((int(index.pts[-1]) - int(index.pts[0]) + index.frame_duration) * index.time_base)
        if not damaged and self.declared_seconds and span < 0.97 * self.declared_seconds - 0.5:
            damaged = f"the file is cut short (it declares {timecode(self.declared_seconds)})"
        if damaged:
            n = len(index)
            self.problem = DamagedMediaError(
                f"{damaged} after frame {n - 1} ({timecode(index.seconds(n - 1))}); "
                f"only the first {n} frames can be used",
                self.path,
                usable_frames=n,
            )
        return index

    def _index_from_sample_tables(
        self, container: av.container.InputContainer, vs: av.video.stream.VideoStream, tb: Fraction, file_size: int
    ) -> IndexBuilder | None:
        """MP4/MOV: timestamps from the sample tables, checked against the first packets."""
        entries = vs.index_entries
        n = len(entries)
        offsets = composition_offsets(self.path, vs.id) if n else None
        if offsets is None or offsets.size != n:
            return None
        predicted = []
        builder = IndexBuilder(tb)
        for i in range(n):
            e = entries[i]
            predicted.append((e.timestamp + int(offsets[i]), e.timestamp, e.is_keyframe))
            if e.is_discard:
                continue
            if e.pos + e.size > file_size:
                builder.damaged = "the file is cut short"
                break
            builder.add(e.timestamp + int(offsets[i]), e.timestamp, e.is_keyframe)
        seen = []
        try:
            for packet in container.demux(vs):
                if packet.size:
                    seen.append((packet.pts, packet.dts, packet.is_keyframe))
                if len(seen) >= min(n, 48):
                    break
        except av.error.FFmpegError:
            return None
        return builder if seen == predicted[: len(seen)] and seen else None

    def _index_from_packets(
        self, container: av.container.InputContainer, vs: av.video.stream.VideoStream, tb: Fraction, file_size: int
    ) -> tuple[IndexBuilder, str]:
        """Any container: one pass over the packets (no decoding)."""
        builder = IndexBuilder(tb)
        damaged = ""
        try:
            for packet in container.demux(vs):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.is_corrupt or (packet.pos is not None and packet.pos + packet.size > file_size):
                    damaged = "the file is cut short"
                    break
                builder.add(packet.pts, packet.dts, packet.is_keyframe)
        except av.error.FFmpegError as exc:
            damaged = f"the data is damaged ({exc.strerror or exc})"
        return builder, damaged


class VideoReader(ReaderBase):
    """Frame-exact reader of one video stream; see the module docstring."""

    def __init__(self, probe: _Probe, *, threads: int = 0) -> None:
        self.path = probe.path
        self._probe = probe
        self.problem = probe.problem
        self.index: FrameIndex = probe.index
        self._lock = threading.RLock()
        self._threads = threads
        self._container: av.container.InputContainer | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._pending: list[tuple[int, av.VideoFrame]] = []
        self._next: int | None = None  # the frame the decoder yields next, when known
        self._prev: int | None = None
        self._base = 0  # the frame a fresh decode starts with (after a seek)
        self._last_ts: int | None = None
        # Some containers (AVI with B-frames) carry made-up presentation times: then frames
        # are counted in output order from the keyframe instead of looked up by time.
        self._by_order = False
        self._seek_by_decode_time = False  # set once a seek by presentation time misses
        self._open_container()
        self._first: av.VideoFrame | None = None
        if probe.learnt is None:  # the first reader learns the picture from frame 0
            self._first = self._decoded(0)
            probe.learnt = self._learn(self._first)
        geometry, self.info = probe.learnt
        self._converter = FrameConverter(geometry)
        index = self.index
        self._timestamps = (index.pts - index.pts[0]).astype(np.float64) * float(index.time_base)

    def _learn(self, first: av.VideoFrame) -> tuple[Geometry, MediaInfo]:
        if max(first.width, first.height) > MAX_SIDE:
            raise MediaError(f"the video is {first.width}×{first.height}, larger than supported", self.path)
        probe, index = self._probe, self.index
        geometry = Geometry(
            coded_size=(first.width, first.height),
            sample_aspect=self._stream.sample_aspect_ratio or Fraction(1),
            rotation=rotation_of(first),
        )
        info = MediaInfo(
            path=self.path,
            kind="video",
            size=geometry.display_size,
            fps=self._fps(probe.rate, index),
            frame_count=len(index),
            duration=float((int(index.pts[-1]) - int(index.pts[0]) + index.frame_duration) * index.time_base),
            has_audio=probe.audio_codec is not None,
            container=probe.container_name,
            codec=probe.codec,
            pixel_format=first.format.name,
            bit_depth=_bit_depth(first.format.name),
            coded_size=geometry.coded_size,
            sample_aspect=geometry.sample_aspect,
            rotation=geometry.rotation,
            variable_frame_rate=index.is_variable_rate,
            audio_codec=probe.audio_codec,
        )
        return geometry, info

    @staticmethod
    def _fps(rate: Fraction | None, index: FrameIndex) -> Fraction:
        measured = 1 / (index.frame_duration * index.time_base)
        if index.is_variable_rate and len(index) > 1:
            span = (int(index.pts[-1]) - int(index.pts[0])) * index.time_base
            return (Fraction(len(index) - 1) / span).limit_denominator(1001)
        if rate and abs(float(rate) - float(measured)) <= 0.01 * float(measured):
            return Fraction(rate)
        return measured.limit_denominator(1001)

    # -- public ----------------------------------------------------------------------------

    @property
    def timestamps(self) -> np.ndarray:
        return self._timestamps

    @property
    def time_base(self) -> Fraction:
        return self.index.time_base

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``index`` as RGB uint8, at display size or scaled to ``size`` (w, h)."""
        i = self._check(index)
        with self._lock:
            frame = self._first if i == 0 and self._first is not None else self._decoded(i)
            return self._converter.to_rgb(frame, size, fast=size is not None)

    def nearest_keyframe(self, index: int) -> int:
        """The keyframe closest to ``index``: the frame that is cheapest to show near it."""
        i = self._check(index)
        keys = self.index.keyframes
        k = self.index.keyframe_before(i)
        if k + 1 < keys.size and keys[k + 1] - i < i - keys[k]:
            k += 1
        return int(keys[k])

    def read_keyframe(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Keyframe ``index`` decoded on its own (one frame of work), for thumbnails."""
        i = self._check(index)
        k = int(np.searchsorted(self.index.keyframes, i))
        if k >= self.index.keyframes.size or self.index.keyframes[k] != i:
            raise ValueError(f"frame {i} is not a keyframe")
        with self._lock:
            self._seek(k, by_decode_time=self._seek_by_decode_time)
            assert self._packets is not None
            cc = self._stream.codec_context
            target = int(self.index.pts[i])
            trust_pts = not self._by_order
            frame = None
            try:
                for packet in self._packets:
                    if packet.size and not packet.is_keyframe:
                        continue
                    if packet.size and trust_pts and packet.pts is not None and packet.pts < target:
                        continue  # the seek landed on an earlier keyframe: demux on, decode nothing
                    frames = self._stream.decode(packet) + self._stream.decode(None)
                    cc.flush_buffers()
                    frame = next((f for f in frames if f.pts == target), frames[0] if frames else None)
                    if frame is not None or packet.size == 0:
                        break
            except av.error.FFmpegError as exc:
                frame = None
                error: Exception = exc
            else:
                error = _Lost("the keyframe did not decode")
            finally:
                self._reset()
                cc.flush_buffers()
            if frame is None:
                raise self._damage(i, error)
            return self._converter.to_rgb(frame, size, fast=size is not None)

    def clone(self) -> VideoReader:
        """Another reader on the same file with its own decoder, sharing the index."""
        return VideoReader(self._probe, threads=self._threads)

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
                self._container = None
            self._packets = None
            self._first = None

    # -- decoding --------------------------------------------------------------------------

    def _open_container(self) -> None:
        try:
            self._container = av.open(str(self.path), timeout=IO_TIMEOUT)
        except (av.error.FFmpegError, OSError) as exc:
            raise _open_error(self.path, exc) from exc
        self._stream = self._container.streams[self._probe.stream_index]
        for s in self._container.streams:
            if s.index != self._stream.index:
                s.discard = av.stream.Discard.all
        self._stream.thread_type = "AUTO"
        self._stream.thread_count = self._threads or min(os.cpu_count() or 2, 8)

    def _decoded(self, i: int) -> av.VideoFrame:
        if self._container is None:
            raise MediaError("the video has been closed", self.path)
        keys = self.index.keyframes
        k = self.index.keyframe_before(i)
        # Ways to reach frame i, cheapest first. Some demuxers (MPEG-TS, AVI without an
        # index) land after the keyframe asked for: then step back, then start from the top.
        # A seek asks for the keyframe's presentation time, which MP4 and Matroska look up;
        # demuxers that go by decode time may land later, so the retries ask for that.
        plans: list[tuple[int, bool] | None] = []
        if self._next is not None and self._next <= i and keys[k] <= self._next:
            plans.append(None)  # decode on from where the decoder is
        if not self._seek_by_decode_time:
            plans.append((k, False))
        plans += [(k, True), *((x, True) for x in (k - 1, k - 2) if x >= 0), (-1, True)]
        fallback = None
        for plan in plans:
            if plan is None:
                start = self._next or 0
            elif plan[0] >= 0:
                self._seek(plan[0], by_decode_time=plan[1])
                start = int(keys[plan[0]])
            else:
                self._restart()
                start = 0
            try:
                return self._decode_forward(i, i - start + _REORDER_SLACK)
            except _Overshoot as over:
                fallback = over.frame
                self._seek_by_decode_time |= plan is not None and not plan[1]
            except _Unordered:
                self._by_order = True
                self._reset()
                return self._decoded(i)
            except (av.error.FFmpegError, _Lost) as exc:
                self._reset()
                if plan is not None and not plan[1]:
                    self._seek_by_decode_time = True  # this demuxer seeks by decode time
                    continue
                raise self._damage(i, exc) from exc
        assert fallback is not None
        return fallback  # the frame cannot be decoded at all: show its successor

    def _seek(self, k: int, *, by_decode_time: bool = False) -> None:
        assert self._container is not None
        self._reset()
        ts = self.index.seek_ts[k] if by_decode_time else self.index.pts[self.index.keyframes[k]]
        try:
            self._container.seek(int(ts), stream=self._stream, backward=True)
        except av.error.FFmpegError:
            self._container.seek(0)  # some files cannot seek by timestamp: start over
        self._packets = self._container.demux(self._stream)
        self._base = int(self.index.keyframes[k])

    def _restart(self) -> None:
        """Decode from the first packet of the file, with no seek at all."""
        if self._container is not None:
            self._container.close()
        self._reset()
        self._open_container()
        self._packets = self._container.demux(self._stream)  # type: ignore[union-attr]
        self._base = 0

    def _reset(self) -> None:
        self._packets = None
        self._pending = []
        self._next = self._prev = None
        self._last_ts = None

    def _decode_forward(self, i: int, budget: int) -> av.VideoFrame:
        assert self._packets is not None
        cc = self._stream.codec_context
        index = self.index
        while True:
            while self._pending:
                idx, frame = self._pending.pop(0)
                self._prev, self._next = idx, idx + 1
                if idx == i:
                    return frame
                if idx > i:
                    self._pending.insert(0, (idx, frame))
                    self._next = idx
                    raise _Overshoot(frame)
            budget -= 1
            if budget < 0:
                raise _Lost(f"frame {i} never came out of the decoder")
            try:
                packet = next(self._packets)
            except StopIteration:
                raise _Lost("the stream ends before this frame") from None
            # Frames before the target that nothing refers to are never decoded.
            skip = not self._by_order and packet.pts is not None and index.locate(packet.pts, None) < i
            cc.skip_frame = "NONREF" if skip else "DEFAULT"
            prev = self._prev
            for frame in self._stream.decode(packet):
                if self._by_order:
                    idx = self._base if prev is None else prev + 1
                else:
                    ts = frame.pts if frame.pts is not None else frame.dts
                    if ts is not None and self._last_ts is not None and ts <= self._last_ts:
                        raise _Unordered
                    self._last_ts = ts if ts is not None else self._last_ts
                    idx = index.locate(ts, prev)
                prev = idx
                self._pending.append((idx, frame))

    def _damage(self, i: int, exc: Exception) -> DamagedMediaError:
        at = timecode(self.index.seconds(i))
        detail = str(exc) if isinstance(exc, _Lost) else (getattr(exc, "strerror", None) or str(exc))
        return DamagedMediaError(
            f"frame {i} ({at}) cannot be decoded: the file is damaged there ({detail}); "
            f"the frames before it can still be used",
            self.path,
            usable_frames=i,
        )


class _Overshoot(Exception):
    def __init__(self, frame: av.VideoFrame) -> None:
        self.frame = frame


class _Lost(Exception):
    pass


class _Unordered(Exception):
    """Decoded frames came out with times going backwards: the times are not to be trusted."""


def open_video(path: str | os.PathLike[str], *, threads: int = 0) -> VideoReader:
    """Open a video file (mp4, mov, mkv, webm, avi, ...) for frame-exact reading.

    Raises :class:`MediaError` with the reason in words when the file cannot be used at all.
    A file damaged part-way opens with the frames before the damage and says so in
    ``reader.problem``.
    """
    p = Path(path)
    check_readable_file(p)
    probe = _Probe(p)
    try:
        return VideoReader(probe, threads=threads)
    except DamagedMediaError as exc:
        raise MediaError(f"no frame can be decoded: {exc.reason}", p) from exc
