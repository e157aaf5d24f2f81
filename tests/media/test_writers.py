"""Video export: frames, frame rate, odd sizes, audio, ProRes, and atomic finalisation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from sam2_studio.media import AudioSource, H264, MediaError, ProRes, ProResProfile, VideoWriter, open_video

from .clips import encode, psnr, read_stamp


def _streams(path: Path) -> dict[str, tuple[str, float]]:
    with av.open(str(path)) as c:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base) if s.duration else 0.0) for s in c.streams}


def test_h264_round_trip_keeps_frames_and_rate(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    out = tmp_path / "out.mp4"
    fps = Fraction(30000, 1001)
    with VideoWriter(out, (192, 108), fps, H264(crf=12)) as w:
        for f in src_frames[:30]:
            w.write(f)
    assert w.frames_written == 30
    with open_video(out) as r:
        assert len(r) == 30 and r.fps == fps and r.size == (192, 108)
        for i in (0, 17, 29):
            assert read_stamp(r.read(i)) == i and psnr(r.read(i), src_frames[i]) > 32
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert cc.pix_fmt == "yuv420p" and cc.colorspace == 1 and cc.color_range == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_h264_odd_size_is_padded_with_the_edge(tmp_path: Path) -> None:
    img = np.zeros((479, 853, 3), np.uint8)
    img[:, -1] = 200  # the last column
    with VideoWriter(tmp_path / "odd.mp4", (853, 479), 24) as w:
        w.write(img)
        assert w.coded_size == (854, 480)
    with open_video(tmp_path / "odd.mp4") as r:
        assert r.size == (854, 480)
        out = r.read(0)
        assert out[:, -2:].mean() > 150 and out[:-2, :840].mean() < 10


def test_source_audio_is_copied_and_trimmed(tmp_path: Path, audio_clip: Path) -> None:
    with open_video(audio_clip) as src:
        assert src.has_audio
        out = tmp_path / "with_audio.mp4"
        with VideoWriter(out, src.size, src.fps, audio=AudioSource(audio_clip, start=0.5, end=1.5)) as w:
            for i in range(12, 36):
                w.write(src.read(i))
    streams = _streams(out)
    assert streams["audio"][0] == "aac"
    assert streams["audio"][1] == pytest.approx(1.0, abs=0.05)
    assert streams["video"][1] == pytest.approx(1.0, abs=0.01)
    with open_video(out) as r:
        assert r.has_audio and r.info.audio_codec == "aac"


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    src = encode(tmp_path / "pcm.mov", src_frames[:24], audio="pcm_s16le", audio_seconds=1.0)
    out = tmp_path / "to.mp4"
    with VideoWriter(out, (192, 108), 24, audio=AudioSource(src)) as w:
        for f in src_frames[:24]:
            w.write(f)
    streams = _streams(out)
    assert streams["audio"][0] == "aac" and streams["audio"][1] == pytest.approx(1.0, abs=0.1)


def test_prores_422_round_trip(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    out = tmp_path / "edit.mov"
    with VideoWriter(out, (192, 108), 25, ProRes(ProResProfile.HQ)) as w:
        for f in src_frames[:5]:
            w.write(f)
    with open_video(out) as r:
        assert r.info.codec == "prores" and r.info.pixel_format == "yuv422p10le" and r.fps == 25
        assert psnr(r.read(3), src_frames[3]) > 38


def test_variable_frame_rate_is_kept(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    times = [0.0, 0.04, 0.2, 0.25, 0.5]
    out = tmp_path / "vfr.mkv"
    with VideoWriter(out, (192, 108), 24, time_base=Fraction(1, 1000)) as w:
        for t, f in zip(times, src_frames, strict=False):
            w.write(f, time=t)
    with open_video(out) as r:
        assert np.allclose(r.timestamps, times)


def test_exception_leaves_nothing(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, (192, 108), 24) as w:
        w.write(src_frames[0])
        raise RuntimeError("cancelled by the user")
    assert list(tmp_path.iterdir()) == []


def test_abort_removes_the_partial_file_and_keeps_an_older_export(tmp_path: Path, src_frames: list[np.ndarray]) -> None:
    out = tmp_path / "export.mp4"
    out.write_bytes(b"previous export")
    w = VideoWriter(out, (192, 108), 24)
    for f in src_frames[:60]:  # enough for the encoder to emit packets
        w.write(f)
    partials = [p for p in tmp_path.iterdir() if p.name.startswith(".export.partial")]
    assert len(partials) == 1 and out.read_bytes() == b"previous export"
    w.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["export.mp4"] and out.read_bytes() == b"previous export"


def test_wrong_container_and_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot be stored in a .mp4 file"):
        VideoWriter(tmp_path / "x.mp4", (64, 48), 24, ProRes())
    with pytest.raises(MediaError, match="folder does not exist"):
        VideoWriter(tmp_path / "missing" / "x.mp4", (64, 48), 24)
    with VideoWriter(tmp_path / "y.mp4", (64, 48), 24) as w:
        with pytest.raises(ValueError, match="64×48"):
            w.write(np.zeros((10, 10, 3), np.uint8))
        w.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(MediaError, match="no frames"):
        VideoWriter(tmp_path / "z.mp4", (64, 48), 24).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.mp4"]
