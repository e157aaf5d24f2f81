"""Plugin discovery and isolation, and the two plugins shipped in ``plugins/``."""

from __future__ import annotations

import importlib.metadata
import re
import textwrap

import cv2
import numpy as np
import pytest

from sam2_studio.effects import (
    API_VERSION,
    InMemoryClip,
    ObjectStack,
    RefineParams,
    Registry,
    Renderer,
    bundled_plugins_dir,
    load_registry,
)
from sam2_studio.effects import registry as registry_module

from .conftest import still

GOOD = """
from dataclasses import dataclass
import numpy as np
from sam2_studio.effects.plugin_api import Effect, Target, composite, param

@dataclass(frozen=True)
class InvertParams:
    amount: float = param(1.0, min=0, max=1, step=0.01, label="Amount")

class Invert(Effect):
    id = "invert"
    label = "Invert"
    Params = InvertParams

    def apply(self, frame, matte, params, ctx):
        return composite(frame, matte, ctx.box, ctx.outside, lambda img, _at: 255 - img)
"""

RAISES_ON_RENDER = """
from sam2_studio.effects.plugin_api import Effect

class Flaky(Effect):
    id = "flaky"
    label = "Flaky"

    def apply(self, frame, matte, params, ctx):
        raise RuntimeError("boom at frame %d" % ctx.index)
"""

WRITES_IN_PLACE = """
from sam2_studio.effects.plugin_api import Effect

class Scribble(Effect):
    id = "scribble"
    label = "Scribble"

    def apply(self, frame, matte, params, ctx):
        frame[0, 0] = 0
        return frame
"""

WRONG_SHAPE = """
import numpy as np
from sam2_studio.effects.plugin_api import Effect

class Thumbnail(Effect):
    id = "thumbnail"
    label = "Thumbnail"

    def apply(self, frame, matte, params, ctx):
        return frame[::2, ::2].copy()
"""


def write_plugins(folder, **sources):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in sources.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return folder


def frame_and_matte():
    frame = np.full((40, 50, 3), 100, np.uint8)
    matte = np.zeros((40, 50), np.float32)
    matte[10:30, 10:30] = 1
    return frame, matte


def test_discovery_loads_good_plugins_and_reports_broken_ones(tmp_path):
    user = write_plugins(
        tmp_path / "user",
        good=GOOD,
        broken_import="import a_module_that_does_not_exist\n",
        syntax_error="def oops(:\n",
        no_effects="X = 1\n",
        bad_id=GOOD.replace('id = "invert"', 'id = "Bad Id!"'),
        clash=GOOD.replace('id = "invert"', 'id = "blur"'),
        _private=GOOD.replace('id = "invert"', 'id = "hidden"'),
    )
    pkg = user / "packaged"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .effects import *\n")
    (pkg / "effects.py").write_text(
        textwrap.dedent(GOOD).replace('id = "invert"', 'id = "invert2"')
    )

    registry = load_registry(user, app_dir=tmp_path / "none", entry_points=False)
    assert registry.get("invert") is not None and registry.get("invert2") is not None
    assert registry.get("hidden") is None  # files starting with _ are not plugins
    assert registry.get("blur").__module__ == "sam2_studio.effects.stylize"  # built-in kept
    by_plugin = {p.plugin: p for p in registry.problems}
    assert set(by_plugin) == {"broken_import", "syntax_error", "no_effects", "bad_id", "clash"}
    assert "a_module_that_does_not_exist" in by_plugin["broken_import"].message
    assert "SyntaxError" in by_plugin["syntax_error"].message
    assert "already used by a built-in" in by_plugin["clash"].message
    assert by_plugin["broken_import"].details.startswith("Traceback")
    assert str(user) in by_plugin["syntax_error"].source
    # The good plugin renders.
    frame, matte = frame_and_matte()
    r = Renderer(
        still(frame, {1: matte}),
        {1: ObjectStack(effects=(registry.entry("invert"),))},
        registry=registry,
    )
    assert r.render(0).rgb[20, 20, 0] == 155


