"""Every bad file ends in a MediaError that names the file and says what is wrong, never a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.errors import StudioError
from sam2_studio.media import DamagedMediaError, MediaError, open_image_sequence, open_media, open_video

from .clips import encode, read_stamp

ROOT = Path(__file__).resolve().parents[2]


def _error(fn, path: Path) -> MediaError:  # noqa: ANN001
    with pytest.raises(MediaError) as info:
        fn(path)
    err = info.value
    assert isinstance(err, StudioError)
    assert err.path == path and path.name in str(err)
    return err


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _error(open_video, tmp_path / "nope.mp4").reason


def test_folder_without_frames(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert "no numbered image frames" in _error(open_image_sequence, tmp_path).reason
    assert "no numbered image frames" in _error(open_media, tmp_path).reason


def test_pattern_matching_nothing(tmp_path: Path) -> None:
    err = _error(open_image_sequence, tmp_path / "shot.%04d.png")
    assert "no frame of this sequence exists" in err.reason


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.mp4"
    p.touch()
    assert "empty (0 bytes)" in _error(open_video, p).reason


def test_renamed_png(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "holiday.mp4"
    shutil.copy(data_dir / "cutie_judo" / "Annotations" / "00000.png", p)
    reason = _error(open_video, p).reason
    assert "still image (PNG)" in reason and "not a video" in reason


def test_text_file(tmp_path: Path) -> None:
    p = tmp_path / "readme.mov"
    p.write_text("this is not a video\n" * 50)
    assert "not a video file" in _error(open_video, p).reason


def test_audio_only(tmp_path: Path) -> None:
    import av

    p = tmp_path / "song.m4a"
    with av.open(str(p), "w") as out:
        s = out.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 48000
        out.mux(s.encode(frame))
        out.mux(s.encode(None))
    assert "only audio" in _error(open_video, p).reason


def test_unsupported_codec(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    p = encode(tmp_path / "odd_codec.avi", src_frames[:3], codec="ffv1", pix_fmt="yuv420p")
    data = p.read_bytes()
    # The AVI stream header and the bitmap header both name the codec: make it unknown.
    p.write_bytes(data.replace(b"FFV1", b"ZQX9"))
    assert "codec" in _error(open_video, p).reason


def test_truncated_with_index_at_the_end(tmp_path: Path, gop_clip: Path) -> None:
    p = tmp_path / "cut.mp4"
    data = gop_clip.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    reason = _error(open_video, p).reason
    assert "incomplete" in reason and "interrupted" in reason


def test_truncated_mkv_keeps_the_frames_before_the_cut(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    full = encode(tmp_path / "full.mkv", src_frames[:60], options={"g": "12", "crf": "14"})
    p = tmp_path / "cut.mkv"
    data = full.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.6)])
    with open_video(p) as r:
        assert isinstance(r.problem, DamagedMediaError)
        assert 10 < len(r) < 60
        assert r.problem.usable_frames == len(r)
        assert f"first {len(r)} frames" in r.problem.reason and "cut short" in r.problem.reason
        assert read_stamp(r.read(len(r) // 2)) == len(r) // 2


def test_truncated_faststart_mp4(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    full = encode(tmp_path / "fast.mp4", src_frames[:60], options={"g": "12", "crf": "14"}, container_options={"movflags": "+faststart"})
    p = tmp_path / "fast_cut.mp4"
    data = full.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.5)])
    with open_video(p) as r:
        assert r.problem is not None and "cut short" in r.problem.reason
        assert 5 < len(r) < 60
        assert read_stamp(r.read(3)) == 3


def test_corrupt_data_in_the_middle(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    full = encode(tmp_path / "good.mkv", src_frames[:40], options={"g": "10", "crf": "14"})
    data = bytearray(full.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) // 2
    data[start : start + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    p = tmp_path / "corrupt.mkv"
    p.write_bytes(bytes(data))
    # It opens; the frames before the damage are intact; no frame read hangs or crashes.
    try:
        r = open_video(p)
    except MediaError as exc:  # damage where the index lives is also acceptable, in words
        assert p.name in str(exc)
        return
    with r:
        assert read_stamp(r.read(2)) == 2
        for i in range(len(r)):
            try:
                assert r.read(i).shape[2] == 3
            except DamagedMediaError as exc:
                assert f"frame {i}" in exc.reason


def _run_python(code: str, *, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [*(prefix or []), sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_no_permission(tmp_path: Path, gop_clip: Path) -> None:
    prefix: list[str] = []
    if os.geteuid() == 0:  # root passes permission checks: drop the capabilities that allow it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop file-permission overrides")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]
    p = tmp_path / "private.mp4"
    shutil.copy(gop_clip, p)
    p.chmod(0o000)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        code = f"""
            import numpy as np
            from sam2_studio.media import MediaError, open_video, VideoWriter
            try:
                open_video({str(p)!r})
            except MediaError as e:
                print("READ:", e)
            try:
                with VideoWriter({str(out / "x.mp4")!r}, (64, 48), 24) as w:
                    w.write(np.zeros((48, 64, 3), np.uint8))
            except MediaError as e:
                print("WRITE:", e)
        """
        res = _run_python(code, prefix=prefix)
        assert "READ:" in res.stdout and "permission denied" in res.stdout, res.stdout + res.stderr
        assert "WRITE:" in res.stdout and res.stdout.count("permission denied") == 2, res.stdout + res.stderr
        assert "Traceback" not in res.stderr
    finally:
        out.chmod(0o755)
        p.chmod(0o644)


def test_full_disk_while_writing(tmp_path: Path) -> None:
    """A file-size limit makes writes fail like a full disk; nothing half-written is left."""
    code = f"""
        import resource, signal
        import numpy as np
        from pathlib import Path
        from sam2_studio.media import MediaError, VideoWriter, H264, MatteWriter, MatteExport, MatteFormat
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        rng = np.random.default_rng(0)
        try:
            with VideoWriter({str(tmp_path / "big.mp4")!r}, (320, 240), 24, H264(crf=0)) as w:
                for i in range(200):
                    w.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
        except MediaError as e:
            print("VIDEO:", e)
        try:
            with MatteWriter({str(tmp_path / "m.%04d.png")!r}, MatteExport(MatteFormat.PNG16), (480, 360), 24) as w:
                for i in range(5):
                    w.write(rng.random((360, 480)).astype(np.float32) if i == 3 else np.zeros((360, 480), np.float32))
        except MediaError as e:
            print("MATTE:", e)
    """
    # 480×360 noise at 16 bits is ~350 kB as PNG: over the limit.
    res = _run_python(code)
    assert "VIDEO:" in res.stdout and "big.mp4" in res.stdout, res.stdout + res.stderr
    assert "MATTE:" in res.stdout, res.stdout + res.stderr
    assert res.stdout.count("larger than this disk or system allows") + res.stdout.count("disk is full") == 2, res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no partial, no frame, no file
