"""Cryptomatte IDs against the specification's published examples, and the ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2_studio.media import cryptomatte as cm

# Published name → ID pairs. The first three are the specification's own manifest example
# (Psyop/Cryptomatte, specification/cryptomatte_specification, "Manifest"); the rest are
# from its sample images: debug_images/special_chars.exr (quotes, slashes, commas, Cyrillic)
# and sidecar_manifest/bunny_CryptoObject_manifest.json, whose hashes had their exponent
# clamped: 255 → 254 (7f0e5296, and negative: ff575310) and 0 → 1 (008586a5).
PUBLISHED = {
    "bunny": "13851a76",
    "default": "42c9679f",
    "bunny_porcelain_mat": "b24b26d4",
    'name containing a "quote"  ': "af8bfa09",
    "name_containing/slash": "b0a04231",
    "равнина": "9623511e",
    "name, with, comma": "62fa4db8",
    "flowerA.flowerA_petal1.:1065": "7f0e5296",
    "flowerA.flowerA_petal13.:1823": "ff575310",
    "flowerA.flowerA_petal11.:778": "008586a5",
}


@pytest.mark.parametrize("name, expected", PUBLISHED.items())
def test_names_hash_to_the_published_ids(name, expected):
    assert cm.id_hex(name) == expected
    value = cm.name_id(name)
    assert np.isfinite(value) and value != 0
    assert f"{np.float32(value).view(np.uint32):08x}" == expected  # the pixel holds those bits


def test_the_exponent_is_clamped_only_where_it_must_be():
    raw = cm.murmur3_32(b"flowerA.flowerA_petal1.:1065")
    assert (raw >> 23) & 0xFF == 255 and f"{raw:08x}" != PUBLISHED["flowerA.flowerA_petal1.:1065"]
    assert cm.murmur3_32(b"bunny") == 0x13851A76  # plain hash where no clamp is needed
    assert cm.murmur3_32(b"") == 0 and cm.murmur3_32(b"", seed=1) == 0x514E28B7  # MurmurHash3's own vectors


def test_header_names_type_hash_conversion_and_manifest():
    h = cm.header(["car", "rider", "car"])
    key = cm.type_key("CryptoObject")
    assert key == f"{cm.murmur3_32(b'CryptoObject'):08x}"[:7] == "3ae39a5"
    assert h == {f"cryptomatte/{key}/name": "CryptoObject", f"cryptomatte/{key}/hash": "MurmurHash3_32",
                 f"cryptomatte/{key}/conversion": "uint32_to_float32",
                 f"cryptomatte/{key}/manifest": h[f"cryptomatte/{key}/manifest"]}
    assert json.loads(h[f"cryptomatte/{key}/manifest"]) == {"car": cm.id_hex("car"), "rider": cm.id_hex("rider")}


def test_ranked_pairs_add_up_to_the_union_where_objects_overlap():
    h, w = 6, 8
    a = np.zeros((h, w), np.float32)
    b = np.zeros((h, w), np.float32)
    c = np.zeros((h, w), np.float32)
    a[:, :5] = 1.0
    b[:, 3:] = 1.0
    b[0, 3] = 0.5  # a soft edge inside a's matte
    c[2:4, 4:7] = 0.25  # a faint third object over both
    ch = cm.channels(["a", "b", "c"], [a, b, c], cm.ranks_for(3))
    assert sorted(ch) == sorted(f"CryptoObject0{i}.{c}" for i in range(2) for c in "RGBA")
    ids = np.stack([ch["CryptoObject00.R"], ch["CryptoObject00.B"], ch["CryptoObject01.R"], ch["CryptoObject01.B"]])
    cov = np.stack([ch["CryptoObject00.G"], ch["CryptoObject00.A"], ch["CryptoObject01.G"], ch["CryptoObject01.A"]])
    union = np.maximum(np.maximum(a, b), c)
    np.testing.assert_allclose(cov.sum(axis=0), union, atol=1e-6)
    assert np.all(np.diff(cov, axis=0) <= 1e-7)  # ranked, highest first
    assert np.all(ids[cov == 0] == 0) and np.all(ids[3] == 0)  # no object: ID 0
    # what a keyer extracts for each name: its share, ids matched bit for bit
    def key(name):  # noqa: ANN001, ANN202
        return np.where(ids == cm.name_id(name), cov, 0).sum(axis=0)
    np.testing.assert_allclose(key("a")[:, :3], 1.0)
    np.testing.assert_allclose(key("a")[1, 3:5] + key("b")[1, 3:5], 1.0)  # overlap shared
    np.testing.assert_allclose(key("a")[1, 3], 0.5)
    np.testing.assert_allclose(key("a")[0, 3], 1 / 1.5, rtol=1e-6)  # in proportion to the mattes
    np.testing.assert_allclose(key("c")[2, 5] + key("b")[2, 5], 1.0)
    np.testing.assert_allclose(key("c")[2, 5], 0.25 / 1.25, rtol=1e-6)


def test_equal_names_are_one_id():
    a = np.zeros((2, 4), np.float32)
    b = np.zeros((2, 4), np.float32)
    a[:, :2] = 1
    b[:, 1:3] = 1
    ch = cm.channels(["cone", "cone"], [a, b], cm.ranks_for(1))
    assert np.all(ch["CryptoObject00.B"] == 0)  # one ID: nothing in rank 1
    np.testing.assert_allclose(ch["CryptoObject00.G"], np.maximum(a, b))