@pytest.mark.parametrize(
    ("name", "source", "words"),
    [
        ("flaky", RAISES_ON_RENDER, "boom at frame 0"),
        ("scribble", WRITES_IN_PLACE, "read-only"),
        ("thumbnail", WRONG_SHAPE, "shape"),
    ],
)
def test_a_plugin_failing_while_rendering_is_disabled_and_the_rest_renders(
    tmp_path, name, source, words
):
    registry = Registry()
    registry.load_folder(write_plugins(tmp_path, **{name: source}))
    frame, matte = frame_and_matte()
    before = frame.copy()
    stack = ObjectStack(effects=(registry.entry(name), registry.entry("erase", colour=(1, 2, 3))))
    r = Renderer(still(frame, {1: matte}), {1: stack}, registry=registry)
    out = r.render(0)
    assert [p.plugin for p in out.problems] == [name]
    assert words in out.problems[0].message
    assert tuple(out.rgb[20, 20]) == (1, 2, 3)  # the effect after it still ran
    assert np.array_equal(frame, before)  # and the source is intact
    assert registry.get(name) is None and name in registry.disabled()
    # Later frames skip it quietly and say why.
    again = r.render(0)
    assert again.problems == () and "disabled" in again.skipped[0].reason
    registry.enable(name)
    assert registry.get(name) is not None


