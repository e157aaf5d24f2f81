"""Opening clips for the editor: the screen's reader, independent readers for other
threads, thumbnails, and what a project records as the clip's identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam2_studio.app.clip import ArrayClip, open_clip
from sam2_studio.media import MediaError

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "car-shadow.mp4"


def test_a_video_gives_the_screen_and_other_threads_their_own_readers():
    clip = open_clip(SAMPLE)
    try:
        assert clip.info.size == (854, 480) and clip.info.frame_count == 40 and clip.info.fps == 24
        reader = clip.open_reader()
        try:
            assert np.array_equal(reader.get(17), clip.frame(17))
            assert len(reader) == 40 and reader.size == (854, 480)
        finally:
            reader.close()
        thumbs = list(clip.thumbnails(8, 32))
        assert len(thumbs) == 8 and thumbs[0][2].shape == (32, 57, 3)
        info = clip.video_info()
        assert info.path == SAMPLE and info.frame_count == 40
    finally:
        clip.close()


def test_an_image_sequence_is_recorded_by_its_first_frame(data_dir):
    folder = data_dir / "davis16_car-shadow" / "JPEGImages"
    clip = open_clip(folder)
    try:
        assert clip.info.kind == "image_sequence" and clip.info.frame_count == 40
        info = clip.video_info()
        assert info.path == folder / "00000.jpg"
        again = open_clip(info.path)  # what reopening a project does
        assert again.info.frame_count == 40
        again.close()
    finally:
        clip.close()


def test_a_file_that_is_no_video_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    with pytest.raises(MediaError) as err:
        open_clip(bad)
    assert err.value.path == bad


def test_array_clips_for_tests():
    frames = [np.full((10, 20, 3), i, np.uint8) for i in range(5)]
    clip = ArrayClip(frames)
    assert clip.info.size == (20, 10) and clip.open_reader().get(3)[0, 0, 0] == 3
    assert [t[1] for t in clip.thumbnails(2, 5)] == [1, 3]
    with pytest.raises(ValueError):
        clip.video_info()
