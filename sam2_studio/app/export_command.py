"""``sam2-studio export``: a finished video, alpha mattes or COCO masklets from a project.

The work is ``app.export.run_export``'s, the same exporter the editor uses: this module maps
the command line onto ``ExportSettings``, opens the project and its video, shows progress and
turns Ctrl+C into a cancel. Whatever is cancelled or fails leaves no file behind that looks
complete (the media writers write aside and rename at the end); outputs finished before stay.

Matte files are named after their object: ``DIR/<object>_matte.<number>.png`` (or ``.exr``),
``DIR/<object>_matte.mov`` (ProRes 4444) and ``DIR/<object>_matte.mkv`` (FFV1); file number
``start + i`` holds frame ``i`` of the video. ``segment --mattes`` writes them the same way
(``write_mattes``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sam2_studio.app.exits import EXIT_INTERRUPTED, EXIT_OK, InputError, UsageError
from sam2_studio.app.interrupt import StopRequest

if TYPE_CHECKING:
    from sam2_studio.app.cli import CliContext
    from sam2_studio.app.export import ExportResult, ExportSettings
    from sam2_studio.app.progress import ProgressContext
    from sam2_studio.project import Document

# What the command line offers (app.export knows more, e.g. for the editor's dialog).
MATTE_FORMATS = ("png8", "png16", "exr", "prores4444", "ffv1", "png8_rgba", "png16_rgba", "exr_rgba")
VIDEO_CODEC_BY_SUFFIX = {".mp4": "h264", ".mov": "prores", ".mkv": "ffv1"}
MATTE_BASENAME = "matte"


class MatteOptions(Protocol):
    """How mattes are written: the command line's ``--format``/``--start``/
    ``--premultiplied``, or a batch shot's."""

    matte_format: str
    start: int
    premultiplied: bool


