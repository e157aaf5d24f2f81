"""SAM 2: the modules of one checkpoint and the steps the image and video paths are built from.

Module and parameter names follow the official checkpoint layout exactly, so an official
``state_dict`` loads strictly. The class holds no per-video state: the engine decides which
memories a frame attends to and passes them in as a :class:`Memory`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .config import ModelConfig
from .image_encoder import ImageEncoder, ImageFeatures
from .layers import MLP
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .position import on_device, sine_1d
from .precision import Precision, choose_precision
from .prompt_encoder import LABEL_PAD, PromptEncoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POINTER_ENCODINGS_KEPT = 4096  # temporal encodings of pointer offsets cached per model
NO_OBJECT_LOGIT = -1024.0  # mask logits where the object-score head says "absent"
MASK_PROMPT_SCALE, MASK_PROMPT_BIAS = 20.0, -10.0  # a binary mask used directly as logits


@dataclass
class HeadOutput:
    """What the prompt encoder + mask decoder give for a frame (one row per object).

    ``multi_masks`` are all decoder outputs (3 with multimask, else 1) at low resolution,
    ``masks``/``high_res_masks`` the chosen one, ``obj_ptr`` the object pointer for memory.
    """

    multi_masks: torch.Tensor  # (B, M, S/4, S/4)
    ious: torch.Tensor  # (B, M)
    masks: torch.Tensor  # (B, 1, S/4, S/4)
    high_res_masks: torch.Tensor  # (B, 1, S, S)
    obj_ptr: torch.Tensor  # (B, C)
    object_score: torch.Tensor  # (B, 1)
    best_index: torch.Tensor  # (B,) index of the chosen mask among ``multi_masks``


@dataclass
class SpatialMemory:
    """One remembered frame per object: encoded memories and how far back each sits in its bank.

    ``slot`` indexes ``maskmem_tpos_enc`` (0 = previous frame ... num_maskmem-1 =
    conditioning): one for the whole batch, or one per row when objects tracked together
    remember frames at different distances.
    """

    features: torch.Tensor  # (B, mem_dim, h, w)
    pos: torch.Tensor  # (B or 1, mem_dim, h, w)
    slot: int | tuple[int, ...]


@dataclass
class PointerMemory:
    """Object pointers and their signed temporal offsets from the current frame (one, or one per row)."""

    pointer: torch.Tensor  # (B, C)
    offset: int | tuple[int, ...]


class Sam2Model(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = self.config = config
        d, m = c.d_model, c.mem_dim
        # Registration order = the checkpoint's state-dict order.
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(c.num_maskmem, 1, 1, m))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, d))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, d))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, d))
        if c.sam2_1:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, m))
        self.image_encoder = ImageEncoder(c)
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.memory_attention = MemoryAttention(d, m, c.memory_attention_layers, c.memory_attention_ffn, c.rope_theta)
        self.memory_encoder = MemoryEncoder(d, m)
        self.sam_prompt_encoder = PromptEncoder(d, c.feat_size, c.image_size)
        self.sam_mask_decoder = MaskDecoder(d, c.stability_delta, c.stability_thresh)
        self.obj_ptr_proj = MLP(d, d, d, num_layers=3)
        if c.sam2_1:
            self.obj_ptr_tpos_proj = nn.Linear(d, m)
        for p in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr):
            nn.init.trunc_normal_(p, std=0.02)
        self._precision: Precision | None = None
        self._pointer_enc: OrderedDict[tuple[float, int, torch.device], torch.Tensor] = OrderedDict()

    # ----------------------------------------------------------------- precision
    @property
    def precision(self) -> Precision:
        """The compute precision on the model's device (the device's default until set)."""
        p = self._precision
        if p is None or p.device_type != self.device.type:
            p = self._precision = choose_precision(self.device)
        return p

    def set_precision(self, requested: str | None) -> Precision:
        """Ask for "fp32", "bf16" or "fp16" (None: the device's default); returns what was chosen."""
        self._precision = choose_precision(self.device, requested)
        return self._precision

    def inference(self):  # noqa: ANN201 - a context manager
        """No autograd, autocast in the model's precision: wrap every model call in it."""
        return self.precision.context()

    # ----------------------------------------------------------------- image path
    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def preprocess(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        """RGB uint8 (H, W, 3) -> normalised (1, 3, S, S) on the model's device.

        Squashed to a square like the official models were trained; bilinear with
        antialiasing so that large frames are averaged, not aliased.
        """
        if isinstance(image, np.ndarray):
            # frames from a decoder cache are read-only: copy those (torch warns on them)
            a = np.ascontiguousarray(image)
            t = torch.from_numpy(a if a.flags.writeable else a.copy())
        else:
            t = image
        if t.ndim != 3 or t.shape[2] != 3:
            raise ValueError(f"expected an RGB image of shape (H, W, 3), got {tuple(t.shape)}")
        # From pinned memory (the frame loader's) the copy does not block the host.
        t = t.to(self.device, non_blocking=True).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        s = self.image_size
        if t.shape[-2:] != (s, s):
            t = F.interpolate(t, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        mean = on_device(_imagenet, IMAGENET_MEAN, device=t.device, dtype=t.dtype)
        std = on_device(_imagenet, IMAGENET_STD, device=t.device, dtype=t.dtype)
        return (t - mean) / std

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """Normalised images (B, 3, S, S) -> features of each (raw: no memory conditioning)."""
        levels, pos = self.image_encoder(images)
        dec = self.sam_mask_decoder
        return ImageFeatures(levels[2], (dec.conv_s0(levels[0]), dec.conv_s1(levels[1])), pos)

    def without_memory(self, embedding: torch.Tensor) -> torch.Tensor:
        """The embedding of a frame that has no memory to attend to (image mode, first prompt)."""
        return embedding + self.no_mem_embed.view(1, -1, 1, 1)

    # ----------------------------------------------------------------- prompts -> masks
    def decode(
        self,
        embedding: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        points: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        mask_logits: torch.Tensor | None = None,
        multimask: bool = False,
        gate_absent: bool = True,
    ) -> HeadOutput:
        """Prompt encoder + mask decoder on (conditioned) features.

        ``points`` (B, N, 2) in model-input pixels (0..S), ``labels`` (B, N); a box is two
        points labelled 2 and 3. ``mask_logits`` (B, 1, h, w) is resized to S/4 if needed.
        With ``multimask`` the best of three by predicted IoU is chosen. ``gate_absent``
        sets every mask logit to -1024 where the object score says the object is absent.
        """
        b = embedding.shape[0]
        if points is None:
            points = embedding.new_zeros(b, 1, 2)
            labels = torch.full((b, 1), LABEL_PAD, dtype=torch.int32, device=embedding.device)
        assert labels is not None
        pe = self.sam_prompt_encoder
        if mask_logits is not None and mask_logits.shape[-2:] != pe.mask_input_size:
            mask_logits = F.interpolate(
                mask_logits.float(), size=pe.mask_input_size, mode="bilinear", align_corners=False, antialias=True
            )
        sparse, dense = pe(points, labels, mask_logits)
        out = self.sam_mask_decoder(embedding, pe.dense_pe(), sparse, dense, high_res, multimask)
        masks, score = out.masks, out.object_score
        present = score > 0
        if gate_absent:
            masks = torch.where(present[:, :, None, None], masks, torch.full_like(masks, NO_OBJECT_LOGIT))
        masks = masks.float()
        rows = torch.arange(b, device=masks.device)
        if multimask:
            best = out.iou.argmax(dim=-1)
            token = out.tokens[rows, best]
        else:
            best = torch.zeros(b, dtype=torch.long, device=masks.device)
            token = out.tokens[:, 0]
        chosen = masks[rows, best].unsqueeze(1)
        high = F.interpolate(chosen, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        ptr = self.obj_ptr_proj(token)
        # The pointer of an absent object is the learned "no object" pointer.
        ptr = self._gate_pointer(ptr, present.to(ptr.dtype))
        return HeadOutput(masks, out.iou, chosen, high, ptr, score, best)

    def _gate_pointer(self, ptr: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return present * ptr + (1 - present) * self.no_obj_ptr

    def mask_as_output(
        self, embedding: torch.Tensor, high_res: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor
    ) -> HeadOutput:
        """A user-given binary mask (B, 1, S, S) taken as the output, as the official model does.

        The mask becomes +-10 logits; the object pointer still comes from the decoder, fed
        the mask as a prompt; the object counts as present when the mask is non-empty.
        """
        mask = mask.float()
        high = mask * MASK_PROMPT_SCALE + MASK_PROMPT_BIAS
        s = high.shape[-1] // 4
        low = F.interpolate(high, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        heads = self.decode(embedding, high_res, mask_logits=self.mask_downsample(mask))
        present = (mask.flatten(1) > 0).any(dim=1, keepdim=True).to(heads.obj_ptr.dtype)
        ptr = self._gate_pointer(heads.obj_ptr, present)
        score = MASK_PROMPT_SCALE * present + MASK_PROMPT_BIAS
        ious = torch.ones(mask.shape[0], 1, device=mask.device)
        zero = torch.zeros(mask.shape[0], dtype=torch.long, device=mask.device)
        return HeadOutput(low, ious, low, high, ptr, score, zero)

    # ----------------------------------------------------------------- memory
    def encode_memory(
        self, embedding: torch.Tensor, high_res_masks: torch.Tensor, object_score: torch.Tensor, binarize: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A frame's raw embedding and its chosen mask logits (B, 1, S, S) -> (memory, position).

        Masks that came straight from clicks are binarised first (the official video
        setting); others go through a sigmoid. Absent objects get the no-object embedding
        (SAM 2.1).
        """
        m = (high_res_masks > 0).to(embedding.dtype) if binarize else torch.sigmoid(high_res_masks)
        m = m * self.config.sigmoid_scale_for_mem_enc + self.config.sigmoid_bias_for_mem_enc
        feats, pos = self.memory_encoder(embedding, m.to(embedding.dtype))
        if self.config.sam2_1:
            absent = (object_score <= 0).to(feats.dtype)[..., None, None]
            feats = feats + absent * self.no_obj_embed_spatial[..., None, None]
        return feats, pos

    def assemble_memory(
        self, spatial: list[SpatialMemory], pointers: list[PointerMemory], max_pointer_offset: int
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Flatten memories into tokens (B, M, mem_dim) + positions, and count pointer tokens.

        Each 256-d pointer becomes four 64-d tokens. ``max_pointer_offset`` normalises the
        pointers' temporal encoding (SAM 2.1): ``min(num_frames, max_obj_ptrs) - 1``.
        """
        tokens, positions = [], []
        for mem in spatial:
            tokens.append(mem.features.flatten(2).transpose(1, 2))
            if isinstance(mem.slot, tuple):
                tpos = torch.stack([self.maskmem_tpos_enc[s].view(1, -1) for s in mem.slot])
            else:
                tpos = self.maskmem_tpos_enc[mem.slot].view(1, 1, -1)
            positions.append(mem.pos.flatten(2).transpose(1, 2) + tpos)
        num_ptr_tokens = 0
        if pointers:
            ptrs = torch.stack([p.pointer for p in pointers], dim=1)  # (B, N, C)
            b, n, c = ptrs.shape
            split = c // self.config.mem_dim
            if self.config.sam2_1:
                rows = [p.offset if isinstance(p.offset, tuple) else (p.offset,) for p in pointers]
                enc = torch.stack([torch.cat([self._pointer_encoding(o, max_pointer_offset, c, ptrs.device) for o in offs])
                                   for offs in zip(*rows)])  # (B or 1, N, C)
                pos = self.obj_ptr_tpos_proj(enc.to(ptrs.dtype))  # (B or 1, N, mem_dim)
            else:
                pos = ptrs.new_zeros(1, n, self.config.mem_dim)
            tokens.append(ptrs.reshape(b, n * split, self.config.mem_dim))
            positions.append(pos.repeat_interleave(split, dim=1).expand(b, -1, -1))
            num_ptr_tokens = n * split
        b = max(t.shape[0] for t in tokens)
        positions = [p.expand(b, -1, -1) for p in positions]
        return torch.cat(tokens, dim=1), torch.cat(positions, dim=1), num_ptr_tokens

    def _pointer_encoding(self, offset: int, max_offset: int, dim: int, device: torch.device) -> torch.Tensor:
        """The 1D sine encoding (1, dim) of a pointer's temporal offset, made on the device
        (no host copy) and kept: the same few offsets come back every frame."""
        key = (offset, max_offset, device)
        cache = self._pointer_enc
        enc = cache.get(key)
        if enc is None:
            with torch.inference_mode(False), torch.no_grad():
                t = torch.full((1,), float(offset), dtype=torch.float32, device=device)
                enc = cache[key] = sine_1d(t / max(max_offset, 1), dim)
            while len(cache) > POINTER_ENCODINGS_KEPT:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return enc

    def condition_on_memory(
        self, features: ImageFeatures, spatial: list[SpatialMemory], pointers: list[PointerMemory], max_pointer_offset: int
    ) -> torch.Tensor:
        """The frame's embedding after attending to its memory bank, (B, C, h, w)."""
        if not spatial and not pointers:
            return self.without_memory(features.embedding)
        return self.attend_memory(features, *self.assemble_memory(spatial, pointers, max_pointer_offset))

    def attend_memory(
        self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_ptr_tokens: int
    ) -> torch.Tensor:
        """Memory attention over assembled memory tokens (B, M, mem_dim): (B, C, h, w)."""
        n_ptr = num_ptr_tokens
        _, c, h, w = features.embedding.shape
        b = max(memory.shape[0], features.embedding.shape[0])  # one image, a batch of objects
        memory, memory_pos = memory.expand(b, -1, -1), memory_pos.expand(b, -1, -1)
        cur = features.embedding.flatten(2).transpose(1, 2).expand(b, -1, -1)
        cur_pos = features.pos.flatten(2).transpose(1, 2).expand(b, -1, -1)
        out = self.memory_attention(cur, cur_pos, memory, memory_pos, n_ptr)
        return out.transpose(1, 2).reshape(b, c, h, w)


def _imagenet(values: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor(values).view(1, 3, 1, 1)
