"""Loading checkpoints: the good path, and a clear CheckpointError for each way a file can be bad."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch

from sam2_studio.errors import StudioError
from sam2_studio.model import CheckpointError, build_model, load_checkpoint


@pytest.fixture(scope="module")
def tiny_state():
    torch.manual_seed(0)
    return build_model("sam2.1_hiera_tiny", device="cpu").state_dict()


@pytest.fixture(scope="module")
def good_file(tmp_path_factory, tiny_state):
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": tiny_state}, path)
    return path


def test_loads_an_official_layout_and_detects_the_variant(good_file, tiny_state):
    model = load_checkpoint(good_file, device="cpu")
    assert model.config.name == "sam2.1_hiera_tiny"
    got = model.state_dict()
    assert all(torch.equal(got[k], tiny_state[k]) for k in tiny_state)
    assert not model.training


def test_given_variant_is_checked(good_file):
    assert load_checkpoint(good_file, variant="sam2.1_hiera_tiny", device="cpu").config.sam2_1
    with pytest.raises(CheckpointError, match="variant mismatch: the file holds sam2.1_hiera_tiny, not sam2_hiera_small"):
        load_checkpoint(good_file, variant="sam2_hiera_small")


def _expect(path, pattern, **kw):
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_checkpoint(path, **kw)
    assert str(path) in str(info.value), "the message must name the file"
    assert isinstance(info.value, StudioError)
    return info.value


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.pt", "file not found")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.pt"
    p.write_bytes(b"")
    _expect(p, "empty")


def test_truncated_file(tmp_path, good_file):
    p = tmp_path / "half.pt"
    data = good_file.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _expect(p, "truncated")


def test_not_a_torch_file(tmp_path):
    p = tmp_path / "notes.pt"
    p.write_text("these are not weights\n")
    _expect(p, "not a PyTorch checkpoint")
    z = tmp_path / "other.pt"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("hello.txt", "a zip, but not torch's")
    _expect(z, "damaged")


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    p = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, p, pickle_module=pickle)
    _expect(p, "would run code")
    assert not (tmp_path / "pwned").exists()


def test_not_a_sam2_checkpoint_lists_names(tmp_path):
    p = tmp_path / "resnet.pt"
    torch.save({"model": {"conv1.weight": torch.zeros(3), "fc.bias": torch.zeros(2)}}, p)
    err = _expect(p, "not a SAM 2 checkpoint")
    assert "conv1.weight" in str(err) and "missing" in str(err)
    q = tmp_path / "list.pt"
    torch.save([1, 2, 3], q)
    _expect(q, "not a SAM 2 checkpoint")


def test_missing_and_unexpected_tensors(tmp_path, tiny_state):
    state = dict(tiny_state)
    del state["memory_encoder.out_proj.weight"]
    state["extra.thing"] = torch.zeros(1)
    p = tmp_path / "edited.pt"
    torch.save({"model": state}, p)
    err = _expect(p, "not a complete sam2.1_hiera_tiny checkpoint")
    assert "memory_encoder.out_proj.weight" in str(err) and "extra.thing" in str(err)


def test_shape_mismatch_names_the_tensor(tmp_path, tiny_state):
    state = dict(tiny_state)
    state["sam_mask_decoder.iou_token.weight"] = torch.zeros(1, 128)
    p = tmp_path / "bad_shape.pt"
    torch.save({"model": state}, p)
    _expect(p, r"shape mismatch for sam_mask_decoder.iou_token.weight: the file has \[1, 128\]")
