"""``sam2-studio segment``: track objects through a video from a prompts file, headless.

Checks the prompts against the video (``prompts_file.py``) before any model loads, loads the
model (``model_source.py``), prompts a tracking session and propagates it both ways from the
first prompted frame. Every frame's masks go into a new project document as they come, all
in one undo step; then the project is saved (``--out``) and/or the mattes written (``--mattes``,
through ``export_command.write_mattes``, the exporter ``export`` uses).

Ctrl+C stops after the frame in hand and keeps the frames done: they are saved in the
project (``--out``, or when only ``--mattes`` was asked, in ``DIR/<video>.s2s``) and the
command ends with 130. Mattes are not written for an unfinished clip (``export`` writes them
from the project). An error part-way keeps the frames done the same way and ends with 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam2_studio.app.exits import EXIT_INTERRUPTED, EXIT_OK, InputError, UsageError
from sam2_studio.app.export_command import (add_matte_options, check_matte_options,
                                            check_output_file, prepare_folder, write_mattes)
from sam2_studio.app.interrupt import StopRequest
from sam2_studio.app.progress import ProgressContext
from sam2_studio.app.prompts_file import Prompts, PromptsError, PromptSpec, read_prompts
from sam2_studio.app.resolution import resolution_of
from sam2_studio.errors import StudioError
from sam2_studio.project.resolution import DEFAULT_RESOLUTION, RESOLUTIONS, TrackedAt

if TYPE_CHECKING:
    from sam2_studio.app.cli import CliContext
    from sam2_studio.app.model_source import LoadedModel, ModelSource
    from sam2_studio.project import Document

DEFAULT_RANDOM_SIZE = 256
RANDOM_WARNING = ("WARNING: RANDOM WEIGHTS (developer mode). The model is untrained: its masks "
                  "are MEANINGLESS. Use a real checkpoint (`sam2-studio models list`) for work.")


class SegmentFailed(StudioError):
    """Tracking stopped on an error part-way; the frames done were saved (exit code 1)."""


@dataclasses.dataclass
class TrackRun:
    """How the tracking went."""

    frames_done: set[int] = dataclasses.field(default_factory=set)
    steps: int = 0
    seconds: float = 0.0
    failure: BaseException | None = None


class SegmentCommand:
    name = "segment"
    help = "track objects through a video from a prompts file; save a project and/or mattes"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("video", type=Path,
                            help="the video (or an image sequence: a folder, a pattern such as "
                                 "shot.%%04d.png, or one of its frames)")
        parser.add_argument("--prompts", type=Path, required=True, metavar="JSON",
                            help="what to track, on which frames: see docs/command-line.md")
        parser.add_argument("--out", type=Path, metavar="PROJECT",
                            help="save the project (.s2s) with the masks of every frame")
        parser.add_argument("--mattes", type=Path, metavar="DIR",
                            help="write one matte per object into DIR (see --format, --start)")
        add_matte_options(parser)
        self.add_model_options(parser)

    @staticmethod
    def add_model_options(parser: argparse.ArgumentParser) -> None:
        """The model group: ``segment``'s and ``batch``'s."""
        m = parser.add_argument_group("model")
        m.add_argument("--model", metavar="VARIANT",
                       help="an installed model, e.g. sam2.1_hiera_tiny (default: the first "
                            "installed, SAM 2.1 and smaller first); with --random-weights, the "
                            "architecture to build")
        m.add_argument("--checkpoint", type=Path, metavar="PATH",
                       help="a SAM 2 / 2.1 checkpoint file instead of an installed model")
        m.add_argument("--random-weights", action="store_true",
                       help="DEVELOPERS ONLY: an untrained model, to try the plumbing without a "
                            "checkpoint; its masks are meaningless")
        m.add_argument("--image-size", type=int, metavar="N",
                       help="the model's input size, a multiple of 32 (default 1024, 256 with "
                            "--random-weights); smaller is faster and coarser")
        m.add_argument("--resolution", choices=tuple(RESOLUTIONS),
                       help="the working resolution, stored in the project: full (1024, the "
                            "default), balanced (768) or draft (512: fastest, coarser masks, small "
                            "objects may be lost); masks always come out at the video's size")
        m.add_argument("--cpu-engine", choices=("auto", "torch", "openvino"),
                       help="what runs the model on a CPU: auto (default: OpenVINO where installed, "
                            "torch with --random-weights), torch or openvino")
        m.add_argument("--memory", choices=("sam2", "distractor_aware"), default="sam2",
                       help="memory of past frames: SAM 2's (default), or the distractor-aware "
                            "memory of SAM2.1++ (better where similar objects cross)")
        m.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: the best present)")
        m.add_argument("--precision", choices=("fp32", "bf16", "fp16"),
                       help="compute precision (default: bf16 on CUDA, fp16 on Apple GPUs, fp32 on "
                            "the CPU); a device that lacks it falls back, with a notice")
        m.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                       help="torch.compile the image encoder and memory attention (default: on "
                            "CUDA with Triton; compiling takes a minute, then tracking is faster)")

    # -- checks ------------------------------------------------------------------------------
    @staticmethod
    def _check(args: argparse.Namespace) -> None:
        if args.out is None and args.mattes is None:
            raise UsageError("nothing would be kept: give --out PROJECT.s2s and/or --mattes DIR")
        if args.out is not None:
            if args.out.suffix.lower() != ".s2s":
                raise UsageError(f"--out names a project file ending in .s2s, got {args.out}")
            check_output_file(args.out, "--out")
        SegmentCommand.check_model_options(args)
        check_matte_options(args)

    @staticmethod
    def check_model_options(args: argparse.Namespace) -> None:
        if args.checkpoint is not None and (args.model or args.random_weights):
            raise UsageError("--checkpoint goes alone: it says which model it is"
                             if args.model else "--random-weights and --checkpoint exclude "
                             "each other")
        if args.image_size is not None and args.resolution is not None:
            raise UsageError("--resolution and --image-size exclude each other: --resolution "
                             "names an input size")
        if args.image_size is not None and (args.image_size % 32 or not 64 <= args.image_size <= 4096):
            raise UsageError(f"--image-size is a multiple of 32 from 64 to 4096, got {args.image_size}")
        if args.random_weights and args.model:
            from sam2_studio.app.models import VARIANTS

            if args.model not in VARIANTS:
                raise UsageError(f"unknown model {args.model!r}; the models are: {', '.join(VARIANTS)}")

    def model_source(self, args: argparse.Namespace, ctx: CliContext) -> ModelSource:
        """Where the model comes from, as the arguments say."""
        from sam2_studio.app.model_source import CheckpointFile, RandomWeights, default_source
        from sam2_studio.app.models import ModelError

        how = {"precision": args.precision, "compile": args.compile}
        preset = RESOLUTIONS[args.resolution] if args.resolution else None
        if args.random_weights:
            return RandomWeights(variant=args.model or "sam2.1_hiera_tiny",
                                 image_size=preset or args.image_size or DEFAULT_RANDOM_SIZE,
                                 device=args.device, policy=args.memory,
                                 cpu_engine=args.cpu_engine or "torch", **how)
        size = preset or args.image_size or 1024
        engine = args.cpu_engine or "auto"
        if args.checkpoint is not None:
            return CheckpointFile(args.checkpoint.expanduser().absolute(), None, args.device,
                                  args.memory, size, cpu_engine=engine, **how)
        manager = ctx.model_manager()
        if args.model:
            return CheckpointFile(manager.path_for(args.model), args.model, args.device,
                                  args.memory, size, cpu_engine=engine, **how)
        source = default_source(None, manager, args.device)  # honours the developer switch
        if source is None:
            raise ModelError("no model is installed: run `sam2-studio models download "
                             "sam2.1_hiera_tiny`, or give --checkpoint PATH")
        changes: dict[str, Any] = {"policy": args.memory, **how}
        if preset or args.image_size:
            changes["image_size"] = preset or args.image_size
        if args.cpu_engine:
            changes["cpu_engine"] = args.cpu_engine
        return dataclasses.replace(source, **changes)  # type: ignore[type-var]

    # -- running -----------------------------------------------------------------------------
    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.clip import open_clip
        from sam2_studio.media import MediaError

        self._check(args)
        try:
            clip = open_clip(args.video)
        except MediaError as exc:
            raise InputError.from_error(exc) from exc
        try:
            if clip.info.problem:
                ctx.stderr.write(f"warning: {args.video}: {clip.info.problem}\n")
            w, h = clip.info.size
            prompts = read_prompts(args.prompts, width=w, height=h,
                                   frame_count=clip.info.frame_count)
            folder = prepare_folder(args.mattes) if args.mattes is not None else None
            from sam2_studio.project import Document

            doc = Document(clip.video_info())
            loaded = self._load(args, ctx)
            frames = clip.open_reader()
            try:
                return self._segment(args, ctx, doc, loaded, frames, prompts, folder)
            finally:
                frames.close()
        finally:
            clip.close()

    def chosen_source(self, args: argparse.Namespace, ctx: CliContext) -> ModelSource:
        """The arguments' model source, or the one the context stands in with (tests)."""
        return ctx.model_source(args) if ctx.model_source is not None else \
            self.model_source(args, ctx)

    def _load(self, args: argparse.Namespace, ctx: CliContext) -> LoadedModel:
        source = self.chosen_source(args, ctx)
        ctx.stderr.write(f"loading {source.description}\n")
        return load_model(source, ctx.stderr.write)

    def _segment(self, args: argparse.Namespace, ctx: CliContext, doc: Document,
                 loaded: LoadedModel, frames: Any, prompts: Prompts, folder: Path | None) -> int:
        from sam2_studio.project import save

        session = loaded.new_session(frames)
        if getattr(args, "memory", None):
            doc.set_memory_policy(args.memory)  # the project remembers the memory it was tracked with
        with StopRequest() as stop:
            run = self._track(doc, session, prompts, loaded, ctx, stop, args.resolution)
            n = doc.video.frame_count
            interrupted = stop.requested
            complete = not interrupted and run.failure is None
            project: Path | None = save(doc, args.out) if args.out is not None else None
            mattes: list[Path] = []
            if folder is not None and complete:
                result = write_mattes(doc, frames, folder, args, ctx, stop)
                interrupted = result.cancelled
                mattes = result.paths
        if project is None and (interrupted or not complete):  # only --mattes: keep the work
            assert folder is not None
            project = save(doc, _free_path(folder / f"{doc.video.path.stem}.s2s"))

        rate = run.steps / run.seconds if run.seconds > 0 else 0.0
        out = ctx.stdout
        out.write(f"tracked {len(doc.objects)} object(s) on {len(run.frames_done)} of {n} frames "
                  f"in {run.seconds:.1f} s ({rate:.2f} frames/s)\n")
        if project is not None:
            out.write(f"project: {project}\n")
        for path in mattes:
            out.write(f"mattes: {path}\n")
        if run.failure is not None:
            raise SegmentFailed(
                f"tracking stopped on an error after {len(run.frames_done)} of {n} frames: "
                f"{_words(run.failure)}. The frames done are saved in {project}") from run.failure
        if interrupted:
            message = (f"interrupted after tracking {len(run.frames_done)} of {n} frames"
                       if not complete else "interrupted while writing the mattes")
            message += f"; the work is saved in {project}"
            if folder is not None:
                message += (f". No mattes were written: `sam2-studio export {project} --mattes "
                            f"{folder}` writes them from the project")
            ctx.stderr.write(f"sam2-studio segment: {message}\n")
            return EXIT_INTERRUPTED
        return EXIT_OK

    def _track(self, doc: Document, session: Any, prompts: Prompts, loaded: LoadedModel,
               ctx: CliContext, stop: StopRequest, requested: str | None = None) -> TrackRun:
        return track(doc, session, prompts, loaded, ctx, stop, requested)


