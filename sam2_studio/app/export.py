"""Exports: the finished video with effects, alpha mattes, or masklets (COCO RLE JSON).

One function, ``run_export``, streams the chosen range frame by frame through the media
layer's writers, on whatever thread calls it (the editor uses a background thread), with
its own reader and renderer so the editor keeps working. It reports progress after every
frame and stops at the next frame when ``cancelled()`` says so; a cancelled or failed
export leaves no partial output behind (the writers remove it).

Frame numbering: a matte sequence numbers its files from ``start_number`` (0, 1 or 1001)
for the first exported frame, whatever the range: ``shot.1001.png`` is the in point when
exporting the in/out range with start number 1001.

Multi-layer EXR (``exr-layers``: a layer ``<object>.A`` per object) and Cryptomatte
(``cryptomatte``) put every chosen object into one file per frame. Objects whose refinement
asks for the detail pass get it from ``detail`` (``app/detail.py``): the editor's worker or,
on the command line, the model loaded for it; without one such an export does not start.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from sam2_studio.app.detail import DetailSource, detail_enabled
from sam2_studio.app.rendering import DocumentFrames, make_renderer
from sam2_studio.errors import StudioError
from sam2_studio.project import Document


class ExportKind(enum.Enum):
    VIDEO = "video"  # the frames with every visible object's effects
    MATTES = "mattes"  # alpha mattes of chosen objects
    MASKLETS = "masklets"  # per-object masks as COCO RLE JSON (SA-V style)


VIDEO_CODECS = {
    "h264": ("H.264 (.mp4) — plays everywhere", ".mp4"),
    "prores": ("ProRes 422 HQ (.mov) — for editing", ".mov"),
    "prores4444": ("ProRes 4444 with alpha (.mov)", ".mov"),
    "ffv1": ("FFV1 lossless (.mkv) — archive", ".mkv"),
}

MATTE_FORMATS = {
    "png8": "PNG sequence, 8-bit grey",
    "png16": "PNG sequence, 16-bit grey",
    "png8_rgba": "PNG sequence, colour + alpha (8-bit)",
    "png16_rgba": "PNG sequence, colour + alpha (16-bit)",
    "exr": "EXR sequence, half-float matte",
    "exr_rgba": "EXR sequence, linear colour + alpha (premultiplied)",
    "prores4444": "ProRes 4444 with alpha (.mov)",
    "ffv1": "FFV1 lossless 16-bit matte video (.mkv)",
    "exr-layers": "Multi-layer EXR, a layer per object (<object>.A)",
    "cryptomatte": "Cryptomatte EXR: ID mattes keyers pick by name",
}
LAYERED_FORMATS = ("exr-layers", "cryptomatte")  # every object in one file per frame
EXR_COMPRESSIONS = {"zip": "ZIP (lossless)", "piz": "PIZ (lossless, grainy images)",
                    "dwaa": "DWAA (lossy colour, exact mattes)"}


class ExportError(StudioError):
    """An export that cannot start or could not finish; names the file and the problem."""


@dataclass(frozen=True)
class ExportSettings:
    kind: ExportKind
    path: Path  # a file, or a sequence pattern such as shot.%04d.png
    first: int  # inclusive range of source frames
    last: int
    objects: tuple[int, ...] = ()  # mattes/masklets: which objects (empty: every visible one)
    video_codec: str = "h264"
    crf: int = 18
    matte_format: str = "png16"
    start_number: int = 1
    premultiplied: bool | None = None  # None: the format's convention
    separate: bool = False  # mattes: one output per object instead of their union
    audio: bool = True  # copy the source's audio into video exports
    refined: bool = True  # mattes: after the objects' refinement (feather, choke, smoothing)
    exr_compression: str = "zip"  # multi-layer EXR and Cryptomatte: zip, piz or dwaa
    exr_half: bool = True  # multi-layer EXR: 16-bit floats (Cryptomatte IDs are always 32-bit)
    exr_rgb: bool = False  # multi-layer EXR and Cryptomatte: the frame's colour as well


@dataclass
class ExportResult:
    paths: list[Path] = field(default_factory=list)
    frames: int = 0
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def folder(self) -> Path | None:
        return self.paths[0].parent if self.paths else None


Progress = Callable[[int, int], None]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "object"


def per_object_path(path: Path, name: str) -> Path:
    return path.with_name(f"{slug(name)}_{path.name}")


def default_objects(doc: Document) -> tuple[int, ...]:
    return tuple(o.id for o in doc.objects if o.visible)


def run_export(doc: Document, reader: Any, settings: ExportSettings, *, fps: Fraction,
               audio_path: Path | None = None, progress: Progress | None = None,
               cancelled: Callable[[], bool] = lambda: False, effects: bool = True,
               detail: DetailSource | None = None) -> ExportResult:
    """Write the export ``settings`` describe. ``reader``: an independent frame reader of the
    document's clip (``get(i)``). ``audio_path``: the source to copy audio from, if any.
    ``detail``: where the detail pass's mattes come from, for objects that ask for it."""
    if not 0 <= settings.first <= settings.last < doc.video.frame_count:
        raise ExportError(f"the range {settings.first}–{settings.last} is outside the clip "
                          f"(0–{doc.video.frame_count - 1})", settings.path)
    t0 = time.monotonic()
    objects = settings.objects or default_objects(doc)
    if settings.kind is ExportKind.VIDEO:
        if effects:
            _check_detail(doc, default_objects(doc), detail, settings.path)
        result = _video(doc, reader, settings, fps, audio_path, progress, cancelled, effects, detail)
    elif settings.kind is ExportKind.MATTES:
        if not objects:
            raise ExportError("there is no object to export a matte of: add one first", settings.path)
        if effects and settings.refined:
            _check_detail(doc, objects, detail, settings.path)
        else:
            detail = None
        result = _mattes(doc, reader, settings, objects, fps, progress, cancelled, effects, detail)
    else:
        if not objects:
            raise ExportError("there is no object to export: add one first", settings.path)
        result = _masklets(doc, settings, objects, fps, progress, cancelled)
    result.seconds = time.monotonic() - t0
    return result


