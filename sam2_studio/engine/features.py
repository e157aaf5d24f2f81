"""A small least-recently-used cache of encoded frames, fed by a read-ahead loader.

The image encoder is the most expensive step; interactive prompting hits the same frame
again and again, propagation needs each frame once. A few entries cover both while keeping
memory bounded (about 20 MB per frame at 1024, fp32). During a propagation a
:class:`FrameLoader` decodes and prepares the next frames on its own thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from sam2_studio.model import ImageFeatures, Sam2Model

from .frames import FrameSource
from .graphs import GraphCache
from .loader import FrameLoader


class FeatureCache:
    def __init__(self, model: Sam2Model, frames: FrameSource, capacity: int = 3, graphs: GraphCache | None = None) -> None:
        if capacity < 1:
            raise ValueError("the feature cache needs room for at least one frame")
        self.model = model
        self.graphs = graphs
        self.frames = frames
        self.capacity = capacity
        self._cache: OrderedDict[int, ImageFeatures] = OrderedDict()
        self._read = threading.Lock()  # one reader of the frame source at a time (the loader's thread or ours)
        self._loader: FrameLoader | None = None
        self.encoded = 0  # how many times the image encoder ran (for tests and statistics)

    def frame(self, index: int) -> np.ndarray:
        with self._read:
            frame = self.frames.get(index)
        w, h = self.frames.size
        if frame.shape[:2] != (h, w):
            raise ValueError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the clip is {w}x{h}")
        return frame

    def preprocess(self, index: int) -> torch.Tensor:
        return self.model.preprocess(self.frame(index))

    def _prepare(self, index: int) -> torch.Tensor:
        """The loader's work: decode, and on the CPU the whole preprocessing; for an
        accelerator a pinned host copy that the model thread sends over without waiting."""
        dev = self.model.device
        if dev.type == "cpu":
            return self.preprocess(index)
        t = torch.from_numpy(np.ascontiguousarray(self.frame(index)))
        return t.pin_memory() if dev.type == "cuda" else t

    @contextmanager
    def reading_ahead(self, order: Iterable[int]) -> Iterator[None]:
        """Prepare the frames of ``order`` ahead on the loader thread while inside."""
        with FrameLoader(self._prepare, (i for i in order if i not in self._cache)) as loader:
            self._loader = loader
            try:
                yield
            finally:
                self._loader = None

    def _input(self, index: int) -> torch.Tensor:
        prepared = self._loader.take(index) if self._loader is not None else None
        if prepared is None:
            return self.preprocess(index)
        if prepared.device.type == "cpu" and self.model.device.type == "cpu":
            return prepared
        return self.model.preprocess(prepared)

    def get(self, index: int) -> ImageFeatures:
        feats = self._cache.get(index)
        if feats is not None:
            self._cache.move_to_end(index)
            return feats
        feats = self._encode(self._input(index))
        self.encoded += 1
        self._cache[index] = feats
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return feats

    def _encode(self, images: torch.Tensor) -> ImageFeatures:
        if self.graphs is None:
            return self.model.encode_image(images)
        key = ("encode", tuple(images.shape), images.dtype)
        embedding, s0, s1, pos = self.graphs.run(key, self._encode_tensors, images)
        return ImageFeatures(embedding, (s0, s1), pos)

    def _encode_tensors(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f = self.model.encode_image(images)
        return f.embedding, *f.high_res, f.pos

    def clear(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
