"""Frame file names: ``name.%04d.png`` with a chosen start number and padding.

The same rules read and write, so a sequence we export opens again exactly, and so do
sequences from Nuke (``name.####.exr``), After Effects and Resolve (``name_00001.png``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_PRINTF = re.compile(r"%0?(\d*)d")
_HASHES = re.compile(r"#+|@+")
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class SequenceNaming:
    """Where frame ``n`` of a sequence lives: ``folder / f"{prefix}{n:0{padding}d}{suffix}"``."""

    folder: Path
    prefix: str
    suffix: str  # the extension with its dot, e.g. ".png"
    padding: int = 4

    def path(self, number: int) -> Path:
        return self.folder / f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    @property
    def pattern(self) -> str:
        """The printf-style name, e.g. ``shot.%04d.exr``."""
        return f"{self.prefix}%0{self.padding}d{self.suffix}"

    @classmethod
    def parse(cls, pattern: str | os.PathLike[str], padding: int = 4) -> SequenceNaming:
        """From ``name.%04d.png``, ``name.####.png`` or a folder plus ``name`` and ``.png``."""
        p = Path(pattern)
        name = p.name
        m = _PRINTF.search(name)
        if m:
            pad = int(m.group(1) or 1)
            return cls(p.parent, name[: m.start()], name[m.end():], pad)
        h = _HASHES.search(name)
        if h:
            return cls(p.parent, name[: h.start()], name[h.end():], len(h.group(0)))
        if p.suffix:
            stem = p.stem
            sep = "" if stem.endswith((".", "_", "-")) else "."
            return cls(p.parent, stem + sep, p.suffix, padding)
        raise ValueError(f"{pattern}: give a name with %04d, #### or an extension")

    def number_of(self, path: Path) -> int | None:
        name = path.name
        if not (name.startswith(self.prefix) and name.endswith(self.suffix)):
            return None
        digits = name[len(self.prefix): len(name) - len(self.suffix)]
        return int(digits) if digits.isdigit() else None

    def scan(self) -> list[tuple[int, Path]]:
        """Existing frames of this sequence, by frame number (any padding)."""
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            n = self.number_of(Path(entry.name))
            if n is not None and entry.is_file():
                found.append((n, Path(entry.path)))
        found.sort()
        return found


def find_sequences(folder: Path, extensions: tuple[str, ...]) -> list[tuple[SequenceNaming, list[tuple[int, Path]]]]:
    """Numbered image sequences in a folder, largest first."""
    groups: dict[tuple[str, str], list[tuple[int, Path, int]]] = {}
    for entry in os.scandir(folder):
        m = _NUMBERED.match(entry.name)
        if not m or m.group("suffix").lower() not in extensions or not entry.is_file():
            continue
        key = (m.group("prefix"), m.group("suffix"))
        groups.setdefault(key, []).append((int(m.group("number")), Path(entry.path), len(m.group("number"))))
    result = []
    for (prefix, suffix), items in groups.items():
        items.sort()
        padding = min(width for _, _, width in items)
        result.append((SequenceNaming(folder, prefix, suffix, padding), [(n, p) for n, p, _ in items]))
    result.sort(key=lambda r: (-len(r[1]), r[0].prefix))
    return result


def sequence_of(file: Path, extensions: tuple[str, ...]) -> tuple[SequenceNaming, list[tuple[int, Path]]] | None:
    """The numbered sequence a single frame file belongs to."""
    m = _NUMBERED.match(file.name)
    if not m:
        return None
    for naming, frames in find_sequences(file.parent, extensions):
        if naming.prefix == m.group("prefix") and naming.suffix == m.group("suffix"):
            return naming, frames
    return None
