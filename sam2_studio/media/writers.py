"""Video files out: H.264 for delivery, ProRes for editorial, FFV1 for lossless masks.

Frames go in one at a time (RGB uint8, optional alpha matte), so an export streams and can
stop at any frame. The file appears under its name only when it is complete; a cancelled or
failed export removes its partial output. Source audio is copied in without re-encoding
where the container allows it, else re-encoded (AAC, or Opus for WebM).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from .atomic import Export, check_writable_folder, finalise, partial_path, remove_quietly, write_failure
from .errors import MediaError, os_reason
from .mattes import matte_u8, matte_u16

_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# Audio codecs each container carries so that common players still play the file.
_AUDIO_COPY = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be", "pcm_s24be", "pcm_f32le"},
    "matroska": None,  # anything FFmpeg can put in it
    "webm": {"opus", "vorbis"},
    "avi": {"mp3", "ac3", "pcm_s16le", "aac"},
}
# BT.709, limited range: what editors and players assume for HD, tagged so nobody guesses.
_BT709 = 1
_LIMITED = 1


class ProResProfile(enum.IntEnum):
    PROXY = 0
    LT = 1
    STANDARD = 2
    HQ = 3
    P4444 = 4
    P4444_XQ = 5


@dataclass(frozen=True)
class H264:
    """libx264, yuv420p (plays everywhere). ``crf``: 0 lossless, 18 visually lossless, 23 default."""

    crf: int = 18
    preset: str = "superfast"


@dataclass(frozen=True)
class ProRes:
    """prores_ks in .mov; 4444 profiles keep an alpha channel when frames come with one."""

    profile: ProResProfile = ProResProfile.HQ
    alpha: bool = False

    def __post_init__(self) -> None:
        if self.alpha and self.profile < ProResProfile.P4444:
            raise ValueError("only ProRes 4444 and 4444 XQ carry alpha")


@dataclass(frozen=True)
class Ffv1:
    """Lossless FFV1 (.mkv): grey masks at 8 or 16 bits, or colour (with alpha when given)."""

    bits: int = 16
    colour: bool = False
    alpha: bool = False


VideoCodec = H264 | ProRes | Ffv1


@dataclass(frozen=True)
class AudioSource:
    """Audio to carry into an export: the file, and the span of it that the export covers."""

    path: Path
    start: float = 0.0  # seconds into the source
    end: float | None = None


def _container_for(path: Path, codec: VideoCodec) -> str:
    fmt = _CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"unknown video file type {path.suffix!r}: use .mp4, .mov, .mkv, .webm or .avi", path)
    allowed = {H264: {"mp4", "mov", "matroska"}, ProRes: {"mov", "matroska"}, Ffv1: {"matroska", "avi", "mov"}}[type(codec)]
    if fmt not in allowed:
        names = {"mp4": ".mp4", "mov": ".mov", "matroska": ".mkv", "avi": ".avi"}
        raise MediaError(f"{type(codec).__name__} cannot be stored in a {path.suffix} file; use " + " or ".join(sorted(names[a] for a in allowed)), path)
    return fmt


class VideoWriter(Export):
    """Streams frames into a video file; see the module docstring.

    ``write(frame, alpha=None, time=None)``: ``frame`` RGB uint8 (H, W, 3) — or a matte
    (H, W) for grey FFV1 — and ``alpha`` a matte (bool, uint8, uint16 or float 0..1) for
    codecs with alpha. ``time`` (seconds) keeps a variable frame rate; without it frames
    are ``1/fps`` apart. Use as a context manager: leaving it by an exception removes the
    partial file, leaving it normally finishes the file.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        fps: Fraction | int,
        codec: VideoCodec | None = None,
        *,
        audio: AudioSource | None = None,
        time_base: Fraction | None = None,
    ) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.fps = Fraction(fps)
        self.codec: VideoCodec = codec if codec is not None else H264()
        self.frames_written = 0
        fmt = _container_for(self.path, self.codec)
        check_writable_folder(self.path.parent, self.path)
        w, h = self.size
        # yuv420p needs even sizes; H.264 cannot crop by one pixel, so the edge is repeated.
        self.coded_size = (w + w % 2, h + h % 2) if isinstance(self.codec, H264) else (w, h)
        self._partial = partial_path(self.path)
        self._time_base = time_base or 1 / self.fps
        self._audio: _AudioCopier | None = None
        self._closed = False
        try:
            # MP4/MOV: the index goes to the front at the end, so players start at once.
            options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            self._out = av.open(str(self._partial), "w", format=fmt, options=options)
        except (av.error.FFmpegError, OSError) as exc:
            remove_quietly(self._partial)
            raise write_failure(self.path, exc) from exc
        try:
            self._stream, self._pix_fmt = self._add_video_stream()
            if audio is not None:
                self._audio = _AudioCopier(audio, self._out, fmt)
        except BaseException:
            self.abort()
            raise

    # -- set-up ----------------------------------------------------------------------------

    def _add_video_stream(self) -> tuple[av.video.stream.VideoStream, str]:
        c = self.codec
        rate = self.fps
        if isinstance(c, H264):
            s = self._out.add_stream("libx264", rate=rate)
            pix = "yuv420p"
            s.options = {"crf": str(c.crf), "preset": c.preset}
        elif isinstance(c, ProRes):
            s = self._out.add_stream("prores_ks", rate=rate)
            pix = ("yuva444p10le" if c.alpha else "yuv444p10le") if c.profile >= ProResProfile.P4444 else "yuv422p10le"
            s.options = {"profile": str(int(c.profile)), "vendor": "apl0"}
            if c.alpha:
                s.options = {**s.options, "alpha_bits": "16"}
        else:
            s = self._out.add_stream("ffv1", rate=rate)
            if c.colour:
                pix = "gbrap" if c.alpha else "gbrp"
                if c.bits == 16:
                    pix = "gbrap16le" if c.alpha else "gbrp16le"
            else:
                pix = "gray16le" if c.bits == 16 else "gray"
            s.options = {"level": "3", "slicecrc": "1", "g": "1"}
        s.width, s.height = self.coded_size
        s.pix_fmt = pix
        s.time_base = self._time_base
        s.codec_context.time_base = self._time_base
        if pix.startswith("yuv"):
            cc = s.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = _BT709
            cc.color_range = _LIMITED
        return s, pix

    # -- writing ---------------------------------------------------------------------------

    def write(self, frame: np.ndarray, alpha: np.ndarray | None = None, time: float | Fraction | None = None) -> None:
        if self._closed:
            raise RuntimeError("write() after close() or abort()")
        vf = self._to_frame(frame, alpha)
        if time is None:
            vf.pts = round(self.frames_written / self.fps / self._time_base)
        else:
            vf.pts = round(Fraction(time) / self._time_base)
        vf.time_base = self._time_base
        try:
            packets = self._stream.encode(vf)
            self._out.mux(packets)
            if self._audio is not None:
                self._audio.pump(float(vf.pts * self._time_base))
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise write_failure(self.path, exc) from exc
        self.frames_written += 1

    def _to_frame(self, frame: np.ndarray, alpha: np.ndarray | None) -> av.VideoFrame:
        w, h = self.size
        arr = np.asarray(frame)
        if arr.shape[:2] != (h, w):
            raise ValueError(f"frame is {arr.shape[1]}×{arr.shape[0]}, the export is {w}×{h}")
        c = self.codec
        if isinstance(c, Ffv1) and not c.colour:
            data = matte_u16(arr) if c.bits == 16 else matte_u8(arr)
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(data), format="gray16le" if c.bits == 16 else "gray")
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"frames must be RGB uint8 (H, W, 3), not {arr.dtype} {arr.shape}")
        wants_alpha = getattr(c, "alpha", False)
        if wants_alpha:
            a = matte_u16(alpha) if alpha is not None else np.full((h, w), 65535, np.uint16)
            rgba = np.dstack([arr.astype(np.uint16) * np.uint16(257), a])
            src = av.VideoFrame.from_ndarray(rgba, format="rgba64le")
        else:
            if self.coded_size != self.size:
                arr = np.pad(arr, ((0, self.coded_size[1] - h), (0, self.coded_size[0] - w), (0, 0)), mode="edge")
            arr = np.ascontiguousarray(arr)
            src = av.VideoFrame.from_numpy_buffer(arr, format="rgb24")
        # One thread: FFmpeg's sliced conversion into the 10-bit alpha formats writes
        # mid-grey alpha into a few pixels at slice borders (yuva444p10le, seen with PyAV 18)
        # and is not repeatable in colour either; a frame converts in milliseconds anyway.
        if self._pix_fmt.startswith("yuv"):
            return src.reformat(
                format=self._pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG", src_color_range="JPEG",
                threads=1,
            )
        return src.reformat(format=self._pix_fmt, threads=1)

    # -- ending ----------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the file and give it its name."""
        if self._closed:
            return
        try:
            self._out.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.pump(None)
            self._out.close()
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise write_failure(self.path, exc) from exc
        finally:
            if self._audio is not None:
                self._audio.close()
        self._closed = True
        if self.frames_written == 0:
            remove_quietly(self._partial)
            raise MediaError("nothing was exported: no frames were written", self.path)
        finalise(self._partial, self.path)

    def abort(self) -> None:
        """Stop and remove the partial file (cancel, or after an error)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._out.close()
        except Exception:  # noqa: BLE001 - the partial file goes anyway
            pass
        if self._audio is not None:
            self._audio.close()
        remove_quietly(self._partial)



class _AudioCopier:
    """Moves one audio stream of a source file into the output, interleaved with the video."""

    def __init__(self, source: AudioSource, out: av.container.OutputContainer, fmt: str) -> None:
        try:
            self._src = av.open(str(source.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"its audio cannot be read ({os_reason(exc) or 'not a media file'})", source.path) from exc
        self._start = source.start
        self._end = source.end
        streams = [s for s in self._src.streams.audio if s.codec_context is not None]
        if not streams:  # nothing we can carry: the export is silent
            self._src.close()
            self._packets: Iterator[av.Packet] | None = None
            return
        ins = streams[0]
        self._in = ins
        allowed = _AUDIO_COPY[fmt]
        name = ins.codec_context.name
        self.copied = (name in out.supported_codecs) if allowed is None else name in allowed
        if self.copied:
            self._out = out.add_stream_from_template(ins)
        else:
            codec = "libopus" if fmt == "webm" else "aac"
            rate = 48000 if codec == "libopus" else ins.codec_context.sample_rate
            self._out = out.add_stream(codec, rate=rate, layout=ins.codec_context.layout.name)
            self._out.bit_rate = 192_000
        tb = ins.time_base or Fraction(1, ins.codec_context.sample_rate)
        self._tb = tb
        self._offset = round(Fraction(self._start) / tb) + (ins.start_time or 0)
        if self._start > 0:
            self._src.seek(self._offset, stream=ins, backward=True)
        self._packets = self._src.demux(ins)
        self._held: av.Packet | None = None

    def pump(self, until: float | None) -> None:
        """Mux source audio up to ``until`` seconds of output (None: all of it)."""
        if self._packets is None:
            return
        end = self._end - self._start if self._end is not None else None
        while True:
            packet = self._held or next(self._packets, None)
            self._held = None
            if packet is None:
                self._flush()
                return
            if packet.size == 0 or packet.pts is None:
                continue
            t = float((packet.pts - self._offset) * self._tb)
            if t < -1e-6:
                continue  # starts before the exported span
            if end is not None and t >= end - 1e-6:
                self._flush()
                return
            if until is not None and t > until:
                self._held = packet
                return
            self._emit(packet)

    def _emit(self, packet: av.Packet) -> None:
        if self.copied:
            packet.pts -= self._offset
            if packet.dts is not None:
                packet.dts -= self._offset
            packet.stream = self._out
            self._out.container.mux(packet)
            return
        for frame in self._in.decode(packet):
            frame.pts = None
            self._out.container.mux(self._out.encode(frame))

    def _flush(self) -> None:
        if self._packets is None:
            return
        self._packets = None
        if not self.copied:
            self._out.container.mux(self._out.encode(None))

    def close(self) -> None:
        self._packets = None
        self._src.close()
