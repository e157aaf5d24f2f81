"""The renderer's defined order, background hold-outs, alpha, caching, and stacks in JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2_studio.effects import (
    EffectEntry,
    EffectError,
    InMemoryClip,
    ObjectStack,
    RefineParams,
    Renderer,
    Target,
)

from .conftest import still, textured

H, W = 60, 80


def boxes():
    frame = textured((H, W), seed=9)
    a = np.zeros((H, W), np.float32)
    a[10:40, 10:40] = 1
    b = np.zeros((H, W), np.float32)
    b[25:55, 30:70] = 1  # overlaps a in [25:40, 30:40]
    return frame, a, b


def is_grey(px: np.ndarray) -> np.ndarray:
    px = px.astype(int)
    return np.abs(px - px.mean(axis=-1, keepdims=True)).max(axis=-1) <= 1


def test_nothing_to_do_returns_the_source_frame(car, registry):
    r = Renderer(car.context(), registry=registry)
    out = r.render(3)
    assert np.array_equal(out.rgb, car.frames[3]) and out.alpha is None
    assert not out.rgb.flags.writeable  # shared with the source: copy before drawing


def test_a_stack_applies_in_order(registry):
    frame, a, _ = boxes()
    red, blue = (
        registry.entry("erase", colour=(255, 0, 0)),
        registry.entry("erase", colour=(0, 0, 255)),
    )
    for first, second, expect in ((red, blue, (0, 0, 255)), (blue, red, (255, 0, 0))):
        r = Renderer(
            still(frame, {1: a}), {1: ObjectStack(effects=(first, second))}, registry=registry
        )
        assert tuple(r.render(0).rgb[20, 20]) == expect


def test_objects_render_in_layer_order(registry):
    frame, a, b = boxes()
    stacks = {
        1: ObjectStack(effects=(registry.entry("erase", colour=(255, 0, 0)),)),
        2: ObjectStack(effects=(registry.entry("erase", colour=(0, 0, 255)),)),
    }
    clip = still(frame, {1: a, 2: b})
    assert tuple(Renderer(clip, stacks, registry=registry, order=[1, 2]).render(0).rgb[30, 35]) == (
        0,
        0,
        255,
    )
    assert tuple(Renderer(clip, stacks, registry=registry, order=[2, 1]).render(0).rgb[30, 35]) == (
        255,
        0,
        0,
    )


def test_background_effects_hold_out_other_objects(registry):
    frame, a, b = boxes()
    pop = ObjectStack(effects=(registry.entry("colour_pop"),))
    out = Renderer(still(frame, {1: a, 2: b}), {1: pop}, registry=registry).render(0).rgb
    assert np.array_equal(out[b == 1], frame[b == 1])  # the other object keeps its colour
    assert is_grey(out[(a == 0) & (b == 0)]).all()
    # An object that does not hold out counts as background.
    stacks = {1: pop, 2: ObjectStack(holdout=False)}
    out = Renderer(still(frame, {1: a, 2: b}), stacks, registry=registry).render(0).rgb
    assert is_grey(out[(b == 1) & (a == 0)]).all()


def test_the_same_background_effect_on_two_objects_runs_once(registry):
    frame, a, b = boxes()
    blur = registry.entry("blur", Target.BACKGROUND, strength=3)
    both = (
        Renderer(
            still(frame, {1: a, 2: b}),
            {1: ObjectStack(effects=(blur,)), 2: ObjectStack(effects=(blur,))},
            registry=registry,
        )
        .render(0)
        .rgb
    )
    once = (
        Renderer(still(frame, {1: a, 2: b}), {1: ObjectStack(effects=(blur,))}, registry=registry)
        .render(0)
        .rgb
    )
    assert np.array_equal(both, once)


def test_a_removed_object_is_background_for_the_others(registry):
    frame, a, b = boxes()
    stacks = {
        1: ObjectStack(effects=(registry.entry("colour_pop"),)),
        2: ObjectStack(effects=(registry.entry("remove", search=0),)),
    }
    out = (
        Renderer(still(frame, {1: a, 2: b}), stacks, registry=registry, order=[2, 1]).render(0).rgb
    )
    assert is_grey(out[(b == 1) & (a == 0)]).all()


def test_mix_fades_an_effect(registry):
    frame, a, _ = boxes()
    entry = EffectEntry("erase", registry.entry("erase", colour=(255, 255, 255)).params, mix=0.5)
    out = (
        Renderer(still(frame, {1: a}), {1: ObjectStack(effects=(entry,))}, registry=registry)
        .render(0)
        .rgb
    )
    expect = (frame[a == 1].astype(float) + 255) / 2
    assert np.abs(out[a == 1] - expect).max() <= 1


def test_disabled_entries_do_nothing(registry):
    frame, a, _ = boxes()
    entry = EffectEntry("erase", registry.entry("erase").params, enabled=False)
    out = Renderer(
        still(frame, {1: a}), {1: ObjectStack(effects=(entry,))}, registry=registry
    ).render(0)
    assert np.array_equal(out.rgb, frame)


def test_transparency_keeps_every_held_out_object(registry):
    frame, a, b = boxes()
    out = Renderer(
        still(frame, {1: a, 2: b}),
        {1: ObjectStack(effects=(registry.entry("cutout"),))},
        registry=registry,
    ).render(0)
    assert np.allclose(out.alpha, np.maximum(a, b))
    # Punching object 2 out of a cutout of object 1 multiplies the alphas.
    stacks = {
        1: ObjectStack(effects=(registry.entry("cutout"),)),
        2: ObjectStack(effects=(registry.entry("erase", mode="transparent"),)),
    }
    out = Renderer(still(frame, {1: a, 2: b}), stacks, registry=registry).render(0)
    assert np.allclose(out.alpha, np.maximum(a, b) * (1 - b))


def test_objects_absent_from_a_frame_are_skipped(judo, registry):
    stacks = {obj: ObjectStack(effects=(registry.entry("erase"),)) for obj in judo.masks}
    r = Renderer(judo.context(), stacks, registry=registry)
    out = r.render(1)  # no object has a mask on frame 1
    assert np.array_equal(out.rgb, judo.frames[1])
    out = r.render(8)  # only object 3
    assert (out.rgb[judo.masks[3][8] > 0] == 0).all()


def test_frames_needed_covers_smoothing_and_effects(registry):
    frame, a, _ = boxes()
    stacks = {1: ObjectStack(RefineParams(temporal=2), (registry.entry("remove", search=30),))}
    assert Renderer(still(frame, {1: a}), stacks, registry=registry).frames_needed() == 32


def test_invalidate_picks_up_changed_masks(registry):
    frame, a, b = boxes()
    clip = InMemoryClip([frame], {1: [a]})
    r = Renderer(
        clip,
        {1: ObjectStack(RefineParams(feather=2), (registry.entry("erase", colour=(0, 255, 0)),))},
        registry=registry,
    )
    r.render(0)
    clip.set_matte(1, 0, b)  # the user corrected the mask
    assert tuple(r.render(0).rgb[50, 60]) != (0, 255, 0)  # cached until told
    r.invalidate(1, frames=[0])
    assert tuple(r.render(0).rgb[50, 60]) == (0, 255, 0)


def test_changing_the_refinement_re_refines(registry):
    frame, a, _ = boxes()
    r = Renderer(still(frame, {1: a}), {1: ObjectStack()}, registry=registry)
    assert r.matte(1, 0)[9, 20] == 0
    r.set_stack(1, ObjectStack(RefineParams(grow=3)))
    assert r.matte(1, 0)[9, 20] == 1


def test_stacks_round_trip_through_json(registry):
    stack = ObjectStack(
        RefineParams(feather=3.5, grow=-2, temporal=2, fill_holes=400),
        (
            registry.entry("pixelate", Target.BACKGROUND, block=24),
            EffectEntry(
                "recolour", registry.entry("recolour", mode="tint").params, enabled=False, mix=0.25
            ),
            registry.entry("overlay", colour=(1, 2, 3)),
        ),
        holdout=False,
    )
    text = json.dumps(stack.to_dict())
    assert ObjectStack.from_dict(json.loads(text), registry) == stack


def test_unknown_effects_survive_a_round_trip_and_are_reported_not_rendered(registry):
    data = {
        "refine": {},
        "effects": [
            {
                "effect": "made_up_plugin",
                "target": "object",
                "params": {"x": 1, "colour": "#00ff00"},
            },
            {"effect": "erase", "params": {"colour": "#ff0000"}},
        ],
    }
    stack = ObjectStack.from_dict(data, registry)
    assert not stack.effects[0].available
    again = ObjectStack.from_dict(json.loads(json.dumps(stack.to_dict())), registry)
    assert again.effects[0].to_dict()["params"] == {"x": 1, "colour": "#00ff00"}
    frame, a, _ = boxes()
    out = Renderer(still(frame, {1: a}), {1: stack}, registry=registry).render(0)
    assert [s.effect for s in out.skipped] == ["made_up_plugin"]
    assert "not installed" in out.skipped[0].reason
    assert tuple(out.rgb[20, 20]) == (255, 0, 0)  # the rest still renders


def test_bad_stacks_are_refused_with_a_reason(registry):
    with pytest.raises(EffectError):
        ObjectStack.from_dict({"effects": [{"params": {}}]}, registry)
    with pytest.raises(EffectError, match="target"):
        ObjectStack.from_dict({"effects": [{"effect": "blur", "target": "sky"}]}, registry)
    with pytest.raises(EffectError, match="cannot act"):
        registry.entry("overlay", Target.BACKGROUND)


def test_stack_edits_make_new_stacks(registry):
    s0 = ObjectStack()
    s1 = s0.added(registry.entry("blur")).added(registry.entry("erase"))
    s2 = s1.moved(1, 0)
    assert s0.effects == () and [e.effect for e in s1.effects] == ["blur", "erase"]
    assert [e.effect for e in s2.effects] == ["erase", "blur"]
    assert [e.effect for e in s2.removed(0).effects] == ["blur"]
    assert s2.replaced(1, registry.entry("pixelate")).effects[1].effect == "pixelate"
