"""Parameters: an editor can build controls from them, and they survive JSON unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sam2_studio.effects import BUILTIN_EFFECTS, Color, EffectError, RefineParams
from sam2_studio.effects import params as P

PARAM_CLASSES = [RefineParams] + [cls.Params for cls in BUILTIN_EFFECTS]


def _ids(classes):
    return [c.__name__ for c in classes]


def _changed(cls):
    """An instance with every field moved away from its default (to a range end, another
    choice, the other boolean, another colour)."""
    changes = {}
    for s in P.specs(cls):
        if s.kind in ("int", "float"):
            changes[s.name] = s.maximum if s.default != s.maximum else s.minimum
        elif s.kind == "bool":
            changes[s.name] = not s.default
        elif s.kind == "choice":
            changes[s.name] = next(c for c in s.choices if c != s.default)
        elif s.kind == "color":
            changes[s.name] = Color(12, 34, 56)
        else:
            changes[s.name] = "some text"
    return P.updated(cls(), **changes)


@pytest.mark.parametrize("cls", PARAM_CLASSES, ids=_ids(PARAM_CLASSES))
def test_every_parameter_describes_its_control(cls):
    for s in P.specs(cls):
        assert s.label and s.kind in P.KINDS
        if s.kind in ("int", "float"):
            assert s.minimum is not None and s.maximum is not None, s.name
            assert s.minimum <= s.default <= s.maximum, s.name
        if s.kind == "choice":
            assert s.default in s.choices


@pytest.mark.parametrize("cls", PARAM_CLASSES, ids=_ids(PARAM_CLASSES))
def test_parameters_round_trip_through_json(cls):
    for value in (cls(), _changed(cls)):
        text = json.dumps(P.to_dict(value))
        assert P.from_dict(cls, json.loads(text)) == value


def test_changed_instances_really_differ_from_defaults():
    for cls in PARAM_CLASSES:
        if P.specs(cls):
            assert _changed(cls) != cls(), cls.__name__


def test_loading_forgives_what_a_newer_or_older_file_may_hold():
    loaded = P.from_dict(RefineParams, {"feather": 1e9, "grow": -1e9, "future_option": 3})
    assert loaded.feather == P.specs(RefineParams)[-1].maximum
    assert loaded.grow == -200
    assert loaded.remove_specks == 0  # missing: default
    assert P.from_dict(RefineParams, {"temporal": 2.4}).temporal == 2  # int field, float given


def test_loading_refuses_values_that_make_no_sense():
    pixelate = next(c for c in BUILTIN_EFFECTS if c.id == "pixelate")
    with pytest.raises(EffectError, match="block"):
        P.from_dict(pixelate.Params, {"block": "large"})
    with pytest.raises(EffectError):
        P.from_dict(pixelate.Params, {"whole_blocks": "yes"})
    cutout = next(c for c in BUILTIN_EFFECTS if c.id == "cutout")
    with pytest.raises(EffectError, match="mode"):
        P.from_dict(cutout.Params, {"mode": "sparkles"})
    with pytest.raises(EffectError):
        P.from_dict(cutout.Params, {"colour": "#12"})
    with pytest.raises(EffectError):
        P.from_dict(RefineParams, {"feather": float("nan")})


def test_colours_are_hex_in_json_and_accept_triples():
    assert Color.parse("#ff8000") == Color(255, 128, 0)
    assert Color.parse([255, 128, 0]).hex == "#ff8000"
    cutout = next(c for c in BUILTIN_EFFECTS if c.id == "cutout")
    assert P.to_dict(P.updated(cutout.Params(), colour=(1, 2, 3)))["colour"] == "#010203"


def test_updated_checks_names_and_clamps():
    p = P.updated(RefineParams(), feather=-5)
    assert p.feather == 0.0
    with pytest.raises(EffectError, match="no parameter"):
        P.updated(RefineParams(), featherr=3)


def test_parameter_classes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RefineParams().feather = 3  # type: ignore[misc]
