"""The ``sam2-studio`` command line: headless sub-commands, or hand-over to the editor."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sam2_studio import __version__

EditorOpener = Callable[[str | None], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam2-studio",
        description="Segment and track objects in videos with SAM 2, apply effects, export mattes.",
    )
    parser.add_argument("--version", action="version", version=f"sam2-studio {__version__}")
    parser.add_argument("path", nargs="?", help="a video or a .s2s project to open in the editor")
    return parser


def run(argv: Sequence[str] | None, open_editor: EditorOpener) -> int:
    """Parse ``argv``; without a sub-command, open the editor through ``open_editor``.

    The editor is passed in so that this layer never imports Qt.
    """
    args = build_parser().parse_args(argv)
    return open_editor(args.path)
