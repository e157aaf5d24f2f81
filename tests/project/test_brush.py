import numpy as np

from sam2_studio.project.brush import paint

from .conftest import H, W, disc


def test_a_dab_is_a_disc_of_pixel_centres():
    mask = np.zeros((H, W), bool)
    paint(mask, [(20.0, 15.0)], 6.0)
    assert np.array_equal(mask, disc(20, 15, 6))


def test_a_segment_is_swept_and_clipped_to_the_frame():
    mask = np.zeros((H, W), bool)
    paint(mask, [(-10, 10.5), (W + 10, 10.5)], 1.0)
    assert mask[10].all() and not mask[8].any() and not mask[12].any()
    paint(mask, [(5, 10.5), (60, 10.5)], 1.0, erase=True)
    assert mask[10, :4].all() and not mask[10, 5:60].any()


def test_off_frame_strokes_touch_nothing():
    mask = np.zeros((H, W), bool)
    paint(mask, [(-50, -50), (-20, -30)], 3)
    paint(mask, [], 3)
    assert not mask.any()