def _check_detail(doc: Document, objects: tuple[int, ...], detail: DetailSource | None, path: Path) -> None:
    """An export must not quietly leave out a detail pass the user asked for."""
    wanting = [doc.object(o).name for o in objects if detail_enabled(doc.object(o))]
    if wanting and detail is None:
        raise ExportError(f"{', '.join(wanting)} {'has' if len(wanting) == 1 else 'have'} the detail "
                          "pass on, which needs a model: load one (or switch the detail pass off "
                          "in the refinement)", path)


def _renderer(doc: Document, reader: Any, effects: bool, detail: DetailSource | None = None) -> Any | None:
    if not effects:
        return None
    try:
        return make_renderer(doc, reader, detail=detail)
    except ImportError:
        return None


def _audio(settings: ExportSettings, audio_path: Path | None, fps: Fraction) -> Any:
    if not settings.audio or audio_path is None:
        return None
    from sam2_studio.media import AudioSource

    return AudioSource(audio_path, start=settings.first / float(fps), end=(settings.last + 1) / float(fps))


def _loop(settings: ExportSettings, progress: Progress | None, cancelled: Callable[[], bool],
          write: Callable[[int], None]) -> tuple[int, bool]:
    total = settings.last - settings.first + 1
    done = 0
    for i in range(settings.first, settings.last + 1):
        if cancelled():
            return done, True
        write(i)
        done += 1
        if progress:
            progress(done, total)
    return done, False


def _write_through(writers: list[Any], settings: ExportSettings, progress: Progress | None,
                   cancelled: Callable[[], bool], write: Callable[[int], None]) -> ExportResult:
    """Runs the frame loop into open writers: finished files on success, none left behind on
    cancel or error (each writer's partial file is removed by its abort)."""
    try:
        done, stopped = _loop(settings, progress, cancelled, write)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    if stopped:
        for w in writers:
            w.abort()
        return ExportResult([], done, True)
    for w in writers:
        w.close()
    return ExportResult([w.path for w in writers], done)


def _video(doc: Document, reader: Any, s: ExportSettings, fps: Fraction, audio_path: Path | None,
           progress: Progress | None, cancelled: Callable[[], bool], effects: bool,
           detail: DetailSource | None) -> ExportResult:
    from sam2_studio.media import H264, Ffv1, ProRes, ProResProfile, VideoWriter

    codec = {"h264": lambda: H264(crf=s.crf), "prores": lambda: ProRes(ProResProfile.HQ),
             "prores4444": lambda: ProRes(ProResProfile.P4444, alpha=True),
             "ffv1": lambda: Ffv1(bits=8, colour=True)}[s.video_codec]()
    suffix = VIDEO_CODECS[s.video_codec][1]
    path = s.path if s.path.suffix.lower() == suffix else s.path.with_suffix(suffix)
    renderer = _renderer(doc, reader, effects, detail)
    size = (doc.video.width, doc.video.height)
    writer = VideoWriter(path, size, fps, codec, audio=_audio(s, audio_path, fps))

    def write(i: int) -> None:
        if renderer is not None:
            out = renderer.render(i)
            alpha = out.alpha if s.video_codec in ("prores4444",) else None
            writer.write(np.ascontiguousarray(out.rgb), alpha=alpha)
        else:
            writer.write(np.ascontiguousarray(reader.get(i)))

    return _write_through([writer], s, progress, cancelled, write)


