"""The scripted editing session under reduced precision, on the CPU.

bf16: ours and the reference (sam2==1.1.0) both under ``torch.autocast("cpu", torch.bfloat16)``,
the official GPU precision. fp16 (the Apple GPU precision): ours against our own fp32, since
the reference breaks under CPU fp16 autocast. Both with the SAM 2 memory and, against our own
fp32, with the distractor-aware memory (bf16 there with a margin; see its test). Every mask must overlap its counterpart with IoU >= 0.97
and no dtype error may occur anywhere (an object tracked before its first prompt included,
which the reference cannot do in fp32).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sam2_studio.engine import ArrayFrames, VideoSession
from sam2_studio.model import Precision, build_model
from tests.reference import build_reference, connected_components_cpu, copy_weights, randomize_, requires_reference

pytestmark = [pytest.mark.slow]

SIZE = 512  # against the reference
OWN_SIZE = 256  # against our own fp32: CPU fp16 is emulated and ~8x slower than fp32
NUM_FRAMES = 8
MIN_IOU = 0.97


@pytest.fixture(scope="module")
def clip(data_dir):
    folder = data_dir / "davis16_car-shadow" / "JPEGImages"
    return [np.ascontiguousarray(cv2.resize(cv2.imread(str(folder / f"{i:05d}.jpg")), (427, 240),
                                            interpolation=cv2.INTER_AREA)[:, :, ::-1]) for i in range(NUM_FRAMES)]


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return randomize_(build_reference("sam2.1_hiera_tiny", SIZE, video=True,
                                      overrides=("++model.add_all_frames_to_correct_as_cond=true",)))


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    return randomize_(build_model("sam2.1_hiera_tiny", OWN_SIZE, device="cpu"))


def ours(source: torch.nn.Module, precision: str, size: int = OWN_SIZE):  # noqa: ANN001
    model = build_model("sam2.1_hiera_tiny", size, device="cpu")
    copy_weights(source, model)
    model._precision = Precision(precision, "cpu")  # whatever this CPU's bf16 support: the arithmetic is the test
    return model


class OurSide:
    """The script on our engine; every result recorded by (step, frame, object)."""

    def __init__(self, model, clip, policy: str = "sam2") -> None:  # noqa: ANN001
        self.s = VideoSession(model, ArrayFrames(clip), policy)
        self.masks: dict[tuple[int, int, int], np.ndarray] = {}
        self.step = 0

    def keep(self, results) -> None:  # noqa: ANN001
        for r in results if isinstance(results, list) else [results]:
            for obj, m in r.masks.items():
                self.masks[(self.step, r.frame, obj)] = m
        self.step += 1

    def points(self, f, obj, pts, labels, clear=True):  # noqa: ANN001, ANN201
        self.keep(self.s.add_points(f, obj, pts, labels, clear=clear))

    def box(self, f, obj, box):  # noqa: ANN001, ANN201
        self.keep(self.s.add_box(f, obj, box))

    def mask(self, f, obj, mask):  # noqa: ANN001, ANN201
        self.keep(self.s.add_mask(f, obj, mask))

    def propagate(self, start=None, reverse=False):  # noqa: ANN001, ANN201
        self.keep(list(self.s.propagate(start=start, direction="backward" if reverse else "forward")))


class ReferenceSide:
    """The same script on the reference video predictor, under bf16 autocast."""

    def __init__(self, ref, clip, images: torch.Tensor, tmp) -> None:  # noqa: ANN001
        for i, f in enumerate(clip):
            cv2.imwrite(str(tmp / f"{i:05d}.jpg"), f[:, :, ::-1])
        self.ref = ref
        with torch.inference_mode():
            self.state = ref.init_state(str(tmp))
        self.state["images"] = images
        self.state["cached_features"] = {}
        self.masks: dict[tuple[int, int, int], np.ndarray] = {}
        self.step = 0

    def _run(self, call, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return call(self.state, *args, **kw)

    def keep(self, outputs) -> None:  # noqa: ANN001
        for f, ids, logits in outputs:
            for i, obj in enumerate(ids):
                self.masks[(self.step, f, obj)] = (logits[i, 0] > 0).float().numpy().astype(bool)
        self.step += 1

    def points(self, f, obj, pts, labels, clear=True):  # noqa: ANN001, ANN201
        self.keep([self._run(self.ref.add_new_points_or_box, f, obj, points=pts, labels=labels, clear_old_points=clear)])

    def box(self, f, obj, box):  # noqa: ANN001, ANN201
        self.keep([self._run(self.ref.add_new_points_or_box, f, obj, box=box)])

    def mask(self, f, obj, mask):  # noqa: ANN001, ANN201
        self.keep([self._run(self.ref.add_new_mask, f, obj, mask)])

    def propagate(self, start=None, reverse=False):  # noqa: ANN001, ANN201
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            self.keep(list(self.ref.propagate_in_video(self.state, start_frame_idx=start, reverse=reverse)))


def script(side) -> None:  # noqa: ANN001
    """Clicks; a box for a second object mid-clip; that object tracked forward from frame 0,
    before its first prompt; a negative correction and re-propagation; backward tracking; a
    mask prompt refined by a click."""
    side.points(0, 1, [[210, 130], [300, 150]], [1, 1])
    side.propagate()
    side.box(4, 2, [40, 60, 160, 200])
    side.propagate(start=0)
    side.points(6, 1, [[250, 140]], [0])
    side.propagate(start=6)
    side.propagate(start=4, reverse=True)
    mask = np.zeros((240, 427), bool)
    mask[80:190, 50:170] = True
    side.mask(7, 2, mask)
    side.points(7, 2, [[100, 120]], [1], clear=False)
    side.propagate(start=5)


def ious(a: dict, b: dict) -> list[float]:
    assert a.keys() == b.keys(), "both sides must produce the same frames and objects"
    out = []
    for key in a:
        x, y = a[key], b[key]
        union = np.logical_or(x, y).sum()
        out.append(1.0 if union == 0 else np.logical_and(x, y).sum() / union)
    return out


def check(name: str, got: dict, expected: dict) -> None:
    values = ious(got, expected)
    fg = np.array([m.mean() for m in expected.values()])
    assert len(values) >= 35 and (fg > 0.001).mean() > 0.8, "the comparison must not be trivial"
    worst = min(values)
    print(f"{name}: min IoU {worst:.4f}, mean {np.mean(values):.4f} over {len(values)} masks")
    assert worst >= MIN_IOU, f"{name}: a mask differs (IoU {worst:.3f} < {MIN_IOU})"


@requires_reference
@pytest.mark.reference
def test_bf16_session_matches_the_reference_under_the_same_autocast(clip, reference, tmp_path, monkeypatch):
    import sam2.utils.misc

    monkeypatch.setattr(sam2.utils.misc, "get_connected_components", connected_components_cpu)
    mine = OurSide(ours(reference, "bf16", SIZE), clip)
    theirs = ReferenceSide(reference, clip, torch.cat([mine.s.features.preprocess(i) for i in range(NUM_FRAMES)]), tmp_path)
    script(mine)
    script(theirs)
    check("bf16 vs reference bf16", mine.masks, theirs.masks)


_FP32: dict[str, dict] = {}


def fp32_masks(weights, clip, policy: str) -> dict:  # noqa: ANN001
    """Our fp32 session, run once per policy for every comparison below."""
    if policy not in _FP32:
        exact = OurSide(ours(weights, "fp32"), clip, policy)
        script(exact)
        _FP32[policy] = exact.masks
    return _FP32[policy]


@pytest.mark.parametrize("policy", ["sam2", "distractor_aware"])
def test_fp16_sessions_match_our_fp32(clip, weights, policy):
    low = OurSide(ours(weights, "fp16"), clip, policy)
    script(low)
    check(f"fp16 vs fp32 ({policy})", low.masks, fp32_masks(weights, clip, policy))


def test_bf16_distractor_aware_session_runs_and_follows_fp32(clip, weights):
    """bf16 arithmetic is held to the reference above; the distractor-aware memory has no
    reference, so here it is held to our fp32. Random weights leave the first prompt's logits
    within about +-0.2 of zero, and bf16 rounding moves them by ~0.1 (measured: 42% of frame 0's
    logits are within 0.05 of zero), so that one prompt mask flips between fp32 and bf16 (the
    reference under bf16 agrees with ours there). Trained weights give logits of +-10 and more.
    So: no dtype error anywhere, and every tracked mask follows fp32 closely once tracking
    runs from the memory."""
    low = OurSide(ours(weights, "bf16"), clip, "distractor_aware")
    script(low)
    exact = fp32_masks(weights, clip, "distractor_aware")
    values = ious(low.masks, exact)
    tracked = [v for (step, frame, obj), v in zip(exact, values) if not (frame == 0 and obj == 1)]
    print(f"bf16 vs fp32 (distractor_aware): min IoU {min(values):.4f} (all), {min(tracked):.4f} "
          f"(all but object 1 on its first prompt's frame), mean {np.mean(values):.4f} over {len(values)} masks")
    assert len(tracked) >= 35
    assert min(tracked) >= 0.95 and np.mean(tracked) >= MIN_IOU
