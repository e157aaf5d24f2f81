"""The prompts file of ``segment``: the documented schema, and a clear error for each mistake."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sam2_studio.app.prompts_file import PromptsError, read_prompts

W, H, N = 160, 96, 12


def read(tmp_path, data):
    path = tmp_path / "prompts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return read_prompts(path, width=W, height=H, frame_count=N)


def test_the_documented_example(tmp_path):
    square = np.zeros((H, W), np.uint8)
    square[30:60, 40:70] = 255
    cv2.imwrite(str(tmp_path / "rider_012.png"), square)
    p = read(tmp_path, {
        "version": 1,
        "objects": [{"id": 1, "name": "car", "color": "#ff7f0e"}],
        "prompts": [
            {"frame": 0, "object": 1, "points": [[41.5, 22], [48, 30]], "labels": [1, 0]},
            {"frame": 0, "object": "rider", "box": [30, 15, 52, 30]},
            {"frame": 3, "object": "car", "box": [10, 10, 40, 40], "points": [[20, 20]]},
            {"frame": 11, "object": "rider", "mask": "rider_012.png"},
        ]})
    assert [(o.id, o.name, o.color) for o in p.objects] == [(1, "car", "#ff7f0e"), (2, "rider", None)]
    a, b, c, d = p.prompts
    assert (a.frame, a.object_id, a.points.tolist(), a.labels.tolist()) == \
        (0, 1, [[41.5, 22.0], [48.0, 30.0]], [1, 0])
    assert (b.object_id, b.box, b.points) == (2, (30.0, 15.0, 52.0, 30.0), None)
    assert (c.object_id, c.labels.tolist()) == (1, [1])  # labels default to "the object"
    assert d.mask_path == tmp_path / "rider_012.png" and d.mask.sum() == 900
    assert p.first_frame == 0


def test_a_bare_list_and_ids_for_objects_only_named_or_numbered(tmp_path):
    p = read(tmp_path, [{"frame": 1, "object": "dog", "points": [[1, 1]]},
                        {"frame": 1, "object": 7, "points": [[2, 2]]},
                        {"frame": 2, "object": "dog", "points": [[3, 3]]}])
    # named objects come after every id in use, in the order they appear
    assert [(o.id, o.name) for o in p.objects] == [(7, None), (8, "dog")]
    assert [x.object_id for x in p.prompts] == [8, 7, 8]


@pytest.mark.parametrize("data, message", [
    ("", "not valid JSON: Expecting value at line 1, column 1"),
    ("{}", "prompts: expected a list with at least one prompt"),
    ('"x"', "expected an object {\"prompts\": [...]} or a list of prompts, got a text"),
    ({"version": 2, "prompts": []}, "version: this SAM2 Studio reads prompts files of version 1, not 2"),
    ({"prompt": []}, "unknown key 'prompt' (did you mean 'prompts'?)"),
    ([5], "prompts[0]: expected an object, got a number"),
    ([{"object": 1, "points": [[1, 1]]}], "prompts[0]: 'frame' is missing"),
    ([{"frame": 0, "points": [[1, 1]]}], "prompts[0]: 'object' is missing"),
    ([{"frame": 1.5, "object": 1, "points": [[1, 1]]}], "prompts[0].frame: expected a frame number"),
    ([{"frame": -1, "object": 1, "points": [[1, 1]]}], "frame -1 is outside the video (0–11)"),
    ([{"frame": 0, "object": 0, "points": [[1, 1]]}], "prompts[0].object: object ids start at 1"),
    ([{"frame": 0, "object": [1], "points": [[1, 1]]}], "prompts[0].object: expected an object id"),
    ([{"frame": 0, "object": 1}], "give 'points' (with 'labels'), a 'box', or a 'mask'"),
    ([{"frame": 0, "object": 1, "points": [1, 1]}], "prompts[0].points[0]: expected [x, y], got 1"),
    ([{"frame": 0, "object": 1, "points": []}], "prompts[0].points: expected a list of [x, y] pairs"),
    ([{"frame": 0, "object": 1, "points": [[-1, 5]]}], "(-1, 5) is outside the 160×96 frame"),
    ([{"frame": 0, "object": 1, "points": [[1, 1]], "labels": [2]}], "expected a list of 1 (object) and 0"),
    ([{"frame": 0, "object": 1, "points": [[1, 1]], "labels": [1, 1]}], "2 labels for 1 points"),
    ([{"frame": 0, "object": 1, "labels": [1], "box": [0, 0, 5, 5]}], "labels go with 'points'"),
    ([{"frame": 0, "object": 1, "box": [0, 0, 5]}], "prompts[0].box: expected [x0, y0, x1, y1]"),
    ([{"frame": 0, "object": 1, "box": [5, 0, 5, 9]}], "has no area"),
    ([{"frame": 0, "object": 1, "box": [0, 0, 161, 9]}], "(161, 9) is outside the 160×96 frame"),
    ([{"frame": 0, "object": 1, "box": [0, 0, 5, 9], "mask": "m.png"}], "a 'mask' stands alone"),
    ([{"frame": 0, "object": 1, "mask": "missing.png"}], "prompts[0].mask: no such mask image"),
    ([{"frame": 0, "object": 1, "points": [[1, 1]]}, {"frame": 0, "object": 1, "box": [0, 0, 4, 4]}],
     "prompts[1]: object 1 already has a prompt on frame 0 (prompts[0])"),
    ({"objects": [{"id": 1}, {"id": 1}], "prompts": [{"frame": 0, "object": 1, "points": [[1, 1]]}]},
     "objects[1].id: object id 1 is used twice"),
    ({"objects": [{"name": "a"}, {"name": "a"}], "prompts": [{"frame": 0, "object": 1, "points": [[1, 1]]}]},
     "objects[1].name: two objects are called 'a'"),
    ({"objects": [{"color": "red"}], "prompts": [{"frame": 0, "object": 1, "points": [[1, 1]]}]},
     "objects[0].color: not a colour: 'red' (use #rrggbb)"),
])
def test_each_mistake_names_the_file_and_the_entry(tmp_path, data, message):
    with pytest.raises(PromptsError) as info:
        read(tmp_path, data)
    assert info.value.path == tmp_path / "prompts.json"
    assert message in str(info.value), str(info.value)


def test_mask_images_are_checked(tmp_path):
    cv2.imwrite(str(tmp_path / "small.png"), np.full((10, 10), 255, np.uint8))
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((H, W), np.uint8))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    for name, message in [("small.png", "is 10×10, the video is 160×96"),
                          ("empty.png", "is empty"), ("junk.png", "cannot be decoded")]:
        with pytest.raises(PromptsError, match="prompts\\[0\\].mask: ") as info:
            read(tmp_path, [{"frame": 0, "object": 1, "mask": name}])
        assert message in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(PromptsError, match="no such prompts file"):
        read_prompts(tmp_path / "none.json", width=W, height=H, frame_count=N)
    with pytest.raises(PromptsError, match="this is a folder"):
        read_prompts(tmp_path, width=W, height=H, frame_count=N)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PromptsError, match="not UTF-8 text"):
        read_prompts(tmp_path / "bin.json", width=W, height=H, frame_count=N)