def _matte_source(doc: Document, reader: Any, s: ExportSettings, effects: bool,
                  detail: DetailSource | None) -> Callable[[int, int], np.ndarray | None]:
    renderer = _renderer(doc, reader, effects and s.refined, detail)
    if renderer is not None:
        return renderer.matte
    frames = DocumentFrames(doc, reader, include_hidden=True, detail=detail)
    return frames.matte


def _mattes(doc: Document, reader: Any, s: ExportSettings, objects: tuple[int, ...], fps: Fraction,
            progress: Progress | None, cancelled: Callable[[], bool], effects: bool,
            detail: DetailSource | None) -> ExportResult:
    from sam2_studio.media import MatteExport, MatteFormat, MatteWriter

    if s.matte_format in LAYERED_FORMATS:
        return _layered(doc, reader, s, objects, progress, cancelled, effects, detail)
    fmt = MatteFormat(s.matte_format)
    export = MatteExport(fmt, start_number=s.start_number, premultiplied=s.premultiplied)
    size = (doc.video.width, doc.video.height)
    matte_of = _matte_source(doc, reader, s, effects, detail)
    groups = [(doc.object(o).name, (o,)) for o in objects] if s.separate else [("", objects)]
    writers = []
    try:
        for name, _ in groups:
            path = per_object_path(s.path, name) if name else s.path
            writers.append(MatteWriter(path, export, size, fps))
    except BaseException:
        for w in writers:
            w.abort()
        raise

    def write(i: int) -> None:
        frame = reader.get(i) if fmt.needs_frame else None
        for (_, members), writer in zip(groups, writers):
            writer.write(_union(matte_of, members, i, size), frame)

    return _write_through(writers, s, progress, cancelled, write)


def _layered(doc: Document, reader: Any, s: ExportSettings, objects: tuple[int, ...],
             progress: Progress | None, cancelled: Callable[[], bool], effects: bool,
             detail: DetailSource | None) -> ExportResult:
    """Every object in one EXR per frame: a layer each, or Cryptomatte ID mattes."""
    from sam2_studio.media import ExrCompression, LayeredExr, LayeredExrWriter

    try:
        compression = ExrCompression(s.exr_compression)
    except ValueError:
        raise ExportError(f"unknown EXR compression {s.exr_compression!r}: "
                          f"use {', '.join(EXR_COMPRESSIONS)}", s.path) from None
    settings = LayeredExr(compression, half=s.exr_half, rgb=s.exr_rgb,
                          cryptomatte=s.matte_format == "cryptomatte", start_number=s.start_number)
    matte_of = _matte_source(doc, reader, s, effects, detail)
    writer = LayeredExrWriter(s.path, settings, (doc.video.width, doc.video.height),
                              [doc.object(o).name for o in objects])

    def write(i: int) -> None:
        frame = reader.get(i) if s.exr_rgb else None
        writer.write([matte_of(o, i) for o in objects], frame)

    return _write_through([writer], s, progress, cancelled, write)


def _union(matte_of: Callable[[int, int], np.ndarray | None], objects: tuple[int, ...], i: int,
           size: tuple[int, int]) -> np.ndarray:
    w, h = size
    union: np.ndarray | None = None
    for obj in objects:
        m = matte_of(obj, i)
        if m is None:
            continue
        m = m.astype(np.float32) if m.dtype == bool else m
        union = m if union is None else np.maximum(union, m)
    if union is None:
        return np.zeros((h, w), np.float32)
    return union


def _masklets(doc: Document, s: ExportSettings, objects: tuple[int, ...], fps: Fraction,
              progress: Progress | None, cancelled: Callable[[], bool]) -> ExportResult:
    from sam2_studio.media import MaskletWriter

    path = s.path if s.path.suffix.lower() == ".json" else s.path.with_suffix(".json")
    writer = MaskletWriter(path, (doc.video.width, doc.video.height), fps=fps,
                           frame_count=doc.video.frame_count,
                           object_names={o: doc.object(o).name for o in objects})

    def write(i: int) -> None:
        masks = {}
        for obj in objects:
            m = doc.mask(obj, i)
            if m is not None:
                masks[obj] = m
        writer.add(i, masks)  # source frame numbers: no surprises

    return _write_through([writer], s, progress, cancelled, write)
