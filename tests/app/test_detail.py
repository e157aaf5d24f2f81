"""The detail pass in the app: the cache follows each frame's mask, the model worker runs the
passes (one owner of the model), the live preview shows them, exports wait for them."""

from __future__ import annotations

import queue
import time
from fractions import Fraction

import numpy as np
import pytest

from sam2_studio.app.detail import (DetailCache, DetailError, DetailRefined, DetailService, DirectDetail,
                                    RefineDetail, detail_enabled)
from sam2_studio.app.export import ExportError, ExportKind, ExportSettings, run_export
from sam2_studio.app.model_source import RandomWeights
from sam2_studio.app.preview import PreviewRequest, PreviewService
from sam2_studio.app.rendering import DocumentFrames, make_renderer, stack_fields, stack_of
from sam2_studio.app.worker import LoadModel, ModelLoaded, ModelWorker
from sam2_studio.effects import RefineParams
from sam2_studio.engine.detail import DetailResult
from sam2_studio.engine.crops import Region
from sam2_studio.media import read_matte
from sam2_studio.project import Document, EncodedMask, VideoInfo
from tests.app.test_worker import Events as WorkerEvents
from tests.ground_truth import load_clip


@pytest.fixture(scope="module")
def car(data_dir):
    return load_clip(data_dir / "davis16_car-shadow", count=3, scale=0.5)


@pytest.fixture(scope="module")
def loaded():
    return RandomWeights(image_size=128).load()


class Reader:
    def __init__(self, frames):  # noqa: ANN001
        self.frames = frames

    def get(self, i: int) -> np.ndarray:
        return self.frames[i]


def make_doc(tmp_path, car, detail=True) -> Document:  # noqa: ANN001
    video = tmp_path / "car.mp4"
    video.write_bytes(b"\0" * 1000)
    w, h = car.size
    doc = Document(VideoInfo.from_file(video, width=w, height=h, frame_count=len(car.frames), fps="25"))
    a = doc.add_object("car")
    b = doc.add_object("plain")
    doc.set_masks({(a.id, f): car.mask(f, 1) for f in range(len(car.frames))})
    doc.set_masks({(b.id, f): car.mask(f, 1) for f in range(len(car.frames))})
    if detail:
        doc.update_object(a.id, **stack_fields(stack_of(doc.object(a.id)).with_refine(RefineParams(detail=True))))
    return doc


def result_for(mask: np.ndarray, value: float) -> DetailResult:
    region = Region(0, 0, mask.shape[1], mask.shape[0])
    return DetailResult(region, np.full(mask.shape, value, np.float32))


def test_the_switch_is_saved_with_the_refinement(tmp_path, car):
    doc = make_doc(tmp_path, car)
    assert [detail_enabled(o) for o in doc.objects] == [True, False]
    assert doc.object(1).refinement.value["refine"]["detail"] is True


def test_the_cache_follows_the_frames_mask(car):
    mask = car.mask(0, 1)
    enc = EncodedMask.encode(mask)
    cache = DetailCache(max_bytes=3 * mask.size * 4)
    cache.put(1, 0, enc, result_for(mask, 0.5))
    assert cache.get(1, 0, EncodedMask.encode(mask.copy())) is not None  # the same mask, another copy
    changed = mask.copy()
    changed[0, 0] = not changed[0, 0]
    assert cache.get(1, 0, EncodedMask.encode(changed)) is None  # that frame's mask changed
    assert cache.get(1, 0, enc) is None  # and the stale entry is gone
    for f in range(5):
        cache.put(1, f, enc, result_for(mask, 0.5))
    assert len(cache) == 3  # bounded in bytes, oldest out


def test_only_objects_that_ask_get_the_detail_matte(tmp_path, car):
    doc = make_doc(tmp_path, car)
    asked = []

    def detail(obj, index, encoded, frame):  # noqa: ANN001
        asked.append((obj, index))
        assert np.array_equal(frame(index), car.frames[index])
        return np.full(encoded.shape, 0.25, np.float32)

    frames = DocumentFrames(doc, Reader(car.frames), detail=detail)
    assert np.all(frames.matte(1, 2) == 0.25) and np.array_equal(frames.matte(2, 2), car.mask(2, 1))
    assert asked == [(1, 2)]
    none = DocumentFrames(doc, Reader(car.frames), detail=lambda *a: None)
    assert np.array_equal(none.matte(1, 2), car.mask(2, 1))  # not ready: the tracked mask


def test_an_export_uses_the_pass_and_never_quietly_skips_it(tmp_path, car):
    doc = make_doc(tmp_path, car)
    s = ExportSettings(ExportKind.MATTES, tmp_path / "m.%04d.exr", 0, 1, objects=(1, 2),
                       matte_format="exr-layers", start_number=0)
    with pytest.raises(ExportError, match="car has the detail pass on, which needs a model"):
        run_export(doc, Reader(car.frames), s, fps=Fraction(25))
    run_export(doc, Reader(car.frames), s, fps=Fraction(25),
               detail=lambda obj, i, enc, frame: np.full(enc.shape, 0.25 + i / 4, np.float32))
    import OpenEXR

    with OpenEXR.File(str(tmp_path / "m.0001.exr"), separate_channels=True) as f:
        ch = {k: np.array(v.pixels) for k, v in f.channels().items()}
    assert np.all(ch["car.A"] == 0.5) and np.array_equal(ch["plain.A"] > 0.5, car.mask(1, 1))
    unrefined = ExportSettings(ExportKind.MATTES, tmp_path / "r.%04d.png", 0, 0, objects=(1,),
                               matte_format="png8", refined=False)
    run_export(doc, Reader(car.frames), unrefined, fps=Fraction(25))  # raw masks: no model needed
    assert np.array_equal(read_matte(tmp_path / "r.0001.png") > 0.5, car.mask(0, 1))


