"""Timeline thumbnails: quick ones from keyframes, exact ones from each span's middle frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sam2_studio.media import CachedReader, iter_thumbnails, open_image_sequence, open_video
from sam2_studio.media.thumbnails import slot_frames

from .clips import read_stamp
from .conftest import GOP, N


def test_slots_cover_the_clip() -> None:
    assert slot_frames(120, 4) == [15, 45, 75, 105]
    assert slot_frames(3, 10) == [0, 1, 2]


def test_quick_strip_decodes_keyframes_only(gop_clip: Path) -> None:
    with open_video(gop_clip) as r:
        thumbs = list(iter_thumbnails(r, 10, height=54))
        assert [t.slot for t in thumbs] == list(range(10))
        assert {t.frame for t in thumbs} == set(range(0, N, GOP))
        for t in thumbs:
            assert t.image.shape == (54, 96, 3)
            assert abs(t.frame - slot_frames(N, 10)[t.slot]) <= GOP // 2 + 1
            big = np.repeat(np.repeat(t.image, 2, axis=0), 2, axis=1)
            assert read_stamp(big) == t.frame  # the picture is the keyframe it claims to be
        # the main reader was not disturbed
        assert read_stamp(r.read(1)) == 1


def test_exact_strip_shows_the_middle_frames(gop_clip: Path) -> None:
    with open_video(gop_clip) as r:
        thumbs = list(iter_thumbnails(r, 8, height=54, exact=True))
    assert [t.frame for t in thumbs] == slot_frames(N, 8)
    for t in thumbs:
        assert t.image.shape == (54, 96, 3)
        big = np.repeat(np.repeat(t.image, 2, axis=0), 2, axis=1)  # stamp blocks at full scale
        assert read_stamp(big) == t.frame


def test_cached_reader_and_sequences(gop_clip: Path, data_dir: Path) -> None:
    with CachedReader(open_video(gop_clip)) as c:
        assert len(list(iter_thumbnails(c, 5, height=20))) == 5
    with open_image_sequence(data_dir / "davis16_car-shadow" / "JPEGImages") as s:
        thumbs = list(iter_thumbnails(s, 100, height=48))
        assert len(thumbs) == 40 and thumbs[0].image.shape == (48, 85, 3)
