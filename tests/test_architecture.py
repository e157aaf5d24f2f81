"""The layering rules of DESIGN.md, enforced: Qt only in ui/, the reference sam2 never in product code."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sam2_studio"
QT_MODULES = {"PySide6", "shiboken6", "superqt", "qtawesome", "pytestqt", "PyQt5", "PyQt6"}


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_import_linter_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_qt_outside_ui_and_no_reference_anywhere():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT)
        mods = _imported_top_modules(path)
        if rel.parts[1] != "ui" and mods & QT_MODULES:
            offenders.append(f"{rel} imports Qt: {sorted(mods & QT_MODULES)}")
        if "sam2" in mods:
            offenders.append(f"{rel} imports the reference package sam2")
    assert not offenders, "\n".join(offenders)


def test_the_scan_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6 import QtCore\n    import sam2.build_sam\n")
    assert {"PySide6", "sam2"} <= _imported_top_modules(bad)
