"""The ``sam2-studio`` command line: headless sub-commands, or hand-over to the editor.

``sam2-studio [PATH]`` opens the editor; ``sam2-studio COMMAND ...`` runs a sub-command.
Each sub-command is a ``SubCommand`` in ``SUBCOMMANDS``: it adds its arguments to its own
parser and runs with a ``CliContext`` (streams, the model manager), and shares the error
handling, the exit codes and ``ProgressBar``. ``models``, ``info`` and ``recover`` live
here; ``segment``, ``export`` and ``batch`` in modules of their own (``segment_command.py``,
``export_command.py``, ``batch_command.py``). Every command imports what is heavy (torch, PyAV) only when it runs.

Exit codes (``exits.py``): 0 success; 2 bad usage or input (a bad file, an unknown model;
the message on stderr, naming the file); 1 any other failure (network, disk); 130
interrupted by Ctrl+C (``segment`` and ``export`` keep what was done; an interrupted
``models download`` ends with 1 and resumes when run again).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from sam2_studio import __version__
from sam2_studio.app.exits import (EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,
                                   InputError, UsageError)
from sam2_studio.app.models import DownloadCancelled, ModelInputError, ModelManager
from sam2_studio.app.progress import ProgressBar, format_bytes
from sam2_studio.errors import StudioError
from sam2_studio.project.errors import ProjectError

EditorOpener = Callable[[str | None], int]

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliContext",
           "InputError", "SUBCOMMANDS", "SubCommand", "UsageError", "register", "run"]
PROG = "sam2-studio"


@dataclass
class CliContext:
    """What a sub-command may use; tests pass their own streams and model manager."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    model_manager: Callable[[], ModelManager] = ModelManager
    # Where ``segment`` gets its model (an ``app.model_source.ModelSource``) from its
    # arguments; None: from --model/--checkpoint/--random-weights. Tests put a
    # ground-truth engine here.
    model_source: Callable[[argparse.Namespace], Any] | None = None

    def progress(self, total: int | None, *, unit: str = "frames", label: str = "") -> ProgressBar:
        return ProgressBar(total, unit=unit, label=label, stream=self.stderr)  # type: ignore[arg-type]


class SubCommand(Protocol):
    name: str
    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int: ...


SUBCOMMANDS: dict[str, SubCommand] = {}


def register(command: SubCommand) -> SubCommand:
    SUBCOMMANDS[command.name] = command
    return command


def is_input_error(exc: BaseException) -> bool:
    """Errors about what the user gave us (exit 2), as opposed to failures (exit 1)."""
    return isinstance(exc, (ProjectError, ModelInputError, UsageError, InputError))


# == parsers ===============================================================================
def build_parser() -> argparse.ArgumentParser:
    """The editor's parser: ``sam2-studio [PATH]``."""
    commands = "\n".join(f"  {c.name:<10} {c.help}" for c in SUBCOMMANDS.values())
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Segment and track objects in videos with SAM 2, apply effects, export mattes.",
        epilog=f"commands (sam2-studio COMMAND --help):\n{commands}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("path", nargs="?", help="a video or a .s2s project to open in the editor")
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in SUBCOMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
    return parser


