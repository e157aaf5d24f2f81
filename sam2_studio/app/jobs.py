"""The jobs file of ``sam2-studio batch``: many shots, each a video, its prompts and outputs.

JSON (documented in ``docs/command-line.md``)::

    {
      "version": 1,
      "defaults": {"format": "exr", "start": 1001},
      "shots": [
        {"shot": "sh010", "video": "plates/sh010.mov", "prompts": "prompts/sh010.json",
         "project": "out/sh010.s2s", "mattes": "out/sh010_mattes",
         "render": "out/sh010_blur.mp4", "effects": "blur-faces.json"}
      ]
    }

A bare list stands for ``{"shots": [...]}``. CSV: a header row naming the same keys, then a
shot a row (``objects`` separated by ``;``; empty cells take the default). Paths are relative
to the jobs file's folder. Everything here is checked before any shot runs, and every mistake
is a ``JobsError`` naming the shot and the field; what needs the video decoded (the prompts
against the frame size, object names) is checked when the shot runs, or up front by
``batch --check``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam2_studio.app.exits import InputError, UsageError
from sam2_studio.app.export_command import MATTE_FORMATS, video_codec_for
from sam2_studio.app.prompts_file import read_text, unknown_key
from sam2_studio.app.shot_effects import EffectsSpec, read_effects

FORMAT_VERSION = 1
TOP_KEYS = ("version", "defaults", "shots")
SHOT_KEYS = ("shot", "video", "prompts", "project", "mattes", "format", "start", "premultiplied",
             "objects", "render", "codec", "crf", "audio", "effects")
# what "defaults" may set: everything but a shot's own files
DEFAULT_KEYS = ("format", "start", "premultiplied", "objects", "codec", "crf", "audio", "effects")
_MATTE_KEYS = ("format", "start", "premultiplied", "objects")
_RENDER_KEYS = ("codec", "crf", "audio")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class JobsError(InputError):
    """A jobs file that cannot be used: the message names the shot and the field (exit 2)."""


@dataclass(frozen=True)
class MatteOutput:
    """A shot's mattes, as ``export --mattes`` writes them (``export_command.MatteOptions``)."""

    folder: Path
    matte_format: str = "png16"
    start: int = 1
    premultiplied: bool = False
    objects: tuple[str, ...] = ()  # names or ids; empty: every object
    exr_compression: str = "zip"  # exr-layers / cryptomatte (the command line's defaults)
    exr_float: bool = False
    exr_rgb: bool = False


@dataclass(frozen=True)
class RenderOutput:
    """A shot's video with the effects of its objects, as ``export --video`` writes it."""

    path: Path
    codec: str = "h264"
    crf: int = 18
    audio: bool = True


@dataclass(frozen=True)
class Shot:
    name: str
    where: str  # its place in the jobs file, for messages: "shots[2]" or "line 4"
    video: Path
    prompts: Path
    project: Path | None = None
    mattes: MatteOutput | None = None
    render: RenderOutput | None = None
    effects: EffectsSpec | None = None

    @property
    def label(self) -> str:
        return f"shot {self.name!r} ({self.where})"

    def outputs(self) -> Iterator[tuple[str, Path]]:
        """(field, path) of what the shot writes."""
        if self.project is not None:
            yield "project", self.project
        if self.mattes is not None:
            yield "mattes", self.mattes.folder
        if self.render is not None:
            yield "render", self.render.path


@dataclass(frozen=True)
class Jobs:
    path: Path
    shots: tuple[Shot, ...]


