"""The ``.s2s`` project file: reading and writing. The format is specified in
``docs/project-format.md``; bump ``FORMAT_VERSION`` and add a migration for any change that
an older reader would misread.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from sam2_studio import __version__
from sam2_studio.project.atomic import atomic_write
from sam2_studio.project.document import MEMORY_POLICIES, Document, FrameRange
from sam2_studio.project.errors import ProjectError, unreadable
from sam2_studio.project.mask_store import AnyMask, StoredMask
from sam2_studio.project.masks import CODECS, DEFAULT_CODEC, EncodedMask
from sam2_studio.project.objects import Opaque, TrackedObject, check_name, color_hex, parse_color
from sam2_studio.project.prompts import BoxPrompt, BrushStroke, PointPrompt, Prompt, check_prompt
from sam2_studio.project.quality import (QUALITY_LAYOUT, QualityRow, decode_rows, encode_rows,
                                         fingerprint)
from sam2_studio.project.resolution import DEFAULT_RESOLUTION, TrackedAt, check_resolution, to_ranges
from sam2_studio.project.video import VideoInfo, relative_video_path

log = logging.getLogger(__name__)

FORMAT_NAME = "sam2-studio-project"
FORMAT_VERSION = 1
MIMETYPE = "application/x-sam2-studio-project"
SUFFIX = ".s2s"

# version -> function turning a manifest of that version into one of the next version
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Snapshot:
    """Everything a save needs, sharing only immutable data with the document, so it can be
    written on another thread while the user goes on editing."""

    manifest: dict[str, Any]
    video_path: Path
    blobs: tuple[tuple[str, tuple[AnyMask, ...]], ...]
    history_state: int
    quality: tuple[tuple[str, tuple[QualityRow, ...]], ...] = ()  # per object: geometry, evidence


def snapshot(doc: Document) -> Snapshot:
    v = doc.video
    first_free_object, first_free_prompt = doc.next_ids
    objects, blobs, quality = [], [], []
    for obj in doc.objects:
        frames = doc.mask_frames(obj.id)
        masks = tuple(_in_codec(doc.encoded_mask(obj.id, f), DEFAULT_CODEC) for f in frames)
        blob = f"masks/{obj.id}.bin"
        index, offset = [], 0
        for frame, m in zip(frames, masks):
            index.append([frame, offset, len(m.data), m.area])
            offset += len(m.data)
        if index:
            blobs.append((blob, masks))
            quality.append((f"quality/{obj.id}.bin", tuple(
                QualityRow(f, doc.geometry.get(m), doc.evidence(obj.id, f))
                for f, m in zip(frames, masks))))
        objects.append({
            "id": obj.id, "name": obj.name, "color": color_hex(obj.color),
            "visible": obj.visible, "locked": obj.locked,
            "effects": obj.effects.value, "refinement": obj.refinement.value,
            "tracked_at": obj.tracked_at.to_json(),
            "prompts": [{"frame": f, "items": [_prompt_json(p) for p in doc.prompts(obj.id, f)]}
                        for f in doc.prompt_frames(obj.id)],
            "masks": {"blob": blob if index else None, "frames": index},
            "quality": {"blob": f"quality/{obj.id}.bin", "layout": QUALITY_LAYOUT,
                        "rows": len(index)} if index else None,
            "checked": [list(r) for r in to_ranges(doc.checked_frames(obj.id))],
        })
    fr = doc.frame_range if doc.has_frame_range else None
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "saved_by": f"sam2-studio {__version__}",
        "video": {
            "path": str(v.path), "relative_path": None, "width": v.width, "height": v.height,
            "frame_count": v.frame_count, "fps": f"{v.fps.numerator}/{v.fps.denominator}",
            "file_size": v.file_size, "content_hash": v.content_hash,
        },
        "model_variant": doc.model_variant,
        "working_resolution": doc.working_resolution,
        "memory_policy": doc.memory_policy,
        "review": {"threshold": doc.review_threshold},
        "frame_range": [fr.first, fr.last] if fr else None,
        "mask_codec": DEFAULT_CODEC,
        "next_object_id": first_free_object,
        "next_prompt_id": first_free_prompt,
        "objects": objects,
    }
    return Snapshot(manifest, v.path, tuple(blobs), doc.history.state, tuple(quality))


def write_snapshot(snap: Snapshot, path: str | Path, progress: Progress | None = None) -> None:
    """Write atomically; on any failure the previous file at ``path`` is intact."""
    path = Path(path).absolute()
    manifest = dict(snap.manifest)
    manifest["video"] = dict(manifest["video"], relative_path=relative_video_path(snap.video_path, path))
    manifest["saved_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    total = len(snap.blobs) + len(snap.quality) + 1
    try:
        with atomic_write(path) as f, zipfile.ZipFile(f, "w", allowZip64=True) as z:
            z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            for done, (name, masks) in enumerate(snap.blobs):
                # one mask at a time: masks in the disk store are read as they are written,
                # never all at once (and never decoded)
                with z.open(zipfile.ZipInfo(name), "w", force_zip64=True) as entry:
                    for m in masks:
                        entry.write(m.copy_bytes() if isinstance(m, StoredMask) else m.data)
                if progress:
                    progress(done + 1, total)
            for done, (name, rows) in enumerate(snap.quality, len(snap.blobs)):
                z.writestr(zipfile.ZipInfo(name), encode_rows(list(rows)),
                           compress_type=zipfile.ZIP_DEFLATED)
                if progress:
                    progress(done + 1, total)
            z.writestr(zipfile.ZipInfo("manifest.json"),
                       json.dumps(manifest, ensure_ascii=False, indent=1, allow_nan=False),
                       compress_type=zipfile.ZIP_DEFLATED)
    except OSError as exc:
        raise ProjectError(f"the project could not be saved ({exc.strerror or exc}); "
                           "the previous version of the file is unchanged", path) from None
    if progress:
        progress(total, total)


def save(doc: Document, path: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Save to ``path`` (or where the document came from) and mark the document clean."""
    target = Path(path) if path is not None else doc.path
    if target is None:
        raise ProjectError("the project has no file yet: choose where to save it")
    target = target.absolute()
    snap = snapshot(doc)
    write_snapshot(snap, target, progress)
    if doc.path != target:
        doc.path = target
        doc.events.settings.emit("path")
    if doc.history.state == snap.history_state:
        doc.history.mark_saved()
    return target


