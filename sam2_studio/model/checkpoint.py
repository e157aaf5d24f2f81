"""Building a model and loading official checkpoints, with errors a user can act on.

Official files are ``torch.save`` zips holding ``{"model": state_dict}`` in float32. They are
read with ``weights_only=True`` (no code runs), memory-mapped, checked against the
architecture the tensors imply, and loaded strictly.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from sam2_studio.errors import StudioError

from .config import VARIANTS, get_config
from .device import choose_device, tune_cpu_allocator
from .sam2_model import Sam2Model


class CheckpointError(StudioError):
    """A checkpoint file that cannot be used; the message says why, in words."""


def build_model(
    variant: str, image_size: int = 1024, device: str | torch.device | None = None, precision: str | None = None
) -> Sam2Model:
    """A randomly initialised model of ``variant``, in eval mode, on ``device`` (default: best),
    computing in ``precision`` (default: the device's, see ``precision.py``)."""
    return _place(Sam2Model(get_config(variant, image_size)), device, precision)


def _place(model: Sam2Model, device: str | torch.device | None, precision: str | None = None) -> Sam2Model:
    dev = choose_device(device)
    if dev.type == "cpu":
        tune_cpu_allocator()
    model = model.to(dev).eval()
    model.set_precision(precision)
    return model


def _embed_dim_to_size(embed_dim: int, depth: int) -> str | None:
    return {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large"}.get((embed_dim, depth))


def detect_variant(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The official variant these tensors belong to, or None if they fit none."""
    pos = state_dict.get("image_encoder.trunk.pos_embed")
    if pos is None or pos.ndim != 4:
        return None
    depth = 0
    while f"image_encoder.trunk.blocks.{depth}.norm1.weight" in state_dict:
        depth += 1
    size = _embed_dim_to_size(int(pos.shape[1]), depth)
    if size is None:
        return None
    family = "sam2.1" if "no_obj_embed_spatial" in state_dict else "sam2"
    return f"{family}_hiera_{size}"


def _describe_names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.exists():
        raise CheckpointError("file not found", path)
    if path.is_dir():
        raise CheckpointError("this is a folder, not a checkpoint file", path)
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError("the file is empty (0 bytes): the download probably failed", path)
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"the file is truncated or damaged ({size:,} bytes, the archive's end is missing): "
            "download it again",
            path,
        )
    if not head.startswith(b"PK") and not head.startswith(b"\x80"):
        raise CheckpointError("not a PyTorch checkpoint (neither a torch zip archive nor a pickle)", path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=head.startswith(b"PK"))
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            "refused: the file would run code when loaded (it is not a plain tensor checkpoint). "
            f"Only load checkpoints from sources you trust. Details: {str(exc).splitlines()[0]}",
            path,
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"the file is damaged and cannot be read: {exc}", path) from exc
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            "not a SAM 2 checkpoint: expected a dictionary {'model': state_dict} of tensors", path
        )
    return obj


def load_checkpoint(
    path: str | Path,
    variant: str | None = None,
    device: str | torch.device | None = None,
    image_size: int = 1024,
    precision: str | None = None,
) -> Sam2Model:
    """Build the model a checkpoint file holds and load it strictly.

    ``variant`` (one of :data:`VARIANTS`) is checked against the file when given and
    detected from the tensors otherwise. ``image_size`` (a multiple of 32) runs the model at
    another input size than the official 1024: the tensors are the same at every size,
    smaller is faster and coarser. Every failure is a :class:`CheckpointError`.
    """
    path = Path(path)
    if variant is not None and variant not in VARIANTS:
        raise CheckpointError(f"unknown model variant {variant!r}; known: {', '.join(VARIANTS)}", path)
    state = _read_state_dict(path)
    detected = detect_variant(state)
    if detected is None:
        expected = Sam2Model(get_config(variant or "sam2.1_hiera_tiny")).state_dict().keys()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        detail = []
        if missing:
            detail.append(f"missing {_describe_names(missing)}")
        if unexpected:
            detail.append(f"unexpected {_describe_names(unexpected)}")
        raise CheckpointError(
            "not a SAM 2 checkpoint: its tensors match no SAM 2 or SAM 2.1 model"
            + (f" ({'; '.join(detail)})" if detail else ""),
            path,
        )
    if variant is not None and variant != detected:
        raise CheckpointError(f"variant mismatch: the file holds {detected}, not {variant}", path)
    try:
        config = get_config(detected, image_size)
    except ValueError as exc:
        raise CheckpointError(str(exc), path) from None
    model = Sam2Model(config)
    expected_state = model.state_dict()
    missing = [k for k in expected_state if k not in state]
    unexpected = [k for k in state if k not in expected_state]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_describe_names(missing)}")
        if unexpected:
            parts.append(f"unexpected {_describe_names(unexpected)}")
        raise CheckpointError(f"not a complete {detected} checkpoint: {'; '.join(parts)}", path)
    for name, tensor in expected_state.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"shape mismatch for {name}: the file has {list(state[name].shape)}, "
                f"{detected} needs {list(tensor.shape)}",
                path,
            )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # dtype or storage problems the checks above cannot see
        raise CheckpointError(f"the tensors cannot be loaded: {exc}", path) from exc
    return _place(model, device, precision)