def test_direct_detail_runs_the_model_and_counts(car, loaded):
    direct = DirectDetail(loaded.model)
    enc = EncodedMask.encode(car.mask(1, 1))
    m = direct(1, 1, enc, lambda i: car.frames[i])
    assert m is not None and m.shape == enc.shape and direct.stats.refined == 1
    assert direct(1, 1, enc, lambda i: car.frames[i]) is m or direct.stats.passes == 1  # cached
    assert "1 of 1 object-frames refined" in str(direct.stats)


class Events(WorkerEvents):
    """The worker's events, seen by the detail service first (as the main window does)."""

    def __init__(self, service: DetailService) -> None:
        super().__init__()
        self.service = service

    def __call__(self, event) -> None:  # noqa: ANN001
        self.service.on_worker_event(event)
        super().__call__(event)


class Preloaded:
    """A model source that hands over a model already built (the module's random one)."""

    def __init__(self, loaded) -> None:  # noqa: ANN001
        self.loaded = loaded
        self.description = "preloaded"

    def load(self):  # noqa: ANN201
        return self.loaded


@pytest.fixture
def service_and_worker(loaded):
    holder: dict = {}
    service = DetailService(lambda c: holder["w"].submit(c))
    events = Events(service)
    worker = holder["w"] = ModelWorker(events)
    yield service, worker, events
    worker.stop()


def test_the_worker_answers_drops_what_nobody_wants_and_says_when_it_cannot(service_and_worker, car, loaded):
    service, worker, events = service_and_worker
    enc = EncodedMask.encode(car.mask(0, 1))
    worker.submit(RefineDetail(1, 1, 0, enc, car.frames[0]))
    answer = events.wait_for(DetailRefined)
    assert answer.problem == "no model is loaded" and answer.result is None
    with pytest.raises(DetailError, match="object 1 on frame 0 could not run: no model is loaded"):
        service.blocking()(1, 0, enc, lambda i: car.frames[i])
    worker.submit(LoadModel(Preloaded(loaded)))
    events.wait_for(ModelLoaded)
    worker.submit(RefineDetail(2, 1, 0, enc, car.frames[0], wanted=lambda: False))
    assert events.wait_for(DetailRefined).dropped
    matte = service.blocking()(1, 0, enc, lambda i: car.frames[i])  # waits for the worker
    assert matte is not None and matte.shape == enc.shape
    assert service.cache.get(1, 0, enc) is not None


def test_the_live_preview_shows_the_pass_of_the_frame_shown(tmp_path, service_and_worker, car, loaded):
    service, worker, events = service_and_worker
    worker.submit(LoadModel(Preloaded(loaded)))
    events.wait_for(ModelLoaded)
    doc = make_doc(tmp_path, car)
    shown: queue.Queue = queue.Queue()
    reader = Reader(car.frames)
    renderer = make_renderer(doc, reader, detail=service.preview)
    preview = PreviewService(reader.get, shown.put, renderer)
    try:
        service.show(2)
        preview.request(PreviewRequest(2, matte_objects=(1,)))
        first = shown.get(timeout=30)
        assert np.array_equal(first.matte > 0.5, car.mask(2, 1))  # the tracked mask, at once
        answer = events.wait_for(DetailRefined)
        assert (answer.obj, answer.frame) == (1, 2) and answer.result.refined
        preview.invalidate(1, [2])  # what the editor does when the answer arrives
        preview.request(PreviewRequest(2, matte_objects=(1,)))
        second = shown.get(timeout=30)
        np.testing.assert_array_equal(second.matte, answer.result.matte(car.mask(2, 1).shape))
        # the mask of the frame changes: the pass runs again for the new mask
        changed = car.mask(2, 1).copy()
        changed[:, : changed.shape[1] // 2] = False
        doc.set_mask(1, 2, changed)
        preview.invalidate(1, [2])
        preview.request(PreviewRequest(2, matte_objects=(1,)))
        third = shown.get(timeout=30)
        assert np.array_equal(third.matte > 0.5, changed)  # tracked again until the new answer
        again = events.wait_for(DetailRefined)
        assert again.mask == EncodedMask.encode(changed)
        # a frame the viewer does not show is not computed for the preview
        assert service.preview(1, 0, doc.encoded_mask(1, 0), reader.get) is None
        time.sleep(0.2)
        assert worker.pending == 0
        assert not [e for e in list(events.q.queue) if isinstance(e, DetailRefined)]
    finally:
        preview.stop()
