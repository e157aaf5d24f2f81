"""Image sequences out: ``name.%04d.png`` (or .tif, .exr), one file per frame, in parallel.

Every frame is written under a hidden temporary name; ``close()`` gives them all their
names at the end (renames only), so an older sequence of the same name stays intact until
then, and cancelling (or a failure) removes every temporary file and nothing else. Encoding
runs on a small thread pool (OpenCV and FFmpeg release the GIL), bounded so memory stays flat.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import Export, check_writable_folder, partial_path, remove_quietly, write_failure
from .errors import MediaError
from .images import encode_exr, encode_png, encode_tiff
from .naming import SequenceNaming

SEQUENCE_SUFFIXES = (".png", ".tif", ".tiff", ".exr")


class ImageSequenceWriter(Export):
    """Writes frames numbered ``start``, ``start + 1``, ... as ``naming`` says.

    ``write(image)`` takes ready pixels: (H, W) grey or (H, W, 3|4) RGB(A); uint8 or uint16
    for PNG/TIFF, float32 for EXR (written as half floats unless ``half=False``). With an
    ``encoder``, ``image`` is whatever it takes and turns into a file's bytes (multi-layer
    EXR): the naming, the writing aside and the renaming at the end stay this class's.
    """

    def __init__(
        self,
        naming: SequenceNaming,
        *,
        start: int = 1,
        half: bool = True,
        workers: int = 0,
        png_compression: int = 1,
        encoder: Callable[[Any], bytes] | None = None,
    ) -> None:
        if naming.suffix.lower() not in SEQUENCE_SUFFIXES:
            raise MediaError(f"unknown image type {naming.suffix!r}: use .png, .tif or .exr", naming.folder / naming.pattern)
        check_writable_folder(naming.folder, naming.folder / naming.pattern)
        self.naming = naming
        self.start = start
        self.frames_written = 0
        self.written: list[Path] = []  # final names, once close() has renamed them
        self._done: list[tuple[Path, Path]] = []  # (temporary, final)
        self._half = half
        self._png_compression = png_compression
        self._encoder = encoder
        n = workers or min(4, os.cpu_count() or 2)
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="sequence-writer")
        self._inflight: deque[Future[Path]] = deque()
        self._limit = 2 * n
        self._lock = threading.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        return self.naming.folder / self.naming.pattern

    def write(self, image: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Queue one frame; ``prepare`` (e.g. a matte conversion) runs on the worker too."""
        if self._closed:
            raise RuntimeError("write() after close() or abort()")
        number = self.start + self.frames_written
        self.frames_written += 1
        while len(self._inflight) >= self._limit:
            self._collect(self._inflight.popleft())
        payload = image if self._encoder is not None else np.asarray(image)
        self._inflight.append(self._pool.submit(self._write_one, payload, number, prepare))

    def _encode(self, image: np.ndarray) -> bytes:
        if self._encoder is not None:
            return self._encoder(image)
        suffix = self.naming.suffix.lower()
        if suffix == ".exr":
            return encode_exr(image.astype(np.float32, copy=False), half=self._half)
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"PNG and TIFF frames must be uint8 or uint16, not {image.dtype}")
        if suffix == ".png":
            return encode_png(image, compression=self._png_compression)
        return encode_tiff(image)

    def _write_one(self, image: np.ndarray, number: int, prepare: Callable[[np.ndarray], np.ndarray] | None) -> Path:
        final = self.naming.path(number)
        data = self._encode(prepare(image) if prepare is not None else image)
        tmp = partial_path(final)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            remove_quietly(tmp)
            raise write_failure(final, exc) from exc
        with self._lock:
            self._done.append((tmp, final))
        return final

    def _collect(self, future: Future[Path]) -> None:
        try:
            future.result()
        except BaseException:
            self.abort()
            raise

    def close(self) -> None:
        """Wait for every frame file to be on disk."""
        if self._closed:
            return
        while self._inflight:
            self._collect(self._inflight.popleft())
        self._closed = True
        self._pool.shutdown()
        if self.frames_written == 0:
            raise MediaError("nothing was exported: no frames were written", self.path)
        self._done.sort(key=lambda pair: pair[1])
        try:
            for tmp, final in self._done:
                os.replace(tmp, final)
                self.written.append(final)
        except OSError as exc:
            self._closed = False
            self.abort()
            raise write_failure(final, exc) from exc

    def abort(self) -> None:
        """Stop and remove every file this export has written."""
        if self._closed:
            return
        self._closed = True
        for f in self._inflight:
            f.cancel()
        self._pool.shutdown(wait=True)
        self._inflight.clear()
        with self._lock:
            for tmp, _ in self._done:
                remove_quietly(tmp)
            for p in self.written:  # a failure while renaming at the end
                remove_quietly(p)
            self._done.clear()
            self.written.clear()