def load(path: str | Path) -> Document:
    """Read a project; ``ProjectError`` says which file and what is wrong. The video is not
    looked for here (see ``open_project``)."""
    path = Path(path).absolute()
    try:
        with open(path, "rb") as f:
            head = f.read(256)  # enough to tell a zip, JSON text and noise apart
            if not head:
                raise ProjectError("the file is empty; it is not a usable project", path)
            f.seek(0)
            try:
                with zipfile.ZipFile(f) as z:
                    doc = _read(z, path)
            except zipfile.BadZipFile as exc:
                if head.startswith(b"PK"):
                    raise ProjectError(f"the project file is damaged: {exc}", path) from None
                kind = "a JSON file" if _looks_like_json(head) else "not a zip archive"
                raise ProjectError(f"this is not a SAM2 Studio project (.s2s): {kind}", path) from None
            except (zlib.error, EOFError) as exc:
                raise ProjectError(f"the project file is damaged: {exc}", path) from None
    except OSError as exc:
        raise unreadable(exc, path, "project file") from None
    doc.path = path
    return doc


# == reading ===============================================================================
class _Damaged(Exception):
    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)


def _read(z: zipfile.ZipFile, path: Path) -> Document:
    names = set(z.namelist())
    if "manifest.json" not in names:
        if "mimetype" in names and z.read("mimetype").decode("ascii", "replace") == MIMETYPE:
            raise ProjectError("the project file is damaged: manifest.json is missing", path)
        raise ProjectError("this is a zip archive, not a SAM2 Studio project (.s2s)", path)
    try:
        manifest = json.loads(z.read("manifest.json").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"the project file is damaged: manifest.json is not valid JSON ({exc})",
                           path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ProjectError("this is not a SAM2 Studio project (.s2s): its manifest is of "
                           "another kind", path)
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"the project file is damaged: bad format version {version!r}", path)
    if version > FORMAT_VERSION:
        by = manifest.get("saved_by")
        raise ProjectError(
            f"this project was saved by a newer SAM2 Studio ({by or 'unknown version'}, format "
            f"version {version}); this one, sam2-studio {__version__}, reads format versions "
            f"up to {FORMAT_VERSION}. Update SAM2 Studio to open it", path)
    while version < FORMAT_VERSION:
        manifest = MIGRATIONS[version](manifest)
        version += 1
    try:
        return _build(manifest, z)
    except _Damaged as exc:
        raise ProjectError(f"the project file is damaged: {exc}", path) from None