def read_jobs(path: str | Path) -> Jobs:
    """Read and check a jobs file (``.json`` or ``.csv``) and every file it names."""
    path = Path(path).expanduser().absolute()
    text = read_text(path, "jobs file", JobsError)
    reader = _Reader(path)
    if path.suffix.lower() == ".csv":
        rows = reader.csv_rows(text)
        defaults: dict[str, Any] = {}
    else:
        rows, defaults = reader.json_rows(text)
    if not rows:
        raise JobsError("there are no shots in it", path)
    shots = tuple(reader.shot(where, row, defaults) for where, row in rows)
    reader.check_unique(shots)
    return Jobs(path, shots)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent

    def fail(self, where: str, what: str) -> JobsError:
        return JobsError(f"{where}: {what}" if where else what, self.path)

    # -- the two formats ------------------------------------------------------------------
    def json_rows(self, text: str) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column "
                                f"{exc.colno}") from None
        if isinstance(data, list):
            data = {"shots": data}
        if not isinstance(data, dict):
            raise self.fail("", f"expected an object {{\"shots\": [...]}} or a list of shots, "
                                f"got {_kind(data)}")
        self.keys(data, TOP_KEYS, "(top level)")
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise self.fail("version", f"this SAM2 Studio reads jobs files of version "
                                       f"{FORMAT_VERSION}, not {data['version']!r}")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise self.fail("defaults", f"expected an object, got {_kind(defaults)}")
        self.keys(defaults, DEFAULT_KEYS, "defaults")
        shots = data.get("shots")
        if not isinstance(shots, list):
            raise self.fail("shots", "expected a list of shots" if shots is None
                            else f"expected a list, got {_kind(shots)}")
        rows = []
        for i, row in enumerate(shots):
            if not isinstance(row, dict):
                raise self.fail(f"shots[{i}]", f"expected an object, got {_kind(row)}")
            rows.append((f"shots[{i}]", row))
        return rows, defaults

    def csv_rows(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        lines = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(lines, [])]
        if not any(header):
            raise self.fail("", "the first row names the columns (video, prompts, project, ...)")
        for h in header:
            if h not in SHOT_KEYS:
                raise self.fail("line 1", unknown_key(h, SHOT_KEYS, "column"))
        rows = []
        for n, cells in enumerate(lines, 2):
            if not any(c.strip() for c in cells):
                continue  # blank lines
            if len(cells) > len(header):
                raise self.fail(f"line {n}", f"{len(cells)} cells, the header names "
                                             f"{len(header)} columns")
            row = {h: c.strip() for h, c in zip(header, cells) if c.strip()}
            if "objects" in row:
                row["objects"] = [o.strip() for o in row["objects"].split(";") if o.strip()]
            rows.append((f"line {n}", row))
        return rows

    # -- one shot -------------------------------------------------------------------------
    def shot(self, where: str, row: dict[str, Any], defaults: Mapping[str, Any]) -> Shot:
        name = row.get("shot")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise self.fail(f"{where}.shot", f"a shot is named by a non-empty text, not {name!r}")
        if name is None and isinstance(row.get("video"), str):
            name = _stem(Path(row["video"]))
        label = f"shot {name.strip()!r} ({where})" if name else where
        self.keys(row, SHOT_KEYS, label)
        if "video" not in row:
            raise self.fail(label, "'video' is missing")
        video = self.existing(row, "video", label, folder_ok=True)
        name = name.strip() if name else _stem(video)
        label = f"shot {name!r} ({where})"
        prompts = self.existing(row, "prompts", label)
        for key in _MATTE_KEYS:
            if key in row and "mattes" not in row:
                raise self.fail(f"{label}.{key}", "only goes with 'mattes' (there is none)")
        for key in _RENDER_KEYS:
            if key in row and "render" not in row:
                raise self.fail(f"{label}.{key}", "only goes with 'render' (there is none)")
        merged = {**defaults, **row}
        project = self.output(row, "project", label)
        if project is not None and project.suffix.lower() != ".s2s":
            raise self.fail(f"{label}.project", f"names a project file ending in .s2s, got {project}")
        mattes = None
        if "mattes" in row:
            mattes = MatteOutput(self.output(row, "mattes", label),  # type: ignore[arg-type]
                                 self.choice(merged, "format", MATTE_FORMATS, "png16", label),
                                 self.integer(merged, "start", 1, label, 0, None),
                                 self.boolean(merged, "premultiplied", False, label),
                                 self.names(merged, label))
        render = None
        if "render" in row:
            path = self.output(row, "render", label)
            assert path is not None
            codec = merged.get("codec")
            from sam2_studio.app.export import VIDEO_CODECS

            if codec is not None and codec not in VIDEO_CODECS:
                raise self.fail(f"{label}.codec", f"unknown codec {codec!r} (codecs: "
                                                  f"{', '.join(VIDEO_CODECS)})")
            try:
                codec = video_codec_for(path, codec, option="")
            except UsageError as exc:
                raise self.fail(f"{label}.render", exc.reason.strip()) from None
            render = RenderOutput(path, codec, self.integer(merged, "crf", 18, label, 0, 51),
                                  self.boolean(merged, "audio", True, label))
        if project is None and mattes is None and render is None:
            raise self.fail(label, "nothing would be kept: give 'project', 'mattes' and/or "
                                   "'render'")
        effects = None
        if merged.get("effects") is not None:
            effects = read_effects(merged["effects"], self.folder, f"{label}.effects", self.path)
        return Shot(name, where, video, prompts, project, mattes, render, effects)

    # -- fields ---------------------------------------------------------------------------
    def keys(self, d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in d:
            if key not in allowed:
                raise self.fail(where, unknown_key(key, allowed))

    def resolve(self, value: Any, field: str, label: str) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{label}.{field}", f"expected a path, got {_kind(value)}")
        path = Path(value.strip()).expanduser()
        return Path(os.path.normpath(path if path.is_absolute() else self.folder / path))

    def existing(self, row: Mapping[str, Any], field: str, label: str,
                 folder_ok: bool = False) -> Path:
        if field not in row:
            raise self.fail(label, f"{field!r} is missing")
        path = self.resolve(row[field], field, label)
        if path.is_file() or (folder_ok and (path.is_dir() or _is_pattern(path))):
            return path
        what = "no such file" if not path.exists() else "this is a folder, not a file"
        raise self.fail(f"{label}.{field}", f"{path}: {what}")

    def output(self, row: Mapping[str, Any], field: str, label: str) -> Path | None:
        if field not in row:
            return None
        path = self.resolve(row[field], field, label)
        if field == "mattes" and path.is_file():
            raise self.fail(f"{label}.mattes", f"{path}: this is a file, not a folder")
        if field != "mattes" and path.is_dir():
            raise self.fail(f"{label}.{field}", f"{path}: this is a folder, not a file")
        return path

    def choice(self, d: Mapping[str, Any], field: str, options: tuple[str, ...], default: str,
               label: str) -> str:
        value = d.get(field, default)
        if value not in options:
            raise self.fail(f"{label}.{field}", f"{value!r} is not one of {', '.join(options)}")
        return str(value)

    def integer(self, d: Mapping[str, Any], field: str, default: int, label: str,
                low: int, high: int | None) -> int:
        value = d.get(field, default)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or \
                (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"≥ {low}"
            raise self.fail(f"{label}.{field}", f"expected a whole number {span}, got {value!r}")
        return value

    def boolean(self, d: Mapping[str, Any], field: str, default: bool, label: str) -> bool:
        value = d.get(field, default)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise self.fail(f"{label}.{field}", f"expected true or false, got {value!r}")
        return value

    def names(self, d: Mapping[str, Any], label: str) -> tuple[str, ...]:
        value = d.get("objects", [])
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise self.fail(f"{label}.objects", f"expected a list of object names or ids, "
                                                f"got {value!r}")
        return tuple(str(v) for v in value)

    # -- across shots ---------------------------------------------------------------------
    def check_unique(self, shots: tuple[Shot, ...]) -> None:
        """One shot a name; one writer an output; no output over any shot's input."""
        from sam2_studio.app.export import slug

        names: dict[str, Shot] = {}
        for s in shots:
            other = names.get(slug(s.name).lower())
            if other is not None:
                same = "the same name" if other.name == s.name else "names that read the same in a file name"
                raise self.fail(s.label, f"has {same} as {other.label}: name every shot differently")
            names[slug(s.name).lower()] = s
        written: dict[str, tuple[Shot, str]] = {}
        inputs = {_key(p): (s, f) for s in shots for f, p in (("video", s.video), ("prompts", s.prompts))}
        for s in shots:
            for field, path in s.outputs():
                key = _key(path)
                if key in written:
                    first, first_field = written[key]
                    raise self.fail(f"{s.label}.{field}", f"{path} is also the {first_field} "
                                    f"of {first.label}: two shots would write the same output")
                if key in inputs:
                    owner, owner_field = inputs[key]
                    raise self.fail(f"{s.label}.{field}", f"{path} is the {owner_field} of "
                                    f"{owner.label}: an output may not overwrite an input")
                written[key] = (s, field)


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _stem(video: Path) -> str:
    """A shot's default name: its video's, without a sequence's frame number pattern."""
    stem = video.name if not video.suffix else video.stem
    return stem.split("%")[0].split("#")[0].rstrip("._-") or stem


def _is_pattern(path: Path) -> bool:
    """An image sequence named by a pattern (``shot.%04d.png``, ``shot.####.exr``)."""
    return any(c in path.name for c in "%#") and path.parent.is_dir()


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false",
            type(None): "null", int: "a number", float: "a number"}.get(type(v), type(v).__name__)
