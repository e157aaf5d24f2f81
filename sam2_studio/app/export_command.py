"""``sam2-studio export``: a finished video, alpha mattes or COCO masklets from a project.

The work is ``app.export.run_export``'s, the same exporter the editor uses: this module maps
the command line onto ``ExportSettings``, opens the project and its video, shows progress and
turns Ctrl+C into a cancel. Whatever is cancelled or fails leaves no file behind that looks
complete (the media writers write aside and rename at the end); outputs finished before stay.

Matte files are named after their object: ``DIR/<object>_matte.<number>.png`` (or ``.exr``),
``DIR/<object>_matte.mov`` (ProRes 4444) and ``DIR/<object>_matte.mkv`` (FFV1); file number
``start + i`` holds frame ``i`` of the video. Multi-layer EXR and Cryptomatte hold every
object in one file per frame: ``DIR/matte_layers.<number>.exr``, ``DIR/cryptomatte.<number>.exr``.
``segment --mattes`` writes them the same way (``write_mattes``).

``--detail`` runs the detail pass (``app/detail.py``) on every exported object, with a model
loaded here (``--model``, ``--checkpoint``, as ``segment``); without it, no pass runs, even for
objects that have it on in the project (a note says so), so an export never needs a model
unless asked.
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
MATTE_FORMATS = ("png8", "png16", "exr", "prores4444", "ffv1", "png8_rgba", "png16_rgba", "exr_rgba",
                 "exr-layers", "cryptomatte")
VIDEO_CODEC_BY_SUFFIX = {".mp4": "h264", ".mov": "prores", ".mkv": "ffv1"}
MATTE_BASENAME = "matte"
LAYERED_BASENAMES = {"exr-layers": "matte_layers", "cryptomatte": "cryptomatte"}


class MatteOptions(Protocol):
    """How mattes are written: the command line's ``--format``/``--start``/
    ``--premultiplied``, or a batch shot's."""

    matte_format: str
    start: int
    premultiplied: bool
    exr_compression: str  # exr-layers / cryptomatte: zip, piz or dwaa
    exr_float: bool
    exr_rgb: bool


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
    g.add_argument("--compression", dest="exr_compression", choices=("zip", "piz", "dwaa"),
                   default="zip", help="exr-layers / cryptomatte: ZIP (default) or PIZ, lossless; "
                                       "DWAA, lossy on colour (exact on mattes; not for cryptomatte)")
    g.add_argument("--float", dest="exr_float", action="store_true",
                   help="exr-layers / cryptomatte: 32-bit float mattes and colour (default half; "
                        "Cryptomatte IDs are always 32-bit)")
    g.add_argument("--rgb", dest="exr_rgb", action="store_true",
                   help="exr-layers / cryptomatte: the frame's colour too, as scene-linear RGB")


def check_matte_options(args: argparse.Namespace) -> None:
    if args.start < 0:
        raise UsageError(f"--start is a file number ≥ 0 (0, 1 or 1001, usually), got {args.start}")
    layered = args.matte_format in LAYERED_BASENAMES
    for flag, given in (("--compression", args.exr_compression != "zip"), ("--float", args.exr_float),
                        ("--rgb", args.exr_rgb)):
        if given and not layered:
            raise UsageError(f"{flag} applies to --format exr-layers or cryptomatte, not {args.matte_format}")
    if args.matte_format == "cryptomatte" and args.exr_compression == "dwaa":
        raise UsageError("--compression dwaa is lossy and would change the Cryptomatte IDs: "
                         "use zip or piz")


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
                 objects: tuple[int, ...] | None = None, detail: Any = None) -> ExportResult:
    """One matte per object into ``folder`` (see the module docstring for the names)."""
    from sam2_studio.app.export import ExportKind, ExportSettings, slug
    from sam2_studio.media import MatteFormat

    objects = objects or object_ids(doc, None)
    names: dict[str, int] = {}
    layered = LAYERED_BASENAMES.get(args.matte_format)
    for o in () if layered else objects:
        s = slug(doc.object(o).name)
        if s in names:
            raise UsageError(f"objects {names[s]} and {o} would write the same matte files "
                             f"({s}_{MATTE_BASENAME}...): rename one, or export them one at a "
                             "time with --objects")
        names[s] = o
    if layered:
        base = folder / f"{layered}.%04d.exr"
    else:
        fmt = MatteFormat(args.matte_format)
        base = folder / (f"{MATTE_BASENAME}.%04d{fmt.suffix}" if fmt.is_sequence
                         else f"{MATTE_BASENAME}{fmt.suffix}")
    settings = ExportSettings(ExportKind.MATTES, base, 0, doc.video.frame_count - 1,
                              objects=objects, matte_format=args.matte_format,
                              start_number=args.start,
                              premultiplied=True if args.premultiplied else None, separate=True,
                              exr_compression=args.exr_compression, exr_half=not args.exr_float,
                              exr_rgb=args.exr_rgb)
    return _run(doc, reader, settings, ctx, stop, "mattes", detail=detail)


