"""``sam2-studio export --format exr-layers|cryptomatte`` and ``--detail`` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2_studio.app.rendering import stack_fields, stack_of
from sam2_studio.effects import RefineParams
from sam2_studio.media import cryptomatte as cm
from sam2_studio.project import load, save

from .headless import cli
from .test_export import project  # noqa: F401 - the car tracked by the ground-truth engine

OpenEXR = pytest.importorskip("OpenEXR")


def read(path):  # noqa: ANN001, ANN201
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return dict(f.header()), {k: np.array(v.pixels) for k, v in f.channels().items()}


def test_a_layer_per_object_with_the_plate(tmp_path, car, project):  # noqa: F811
    folder = tmp_path / "layers"
    r = cli(["export", project, "--mattes", folder, "--format", "exr-layers", "--start", "1001",
             "--rgb", "--compression", "piz", "--float"])
    assert r.code == 0, r.err
    files = sorted(folder.iterdir())
    assert [p.name for p in files] == [f"matte_layers.{1001 + f}.exr" for f in range(10)]
    for f, path in enumerate(files):
        header, ch = read(path)
        assert sorted(ch) == ["B", "G", "R", "car.A"] and ch["car.A"].dtype == np.float32
        assert header["compression"] == OpenEXR.PIZ_COMPRESSION
        assert np.array_equal(ch["car.A"] == 1.0, car.mask(f)) and np.all((ch["car.A"] == 0) | (ch["car.A"] == 1))
    assert json.loads(header["sam2studio/layers"]) == {"car": "car"}


def test_cryptomatte_on_the_command_line(tmp_path, car, project):  # noqa: F811
    folder = tmp_path / "crypto"
    r = cli(["export", project, "--mattes", folder, "--format", "cryptomatte", "--start", "0"])
    assert r.code == 0, r.err
    header, ch = read(folder / "cryptomatte.0004.exr")
    key = cm.type_key("CryptoObject")
    assert json.loads(header[f"cryptomatte/{key}/manifest"]) == {"car": cm.id_hex("car")}
    assert np.array_equal(ch["CryptoObject00.R"] == cm.name_id("car"), car.mask(4))
    assert np.array_equal(ch["CryptoObject00.G"], car.mask(4).astype(np.float32))


@pytest.mark.parametrize("argv, words", [
    (["--format", "png16", "--rgb"], "--rgb applies to --format exr-layers or cryptomatte"),
    (["--format", "cryptomatte", "--compression", "dwaa"], "lossy and would change the Cryptomatte IDs"),
    (["--format", "exr-layers", "--model", "sam2.1_hiera_tiny"], "add --detail"),
])
def test_options_that_do_not_fit(tmp_path, project, argv, words):  # noqa: F811
    r = cli(["export", project, "--mattes", tmp_path / "m", *argv])
    assert r.code == 2 and words in r.err, r.err


@pytest.mark.slow
def test_detail_with_a_model_and_the_projects_switch(tmp_path, car, project):  # noqa: F811
    doc = load(project)
    doc.update_object(1, **stack_fields(stack_of(doc.object(1)).with_refine(RefineParams(detail=True))))
    save(doc, project)
    # without --detail: no model is loaded, the tracked masks are written, and a note says so
    r = cli(["export", project, "--mattes", tmp_path / "plain", "--format", "png8"])
    assert r.code == 0 and "car: the detail pass is on in the project; add --detail" in r.err, r.err
    # with it: a model (random weights here: plumbing only) refines every exported object
    r = cli(["export", project, "--mattes", tmp_path / "fine", "--format", "exr-layers", "--detail",
             "--random-weights", "--image-size", "128"])
    assert r.code == 0, r.err
    assert "RANDOM WEIGHTS" in r.err and "detail pass: " in r.out and "of 10 object-frames refined" in r.out, r.out
    refined = [read(p)[1]["car.A"] for p in sorted((tmp_path / "fine").iterdir())]
    assert len(refined) == 10 and any(not np.array_equal(m > 0.5, car.mask(f)) for f, m in enumerate(refined))
    assert load(project).object(1).refinement.value["refine"]["detail"] is True  # the file is untouched