def test_built_in_effects_errors_are_not_swallowed(registry, monkeypatch):
    frame, matte = frame_and_matte()
    r = Renderer(
        still(frame, {1: matte}),
        {1: ObjectStack(effects=(registry.entry("erase"),))},
        registry=registry,
    )

    def broken(*_args, **_kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(registry.get("erase"), "apply", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        r.render(0)


class _FakeEntryPoint:
    def __init__(self, name, value, target=None, error=None):
        self.name, self.value, self.group = name, value, registry_module.ENTRY_POINT_GROUP
        self._target, self._error = target, error

    def load(self):
        if self._error:
            raise self._error
        return self._target


def test_entry_points_are_discovered_and_failures_reported(tmp_path, monkeypatch):
    mod_dir = write_plugins(tmp_path / "site", ep_plugin=GOOD)
    monkeypatch.syspath_prepend(str(mod_dir))
    import ep_plugin  # noqa: PLC0415 - a module installed for this test only

    points = [
        _FakeEntryPoint("ep_class", "ep_plugin:Invert", target=ep_plugin.Invert),
        _FakeEntryPoint(
            "ep_missing", "gone:Thing", error=ModuleNotFoundError("No module named 'gone'")
        ),
        _FakeEntryPoint("ep_junk", "ep_plugin:X", target=42),
    ]

    def fake_entry_points(group=None):
        assert group == registry_module.ENTRY_POINT_GROUP
        return points

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    registry = Registry()
    assert registry.load_entry_points() == ["ep_class"]
    assert registry.info("invert").plugin == "ep_class"
    assert {p.plugin for p in registry.problems} == {"ep_missing", "ep_junk"}


def test_a_plugin_needing_a_newer_api_is_refused(tmp_path):
    registry = Registry()
    newer = GOOD.replace(
        '    label = "Invert"', f'    label = "Invert"\n    api_version = {API_VERSION + 1}'
    )
    registry.load_folder(write_plugins(tmp_path, newer=newer))
    assert registry.get("invert") is None
    assert "plugin API" in registry.problems[0].message


def test_a_stack_saved_with_a_plugin_renders_its_settings_once_the_plugin_is_back(tmp_path):
    data = {"effects": [{"effect": "invert", "params": {"amount": 0.5}}]}
    without = ObjectStack.from_dict(data, Registry())
    assert not without.effects[0].available
    registry = Registry()
    registry.load_folder(write_plugins(tmp_path, good=GOOD))
    frame, matte = frame_and_matte()
    out = Renderer(still(frame, {1: matte}), {1: without}, registry=registry).render(0)
    assert out.rgb[20, 20, 0] == 155 and not out.skipped


# -- the plugins shipped in plugins/ --------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    registry = load_registry(app_dir=bundled_plugins_dir(), entry_points=False)
    assert registry.problems == []
    return registry


def test_shipped_plugins_load(shipped):
    ids = {i.id for i in shipped.available() if i.plugin}
    assert {"glow_outline", "sticker"} <= ids


def test_glow_outline_lights_only_around_the_object(car, shipped):
    frame, matte = car.frames[20], car.matte(1, 20)
    entry = shipped.entry("glow_outline", width=2, glow=6)
    out = Renderer(
        still(frame, {1: matte}), {1: ObjectStack(effects=(entry,))}, registry=shipped
    ).render(0)
    diff = np.any(out.rgb != frame, axis=2)
    assert not diff[matte == 1].any()  # the object keeps its look
    dist = cv2.distanceTransform((matte == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert diff[(dist >= 1) & (dist <= 2)].mean() > 0.95
    assert not diff[dist > 2 + 1.5 * 6 + 3].any()
    assert (out.rgb.astype(int) >= frame).all()  # light only adds


def test_sticker_follows_the_object_steadily(car, shipped):
    n = 16
    rng = np.random.default_rng(1)
    jittery = []
    for t in range(n):
        m = car.masks[1][t].copy()
        if rng.random() < 0.5:  # a tracker adding a stray bit above the roof now and then
            ys, xs = np.nonzero(m)
            m[max(0, ys.min() - 12) : ys.min(), xs.min() : xs.min() + 20] = 255
        jittery.append(m)
    clip_frames = car.frames[:n]

    def sticker_tops(steadiness):
        stack = ObjectStack(
            effects=(shipped.entry("sticker", anchor="above", size=0.2, steadiness=steadiness),)
        )
        r = Renderer(InMemoryClip(clip_frames, {1: jittery}), {1: stack}, registry=shipped)
        tops = []
        for t in range(3, n - 3):
            diff = np.any(r.render(t).rgb != clip_frames[t], axis=2)
            ys, xs = np.nonzero(diff)
            tops.append((ys.min(), (xs.min() + xs.max()) / 2))
        return np.array(tops, float)

    steady, raw = sticker_tops(4), sticker_tops(0)
    # It follows the car (which drives left across the clip)...
    car_x = [np.nonzero(car.masks[1][t])[1].mean() for t in range(3, n - 3)]
    assert np.corrcoef(steady[:, 1], car_x)[0, 1] > 0.9
    # ...and jitters less than when it sticks to each frame's mask.
    assert np.abs(np.diff(steady[:, 0])).mean() < 0.5 * np.abs(np.diff(raw[:, 0])).mean()


def test_sticker_reports_an_unreadable_image_by_name(tmp_path, car, shipped):
    missing = tmp_path / "nope.png"
    registry = load_registry(app_dir=bundled_plugins_dir(), entry_points=False)
    entry = registry.entry("sticker", image=str(missing))
    r = Renderer(
        still(car.frames[0], {1: car.matte(1, 0)}),
        {1: ObjectStack(RefineParams(), (entry,))},
        registry=registry,
    )
    out = r.render(0)
    assert (
        out.problems
        and out.problems[0].plugin == "sticker"
        and "nope.png" in out.problems[0].message
    )


def test_the_readme_template_is_a_working_plugin(tmp_path):
    readme = (bundled_plugins_dir() / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    registry = Registry()
    assert registry.load_folder(write_plugins(tmp_path, my_tint=code)) == ["my_tint"]
    frame, matte = frame_and_matte()
    out = Renderer(
        still(frame, {1: matte}),
        {1: ObjectStack(effects=(registry.entry("my_tint"),))},
        registry=registry,
    ).render(0)
    assert np.any(out.rgb[20, 20] != 100) and np.all(out.rgb[0, 0] == 100)
