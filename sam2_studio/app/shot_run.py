"""One shot of a batch: what ``segment`` and then ``export`` do, through their code.

``run_shot`` opens the video, checks the prompts against it (and the effects' object names),
tracks with ``segment_command.track``, puts the effects on the objects, then writes the
project (``project.save``), the mattes (``export_command.write_mattes``) and the render
(``export_command.write_video``). Outputs are written only for a shot tracked to the end,
each under its final name only when complete (the writers write aside), so an interrupted or
failed shot never leaves a file that looks done, nor replaces one an earlier run made.

The shot talks to whoever runs it through events (``ShotStarted``, ``ShotProgress``,
``WorkerNote``) passed to ``emit``, and returns a ``ShotResult``: in this process, from a
worker process through a queue, or from a Ray task, the same values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam2_studio.app.exits import InputError
from sam2_studio.app.jobs import Shot
from sam2_studio.app.shot_record import OutputFile, inventory
from sam2_studio.errors import StudioError

if TYPE_CHECKING:
    from sam2_studio.app.model_source import LoadedModel

DONE, SKIPPED, FAILED, INTERRUPTED, NOT_RUN = "done", "skipped", "failed", "interrupted", "not run"
PROGRESS_INTERVAL_S = 0.25


class ShotError(StudioError):
    """A shot that stopped on an error part-way."""


@dataclass(frozen=True)
class ShotStarted:
    shot: str
    attempt: int
    worker: str


@dataclass(frozen=True)
class ShotProgress:
    shot: str
    stage: str  # "segment", "mattes", "video"
    done: int
    total: int


@dataclass(frozen=True)
class WorkerNote:
    """A line a worker has to say: which model it loaded, a warning."""

    worker: str
    text: str


@dataclass(frozen=True)
class ShotResult:
    shot: str
    status: str  # DONE, SKIPPED, FAILED, INTERRUPTED, NOT_RUN
    frames: int | None = None
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    worker: str = ""
    outputs: tuple[OutputFile, ...] = ()
    note: str = ""  # why it was skipped; a warning about its video


Emit = Callable[[Any], None]


class ShotReporter:
    """A ``ProgressContext`` for one shot: its bars become ``ShotProgress`` events, a few a
    second (and always the last)."""

    def __init__(self, shot: str, emit: Emit, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.shot, self.emit, self.interval_s = shot, emit, interval_s

    def progress(self, total: int | None, *, label: str = "") -> _Bar:
        return _Bar(self, label, total or 0)


class _Bar:
    def __init__(self, owner: ShotReporter, stage: str, total: int) -> None:
        self.owner, self.stage, self.total, self.done = owner, stage, total, 0
        self._last = float("-inf")

    def __enter__(self) -> _Bar:
        self._send(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._send(force=True)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self._send()

    def close(self, message: str | None = None) -> None:
        self._send(force=True)

    abort = close

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.owner.interval_s:
            self._last = now
            self.owner.emit(ShotProgress(self.owner.shot, self.stage, self.done, self.total))


def attempt_shot(shot: Shot, attempt: int, loaded: LoadedModel, emit: Emit,
                 stop: Callable[[], bool], worker: str) -> ShotResult:
    """Run the shot once; any error becomes a failed result with its words."""
    emit(ShotStarted(shot.name, attempt, worker))
    t0 = time.monotonic()
    try:
        result = run_shot(shot, loaded, ShotReporter(shot.name, emit), stop)
    except Exception as exc:  # noqa: BLE001 - one shot's failure never stops the others
        _free_device_memory()
        return ShotResult(shot.name, FAILED, seconds=time.monotonic() - t0, attempts=attempt,
                          error=words(exc), worker=worker)
    return dataclasses.replace(result, attempts=attempt, worker=worker)


def run_shot(shot: Shot, loaded: LoadedModel, ctx: ShotReporter,
             stop: Callable[[], bool]) -> ShotResult:
    from sam2_studio.app.segment_command import track
    from sam2_studio.app.shot_effects import apply_stacks
    from sam2_studio.project import Document

    t0 = time.monotonic()
    with _opened(shot) as (clip, prompts, stacks):
        note = f"{shot.video}: {clip.info.problem}" if clip.info.problem else ""
        n = clip.info.frame_count
        doc = Document(clip.video_info())
        frames = clip.open_reader()
        try:
            run = track(doc, loaded.new_session(frames), prompts, loaded, ctx, stop)
            if run.failure is not None:
                raise ShotError(f"tracking stopped on an error after {len(run.frames_done)} "
                                f"of {n} frames: {words(run.failure)}") from run.failure
            if len(run.frames_done) < n:
                return ShotResult(shot.name, INTERRUPTED, n, time.monotonic() - t0, note=note)
            if stacks and shot.effects is not None:
                apply_stacks(doc, stacks, f"Effects from {Path(shot.effects.source).name}")
            written = _write_outputs(shot, doc, frames, clip.info.has_audio, ctx, stop)
        finally:
            frames.close()
    if written is None:
        return ShotResult(shot.name, INTERRUPTED, n, time.monotonic() - t0, note=note)
    return ShotResult(shot.name, DONE, n, time.monotonic() - t0,
                      outputs=tuple(inventory(written, n)), note=note)


def check_shot(shot: Shot) -> str:
    """What ``batch --check`` says of a shot whose inputs are fine: the video decodes, the
    prompts fit it, the effects name its objects. Raises like ``run_shot`` otherwise."""
    with _opened(shot) as (clip, prompts, _):
        w, h = clip.info.size
        text = f"{w}×{h}, {clip.info.frame_count} frames, {len(prompts.objects)} object(s)"
        return text + (f"; warning: {clip.info.problem}" if clip.info.problem else "")


@contextlib.contextmanager
def _opened(shot: Shot) -> Iterator[tuple[Any, Any, dict[int, Any]]]:
    """The shot's clip, its prompts checked against it, and its objects' effect stacks."""
    from sam2_studio.app.clip import open_clip
    from sam2_studio.app.prompts_file import read_prompts
    from sam2_studio.app.shot_effects import stacks_for
    from sam2_studio.media import MediaError

    try:
        clip = open_clip(shot.video)
    except MediaError as exc:
        raise InputError.from_error(exc) from exc
    try:
        (w, h), n = clip.info.size, clip.info.frame_count
        prompts = read_prompts(shot.prompts, width=w, height=h, frame_count=n)
        names = [(o.id, o.name or f"Object {o.id}") for o in prompts.objects]
        stacks = stacks_for(shot.effects, names, shot.prompts) if shot.effects else {}
        yield clip, prompts, stacks
    finally:
        clip.close()


def _write_outputs(shot: Shot, doc: Any, frames: Any, has_audio: bool, ctx: ShotReporter,
                   stop: Callable[[], bool]) -> list[tuple[str, Path]] | None:
    """The shot's outputs in the order ``segment`` writes them; None when stopped."""
    from sam2_studio.app.export_command import (LAYERED_BASENAMES, MATTE_BASENAME, object_ids,
                                                prepare_folder, write_mattes, write_video)
    from sam2_studio.media import MatteFormat
    from sam2_studio.media.naming import SequenceNaming
    from sam2_studio.project import save

    written: list[tuple[str, Path]] = []
    n = doc.video.frame_count
    if shot.project is not None:
        shot.project.parent.mkdir(parents=True, exist_ok=True)
        written.append(("project", save(doc, shot.project)))
    if shot.mattes is not None:
        m = shot.mattes
        folder = prepare_folder(m.folder, option="mattes")
        _remove_leftovers(folder, f"_{MATTE_BASENAME}")
        ids = object_ids(doc, list(m.objects) or None, option="objects")
        result = write_mattes(doc, frames, folder, m, ctx, stop, ids)
        if result.cancelled:
            return None
        if m.matte_format in LAYERED_BASENAMES or MatteFormat(m.matte_format).is_sequence:
            for pattern in result.paths:
                naming = SequenceNaming.parse(pattern)
                written += [("matte", naming.path(m.start + i)) for i in range(n)]
        else:
            written += [("matte_video", p) for p in result.paths]
    if shot.render is not None:
        r = shot.render
        r.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(r.path.parent, r.path.stem)
        result = write_video(doc, frames, r.path, r.codec, ctx, stop, crf=r.crf, audio=r.audio,
                             has_audio=has_audio)
        if result.cancelled:
            return None
        written.append(("render", result.paths[0]))
    return written


def _remove_leftovers(folder: Path, name_part: str) -> None:
    """Files an earlier run was writing aside when it was killed (``atomic_write.partial_path``
    names: hidden, ``.partial-`` and a random tag): never finished, so garbage."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and ".partial-" in entry.name and \
                    name_part in entry.name and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def words(exc: BaseException) -> str:
    """An error in one line: ours say it in words; others get their type's name too."""
    if isinstance(exc, StudioError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _free_device_memory() -> None:
    """After an out-of-memory error, give the GPU's cache back before the next shot."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# == one model per worker process ==========================================================
_cache: dict[str, LoadedModel] = {}


def model_blob(source: Any) -> bytes:
    """The model source as it travels to worker processes and Ray tasks."""
    return pickle.dumps(source)


def cached_model(blob: bytes, warn: Callable[[str], Any]) -> LoadedModel:
    """The model of ``blob``, loaded once per process (a Ray worker runs many shots)."""
    from sam2_studio.app.segment_command import load_model

    key = hashlib.sha256(blob).hexdigest()
    if key not in _cache:
        _cache.clear()  # one model at a time
        _cache[key] = load_model(pickle.loads(blob), warn)  # noqa: S301 - our own bytes
    return _cache[key]