def _get(d: Any, key: str, kind: type | tuple[type, ...], where: str, optional: bool = False) -> Any:
    if not isinstance(d, dict):
        raise _Damaged(where, "expected an object")
    if key not in d or d[key] is None:
        if optional:
            return None
        raise _Damaged(f"{where}.{key}", "missing")
    value = d[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise _Damaged(f"{where}.{key}", f"expected {'/'.join(k.__name__ for k in kinds)}, "
                       f"got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Damaged(f"{where}.{key}", "not a finite number")
    return value


def _build(m: dict[str, Any], z: zipfile.ZipFile) -> Document:
    v = _get(m, "video", dict, "manifest")
    try:
        fps = Fraction(_get(v, "fps", str, "video"))
        video = VideoInfo(
            path=Path(_get(v, "path", str, "video")),
            width=_get(v, "width", int, "video"), height=_get(v, "height", int, "video"),
            frame_count=_get(v, "frame_count", int, "video"), fps=fps,
            file_size=_get(v, "file_size", int, "video"),
            content_hash=_get(v, "content_hash", str, "video"))
    except (ValueError, ZeroDivisionError) as exc:
        raise _Damaged("video", str(exc)) from None
    doc = Document(video)
    doc.video_relative_path = _get(v, "relative_path", str, "video", optional=True)
    codec = _get(m, "mask_codec", str, "manifest")
    if codec not in CODECS:
        raise _Damaged("mask_codec", f"unknown mask codec {codec!r}")

    max_prompt_id = 0
    for i, o in enumerate(_get(m, "objects", list, "manifest")):
        where = f"objects[{i}]"
        try:
            obj = TrackedObject(
                id=_get(o, "id", int, where), name=check_name(_get(o, "name", str, where)),
                color=parse_color(_get(o, "color", str, where)),
                visible=_get(o, "visible", bool, where), locked=_get(o, "locked", bool, where),
                effects=Opaque.of(o.get("effects", [])), refinement=Opaque.of(o.get("refinement")),
                tracked_at=TrackedAt.from_json(o.get("tracked_at") or {}, video.frame_count))
        except ValueError as exc:
            raise _Damaged(where, str(exc)) from None
        if obj.id < 1 or obj.id in doc._objects:
            raise _Damaged(f"{where}.id", f"bad or repeated object id {obj.id}")
        prompts: dict[int, tuple[Prompt, ...]] = {}
        for j, fp in enumerate(_get(o, "prompts", list, where)):
            w = f"{where}.prompts[{j}]"
            frame = _frame(_get(fp, "frame", int, w), video, w)
            items = tuple(_prompt(p, video, f"{w}.items[{k}]")
                          for k, p in enumerate(_get(fp, "items", list, w)))
            if items:
                prompts[frame] = items
                max_prompt_id = max(max_prompt_id, *(p.id for p in items))
        masks = _masks(_get(o, "masks", dict, where), z, video, codec, f"{where}.masks")
        doc._objects[obj.id] = obj
        if prompts:
            doc._prompts[obj.id] = prompts
        if masks:
            doc._masks[obj.id] = masks
            _review(doc, obj.id, o, z, masks, where)

    fr = _get(m, "frame_range", list, "manifest", optional=True)
    if fr is not None:
        if (len(fr) != 2 or not all(isinstance(x, int) for x in fr)
                or not 0 <= fr[0] <= fr[1] < video.frame_count):
            raise _Damaged("frame_range", f"not an in/out range of this video: {fr}")
        doc._settings["frame_range"] = FrameRange(fr[0], fr[1])
    doc._settings["model_variant"] = _get(m, "model_variant", str, "manifest", optional=True)
    resolution = _get(m, "working_resolution", str, "manifest", optional=True) or DEFAULT_RESOLUTION
    try:
        doc._settings["working_resolution"] = check_resolution(resolution)
    except ValueError as exc:
        raise _Damaged("working_resolution", str(exc)) from None
    policy = _get(m, "memory_policy", str, "manifest", optional=True)
    if policy is not None:
        if policy not in MEMORY_POLICIES:
            raise _Damaged("memory_policy", f"unknown tracking memory {policy!r}")
        doc._settings["memory_policy"] = policy
    review = _get(m, "review", dict, "manifest", optional=True)
    if review is not None:
        threshold = _get(review, "threshold", float, "review", optional=True)
        if threshold is not None:
            if not 0 <= threshold <= 1:
                raise _Damaged("review.threshold", f"not between 0 and 1: {threshold}")
            doc._settings["review_threshold"] = float(threshold)
    doc._next_object_id = max(_get(m, "next_object_id", int, "manifest"),
                              max(doc._objects, default=0) + 1)
    doc._next_prompt_id = max(_get(m, "next_prompt_id", int, "manifest"), max_prompt_id + 1)
    return doc


def _frame(frame: int, video: VideoInfo, where: str) -> int:
    if not 0 <= frame < video.frame_count:
        raise _Damaged(where, f"frame {frame} is outside the video (0–{video.frame_count - 1})")
    return frame


def _prompt(p: Any, video: VideoInfo, where: str) -> Prompt:
    kind = _get(p, "type", str, where)
    pid = _get(p, "id", int, where)
    prompt: Prompt
    if kind == "point":
        prompt = PointPrompt(pid, float(_get(p, "x", float, where)), float(_get(p, "y", float, where)),
                             _get(p, "positive", bool, where))
    elif kind == "box":
        prompt = BoxPrompt(pid, *(float(_get(p, k, float, where)) for k in ("x0", "y0", "x1", "y1")))
    elif kind == "stroke":
        pts = _get(p, "points", list, where)
        if not all(isinstance(xy, list) and len(xy) == 2
                   and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in xy)
                   for xy in pts):
            raise _Damaged(f"{where}.points", "expected [[x, y], ...]")
        prompt = BrushStroke(pid, tuple((float(x), float(y)) for x, y in pts),
                             float(_get(p, "radius", float, where)), _get(p, "erase", bool, where))
    else:
        raise _Damaged(f"{where}.type", f"unknown prompt type {kind!r}")
    try:
        check_prompt(prompt, video.width, video.height)
    except ValueError as exc:
        raise _Damaged(where, str(exc)) from None
    return prompt


def _masks(spec: dict[str, Any], z: zipfile.ZipFile, video: VideoInfo, codec: str,
           where: str) -> dict[int, EncodedMask]:
    index = _get(spec, "frames", list, where)
    if not index:
        return {}
    blob_name = _get(spec, "blob", str, where)
    try:
        blob = z.read(blob_name)
    except KeyError:
        raise _Damaged(where, f"{blob_name} is missing from the archive") from None
    except zipfile.BadZipFile as exc:
        raise _Damaged(where, f"{blob_name} is corrupt ({exc})") from None
    masks: dict[int, EncodedMask] = {}
    pixels = video.width * video.height
    for k, entry in enumerate(index):
        if (not isinstance(entry, list) or len(entry) != 4
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in entry)):
            raise _Damaged(f"{where}.frames[{k}]", "expected [frame, offset, length, area]")
        frame, offset, length, area = entry
        _frame(frame, video, f"{where}.frames[{k}]")
        if offset < 0 or length < 0 or offset + length > len(blob) or not 0 <= area <= pixels:
            raise _Damaged(f"{where}.frames[{k}]", f"points outside {blob_name}")
        if frame in masks:
            raise _Damaged(f"{where}.frames[{k}]", f"frame {frame} appears twice")
        masks[frame] = EncodedMask(blob[offset:offset + length], video.height, video.width,
                                   area, codec)
    return masks


