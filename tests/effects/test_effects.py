"""Each built-in effect changes exactly what it should, on real frames with true masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2_studio.effects import BUILTIN_EFFECTS, ObjectStack, RefineParams, Renderer, Target

from .conftest import still, textured

FRAME = 20
# Settings that make every effect visible everywhere it acts.
VISIBLE = {
    "pixelate": {"block": 8, "whole_blocks": False},
    "blur": {"strength": 6.0},
    "colour_pop": {},
    "recolour": {"hue": 90.0},
    "colorize": {},
    "overlay": {"outline": 0.0},
    "cutout": {"mode": "colour"},
    "spotlight": {"softness": 0.0},
    "erase": {},
}
CASES = [(cls.id, target) for cls in BUILTIN_EFFECTS if cls.id in VISIBLE for target in cls.targets]


def render(frame, mattes, registry, entries, refine=None):
    refine = refine or RefineParams()
    stacks = {obj: ObjectStack(refine, tuple(entries.get(obj, ()))) for obj in mattes}
    r = Renderer(still(frame, mattes), stacks, registry=registry)
    return r.render(0), r


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


@pytest.mark.parametrize(("effect", "target"), CASES, ids=[f"{e}-{t.value}" for e, t in CASES])
def test_effect_changes_its_region_and_nothing_else(car, registry, effect, target):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    entry = registry.entry(effect, target, **VISIBLE[effect])
    out, _ = render(frame, {1: matte}, registry, {1: [entry]})
    diff = changed(out.rgb, frame)
    region = matte if target is Target.OBJECT else 1.0 - matte
    assert not diff[region == 0].any(), "pixels outside the region changed"
    # Nearly every pixel of the region changes (flat areas may coincide after an effect).
    assert diff[region == 1].mean() > 0.8
    assert out.alpha is None


@pytest.mark.parametrize("effect", ["pixelate", "blur", "recolour", "erase"])
def test_a_feathered_edge_bounds_the_change(car, registry, effect):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    entry = registry.entry(effect, **VISIBLE[effect])
    out, r = render(frame, {1: matte}, registry, {1: [entry]}, RefineParams(feather=6))
    soft = r.matte(1, 0)
    diff = changed(out.rgb, frame)
    assert not diff[soft == 0].any()
    reach = cv2.dilate((matte > 0).astype(np.uint8), np.ones((2 * 9 + 1,) * 2))
    assert not diff[reach == 0].any()  # nothing beyond the feather's reach (1.5 × radius)
    ramp = (soft > 0.05) & (soft < 0.95)
    assert ramp.any() and diff[ramp].mean() > 0.5


def test_effects_never_write_into_the_source_frame(car, registry):
    frame = car.frames[FRAME].copy()
    before = frame.copy()
    for cls in BUILTIN_EFFECTS:
        for target in cls.targets:
            render(frame, {1: car.matte(1, FRAME)}, registry, {1: [registry.entry(cls.id, target)]})
    assert np.array_equal(frame, before)


def test_any_number_of_objects_each_with_its_own_effect(judo_frame, registry):
    frame, mattes = judo_frame
    entries = {
        1: [registry.entry("pixelate", block=6, whole_blocks=False)],
        2: [registry.entry("erase", colour=(255, 0, 0))],
        3: [registry.entry("blur", strength=4)],
        4: [registry.entry("recolour", hue=120)],
    }
    out, _ = render(frame, mattes, registry, entries)
    diff = changed(out.rgb, frame)
    union = np.maximum.reduce(list(mattes.values()))
    assert not diff[union == 0].any()
    for obj, m in mattes.items():
        assert diff[m == 1].mean() > 0.7, obj
    assert np.all(out.rgb[mattes[2] == 1] == (255, 0, 0))


def test_objects_without_effects_are_untouched(judo_frame, registry):
    frame, mattes = judo_frame
    out, _ = render(frame, mattes, registry, {1: [registry.entry("erase")]})
    others = np.maximum.reduce([m for o, m in mattes.items() if o != 1])
    assert not changed(out.rgb, frame)[(others == 1) & (mattes[1] == 0)].any()


def test_pixelate_blocks_sit_on_the_frame_grid(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    b = 8
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("pixelate", block=b)]})
    h, w = matte.shape
    inside_blocks = 0
    for y in range(0, h - b + 1, b):
        for x in range(0, w - b + 1, b):
            if matte[y : y + b, x : x + b].min() == 1:
                block = out.rgb[y : y + b, x : x + b].reshape(-1, 3)
                assert (block == block[0]).all()
                inside_blocks += 1
    assert inside_blocks > 50


def test_pixelate_whole_blocks_hide_the_outline(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    b = 8
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("pixelate", block=b)]})
    diff = changed(out.rgb, frame)
    h, w = matte.shape
    blocks = np.zeros_like(matte, dtype=bool)  # grid blocks the object touches
    for y in range(0, h, b):
        for x in range(0, w, b):
            blocks[y : y + b, x : x + b] = matte[y : y + b, x : x + b].any()
    assert not diff[~blocks].any()
    assert diff[blocks & (matte == 0)].mean() > 0.5  # the outline is hidden in whole blocks


def _sharpness(img: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    return float(lap[mask].var())


def test_blur_removes_detail(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("blur", strength=6)]})
    inner = cv2.erode((matte == 1).astype(np.uint8), np.ones((5, 5))) > 0
    assert _sharpness(out.rgb, inner) < 0.1 * _sharpness(frame, inner)


def test_background_blur_does_not_bleed_the_object_into_a_halo(registry):
    frame = textured((120, 160), seed=5)
    frame[..., 0] = np.minimum(frame[..., 0], 100)  # a background with little red
    matte = np.zeros((120, 160), np.float32)
    matte[40:80, 60:100] = 1
    frame[matte == 1] = (255, 0, 0)  # a red object
    ring = (cv2.dilate(matte, np.ones((9, 9))) > 0) & (matte == 0)

    def red_near_object(hold_out: bool) -> float:
        e = registry.entry("blur", Target.BACKGROUND, strength=8, hold_out=hold_out)
        out, _ = render(frame, {1: matte}, registry, {1: [e]})
        return float(out.rgb[..., 0][ring].max())

    assert red_near_object(False) > 140  # a plain blur pulls the red out
    assert red_near_object(True) <= 101


def test_colour_pop_greys_the_background_and_keeps_the_object(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("colour_pop")]})
    bg = out.rgb[matte == 0].astype(int)
    assert np.abs(bg - bg.mean(axis=1, keepdims=True)).max() <= 1
    assert np.array_equal(out.rgb[matte == 1], frame[matte == 1])


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)


def _hue(lab: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + 180) % 360 - 180


def test_recolour_turns_the_hue_and_keeps_the_shading(judo_frame, registry):
    frame, mattes = judo_frame
    # The red mats, a strongly coloured region, stand in for an object.
    lab = _lab(frame)
    red = ((lab[..., 1] > 30) & (lab[..., 0] > 20)).astype(np.float32)
    out, _ = render(frame, {1: red}, registry, {1: [registry.entry("recolour", hue=90.0)]})
    inside = red == 1
    before, after = lab[inside], _lab(out.rgb)[inside]
    assert np.abs(after[:, 0] - before[:, 0]).mean() < 1.5  # L* (shading) kept
    turned = _angle(_hue(after), _hue(before))
    assert np.median(turned) == pytest.approx(90, abs=5)


def test_recolour_tint_gives_the_colours_hue(judo_frame, registry):
    frame, _ = judo_frame
    lab = _lab(frame)
    red = ((lab[..., 1] > 30) & (lab[..., 0] > 20)).astype(np.float32)
    blue = (30, 80, 220)
    e = registry.entry("recolour", mode="tint", colour=blue)
    out, _ = render(frame, {1: red}, registry, {1: [e]})
    target = _hue(_lab(np.array([[blue]], np.uint8)))[0, 0]
    after = _lab(out.rgb)[red == 1]
    assert np.median(np.abs(_angle(_hue(after), target))) < 6
    assert np.abs(after[:, 0] - lab[red == 1][:, 0]).mean() < 1.5


def test_colorize_colours_a_grey_object_following_its_light(car, registry):
    frame = car.frames[FRAME].copy()
    matte = car.matte(1, FRAME)
    grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    frame[matte == 1] = grey[matte == 1]  # make the (silver) car truly grey
    colour = (214, 120, 60)
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("colorize", colour=colour)]})
    before, after = _lab(frame)[matte == 1], _lab(out.rgb)[matte == 1]
    mid = (before[:, 0] > 25) & (before[:, 0] < 75)
    chroma = np.hypot(after[:, 1], after[:, 2])
    assert np.median(chroma[mid]) > 15
    target = _hue(_lab(np.array([[colour]], np.uint8)))[0, 0]
    assert np.median(np.abs(_angle(_hue(after[mid]), target))) < 8
    assert np.abs(after[:, 0] - before[:, 0]).mean() < 2.5  # lightness follows the original


def test_overlay_tints_the_object_and_draws_an_outline_around_it(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    e = registry.entry(
        "overlay", colour=(0, 0, 255), opacity=0.5, outline=3, outline_colour=(0, 255, 0)
    )
    out, _ = render(frame, {1: matte}, registry, {1: [e]})
    inside = out.rgb[matte == 1].astype(int) - frame[matte == 1]
    assert (inside[:, 2] >= -1).all() and inside[:, 2].mean() > 30
    outside = cv2.distanceTransform(
        (matte == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    ring = (outside >= 1) & (outside <= 3)
    assert (out.rgb[ring] == (0, 255, 0)).all()
    assert not changed(out.rgb, frame)[outside > 4.5].any()


def test_cutout_transparent_gives_the_matte_as_alpha(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("cutout")]})
    assert np.array_equal(out.rgb, frame)
    assert out.alpha is not None and np.allclose(out.alpha, matte)


def test_cutout_on_a_colour_or_a_blur(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    out, _ = render(
        frame,
        {1: matte},
        registry,
        {1: [registry.entry("cutout", mode="colour", colour=(0, 177, 64))]},
    )
    assert (out.rgb[matte == 0] == (0, 177, 64)).all()
    assert np.array_equal(out.rgb[matte == 1], frame[matte == 1])
    out, _ = render(
        frame, {1: matte}, registry, {1: [registry.entry("cutout", mode="blur", strength=6)]}
    )
    bg = cv2.erode((matte == 0).astype(np.uint8), np.ones((5, 5))) > 0
    assert _sharpness(out.rgb, bg) < 0.1 * _sharpness(frame, bg)
    assert np.array_equal(out.rgb[matte == 1], frame[matte == 1])


def test_spotlight_darkens_outside_with_a_soft_falloff(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    e = registry.entry("spotlight", darkness=0.6, softness=20)
    out, _ = render(frame, {1: matte}, registry, {1: [e]})
    assert np.array_equal(out.rgb[matte == 1], frame[matte == 1])
    dist = cv2.distanceTransform((matte == 0).astype(np.uint8), cv2.DIST_L2, 5)
    far = dist > 40
    ratio = out.rgb[far].astype(float).sum() / frame[far].astype(float).sum()
    assert ratio == pytest.approx(0.4, abs=0.01)
    near = (dist > 1) & (dist < 4)
    near_ratio = out.rgb[near].astype(float).sum() / frame[near].astype(float).sum()
    assert 0.4 + 0.1 < near_ratio < 1.0  # the light falls off, not a hard cut


def test_erase_fills_the_object_or_punches_it_out(car, registry):
    frame, matte = car.frames[FRAME], car.matte(1, FRAME)
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("erase", colour=(9, 8, 7))]})
    assert (out.rgb[matte == 1] == (9, 8, 7)).all()
    out, _ = render(frame, {1: matte}, registry, {1: [registry.entry("erase", mode="transparent")]})
    assert np.allclose(out.alpha, 1 - matte) and np.array_equal(out.rgb, frame)


def test_effects_work_at_odd_sizes_and_with_mattes_of_another_size(judo, registry):
    frame = judo.frames[5][:239, :425]  # odd height and width
    raw = judo.masks[2][5][:239, :424]  # a mask a pixel narrower than its frame
    for cls in BUILTIN_EFFECTS:
        r = Renderer(
            still(frame, {2: raw}),
            {2: ObjectStack(effects=(registry.entry(cls.id),))},
            registry=registry,
        )
        out = r.render(0)
        assert out.rgb.shape == frame.shape and out.rgb.dtype == np.uint8


def test_effect_metadata_is_complete():
    for cls in BUILTIN_EFFECTS:
        assert cls.id and cls.label and cls.description and cls.targets
    assert len({c.id for c in BUILTIN_EFFECTS}) == len(BUILTIN_EFFECTS)


def test_recolour_lightness_shifts_l_star(judo_frame, registry):
    frame, mattes = judo_frame
    m = mattes[1]
    for shift in (-20.0, 20.0):
        e = registry.entry("recolour", hue=0.0, lightness=shift)
        out, _ = render(frame, {1: m}, registry, {1: [e]})
        before, after = _lab(frame)[m == 1][:, 0], _lab(out.rgb)[m == 1][:, 0]
        mid = (before > 25) & (before < 75)  # away from black and white, where it clips
        assert np.median(after[mid] - before[mid]) == pytest.approx(shift, abs=1.5)