def run(argv: Sequence[str] | None, open_editor: EditorOpener, *,
        context: CliContext | None = None) -> int:
    """Parse ``argv``; run a sub-command, or open the editor through ``open_editor``.

    The editor is passed in so that this layer never imports Qt.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    ctx = context or CliContext()
    first = next((a for a in argv if not a.startswith("-")), None)
    try:
        if first in SUBCOMMANDS:
            args = build_command_parser().parse_args(argv)
            return _run_guarded(SUBCOMMANDS[args.command], args, ctx)
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2, message printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return open_editor(args.path)


def _run_guarded(command: SubCommand, args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        return command.run(args, ctx)
    except KeyboardInterrupt:
        ctx.stderr.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except StudioError as exc:
        ctx.stderr.write(f"{PROG} {command.name}: {exc}\n")
        return EXIT_USAGE if is_input_error(exc) else EXIT_FAILURE


# == models ================================================================================
class ModelsCommand:
    name = "models"
    help = "list, download, register and check the SAM 2 checkpoints"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        p = sub.add_parser("list", help="the models, and which are installed")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p = sub.add_parser("download", help="download an official checkpoint (resumes)")
        p.add_argument("variant", help="e.g. sam2.1_hiera_tiny (see `models list`)")
        p.add_argument("--force", action="store_true", help="download again even if installed")
        p = sub.add_parser("add", help="register a checkpoint file you already have")
        p.add_argument("path", type=Path)
        p.add_argument("--variant", help="which model it is, when its name does not say")
        p.add_argument("--copy", action="store_true",
                       help="copy it into the models folder instead of using it in place")
        p = sub.add_parser("verify", help="check installed checkpoints (size, SHA-256, loading)")
        p.add_argument("variants", nargs="*", help="only these (default: all installed)")
        p.add_argument("--quick", action="store_true", help="skip the strict load by the model")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        manager = ctx.model_manager()
        return getattr(self, "_" + args.action)(args, ctx, manager)

    def _list(self, args: argparse.Namespace, ctx: CliContext, manager: ModelManager) -> int:
        statuses = manager.statuses()
        if args.json:
            json.dump([{"variant": s.spec.variant, "family": s.spec.family,
                        "size_bytes": s.spec.size, "state": s.state,
                        "path": str(s.installed.path) if s.installed else None,
                        "source": s.installed.source if s.installed else None,
                        "partial_bytes": s.partial_bytes, "url": s.spec.url}
                       for s in statuses], ctx.stdout, indent=1)
            ctx.stdout.write("\n")
            return EXIT_OK
        ctx.stdout.write(f"models folder: {manager.root}\n")
        ctx.stdout.write(f"{'MODEL':<24}{'SIZE':>10}  STATUS\n")
        for s in statuses:
            size = format_bytes(s.spec.size) if s.spec.size else "?"
            state = s.state
            if s.installed is not None:
                state += f" ({s.installed.source}) {s.installed.path}"
            elif s.partial_bytes:
                state += f", {format_bytes(s.partial_bytes)} so far: `models download` resumes"
            ctx.stdout.write(f"{s.spec.variant:<24}{size:>10}  {state}\n")
        return EXIT_OK

    def _download(self, args: argparse.Namespace, ctx: CliContext, manager: ModelManager) -> int:
        current = manager.installed(args.variant)
        if current is not None and current.path.is_file() and not args.force:
            ctx.stdout.write(f"{args.variant} is already installed: {current.path}\n")
            return EXIT_OK
        try:
            with ctx.progress(None, unit="bytes", label=args.variant) as bar:
                path = manager.download(args.variant, progress=bar.update, force=args.force)
        except KeyboardInterrupt:
            raise DownloadCancelled("download interrupted; run the same command to resume "
                                    "where it stopped") from None
        ctx.stdout.write(f"{args.variant} installed: {path}\n")
        return EXIT_OK

    def _add(self, args: argparse.Namespace, ctx: CliContext, manager: ModelManager) -> int:
        model = manager.add(args.path, args.variant, copy=args.copy)
        ctx.stdout.write(f"{model.variant} registered: {model.path}\n")
        return EXIT_OK

    def _verify(self, args: argparse.Namespace, ctx: CliContext, manager: ModelManager) -> int:
        results = manager.verify(args.variants or None, strict=not args.quick)
        if args.json:
            json.dump([{"variant": r.variant, "path": str(r.path), "ok": r.ok,
                        "checks": list(r.checks), "problems": list(r.problems)} for r in results],
                      ctx.stdout, indent=1)
            ctx.stdout.write("\n")
        elif not results:
            ctx.stdout.write("no models installed; see `sam2-studio models list`\n")
        for r in results if not args.json else ():
            verdict = "ok" if r.ok else "PROBLEM: " + "; ".join(r.problems)
            ctx.stdout.write(f"{r.variant:<24}{verdict}  [{', '.join(r.checks)}]  {r.path}\n")
        return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


# == info ==================================================================================
class InfoCommand:
    name = "info"
    help = "describe a .s2s project: its video, objects, prompts, masks and suspect frames"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", type=Path)
        parser.add_argument("--relink", type=Path, metavar="VIDEO",
                            help="the project's video at its new place")
        parser.add_argument("--save", action="store_true",
                            help="with --relink: record the new place in the project file")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.review import Review
        from sam2_studio.project import open_project, save

        if args.save and args.relink is None:
            raise UsageError("--save only goes with --relink")
        doc = open_project(args.project, relink=args.relink)
        if args.save:
            save(doc)
        v = doc.video
        review = Review(doc)
        info = {
            "project": str(doc.path), "video": str(v.path), "width": v.width, "height": v.height,
            "frames": v.frame_count, "fps": str(v.fps), "model": doc.model_variant,
            "memory": doc.memory_policy, "in_out": [doc.frame_range.first, doc.frame_range.last],
            "objects": [{"id": o.id, "name": o.name, "prompted_frames": doc.prompt_frames(o.id),
                         "masked_frames": len(doc.mask_frames(o.id)),
                         "suspect_frames": [s.frame for s in review.track(o.id).open_suspects()],
                         "checked_frames": doc.checked_frames(o.id)} for o in doc.objects],
        }
        if args.json:
            json.dump(info, ctx.stdout, indent=1)
            ctx.stdout.write("\n")
            return EXIT_OK
        ctx.stdout.write(f"{doc.path}\n  video  {v.path} ({v.width}×{v.height}, {v.frame_count} "
                         f"frames at {float(v.fps):.3f} fps)\n  in/out {info['in_out'][0]}–"
                         f"{info['in_out'][1]}  model {doc.model_variant or '(not chosen)'}  "
                         f"memory {doc.memory_policy}\n")
        for o in info["objects"]:
            suspects = o["suspect_frames"]
            listed = ", ".join(map(str, suspects[:8])) + (", …" if len(suspects) > 8 else "")
            ctx.stdout.write(f"  #{o['id']} {o['name']}: prompts on {len(o['prompted_frames'])} "
                             f"frames, masks on {o['masked_frames']}, {len(suspects)} suspect "
                             f"frame{'' if len(suspects) == 1 else 's'}{': ' + listed if suspects else ''}, "
                             f"{len(o['checked_frames'])} checked\n")
        return EXIT_OK


# == recover ===============================================================================
class RecoverCommand:
    name = "recover"
    help = "list work left by an editor that stopped without closing, and save or discard it"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("session", nargs="?", type=int,
                            help="the number shown by `sam2-studio recover`")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--out", type=Path, metavar="PROJECT",
                          help="where to save the recovered project (default: beside the "
                               "original, named '... (recovered).s2s')")
        what.add_argument("--discard", action="store_true", help="throw that work away")

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.recovery import pending_recoveries, recovered_copy_path
        from sam2_studio.project import save

        sessions = pending_recoveries()
        if args.session is None:
            if not sessions:
                ctx.stdout.write("nothing to recover\n")
            for i, s in enumerate(sessions, 1):
                when = s.autosaved_at.astimezone().strftime("%Y-%m-%d %H:%M") if s.autosaved_at else "?"
                ctx.stdout.write(f"{i}  {s.title}  autosaved {when}  project "
                                 f"{s.project_path or '(never saved)'}  video {s.video_path}\n")
            return EXIT_OK
        if not 1 <= args.session <= len(sessions):
            raise UsageError(f"there is no session {args.session}; `sam2-studio recover` lists them")
        session = sessions[args.session - 1]
        if args.discard:
            session.discard()
            ctx.stdout.write(f"discarded the autosave of {session.title}\n")
            return EXIT_OK
        doc = session.recover()
        target = save(doc, args.out or recovered_copy_path(session))
        session.discard()
        ctx.stdout.write(f"recovered {session.title} into {target}\n")
        return EXIT_OK


def _register_all() -> None:
    from sam2_studio.app.batch_command import BatchCommand
    from sam2_studio.app.export_command import ExportCommand
    from sam2_studio.app.segment_command import SegmentCommand

    for command in (SegmentCommand(), ExportCommand(), BatchCommand(), InfoCommand(),
                    ModelsCommand(), RecoverCommand()):
        register(command)


_register_all()
