"""Tracked masks live in a temporary file, not RAM; a file that cannot be written keeps them in RAM."""

from __future__ import annotations

import numpy as np

from sam2_studio.engine.mask_archive import ArchivedMask, MaskArchive
from sam2_studio.engine.records import HostFacts


def test_archive_round_trips_what_it_keeps(tmp_path):
    archive = MaskArchive(str(tmp_path))
    rng = np.random.default_rng(0)
    blobs = [rng.bytes(int(n)) for n in rng.integers(1, 40_000, 30)]
    refs = [archive.keep(b) for b in blobs]
    assert all(isinstance(r, ArchivedMask) for r in refs)
    assert archive.size == sum(map(len, blobs))
    for i in rng.permutation(len(blobs)):
        assert refs[i].read() == blobs[i]
    assert HostFacts(1.0, 0.5, 3, refs[4]).mask_data == blobs[4]
    assert not list(tmp_path.iterdir())  # unlinked: nothing is left behind, even after a crash


def test_replaced_masks_are_compacted_away(tmp_path, monkeypatch):
    monkeypatch.setattr("sam2_studio.engine.mask_archive.COMPACT_SLACK", 10_000)
    archive = MaskArchive(str(tmp_path))
    rng = np.random.default_rng(1)
    kept: dict[int, tuple[ArchivedMask, bytes]] = {}
    for _ in range(20):  # re-track 50 frames 20 times: each pass replaces every mask
        for frame in range(50):
            data = rng.bytes(int(rng.integers(100, 1000)))
            kept[frame] = (archive.keep(data), data)
    live = sum(len(d) for _, d in kept.values())
    assert archive.compactions >= 5
    assert archive.size <= 2 * live + 10_000 + 1000  # bounded by the live masks, not the writes
    for ref, data in kept.values():
        assert ref.read() == data


def test_a_failed_write_keeps_masks_in_ram(tmp_path):
    archive = MaskArchive(str(tmp_path / "missing"))  # no such folder: the file cannot be made
    assert archive.keep(b"abc") == b"abc"
    assert archive.failed and "missing" in archive.failed
    assert archive.keep(b"def") == b"def"  # and it does not try again for every frame


def test_tracked_masks_go_to_the_archive_and_read_back(make_session):
    s = make_session()
    in_ram = make_session(archive_masks=False)
    for session in (s, in_ram):
        session.add_points(0, 1, [[20, 45]], [1])
        shown = {r.frame: r.masks[1] for r in session.propagate()}
    records = s._tracks[1].committed
    assert all(isinstance(r.host.stored_mask, ArchivedMask) for t, r in records.items() if t != 0)
    assert isinstance(records[0].host.stored_mask, bytes)  # the prompted frame stays in RAM
    assert all(isinstance(r.host.stored_mask, bytes) for r in in_ram._tracks[1].committed.values())
    for t, mask in shown.items():
        np.testing.assert_array_equal(s.mask(t, 1), mask)
        np.testing.assert_array_equal(s.mask(t, 1), in_ram.mask(t, 1))


def test_a_full_disk_loses_no_tracked_mask(make_session, monkeypatch):
    def full(**_kw):  # noqa: ANN003
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sam2_studio.engine.mask_archive.tempfile.TemporaryFile", full)
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])
    shown = {r.frame: r.masks[1] for r in s.propagate()}
    assert s._archive.failed and "No space left" in s._archive.failed
    for t, mask in shown.items():
        np.testing.assert_array_equal(s.mask(t, 1), mask)
