"""What makes a batch shot "done": a completion record, and a check that its outputs still are.

After a shot succeeds, a small JSON record is written atomically into ``<jobs file>.done/``
beside the jobs file (``sh010.json``): the shot's fingerprint, its frame count and every file
it wrote with its size. A rerun of the batch skips a shot only when

- its record is there and the fingerprint matches: the same video (size and a hash of its
  first 4 MiB, as projects identify videos), the same prompts and effects files (their
  bytes), the same outputs and settings, the same model;
- every file in the record is there with the size it had;
- the project loads and holds a mask of every object on every frame; a matte sequence has a
  file for every frame; a video (the render, a ProRes or FFV1 matte) decodes to the frame
  count.

Anything else reruns the shot, and ``check`` says why (shown in the plan). Deleting a
record, or ``batch --force``, reruns a shot on purpose.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from sam2_studio.app.jobs import Jobs, Shot
from sam2_studio.atomic_write import atomic_write_bytes

RECORD_VERSION = 1
_HASH_BYTES = 4 << 20


@dataclass(frozen=True)
class OutputFile:
    kind: str  # "project", "matte" (a sequence's frame), "matte_video", "render"
    path: str
    size: int
    frames: int = 0  # for the videos: how many frames they must decode to


def record_folder(jobs: Jobs) -> Path:
    return jobs.path.with_name(jobs.path.name + ".done")


def record_path(jobs: Jobs, shot: Shot) -> Path:
    from sam2_studio.app.export import slug

    return record_folder(jobs) / f"{slug(shot.name)}.json"


def fingerprint(shot: Shot, model: str) -> str:
    """Of everything that makes the shot's outputs what they are (see the docstring)."""
    h = hashlib.sha256()
    spec = asdict(shot)
    spec.pop("where", None)  # its place in the file does not change the outputs
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    h.update(model.encode())
    h.update(_identity(shot.video).encode())
    h.update(_file_hash(shot.prompts).encode())
    return h.hexdigest()


def _identity(video: Path) -> str:
    if video.is_file():
        return f"{video.stat().st_size}:{_file_hash(video, _HASH_BYTES)}"
    folder = video if video.is_dir() else video.parent  # an image sequence
    try:
        return ";".join(f"{e.name}:{e.stat().st_size}" for e in sorted(os.scandir(folder), key=lambda e: e.name)
                        if e.is_file())
    except OSError:
        return str(video)


def _file_hash(path: Path, limit: int | None = None) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            h.update(f.read(limit) if limit else f.read())
    except OSError:
        return "unreadable"
    return h.hexdigest()


def write_record(jobs: Jobs, shot: Shot, finger: str, frames: int, seconds: float,
                 outputs: Iterable[OutputFile], worker: str) -> Path:
    path = record_path(jobs, shot)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": RECORD_VERSION, "shot": shot.name, "fingerprint": finger,
            "frames": frames, "seconds": round(seconds, 3), "worker": worker,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "outputs": [asdict(o) for o in outputs]}
    atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())
    return path


def check(jobs: Jobs, shot: Shot, finger: str) -> tuple[bool, str]:
    """(complete, why not / "complete"): whether a rerun may skip the shot."""
    path = record_path(jobs, shot)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        frames = int(data["frames"])
        outputs = [OutputFile(**o) for o in data["outputs"]]
        recorded = data["fingerprint"]
    except FileNotFoundError:
        return False, "not done yet"
    except (OSError, ValueError, KeyError, TypeError):
        return False, f"its record {path.name} is damaged"
    if recorded != finger:
        return False, "its inputs, outputs or model changed since it was done"
    problem = _outputs_problem(shot, frames, outputs)
    return (False, problem) if problem else (True, "complete")


def _outputs_problem(shot: Shot, frames: int, outputs: list[OutputFile]) -> str | None:
    kinds = {o.kind for o in outputs}
    for field, kind in (("project", "project"), ("render", "render")):
        if getattr(shot, field) is not None and kind not in kinds:
            return f"its record lists no {field}"
    if shot.mattes is not None and not kinds & {"matte", "matte_video"}:
        return "its record lists no mattes"
    for o in outputs:
        p = Path(o.path)
        try:
            size = p.stat().st_size
        except OSError:
            return f"{p} is missing"
        if size != o.size:
            return f"{p} changed size ({size} bytes, {o.size} when written)"
    for o in outputs:
        problem = _content_problem(o, frames)
        if problem:
            return problem
    if shot.mattes is not None and shot.mattes.matte_format not in ("prores4444", "ffv1"):
        counts: dict[str, int] = {}
        for o in outputs:
            if o.kind == "matte":
                counts[_sequence_name(Path(o.path))] = counts.get(_sequence_name(Path(o.path)), 0) + 1
        short = [name for name, n in counts.items() if n != frames]
        if short:
            return f"the matte sequence {short[0]} does not have all {frames} frames"
    return None


def _content_problem(o: OutputFile, frames: int) -> str | None:
    if o.kind == "project":
        from sam2_studio.project import ProjectError, load

        try:
            doc = load(o.path)
        except ProjectError as exc:
            return f"the project does not load ({exc.reason})"
        if doc.video.frame_count != frames:
            return f"the project has {doc.video.frame_count} frames, not {frames}"
        for obj in doc.objects:
            if len(doc.mask_frames(obj.id)) != frames:
                return f"the project lacks masks of {obj.name!r} on some frames"
    elif o.kind in ("render", "matte_video"):
        count = _decoded_frames(Path(o.path))
        if count != frames:
            return f"{o.path} has {count} frames, not {frames}"
    return None


def _decoded_frames(path: Path) -> int | None:
    from sam2_studio.app.clip import open_clip
    from sam2_studio.media import MediaError

    try:
        clip = open_clip(path)
    except MediaError:
        return None
    try:
        return clip.info.frame_count if clip.info.problem is None else None
    finally:
        clip.close()


def _sequence_name(path: Path) -> str:
    """``car_matte.1001.png`` -> ``car_matte.####.png``."""
    parts = path.name.split(".")
    if len(parts) >= 3 and parts[-2].isdigit():
        parts[-2] = "#" * len(parts[-2])
    return ".".join(parts)


def inventory(paths: Iterable[tuple[str, Path]], frames: int) -> list[OutputFile]:
    """The record's list of what a shot wrote: (kind, path) to kind, path, size."""
    out = []
    for kind, path in paths:
        out.append(OutputFile(kind, str(path), path.stat().st_size,
                              frames if kind in ("render", "matte_video") else 0))
    return out

