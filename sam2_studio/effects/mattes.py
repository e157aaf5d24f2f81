"""Refined mattes of a whole clip, computed on demand and kept in a bounded cache.

:class:`RefinedClip` wraps the source :class:`FrameContext` and is itself one: same frames,
refined mattes. The renderer uses it, hands it to effects that read other frames, and the
matte exporter can use it alone (refined mattes without effects). Mattes are cached cropped
to the object's box, so a cache of a few hundred megabytes holds hundreds of 1080p frames.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from sam2_studio.effects import temporal
from sam2_studio.effects.context import Box, FrameContext, as_matte, nonzero_box
from sam2_studio.effects.refine import RefineParams, feather_in_box, reshape

_Stored = tuple[Box, np.ndarray] | None  # a matte cropped to its box; None: empty
_Entry = tuple[bool, _Stored]  # (the object is present in that frame, its matte)


class _Cache:
    """A least-recently-used store of cropped mattes, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, _Entry] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _size(entry: _Entry) -> int:
        return 0 if entry[1] is None else entry[1][1].nbytes

    def get(self, key: tuple) -> _Entry | None:
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        return entry

    def put(self, key: tuple, item: _Entry) -> None:
        self.drop([key])
        self._items[key] = item
        self._bytes += self._size(item)
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= self._size(old)

    def drop(self, keys: Iterable[tuple]) -> None:
        for key in keys:
            if key in self._items:
                self._bytes -= self._size(self._items.pop(key))

    def keys(self) -> list[tuple]:
        return list(self._items)


def _store(matte: np.ndarray | None) -> _Stored:
    if matte is None:
        return None
    box = nonzero_box(matte)
    return None if box is None else (box, matte[box.slices].copy())


def _expand(item: _Stored, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, np.float32)
    if item is not None:
        out[item[0].slices] = item[1]
    return out


class RefinedClip:
    """A :class:`FrameContext` whose mattes are the source's, refined per object."""

    def __init__(
        self,
        source: FrameContext,
        params: Mapping[int, RefineParams] | None = None,
        *,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self.source = source
        self._params: dict[int, RefineParams] = dict(params or {})
        self._cache = _Cache(cache_bytes)
        self._shape: tuple[int, int] | None = None

    # -- FrameContext ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.source)

    @property
    def objects(self) -> Sequence[int]:
        return self.source.objects

    def frame(self, index: int) -> np.ndarray:
        return self.source.frame(index)

    def matte(self, obj: int, index: int) -> np.ndarray | None:
        """The refined matte (float32 0..1, frame size) or ``None`` where the object has none."""
        if self.params(obj).is_identity:
            return self._source(obj, index)
        present, item = self.refined(obj, index)
        return _expand(item, self.shape) if present else None

    def full(self, obj: int, index: int) -> tuple[np.ndarray, Box] | None:
        """The refined matte at frame size and the box of its non-zero pixels, or ``None``
        where the object is absent or its matte empty (what the renderer needs)."""
        if self.params(obj).is_identity:
            raw = self.source.matte(obj, index)
            if raw is None:
                return None
            m = as_matte(raw, self.shape)
            # The box of a uint8 or bool source is found without another pass over floats.
            box = nonzero_box(raw if np.shape(raw) == m.shape else m)
            return None if box is None else (m, box)
        _, item = self.refined(obj, index)
        return None if item is None else (_expand(item, self.shape), item[0])

    # -- refinement -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        if self._shape is None:
            self._shape = tuple(self.source.frame(0).shape[:2])  # type: ignore[assignment]
        return self._shape  # type: ignore[return-value]

    def params(self, obj: int) -> RefineParams:
        return self._params.get(obj, RefineParams())

    def set_params(self, obj: int, params: RefineParams) -> None:
        """Change one object's refinement; its cached mattes are dropped if it changed."""
        if self.params(obj) != params:
            self._params[obj] = params
            self.invalidate(obj)

    def invalidate(self, obj: int | None = None, frames: Iterable[int] | None = None) -> None:
        """Forget cached mattes after the source changed (an object, some frames, or all)."""
        if frames is None:
            self._cache.drop(k for k in self._cache.keys() if obj is None or k[1] == obj)
            return
        frames = set(frames)
        dead = set()
        for key in self._cache.keys():
            stage, o, i = key
            if obj is not None and o != obj:
                continue
            reach = self.params(o).temporal if stage == "refined" else 0
            if any(abs(i - f) <= reach for f in frames):
                dead.add(key)
        self._cache.drop(dead)

    def _source(self, obj: int, index: int) -> np.ndarray | None:
        return as_matte(self.source.matte(obj, index), self.shape)

    def _reshaped(self, obj: int, index: int) -> _Entry:
        key = ("reshaped", obj, index)
        entry = self._cache.get(key)
        if entry is None:
            m = self._source(obj, index)
            entry = (False, None) if m is None else (True, _store(reshape(m, self.params(obj))))
            self._cache.put(key, entry)
        return entry

    def refined(self, obj: int, index: int) -> _Entry:
        """``(present, (box, crop) or None)``: the refined matte in its compact form."""
        p = self.params(obj)
        if p.is_identity:
            return self._reshaped(obj, index)  # the source matte, cropped and cached
        key = ("refined", obj, index)
        entry = self._cache.get(key)
        if entry is not None:
            return entry
        present, shaped = self._reshaped(obj, index)
        if not present:
            self._cache.put(key, (False, None))
            return False, None
        if p.temporal:

            def matte_at(j: int) -> np.ndarray | None:
                ok, it = self._reshaped(obj, j)
                return _expand(it, self.shape) if ok else None

            m = temporal.smooth(index, p.temporal, len(self), matte_at, self.frame)
        else:
            m = _expand(shaped, self.shape)
        entry = (True, _store(feather_in_box(m, p.feather)) if m is not None else None)
        self._cache.put(key, entry)
        return entry