def add_matte_options(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--start`` and ``--premultiplied``: shared by ``segment`` and ``export``."""
    g = parser.add_argument_group("mattes")
    g.add_argument("--format", dest="matte_format", choices=MATTE_FORMATS, default="png16",
                   help="png8 / png16: grey PNG sequences; exr: half-float sequence; prores4444: "
                        ".mov with the source colour and the matte as alpha; ffv1: lossless "
                        "16-bit grey .mkv; *_rgba: colour + alpha sequences (default png16)")
    g.add_argument("--start", type=int, default=1, metavar="N",
                   help="number of a sequence's first file, usually 0, 1 or 1001 (default 1): "
                        "file N+i holds frame i")
    g.add_argument("--premultiplied", action="store_true",
                   help="colour + alpha formats: premultiply the colour (default straight; "
                        "exr_rgba is always premultiplied)")


def check_matte_options(args: argparse.Namespace) -> None:
    if args.start < 0:
        raise UsageError(f"--start is a file number ≥ 0 (0, 1 or 1001, usually), got {args.start}")


def prepare_folder(folder: Path, option: str = "--mattes") -> Path:
    """``--mattes DIR``: made if needed, before any long work."""
    folder = folder.expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{option} {folder}: this is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{option} {folder}: the folder cannot be made "
                         f"({exc.strerror or exc})") from None
    return folder


def check_output_file(path: Path, option: str) -> None:
    folder = path.expanduser().absolute().parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")


def object_ids(doc: Document, wanted: list[str] | None,
               option: str = "--objects") -> tuple[int, ...]:
    """``--objects`` as ids (given as ids or names); default: every visible object."""
    if not wanted:
        ids = tuple(o.id for o in doc.objects if o.visible)
        if not ids:
            raise UsageError("the project has no visible object to export" if doc.objects
                             else "the project has no objects to export")
        return ids
    by_name = {o.name: o.id for o in doc.objects}
    ids_in_doc = {o.id for o in doc.objects}
    out: list[int] = []
    for w in wanted:
        if w in by_name:
            out.append(by_name[w])
        elif w.isdigit() and int(w) in ids_in_doc:
            out.append(int(w))
        else:
            names = ", ".join(f"{o.id} {o.name!r}" for o in doc.objects) or "none"
            raise UsageError(f"{option}: the project has no object {w!r} (objects: {names})")
    return tuple(dict.fromkeys(out))


def video_codec_for(path: Path, codec: str | None, option: str = "--video") -> str:
    """The codec of a video output: asked for, or implied by the file's suffix; the two
    must agree."""
    from sam2_studio.app.export import VIDEO_CODECS

    suffix = path.suffix.lower()
    codec = codec or VIDEO_CODEC_BY_SUFFIX.get(suffix)
    if codec is None:
        raise UsageError(f"{option} {path}: name a .mp4, .mov or .mkv file")
    wanted = VIDEO_CODECS[codec][1]
    if suffix != wanted:
        raise UsageError(f"{option} {path}: the codec {codec} writes {wanted} files; name the "
                         f"output {path.with_suffix(wanted).name}")
    return codec


def write_mattes(doc: Document, reader: Any, folder: Path, args: MatteOptions,
                 ctx: ProgressContext, stop: Callable[[], bool],
                 objects: tuple[int, ...] | None = None) -> ExportResult:
    """One matte per object into ``folder`` (see the module docstring for the names)."""
    from sam2_studio.app.export import ExportKind, ExportSettings, slug
    from sam2_studio.media import MatteFormat

    objects = objects or object_ids(doc, None)
    names: dict[str, int] = {}
    for o in objects:
        s = slug(doc.object(o).name)
        if s in names:
            raise UsageError(f"objects {names[s]} and {o} would write the same matte files "
                             f"({s}_{MATTE_BASENAME}...): rename one, or export them one at a "
                             "time with --objects")
        names[s] = o
    fmt = MatteFormat(args.matte_format)
    base = folder / (f"{MATTE_BASENAME}.%04d{fmt.suffix}" if fmt.is_sequence
                     else f"{MATTE_BASENAME}{fmt.suffix}")
    settings = ExportSettings(ExportKind.MATTES, base, 0, doc.video.frame_count - 1,
                              objects=objects, matte_format=args.matte_format,
                              start_number=args.start,
                              premultiplied=True if args.premultiplied else None, separate=True)
    return _run(doc, reader, settings, ctx, stop, "mattes")


def write_video(doc: Document, reader: Any, path: Path, codec: str, ctx: ProgressContext,
                stop: Callable[[], bool], *, crf: int = 18, audio: bool = True,
                effects: bool = True, has_audio: bool = False) -> ExportResult:
    """Every frame with the effects of every visible object, the source's fps and audio."""
    from sam2_studio.app.export import ExportKind, ExportSettings

    settings = ExportSettings(ExportKind.VIDEO, path, 0, doc.video.frame_count - 1,
                              video_codec=codec, crf=crf, audio=audio)
    return _run(doc, reader, settings, ctx, stop, "video",
                audio_path=doc.video.path if has_audio else None, effects=effects)


def _run(doc: Document, reader: Any, settings: ExportSettings, ctx: ProgressContext,
         stop: Callable[[], bool], label: str, **kw: Any) -> ExportResult:
    from sam2_studio.app.export import run_export

    total = settings.last - settings.first + 1
    with ctx.progress(total, label=label) as bar:
        return run_export(doc, reader, settings, fps=doc.video.fps,
                          progress=lambda done, _total: bar.update(done),
                          cancelled=stop, **kw)


def describe(result: ExportResult) -> str:
    rate = result.frames / result.seconds if result.seconds > 0 else 0.0
    return (f"{result.frames} frames in {result.seconds:.1f} s ({rate:.1f} frames/s)")


class ExportCommand:
    name = "export"
    help = "write a project's video with its effects, its alpha mattes, or COCO masklets"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", type=Path, help="a .s2s project")
        parser.add_argument("--relink", type=Path, metavar="VIDEO",
                            help="the project's video at its new place, when it moved")
        g = parser.add_argument_group("video")
        g.add_argument("--video", type=Path, metavar="OUT",
                       help="the video with every visible object's effects, the source's fps "
                            "and audio: .mp4 (H.264), .mov (ProRes 422 HQ) or .mkv (FFV1)")
        g.add_argument("--codec", choices=("h264", "prores", "prores4444", "ffv1"),
                       help="instead of the one the file name implies (prores4444: .mov with "
                            "alpha where an effect cuts out)")
        g.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 lossless … 51 (default 18)")
        g.add_argument("--no-audio", action="store_true", help="leave the source's audio out")
        g.add_argument("--no-effects", action="store_true", help="the source frames as they are")
        parser.add_argument("--mattes", type=Path, metavar="DIR",
                            help="one matte per object into DIR (after each object's refinement)")
        add_matte_options(parser)
        parser.add_argument("--objects", nargs="+", metavar="OBJECT",
                            help="mattes and masklets of these objects only (ids or names; "
                                 "default: every visible object)")
        parser.add_argument("--coco", type=Path, metavar="OUT.json",
                            help="every object's masks as COCO RLE (SA-V masklet JSON)")

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.clip import open_clip
        from sam2_studio.media import MediaError
        from sam2_studio.project import open_project

        if not (args.video or args.mattes or args.coco):
            raise UsageError("nothing to export: give --video OUT, --mattes DIR and/or --coco OUT.json")
        codec = self._video_codec(args) if args.video else None
        check_matte_options(args)
        if args.coco:
            if args.coco.suffix.lower() != ".json":
                raise UsageError(f"--coco names a .json file, got {args.coco}")
            check_output_file(args.coco, "--coco")
        doc = open_project(args.project, relink=args.relink)
        objects = object_ids(doc, args.objects) if (args.mattes or args.coco) else ()
        folder = prepare_folder(args.mattes) if args.mattes else None
        try:
            clip = open_clip(doc.video.path)
        except MediaError as exc:
            raise InputError.from_error(exc) from exc
        try:
            v = doc.video
            if tuple(clip.info.size) != (v.width, v.height) or clip.info.frame_count != v.frame_count:
                raise InputError(f"the video decodes as {clip.info.size[0]}×{clip.info.size[1]}, "
                                 f"{clip.info.frame_count} frames, the project expects "
                                 f"{v.width}×{v.height}, {v.frame_count} frames", v.path)
            reader = clip.open_reader()
            try:
                return self._export(doc, reader, clip.info.has_audio, args, codec, objects,
                                    folder, ctx)
            finally:
                reader.close()
        finally:
            clip.close()

    @staticmethod
    def _video_codec(args: argparse.Namespace) -> str:
        codec = video_codec_for(args.video, args.codec)
        check_output_file(args.video, "--video")
        return codec

    def _export(self, doc: Document, reader: Any, has_audio: bool, args: argparse.Namespace,
                codec: str | None, objects: tuple[int, ...], folder: Path | None,
                ctx: CliContext) -> int:
        from sam2_studio.app.export import ExportKind, ExportSettings

        last = doc.video.frame_count - 1
        done: list[str] = []
        with StopRequest("stopping; the file being written is discarded, finished ones stay "
                         "(Ctrl+C again to quit at once)") as stop:
            # quickest first: a Ctrl+C during a long video leaves the quick ones finished
            if args.coco:
                result = _run(doc, reader, ExportSettings(ExportKind.MASKLETS, args.coco, 0, last,
                                                          objects=objects), ctx, stop, "coco")
                if result.cancelled:
                    return self._interrupted(ctx, "the COCO file", done)
                done.append(f"coco: {result.paths[0]}  ({describe(result)})")
            if folder is not None:
                result = write_mattes(doc, reader, folder, args, ctx, stop, objects)
                if result.cancelled:
                    return self._interrupted(ctx, "the mattes", done)
                done.append(f"mattes: {', '.join(str(p) for p in result.paths)}  "
                            f"({describe(result)})")
            if args.video:
                result = write_video(doc, reader, args.video, codec or "h264", ctx, stop,
                                     crf=args.crf, audio=not args.no_audio,
                                     effects=not args.no_effects, has_audio=has_audio)
                if result.cancelled:
                    return self._interrupted(ctx, "the video", done)
                audio = "with the source's audio" if has_audio and not args.no_audio else "no audio"
                done.append(f"video: {result.paths[0]}  ({describe(result)}, {audio})")
        for line in done:
            ctx.stdout.write(line + "\n")
        return EXIT_OK

    @staticmethod
    def _interrupted(ctx: CliContext, what: str, done: list[str]) -> int:
        for line in done:
            ctx.stdout.write(line + "\n")
        ctx.stderr.write(f"sam2-studio export: interrupted; {what} was not written (no partial "
                         "file is left)" + ("; the files above are complete" if done else "")
                         + "\n")
        return EXIT_INTERRUPTED
