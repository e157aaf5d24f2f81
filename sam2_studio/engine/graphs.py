"""Replaying the per-frame model steps as CUDA graphs.

A frame of tracking launches a few thousand small kernels; dispatching them from Python costs
more host time than the GPU needs to run them, so the GPU waits. Once the memory bank is full
the shapes of a step stop changing: a step whose shapes were seen ``after`` times is captured
once as a CUDA graph and from then on replayed with one call. Inputs are copied into the
graph's own buffers and outputs copied out (the next replay overwrites them), so callers see
ordinary tensors. Results are the eager kernels' results (the same kernels run).

CUDA only; elsewhere, and for shapes not captured, the step simply runs.
"""

from __future__ import annotations

import contextlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

import torch

Step = Callable[..., tuple[torch.Tensor, ...]]


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[torch.Tensor, ...]
    outputs: tuple[torch.Tensor, ...]


class GraphCache:
    """Captured steps by key (the caller's description of every shape involved)."""

    def __init__(self, autocast_dtype: torch.dtype | None, enabled: bool = True, after: int = 2, keep: int = 4) -> None:
        self.autocast_dtype = autocast_dtype
        self.enabled = enabled
        self.after = after
        self.keep = keep
        self._seen: Counter[Hashable] = Counter()
        self._graphs: OrderedDict[Hashable, _Captured] = OrderedDict()
        self.replays = 0  # statistics for benchmarks and tests
        self.captures = 0

    def run(self, key: Hashable, step: Step, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not (self.enabled and inputs[0].is_cuda):
            return step(*inputs)
        captured = self._graphs.get(key)
        if captured is None:
            self._seen[key] += 1
            if self._seen[key] < self.after:
                return step(*inputs)
            captured = self._capture(key, step, inputs)
        else:
            self._graphs.move_to_end(key)
        for static, value in zip(captured.inputs, inputs):
            static.copy_(value)
        captured.graph.replay()
        self.replays += 1
        return tuple(out.clone() for out in captured.outputs)

    @contextlib.contextmanager
    def _no_cast_cache(self) -> Iterator[None]:
        """Autocast must not reuse weight casts made outside the graph (they are freed when
        autocast exits, and the graph would read freed memory): cast inside it instead."""
        if self.autocast_dtype is None:
            yield
        else:
            with torch.autocast("cuda", dtype=self.autocast_dtype, cache_enabled=False):
                yield

    def _capture(self, key: Hashable, step: Step, inputs: tuple[torch.Tensor, ...]) -> _Captured:
        static = tuple(x.clone() for x in inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), self._no_cast_cache():
            for _ in range(2):  # warm up: lazy initialisations and caches happen outside the graph
                step(*static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), self._no_cast_cache():
            outputs = step(*static)
        captured = self._graphs[key] = _Captured(graph, static, outputs)
        self.captures += 1
        while len(self._graphs) > self.keep:
            self._graphs.popitem(last=False)
        return captured

    def clear(self) -> None:
        self._graphs.clear()
        self._seen.clear()
