"""Entry point of ``sam2-studio``: the one place that joins the command line and the editor."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _open_editor(path: str | None) -> int:
    # Before Qt is imported: a system that cannot show a window gets a message and exit 2,
    # not Qt's abort (app/platform_check.py).
    from sam2_studio.app.exits import EXIT_USAGE
    from sam2_studio.app.platform_check import check_platform

    problem = check_platform()
    if problem is not None:
        print(problem.message(), file=sys.stderr)
        return EXIT_USAGE
    try:
        from sam2_studio.ui.launch import launch
    except ImportError as exc:  # Qt missing or unusable: say so, do not crash
        print(f"sam2-studio: the editor cannot start: {exc}", file=sys.stderr)
        return 1
    return launch(path)


def main(argv: Sequence[str] | None = None) -> int:
    from sam2_studio.app.cli import run

    return run(argv, open_editor=_open_editor)
