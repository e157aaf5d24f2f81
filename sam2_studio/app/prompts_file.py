"""The prompts file of ``sam2-studio segment``: what to track, where, from which frame.

A JSON file (documented in ``docs/command-line.md``)::

    {
      "version": 1,
      "objects": [{"id": 1, "name": "car", "color": "#ff7f0e"}],
      "prompts": [
        {"frame": 0, "object": 1, "points": [[412, 220], [480, 300]], "labels": [1, 0]},
        {"frame": 0, "object": "rider", "box": [300, 150, 520, 300]},
        {"frame": 12, "object": "rider", "mask": "rider_012.png"}
      ]
    }

A bare list stands for ``{"prompts": [...]}``. Everything is checked against the video before
any model loads, and every mistake is a ``PromptsError`` that names the file and the entry
(``prompts[2].box: ...``), so a typo costs a second, not a tracking run.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_studio.app.exits import InputError

FORMAT_VERSION = 1
_TOP_KEYS = {"version", "objects", "prompts"}
_OBJECT_KEYS = {"id", "name", "color"}
_PROMPT_KEYS = {"frame", "object", "points", "labels", "box", "mask"}


def unknown_key(key: str, allowed: Sequence[str], what: str = "key") -> str:
    """"unknown key 'point' (did you mean 'points'?)": for every file format we read."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (expected: {', '.join(allowed)})"
    return f"unknown {what} {key!r}{hint}"


class PromptsError(InputError):
    """A prompts file that cannot be used; the message names the entry and the problem
    (exit code 2)."""


@dataclass(frozen=True)
class ObjectSpec:
    id: int
    name: str | None  # None: the project's default ("Object 3")
    color: str | None  # "#rrggbb"; None: the palette's next colour


@dataclass(frozen=True, eq=False)
class PromptSpec:
    """One entry: clicks (with or without a box), a box, or a mask, for one object on one frame.

    Coordinates are source-frame pixels (x right, y down, the origin at the top-left corner
    of the top-left pixel, as in the project file).
    """

    index: int  # the entry's place in the file, for messages
    frame: int
    object_id: int
    points: np.ndarray | None = None  # (N, 2) float32 x, y
    labels: np.ndarray | None = None  # (N,) int32, 1 = object, 0 = not the object
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    mask: np.ndarray | None = None  # bool (H, W)
    mask_path: Path | None = None

    @property
    def where(self) -> str:
        return f"prompts[{self.index}]"


@dataclass(frozen=True)
class Prompts:
    path: Path
    objects: tuple[ObjectSpec, ...]  # sorted by id
    prompts: tuple[PromptSpec, ...]  # in file order

    @property
    def first_frame(self) -> int:
        return min(p.frame for p in self.prompts)


