"""Cryptomatte ID mattes, per the public specification (Psyop, version 1.1.0).

Each object's name is hashed with MurmurHash3 (x86, 32-bit, seed 0) over its UTF-8 bytes;
the hash's bits become a float32 ID, its exponent clamped to 1..254 so no ID is a
denormal, an infinity or a NaN. Per pixel, the objects present are ranked by coverage and
written as (ID, coverage) pairs: rank 0 in ``{type}00.R``/``.G``, rank 1 in ``.B``/``.A``,
rank 2 in ``{type}01.R``/``.G``, and so on; where no object is, ID and coverage are 0. The
header names the type and its hash, conversion and manifest (name → 8 hex digits of the
ID's bits) under ``cryptomatte/<key>/``, the key being the first 7 hex digits of the
type name's hash. Cryptomatte keyers (Nuke, Fusion/Resolve, Houdini, Blender) then pick
objects by name.

Our mattes are not a renderer's samples: coverage is the object's matte, and where objects
overlap their mattes are scaled to share the union (the largest matte there), in proportion
to each one's matte, so the coverages of a pixel add up to the union of the mattes.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence

import numpy as np

HASH_NAME = "MurmurHash3_32"
CONVERSION = "uint32_to_float32"
DEFAULT_TYPE = "CryptoObject"
MAX_RANKS = 16  # 8 layers; the specification suggests 6, fewer is allowed


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3_x86_32 of ``data``, as an unsigned int."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    n = len(data) - len(data) % 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        h ^= (k * c2) & mask
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[n:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        h ^= (k * c2) & mask
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    return h ^ (h >> 16)


def id_bits(name: str) -> int:
    """The 32 bits of a name's float32 ID: its hash with the exponent kept within 1..254."""
    h = murmur3_32(name.encode("utf-8"))
    exponent = min(max((h >> 23) & 0xFF, 1), 254)
    return (h & 0x807FFFFF) | (exponent << 23)


def name_id(name: str) -> np.float32:
    """The float32 ID of a name, as stored in the pixels."""
    return np.frombuffer(struct.pack("<I", id_bits(name)), dtype="<f4")[0]


def id_hex(name: str) -> str:
    """The manifest's form of a name's ID: 8 lower-case hex digits of its bits."""
    return f"{id_bits(name):08x}"


def type_key(type_name: str) -> str:
    """The 7-character metadata key of a Cryptomatte type: the start of its name's hash."""
    return f"{murmur3_32(type_name.encode('utf-8')):08x}"[:7]


def manifest(names: Sequence[str]) -> str:
    """The JSON manifest, ``{"name": "hex", ...}``, in the order given, names as they are."""
    return json.dumps({n: id_hex(n) for n in dict.fromkeys(names)}, ensure_ascii=False,
                      separators=(",", ":"))


def header(names: Sequence[str], type_name: str = DEFAULT_TYPE) -> dict[str, str]:
    """The header attributes of one Cryptomatte type holding ``names``."""
    key = f"cryptomatte/{type_key(type_name)}/"
    return {key + "name": type_name, key + "hash": HASH_NAME, key + "conversion": CONVERSION,
            key + "manifest": manifest(names)}


def ranks_for(count: int) -> int:
    """Rank levels written for ``count`` objects: every one that can overlap, in whole layers
    of two (the same for every frame of a sequence, as the specification asks)."""
    return 2 * max(1, math.ceil(min(count, MAX_RANKS) / 2))


def coverages(mattes: Sequence[np.ndarray]) -> np.ndarray:
    """Per object, its share of each pixel (float32, (N, H, W)): its matte, scaled where
    objects overlap so that the shares add up to the union (the largest matte)."""
    stack = np.stack([np.asarray(m, np.float32) for m in mattes])
    total = stack.sum(axis=0)
    union = stack.max(axis=0)
    over = total > union
    if np.any(over):
        scale = np.ones_like(total)
        scale[over] = union[over] / total[over]
        stack = stack * scale
    return stack


def channels(names: Sequence[str], mattes: Sequence[np.ndarray], ranks: int,
             type_name: str = DEFAULT_TYPE) -> dict[str, np.ndarray]:
    """The ranked ID/coverage channels of one frame: ``{type}NN.R|G|B|A`` → float32 (H, W).

    ``names[i]`` is the object whose matte is ``mattes[i]``; objects of the same name are
    one ID (their shares add up), as the specification says of equal names."""
    if len(names) != len(mattes) or not mattes:
        raise ValueError("one name per matte, and at least one matte")
    shape = np.shape(mattes[0])
    ids = {n: name_id(n) for n in names}
    unique = list(ids)
    share = coverages(mattes)
    if len(unique) < len(names):
        merged = np.zeros((len(unique), *shape), np.float32)
        for n, s in zip(names, share):
            merged[unique.index(n)] += s
        share = merged
    id_values = np.array([ids[n] for n in unique], np.float32)
    k = min(ranks, len(unique))
    ranked_id = np.zeros((k, *shape), np.float32)
    ranked_cov = np.zeros((k, *shape), np.float32)
    present = np.flatnonzero(share.reshape(len(unique), -1).max(axis=0) > 0)
    if present.size:  # rank only where some object is (most of a frame is no object)
        flat = share.reshape(len(unique), -1)[:, present]
        # by coverage, highest first; ties keep the objects' order (a stable sort)
        order = np.argsort(-flat, axis=0, kind="stable")[:k]
        cov = np.take_along_axis(flat, order, axis=0)
        ranked_cov.reshape(k, -1)[:, present] = cov
        ranked_id.reshape(k, -1)[:, present] = np.where(cov > 0, id_values[order], np.float32(0))
    out: dict[str, np.ndarray] = {}
    zero = np.zeros(shape, np.float32)
    for r in range(ranks):
        layer = f"{type_name}{r // 2:02d}"
        idc, covc = ("R", "G") if r % 2 == 0 else ("B", "A")
        out[f"{layer}.{idc}"] = ranked_id[r] if r < k else zero
        out[f"{layer}.{covc}"] = ranked_cov[r] if r < k else zero
    return out