def load_model(source: ModelSource, warn: Callable[[str], Any]) -> LoadedModel:
    """Load ``source``; a file that is no checkpoint is the user's input (exit 2). Says on
    ``warn`` (lines) what the model is, and loudly when its masks mean nothing."""
    from sam2_studio.model import CheckpointError

    try:
        loaded = source.load()
    except CheckpointError as exc:
        raise InputError.from_error(exc) from exc
    if loaded.info.random_weights:
        note = loaded.info.note  # a stand-in says what it is
        warn((f"WARNING: {note}" if note else RANDOM_WARNING) + "\n")
    warn(f"model: {loaded.info.label}\n")
    if loaded.info.notice:
        warn(f"CPU engine: {loaded.info.notice}\n")
    if loaded.info.precision_notice:
        warn(f"note: {loaded.info.precision_notice}\n")
    return loaded


def track(doc: Document, session: Any, prompts: Prompts, loaded: LoadedModel,
          ctx: ProgressContext, stop: Callable[[], bool], requested: str | None = None) -> TrackRun:
    """Prompt and propagate, writing into ``doc`` as one undo step. An engine error part-way
    ends the run and is kept in ``TrackRun.failure`` with the frames done. ``requested`` is
    the working resolution asked for (the project records the one the model runs at). The
    model's evidence on each frame (``FrameQuality``) goes into the project with its masks."""
    from sam2_studio.app.review import record_result

    run = TrackRun()
    n = doc.video.frame_count
    start = prompts.first_frame
    with doc.edit_group(f"Segment with {prompts.path.name}"):
        for o in prompts.objects:
            doc.add_object(o.name, o.color, object_id=o.id)
        if not loaded.info.random_weights:
            doc.set_model_variant(loaded.info.variant)
        resolution = resolution_of(loaded.info.image_size, requested or DEFAULT_RESOLUTION)
        doc.set_working_resolution(resolution)
        for p in prompts.prompts:
            result = _prompt(session, p, prompts.path)
            _prompt_into(doc, p)
            record_result(doc, p.frame, {p.object_id: result.masks[p.object_id]},
                          result.quality, "Segment")
        t0 = time.monotonic()
        # "both" runs forward from the first prompted frame, then backward from it again
        with ctx.progress((n - start) + (start + 1), label="segment") as bar:
            try:
                for result in session.propagate(direction="both"):
                    record_result(doc, result.frame, result.masks, result.quality, "Track")
                    run.frames_done.add(result.frame)
                    run.steps += 1
                    bar.advance()
                    if stop():
                        break
            except Exception as exc:  # noqa: BLE001 - kept, reported after saving
                run.failure = exc
        run.seconds = time.monotonic() - t0
        for o in prompts.objects:
            own = {p.frame for p in prompts.prompts if p.object_id == o.id}
            doc.update_object(o.id, tracked_at=TrackedAt().with_frames(resolution, run.frames_done - own))
    return run


def _prompt(session: Any, p: PromptSpec, path: Path) -> Any:
    try:
        if p.mask is not None:
            return session.add_mask(p.frame, p.object_id, p.mask)
        if p.box is not None:
            return session.add_box(p.frame, p.object_id, p.box, p.points, p.labels)
        return session.add_points(p.frame, p.object_id, p.points, p.labels)
    except ValueError as exc:  # the engine's checks: in the words of the prompts file
        raise PromptsError(f"{p.where}: {exc}", path) from exc


def _prompt_into(doc: Document, p: PromptSpec) -> None:
    """The prompt as the document keeps it (the editor shows and edits it); a mask prompt
    has no prompt of its own there: its frame's mask is the mask given."""
    if p.points is not None and p.labels is not None:
        for (x, y), label in zip(p.points.tolist(), p.labels.tolist()):
            doc.add_point(p.object_id, p.frame, x, y, positive=bool(label))
    if p.box is not None:
        doc.add_box(p.object_id, p.frame, *p.box)


def _free_path(path: Path) -> Path:
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def _words(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