def read_text(path: Path, what: str, error: type[InputError], hint: str = "") -> str:
    """A text file the user named, or ``error`` saying in words why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"no such {what}", path) from None
    except IsADirectoryError:
        raise error(f"this is a folder, not a {what}", path) from None
    except UnicodeDecodeError:
        raise error(f"not a {what}: it is not UTF-8 text{hint}", path) from None
    except OSError as exc:
        raise error(f"the {what} cannot be read ({exc.strerror or exc})", path) from None


def read_prompts(path: str | Path, *, width: int, height: int, frame_count: int) -> Prompts:
    """Read and check a prompts file against a ``width`` × ``height`` video of
    ``frame_count`` frames; mask images are read here too (relative to the file's folder)."""
    path = Path(path)
    text = read_text(path, "prompts file", PromptsError, " (JSON expected)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptsError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                           path) from None
    return _Reader(path, width, height, frame_count).read(data)


class _Reader:
    def __init__(self, path: Path, width: int, height: int, frame_count: int) -> None:
        self.path, self.width, self.height, self.frame_count = path, width, height, frame_count

    def fail(self, where: str, what: str) -> PromptsError:
        return PromptsError(f"{where}: {what}" if where else what, self.path)

    def read(self, data: Any) -> Prompts:
        if isinstance(data, list):
            data = {"prompts": data}
        if not isinstance(data, dict):
            raise self.fail("", "expected an object {\"prompts\": [...]} or a list of prompts, "
                            f"got {_kind(data)}")
        self.keys(data, _TOP_KEYS, "(top level)")
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise self.fail("version", f"this SAM2 Studio reads prompts files of version "
                            f"{FORMAT_VERSION}, not {version!r}")
        objects = self.objects(data.get("objects", []))
        entries = data.get("prompts")
        if not isinstance(entries, list) or not entries:
            raise self.fail("prompts", "expected a list with at least one prompt"
                            if entries is None or isinstance(entries, list)
                            else f"expected a list, got {_kind(entries)}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self.fail(f"prompts[{i}]", f"expected an object, got {_kind(entry)}")
            self.keys(entry, _PROMPT_KEYS, f"prompts[{i}]")
        refs = [self.reference(entry, f"prompts[{i}]") for i, entry in enumerate(entries)]
        # Ids: declared ones, then those the prompts use, then objects the prompts only name
        # get the ids after every id in use, in the order they first appear.
        by_name = {o.name: o.id for o in objects if o.name is not None}
        known = {o.id for o in objects}
        for ref in refs:
            if isinstance(ref, int) and ref not in known:
                objects.append(ObjectSpec(ref, None, None))
                known.add(ref)
        next_id = max(known, default=0) + 1
        for ref in refs:
            if isinstance(ref, str) and ref not in by_name:
                objects.append(ObjectSpec(next_id, ref, None))
                by_name[ref] = next_id
                next_id += 1
        prompts: list[PromptSpec] = []
        seen: dict[tuple[int, int], int] = {}
        for i, (entry, ref) in enumerate(zip(entries, refs)):
            where = f"prompts[{i}]"
            prompt = self.prompt(entry, i, ref if isinstance(ref, int) else by_name[ref], where)
            key = (prompt.frame, prompt.object_id)
            if key in seen:
                raise self.fail(where, f"object {ref!r} already has a prompt on frame "
                                f"{prompt.frame} (prompts[{seen[key]}]); put its points and box "
                                "in one entry")
            seen[key] = i
            prompts.append(prompt)
        return Prompts(self.path, tuple(sorted(objects, key=lambda o: o.id)), tuple(prompts))

    def reference(self, entry: dict[str, Any], where: str) -> int | str:
        ref = self.require(entry, "object", where)
        if isinstance(ref, str) and ref.strip():
            return ref.strip()
        if isinstance(ref, int) and not isinstance(ref, bool):
            if ref < 1:
                raise self.fail(f"{where}.object", f"object ids start at 1, got {ref}")
            return ref
        raise self.fail(f"{where}.object", f"expected an object id (an integer ≥ 1) or a "
                        f"name, got {ref!r}")

    # -- parts -------------------------------------------------------------------------------
    def keys(self, d: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in d:
            if key not in allowed:
                raise self.fail(where, unknown_key(key, sorted(allowed)))

    def require(self, d: dict[str, Any], key: str, where: str) -> Any:
        if key not in d or d[key] is None:
            raise self.fail(where, f"{key!r} is missing")
        return d[key]

    def objects(self, items: Any) -> list[ObjectSpec]:
        if not isinstance(items, list):
            raise self.fail("objects", f"expected a list, got {_kind(items)}")
        out: list[ObjectSpec] = []
        names: set[str] = set()
        next_id = 1 + max((o["id"] for o in items if isinstance(o, dict)
                           and isinstance(o.get("id"), int) and not isinstance(o.get("id"), bool)),
                          default=0)
        for i, o in enumerate(items):
            where = f"objects[{i}]"
            if not isinstance(o, dict):
                raise self.fail(where, f"expected an object, got {_kind(o)}")
            self.keys(o, _OBJECT_KEYS, where)
            obj_id = o.get("id")
            if obj_id is None:
                obj_id, next_id = next_id, next_id + 1
            elif isinstance(obj_id, bool) or not isinstance(obj_id, int) or obj_id < 1:
                raise self.fail(f"{where}.id", f"expected an integer ≥ 1, got {obj_id!r}")
            if any(x.id == obj_id for x in out):
                raise self.fail(f"{where}.id", f"object id {obj_id} is used twice")
            name = o.get("name")
            if name is not None:
                if not isinstance(name, str) or not name.strip():
                    raise self.fail(f"{where}.name", f"expected a non-empty text, got {name!r}")
                name = name.strip()
                if name in names:
                    raise self.fail(f"{where}.name", f"two objects are called {name!r}")
                names.add(name)
            color = o.get("color")
            if color is not None:
                from sam2_studio.project.objects import parse_color

                try:
                    parse_color(color)
                except ValueError as exc:
                    raise self.fail(f"{where}.color", str(exc)) from None
            out.append(ObjectSpec(obj_id, name, color))
        return out

    def prompt(self, entry: dict[str, Any], index: int, obj: int, where: str) -> PromptSpec:
        frame = self.require(entry, "frame", where)
        if isinstance(frame, bool) or not isinstance(frame, int):
            raise self.fail(f"{where}.frame", f"expected a frame number, got {frame!r}")
        if not 0 <= frame < self.frame_count:
            raise self.fail(f"{where}.frame", f"frame {frame} is outside the video "
                            f"(0–{self.frame_count - 1})")
        has = {k for k in ("points", "box", "mask") if entry.get(k) is not None}
        if not has:
            raise self.fail(where, "give 'points' (with 'labels'), a 'box', or a 'mask'")
        if "mask" in has and len(has) > 1:
            raise self.fail(where, "a 'mask' stands alone: give points and a box in another "
                            "entry of another frame, or paint them into the mask")
        if "labels" in entry and "points" not in has:
            raise self.fail(f"{where}.labels", "labels go with 'points'")
        points = labels = None
        box = None
        mask = mask_path = None
        if "points" in has:
            points = self.points(entry["points"], f"{where}.points")
            labels = self.labels(entry.get("labels"), len(points), f"{where}.labels")
        if "box" in has:
            box = self.box(entry["box"], f"{where}.box")
        if "mask" in has:
            mask_path, mask = self.mask(entry["mask"], f"{where}.mask")
        return PromptSpec(index, frame, obj, points, labels, box, mask, mask_path)

    def points(self, value: Any, where: str) -> np.ndarray:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a list of [x, y] pairs, e.g. [[412, 220]]")
        out = []
        for k, xy in enumerate(value):
            if (not isinstance(xy, list) or len(xy) != 2
                    or not all(_is_number(c) for c in xy)):
                raise self.fail(f"{where}[{k}]", f"expected [x, y], got {xy!r}")
            self.inside(xy[0], xy[1], f"{where}[{k}]")
            out.append(xy)
        return np.asarray(out, np.float32).reshape(-1, 2)

    def labels(self, value: Any, count: int, where: str) -> np.ndarray:
        if value is None:
            return np.ones(count, np.int32)  # every click on the object
        if not isinstance(value, list) or not all(type(v) is int and v in (0, 1) for v in value):
            raise self.fail(where, f"expected a list of 1 (object) and 0 (not the object), "
                            f"got {value!r}")
        if len(value) != count:
            raise self.fail(where, f"{len(value)} labels for {count} points")
        return np.asarray([int(v) for v in value], np.int32)

    def box(self, value: Any, where: str) -> tuple[float, float, float, float]:
        if not isinstance(value, list) or len(value) != 4 or not all(_is_number(c) for c in value):
            raise self.fail(where, f"expected [x0, y0, x1, y1], got {value!r}")
        x0, y0, x1, y1 = (float(c) for c in value)
        if not (x0 < x1 and y0 < y1):
            raise self.fail(where, f"{value!r} has no area: x0 < x1 and y0 < y1 are needed")
        self.inside(x0, y0, where)
        self.inside(x1, y1, where)
        return (x0, y0, x1, y1)

    def inside(self, x: float, y: float, where: str) -> None:
        if not (0 <= x <= self.width and 0 <= y <= self.height):
            raise self.fail(where, f"({x:g}, {y:g}) is outside the {self.width}×{self.height} "
                            "frame")

    def mask(self, value: Any, where: str) -> tuple[Path, np.ndarray]:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected the path of a mask image, got {value!r}")
        file = Path(value).expanduser()
        if not file.is_absolute():
            file = self.path.parent / file
        from sam2_studio.media import MediaError, read_matte

        if not file.is_file():
            raise self.fail(where, f"no such mask image: {file}")
        try:
            matte = read_matte(file)
        except MediaError as exc:
            raise self.fail(where, f"{file}: {exc.reason}") from None
        if matte.ndim != 2:
            raise self.fail(where, f"{file}: expected a single-channel image")
        if matte.shape != (self.height, self.width):
            raise self.fail(where, f"{file} is {matte.shape[1]}×{matte.shape[0]}, the video is "
                            f"{self.width}×{self.height}")
        half = {np.dtype(np.uint8): 127, np.dtype(np.uint16): 32767}.get(matte.dtype, 0.5)
        mask = matte > half
        if not mask.any():
            raise self.fail(where, f"{file} is empty: no pixel is above half")
        return file, mask


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false",
            type(None): "null"}.get(type(v), "a number" if _is_number(v) else type(v).__name__)
