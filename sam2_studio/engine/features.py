"""A small least-recently-used cache of encoded frames.

The image encoder is the most expensive step; interactive prompting hits the same frame
again and again, propagation needs each frame once. A few entries cover both while keeping
memory bounded (about 20 MB per frame at 1024, fp32).
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from sam2_studio.model import ImageFeatures, Sam2Model

from .frames import FrameSource


class FeatureCache:
    def __init__(self, model: Sam2Model, frames: FrameSource, capacity: int = 3) -> None:
        if capacity < 1:
            raise ValueError("the feature cache needs room for at least one frame")
        self.model = model
        self.frames = frames
        self.capacity = capacity
        self._cache: OrderedDict[int, ImageFeatures] = OrderedDict()
        self.encoded = 0  # how many times the image encoder ran (for tests and statistics)

    def preprocess(self, index: int) -> torch.Tensor:
        frame = self.frames.get(index)
        w, h = self.frames.size
        if frame.shape[:2] != (h, w):
            raise ValueError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the clip is {w}x{h}")
        return self.model.preprocess(frame)

    def get(self, index: int) -> ImageFeatures:
        feats = self._cache.get(index)
        if feats is not None:
            self._cache.move_to_end(index)
            return feats
        feats = self.model.encode_image(self.preprocess(index))
        self.encoded += 1
        self._cache[index] = feats
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return feats

    def clear(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
