"""The document seen by the effects layer: frames and mattes by index, and each object's
effect stack stored in the project.

A project keeps, per object, ``effects`` (the list of stack entries) and ``refinement``
(``{"refine": {...}, "holdout": bool}``), both JSON the effects layer reads back with
``ObjectStack.from_dict``. Hidden objects take no part in rendering: hiding an object is
hiding its layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from sam2_studio.app.detail import detail_enabled
from sam2_studio.project import Document, TrackedObject

if TYPE_CHECKING:
    from sam2_studio.app.detail import DetailSource
    from sam2_studio.effects import ObjectStack, Registry


class DocumentFrames:
    """A ``FrameContext`` over a document's masks and a clip reader.

    Safe to read from one background thread while the GUI edits: it only looks up
    ``EncodedMask`` values, which are immutable, by key. With a ``detail`` source, objects
    whose refinement asks for the detail pass get its matte instead of the tracked mask
    (``app/detail.py``), where it has one.
    """

    def __init__(self, doc: Document, frames: Any, include_hidden: bool = False,
                 detail: DetailSource | None = None) -> None:
        self.doc = doc
        self.frames = frames  # .get(i) or .read(i) or a callable
        self.include_hidden = include_hidden
        self.detail = detail

    def __len__(self) -> int:
        return self.doc.video.frame_count

    @property
    def objects(self) -> Sequence[int]:
        return tuple(o.id for o in self.doc.objects if o.visible or self.include_hidden)

    def frame(self, index: int) -> np.ndarray:
        f = self.frames
        if callable(f):
            return f(index)
        return f.get(index) if hasattr(f, "get") else f.read(index)

    def matte(self, obj: int, index: int) -> np.ndarray | None:
        encoded = self.doc.encoded_mask(obj, index)
        if encoded is None or encoded.area == 0:
            return None
        if self.detail is not None and detail_enabled(self.doc.object(obj)):
            detailed = self.detail(obj, index, encoded, self.frame)
            if detailed is not None:
                return detailed
        return encoded.decode()


def registry() -> Registry:
    """The effects on offer (built-ins, bundled and user plugins), loaded once."""
    return _registry()


@lru_cache(maxsize=1)
def _registry() -> Registry:
    from sam2_studio.app.paths import data_dir
    from sam2_studio.effects import load_registry

    return load_registry(data_dir() / "plugins")


def stack_of(obj: TrackedObject, reg: Registry | None = None) -> ObjectStack:
    """The object's stack as the effects layer sees it (defaults where nothing is stored)."""
    from sam2_studio.effects import ObjectStack

    refinement = obj.refinement.value or {}
    effects = obj.effects.value or []
    data = {"effects": effects if isinstance(effects, list) else [],
            "refine": refinement.get("refine") if isinstance(refinement, dict) else None,
            "holdout": refinement.get("holdout", True) if isinstance(refinement, dict) else True}
    return ObjectStack.from_dict(data, reg if reg is not None else registry())


def stack_fields(stack: ObjectStack) -> dict[str, Any]:
    """What ``Document.update_object(**...)`` stores for ``stack``."""
    data = stack.to_dict()
    return {"effects": data["effects"],
            "refinement": {"refine": data["refine"], "holdout": data["holdout"]}}


def stacks_of(doc: Document, reg: Registry | None = None, include_hidden: bool = False) -> dict[int, ObjectStack]:
    return {o.id: stack_of(o, reg) for o in doc.objects if o.visible or include_hidden}


def has_effects(doc: Document) -> bool:
    """Whether rendering would change anything (effects or refinement on a visible object)."""
    for o in doc.objects:
        if not o.visible:
            continue
        effects = o.effects.value
        if isinstance(effects, list) and any(isinstance(e, dict) and e.get("enabled", True) for e in effects):
            return True
    return False


def make_renderer(doc: Document, frames: Any, reg: Registry | None = None, *,
                  include_hidden: bool = False, cache_bytes: int = 128 << 20,
                  detail: DetailSource | None = None) -> Any:
    """A ``Renderer`` over the document (one per thread that renders); ``detail``: where the
    detail pass's mattes come from (none: the tracked masks)."""
    from sam2_studio.effects import Renderer

    reg = reg if reg is not None else registry()
    ctx = DocumentFrames(doc, frames, include_hidden, detail)
    order = list(ctx.objects)
    return Renderer(ctx, stacks_of(doc, reg, include_hidden), registry=reg, order=order,
                    cache_bytes=cache_bytes)