def write_video(doc: Document, reader: Any, path: Path, codec: str, ctx: ProgressContext,
                stop: Callable[[], bool], *, crf: int = 18, audio: bool = True,
                effects: bool = True, has_audio: bool = False, detail: Any = None) -> ExportResult:
    """Every frame with the effects of every visible object, the source's fps and audio."""
    from sam2_studio.app.export import ExportKind, ExportSettings

    settings = ExportSettings(ExportKind.VIDEO, path, 0, doc.video.frame_count - 1,
                              video_codec=codec, crf=crf, audio=audio)
    return _run(doc, reader, settings, ctx, stop, "video",
                audio_path=doc.video.path if has_audio else None, effects=effects, detail=detail)


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
        d = parser.add_argument_group("detail pass")
        d.add_argument("--detail", action="store_true",
                       help="run the model's detail pass on every exported object: it looks "
                            "again at each edge at full resolution (sharper mattes at 1080p and "
                            "4K; needs a model, slower)")
        d.add_argument("--model", metavar="VARIANT", help="--detail: an installed model (default: "
                                                          "the project's, else the first installed)")
        d.add_argument("--checkpoint", type=Path, metavar="PATH", help="--detail: a checkpoint file")
        d.add_argument("--image-size", type=int, metavar="N", help="--detail: the model's input size")
        d.add_argument("--device", help="--detail: cpu, cuda, cuda:1 or mps")
        d.add_argument("--precision", choices=("fp32", "bf16", "fp16"),
                       help="--detail: the model's compute precision (default: the device's, "
                            "bf16 on CUDA, fp16 on Apple GPUs, fp32 on a CPU)")
        d.add_argument("--random-weights", action="store_true",
                       help="--detail, DEVELOPERS ONLY: an untrained model (meaningless mattes)")
        # the detail pass runs the image path in torch: no tracking, nothing to compile
        parser.set_defaults(memory="sam2", compile=False, cpu_engine="torch", resolution=None)

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
        self._check_detail(args)
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
            detail = self._detail(doc, args, ctx, objects)
            reader = clip.open_reader()
            try:
                return self._export(doc, reader, clip.info.has_audio, args, codec, objects,
                                    folder, ctx, detail)
            finally:
                reader.close()
        finally:
            clip.close()

    @staticmethod
    def _video_codec(args: argparse.Namespace) -> str:
        codec = video_codec_for(args.video, args.codec)
        check_output_file(args.video, "--video")
        return codec

    @staticmethod
    def _check_detail(args: argparse.Namespace) -> None:
        model_options = [f for f, v in (("--model", args.model), ("--checkpoint", args.checkpoint),
                                        ("--image-size", args.image_size), ("--device", args.device),
                                        ("--precision", args.precision),
                                        ("--random-weights", args.random_weights)) if v]
        if model_options and not args.detail:
            raise UsageError(f"{model_options[0]} chooses the model of the detail pass: add --detail")
        if args.detail and not (args.mattes or args.video):
            raise UsageError("--detail refines mattes and the video's effects: give --mattes or --video")
        if args.checkpoint is not None and (args.model or args.random_weights):
            raise UsageError("--checkpoint goes alone: it says which model it is")
        if args.image_size is not None and (args.image_size % 32 or not 64 <= args.image_size <= 4096):
            raise UsageError(f"--image-size is a multiple of 32 from 64 to 4096, got {args.image_size}")

    def _detail(self, doc: Document, args: argparse.Namespace, ctx: CliContext,
                objects: tuple[int, ...]) -> Any:
        """The detail source ``--detail`` asks for (and the objects' switches set to match):
        ``objects``, or with none chosen every visible one."""
        from dataclasses import replace

        from sam2_studio.app.detail import DirectDetail, detail_enabled
        from sam2_studio.app.rendering import stack_fields, stack_of

        wanted = set(objects or object_ids(doc, None)) if args.detail else set()
        asked = [o.name for o in doc.objects if detail_enabled(o) and o.id not in wanted]
        if asked and not args.detail:
            ctx.stderr.write(f"note: {', '.join(asked)}: the detail pass is on in the project; "
                             "add --detail to run it (it needs a model)\n")
        for o in doc.objects:  # in memory only: the project file is not written
            if detail_enabled(o) != (o.id in wanted):
                stack = stack_of(o)
                refine = replace(stack.refine, detail=o.id in wanted)
                doc.update_object(o.id, **stack_fields(stack.with_refine(refine)))
        if not args.detail:
            return None
        if args.model is None and args.checkpoint is None and not args.random_weights \
                and doc.model_variant:
            args.model = doc.model_variant
        from sam2_studio.app.segment_command import SegmentCommand

        loaded = SegmentCommand()._load(args, ctx)
        from sam2_studio.model import Sam2Model

        if not isinstance(loaded.model, Sam2Model):
            raise UsageError(f"--detail needs a SAM 2 model; {loaded.info.label} has no image path")
        return DirectDetail(loaded.model)

    def _export(self, doc: Document, reader: Any, has_audio: bool, args: argparse.Namespace,
                codec: str | None, objects: tuple[int, ...], folder: Path | None,
                ctx: CliContext, detail: Any = None) -> int:
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
                result = write_mattes(doc, reader, folder, args, ctx, stop, objects, detail)
                if result.cancelled:
                    return self._interrupted(ctx, "the mattes", done)
                done.append(f"mattes: {', '.join(str(p) for p in result.paths)}  "
                            f"({describe(result)})")
            if args.video:
                result = write_video(doc, reader, args.video, codec or "h264", ctx, stop,
                                     crf=args.crf, audio=not args.no_audio,
                                     effects=not args.no_effects, has_audio=has_audio,
                                     detail=detail)
                if result.cancelled:
                    return self._interrupted(ctx, "the video", done)
                audio = "with the source's audio" if has_audio and not args.no_audio else "no audio"
                done.append(f"video: {result.paths[0]}  ({describe(result)}, {audio})")
        if detail is not None:
            done.append(str(detail.stats))
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
