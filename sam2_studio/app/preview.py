"""What the viewer shows, made on a thread of its own: the decoded frame, and with effects
on, the rendered frame; in matte view, the refined matte.

Decoding a seek or rendering an effect such as object removal can take longer than a
screen refresh, so the GUI never does either: it asks for a frame and gets it back through
the sink. Requests are latest-wins (scrubbing over fifty frames decodes the last one, not
fifty). The renderer and its caches belong to this thread alone; stack edits and mask
changes reach it as messages applied before the next render.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreviewRequest:
    frame: int
    effects: bool = False
    matte_objects: tuple[int, ...] | None = None  # matte view: the union of these objects


@dataclass(frozen=True)
class PreviewFrame:
    request: PreviewRequest
    source: np.ndarray  # RGB uint8, read-only
    rendered: np.ndarray | None = None  # RGB uint8 with effects, when asked and any apply
    alpha: np.ndarray | None = None  # straight alpha of the rendered frame, None: opaque
    matte: np.ndarray | None = None  # float32 0..1, for the matte view
    problems: tuple[str, ...] = ()
    millis: float = 0.0

    @property
    def index(self) -> int:
        return self.request.frame


class PreviewService:
    """See the module docstring. ``sink`` is called on the preview thread."""

    def __init__(self, read_frame: Callable[[int], np.ndarray], sink: Callable[[PreviewFrame], None],
                 renderer: Any | None = None,
                 raw_matte: Callable[[int, int], np.ndarray | None] | None = None) -> None:
        self._read = read_frame
        self._sink = sink
        self._renderer = renderer
        self._raw_matte = raw_matte
        self._cond = threading.Condition()
        self._request: PreviewRequest | None = None
        self._messages: list[Callable[[Any], None]] = []
        self._stop = False
        self.rendered_count = 0
        self._thread = threading.Thread(target=self._run, name="preview", daemon=True)
        self._thread.start()

    # -- from the GUI ------------------------------------------------------------------------
    def request(self, req: PreviewRequest) -> None:
        with self._cond:
            self._request = req
            self._cond.notify()

    def set_stacks(self, stacks: dict[int, Any], order: Sequence[int]) -> None:
        self._post(lambda r: r.set_stacks(stacks, list(order)))

    def invalidate(self, obj: int | None = None, frames: Sequence[int] | None = None) -> None:
        frames = None if frames is None else list(frames)
        self._post(lambda r: r.invalidate(obj, frames))

    def _post(self, message: Callable[[Any], None]) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify()

    @property
    def has_renderer(self) -> bool:
        return self._renderer is not None

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the preview thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._request is None and not self._messages:
                    self._cond.wait()
                if self._stop:
                    return
                messages, self._messages = self._messages, []
                req, self._request = self._request, None
            if self._renderer is not None:
                for message in messages:
                    try:
                        message(self._renderer)
                    except Exception:  # noqa: BLE001 - a bad stack must not stop previews
                        log.exception("preview renderer update failed")
            if req is not None:
                self._serve(req)

    def _serve(self, req: PreviewRequest) -> None:
        t0 = time.perf_counter()
        problems: list[str] = []
        try:
            source = self._read(req.frame)
        except Exception as exc:  # noqa: BLE001 - a damaged frame: say so, keep going
            log.warning("frame %d cannot be read: %s", req.frame, exc)
            problems.append(f"frame {req.frame} cannot be read: {exc}")
            self._sink(PreviewFrame(req, np.zeros((1, 1, 3), np.uint8), problems=tuple(problems)))
            return
        rendered = alpha = matte = None
        r = self._renderer
        if req.effects and r is not None:
            try:
                out = r.render(req.frame)
                rendered, alpha = out.rgb, out.alpha
                problems += [f"{p.plugin}: {p.message}" for p in out.problems]
                problems += [f"{s.effect}: {s.reason}" for s in out.skipped]
            except Exception as exc:  # noqa: BLE001
                log.exception("rendering frame %d failed", req.frame)
                problems.append(f"effects could not render frame {req.frame}: {exc}")
        if req.matte_objects is not None:
            try:
                matte = self._matte(req.frame, req.matte_objects)
            except Exception as exc:  # noqa: BLE001
                log.exception("matte of frame %d failed", req.frame)
                problems.append(f"the matte of frame {req.frame} could not be made: {exc}")
        self.rendered_count += 1
        self._sink(PreviewFrame(req, source, rendered, alpha, matte, tuple(problems),
                                (time.perf_counter() - t0) * 1000))

    def _matte(self, frame: int, objects: tuple[int, ...]) -> np.ndarray | None:
        union: np.ndarray | None = None
        for obj in objects:
            m = None
            if self._renderer is not None:
                m = self._renderer.matte(obj, frame)
            elif self._raw_matte is not None:
                m = self._raw_matte(obj, frame)
            if m is None:
                continue
            m = m.astype(np.float32) if m.dtype != np.float32 else m
            union = m.copy() if union is None else np.maximum(union, m)
        return union