def _review(doc: Document, object_id: int, o: dict[str, Any], z: zipfile.ZipFile,
            masks: dict[int, EncodedMask], where: str) -> None:
    """The object's geometry, evidence and checked frames. All of it describes masks, so a
    damaged part is left out (and the geometry recomputed when needed) rather than refusing
    a project whose masks are intact."""
    try:
        checked = o.get("checked") or []
        last = doc.video.frame_count - 1
        frames = [f for a, b in checked for f in range(max(0, int(a)), min(int(b), last) + 1)]
    except (TypeError, ValueError):
        log.warning("%s.checked is damaged; no frame counts as checked", where)
        frames = []
    for f in frames:
        if f in masks:
            doc._checks.setdefault(object_id, {})[f] = fingerprint(masks[f])
    spec = o.get("quality")
    if not isinstance(spec, dict) or spec.get("layout") != QUALITY_LAYOUT:
        return  # an older project, or a layout this version does not know: recomputed
    try:
        rows = decode_rows(z.read(str(spec.get("blob"))))
    except (KeyError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        log.warning("%s.quality is damaged (%s); it is recomputed from the masks", where, exc)
        return
    for row in rows:
        mask = masks.get(row.frame)
        if mask is None or mask.area != row.geometry.area:
            continue
        doc.geometry.put(mask, row.geometry)
        if row.evidence is not None:
            doc._evidence.setdefault(object_id, {})[row.frame] = row.evidence.for_mask(mask)


# == writing helpers =======================================================================
def _prompt_json(p: Prompt) -> dict[str, Any]:
    if isinstance(p, PointPrompt):
        return {"id": p.id, "type": "point", "x": p.x, "y": p.y, "positive": p.positive}
    if isinstance(p, BoxPrompt):
        return {"id": p.id, "type": "box", "x0": p.x0, "y0": p.y0, "x1": p.x1, "y1": p.y1}
    return {"id": p.id, "type": "stroke", "radius": p.radius, "erase": p.erase,
            "points": [[x, y] for x, y in p.points]}


def _in_codec(mask: AnyMask | None, codec: str) -> AnyMask:
    assert mask is not None
    if mask.codec == codec:
        return mask
    return EncodedMask.encode(mask.decode(), codec)


def _looks_like_json(head: bytes) -> bool:
    """Text that opens like JSON (random bytes starting with "{" are no JSON file)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = head[:exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
    return text.lstrip()[:1] in ("{", "[")
