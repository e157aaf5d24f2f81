"""``sam2-studio batch --ray``: the same shots as Ray tasks, on a local Ray cluster.

One cluster for the module (Ray takes seconds to start). Its workers import this checkout
(PYTHONPATH), as every node of a real cluster has sam2-studio installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ray

from sam2_studio.media import read_matte
from sam2_studio.project import load
from tests.ground_truth import GroundTruthSource

from .batch_support import write_jobs
from .headless import cli, write_prompts

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield ray.cluster_resources()
    ray.shutdown()


def test_three_shots_on_ray_one_corrupt_then_resume(cluster, tmp_path, car):
    d = tmp_path
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    write_prompts(d / "p.json", [{"frame": 2, "object": "car", "box": car.box(2)}])
    jobs = write_jobs(d / "jobs.json", [
        {"shot": "sh010", "video": str(car.video), "prompts": "p.json", "project": "sh010.s2s",
         "mattes": "sh010", "format": "png8", "start": 1001},
        {"shot": "sh020", "video": "corrupt.mp4", "prompts": "p.json", "project": "sh020.s2s"},
        {"shot": "sh030", "video": str(car.video), "prompts": "p.json", "render": "sh030.mp4",
         "effects": {"*": [{"effect": "colour_pop", "target": "background"}]}},
    ])
    source = GroundTruthSource(car.truth)
    r = cli(["batch", jobs, "--ray", "auto"], source)
    assert r.code == 1, r.err  # one shot failed; the others are done
    assert "Ray cluster: 2 CPUs, 0 GPUs; a shot takes 0 GPU, 1 CPU" in r.err
    assert f"sh020: attempt 1 failed: {d / 'corrupt.mp4'}: " in r.err
    rows = {line.split()[0]: line for line in r.out.splitlines()[1:-1]}
    assert rows["sh010"].split()[1] == "10" and rows["sh010"].endswith("done")
    assert rows["sh030"].endswith("done")
    assert f"FAILED after 2 attempts: {d / 'corrupt.mp4'}" in rows["sh020"]
    assert "started on ray node " in r.err and "WARNING: TEST ENGINE" in r.err

    # the outputs, written by the Ray workers to the jobs file's paths
    assert load(d / "sh010.s2s").mask_frames(1) == list(range(10))
    for f in (0, 2, 9):
        matte = read_matte(d / "sh010" / f"car_matte.{1001 + f}.png")
        assert np.array_equal(matte == 255, car.mask(f))
    assert (d / "sh030.mp4").stat().st_size > 0 and not (d / "sh020.s2s").exists()
    assert not source.sessions  # the shots ran in Ray's processes, not here

    # the rerun submits only the failed shot
    r = cli(["batch", jobs, "--ray", "auto", "--retries", "0"], source)
    assert r.code == 1 and "sh010: skipped, complete" in r.err and "sh030: skipped" in r.err
    assert "sh020: FAILED: " in r.err and "sh010: started" not in r.err
