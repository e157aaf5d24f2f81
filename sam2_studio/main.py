"""Entry point of ``sam2-studio``: the one place that joins the command line and the editor."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _open_editor(path: str | None) -> int:
    try:
        from sam2_studio.ui.launch import launch
    except ImportError as exc:  # Qt missing or unusable: say so, do not crash
        print(f"sam2-studio: the editor cannot start: {exc}", file=sys.stderr)
        return 1
    return launch(path)


def main(argv: Sequence[str] | None = None) -> int:
    from sam2_studio.app.cli import run

    return run(argv, open_editor=_open_editor)
