"""Frame-exact reading: every frame in random order, VFR, offsets, rotation, odd sizes, 10-bit."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.media import FrameReader, open_media, open_video

from .clips import encode, psnr, read_stamp
from .conftest import GOP, N, SIZE


@pytest.fixture(scope="module")
def sequential(gop_clip: Path) -> list[np.ndarray]:
    with open_video(gop_clip) as r:
        return [r.read(i) for i in range(len(r))]


def test_info_of_a_plain_clip(gop_clip: Path) -> None:
    with open_video(gop_clip) as r:
        assert isinstance(r, FrameReader)
        assert len(r) == r.frame_count == N
        assert r.fps == Fraction(24) and isinstance(r.fps, Fraction)
        assert r.size == SIZE
        assert r.duration == pytest.approx(N / 24)
        assert not r.has_audio and r.problem is None
        assert r.info.codec == "h264" and r.info.bit_depth == 8
        assert r.timestamps[1] == pytest.approx(1 / 24)
        assert r.index.keyframes.tolist() == list(range(0, N, GOP))
        assert r.index_at(1.0) == 24


def test_sequential_frames_are_the_source_frames(sequential: list[np.ndarray], src_frames: list[np.ndarray]) -> None:
    for i, img in enumerate(sequential):
        assert img.shape == (SIZE[1], SIZE[0], 3) and img.dtype == np.uint8
        assert read_stamp(img) == i
        assert psnr(img, src_frames[i]) > 32


def test_every_frame_in_random_order_is_exact(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    order = list(range(N)) * 2
    random.Random(4).shuffle(order)
    with open_video(gop_clip) as r:
        for i in order:
            assert np.array_equal(r.read(i), sequential[i]), f"frame {i}"


def test_reading_in_order_never_seeks(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    with open_video(gop_clip) as r:
        r.read(30)  # one seek to get there
        seeks = []
        original = r._seek
        r._seek = lambda k, **kw: (seeks.append(k), original(k, **kw))  # type: ignore[method-assign]
        for i in range(31, N):
            assert np.array_equal(r.read(i), sequential[i])
        assert seeks == []
        r.read(5)  # going back has to seek
        assert seeks == [0]


def test_negative_index_and_bounds(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    with open_video(gop_clip) as r:
        assert np.array_equal(r.read(-1), sequential[-1])
        with pytest.raises(IndexError):
            r.read(N)


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "options"),
    [
        ("clip.mov", "libx264", "yuv420p", {"g": "10", "crf": "14"}),
        ("clip.mkv", "libx264", "yuv420p", {"g": "10", "crf": "14"}),
        ("clip.webm", "libvpx-vp9", "yuv420p", {"g": "10", "crf": "20", "b:v": "0", "deadline": "realtime", "cpu-used": "8"}),
        ("clip.avi", "mjpeg", "yuvj420p", {"q:v": "2"}),
        ("clip.ts", "libx264", "yuv420p", {"g": "10", "crf": "14"}),
        ("bframes.avi", "libx264", "yuv420p", {"g": "12", "bf": "3", "crf": "14"}),  # AVI makes up its times
    ],
)
def test_containers(clip_dir: Path, src_frames: list[np.ndarray], name: str, codec: str, pix_fmt: str, options: dict[str, str]) -> None:
    frames = src_frames[:30]
    path = encode(clip_dir / name, frames, codec=codec, pix_fmt=pix_fmt, options=options)
    with open_media(path) as r:
        assert len(r) == 30 and r.fps == 24
        for i in [29, 3, 17, 0, 11, 12, 28]:
            img = r.read(i)
            assert read_stamp(img) == i
            assert psnr(img, frames[i]) > 26


def test_timestamps_not_starting_at_zero(clip_dir: Path, src_frames: list[np.ndarray]) -> None:
    tb = Fraction(1, 1000)
    pts = [5000 + round(i * 1000 / 24) for i in range(40)]
    path = encode(clip_dir / "offset.mkv", src_frames[:40], pts=pts, time_base=tb, options={"g": "12"})
    with open_video(path) as r:
        assert len(r) == 40
        assert r.timestamps[0] == 0.0
        assert r.fps == 24
        for i in [0, 39, 13, 1, 25]:
            assert read_stamp(r.read(i)) == i


def test_variable_frame_rate(clip_dir: Path, src_frames: list[np.ndarray]) -> None:
    tb = Fraction(1, 1000)
    gaps = [33, 17, 80, 40, 10, 100, 33, 33, 50]
    pts = [0]
    for i in range(1, 45):
        pts.append(pts[-1] + gaps[i % len(gaps)])
    path = encode(clip_dir / "vfr.mp4", src_frames[:45], pts=pts, time_base=tb, options={"g": "15", "bf": "2"})
    with open_video(path) as r:
        assert len(r) == 45
        assert r.info.variable_frame_rate
        assert np.allclose(r.timestamps, np.array(pts) / 1000)
        order = list(range(45))
        random.Random(1).shuffle(order)
        for i in order:
            assert read_stamp(r.read(i)) == i
        assert r.index_at(pts[20] / 1000 + 0.001) == 20
        assert r.duration == pytest.approx((pts[-1] + np.median(np.diff(pts))) / 1000)


def _marker_corner(img: np.ndarray) -> str:
    h, w = img.shape[:2]
    corners = {"tl": img[: h // 4, : w // 4], "tr": img[: h // 4, -w // 4 :], "bl": img[-h // 4 :, : w // 4], "br": img[-h // 4 :, -w // 4 :]}
    return max(corners, key=lambda k: corners[k].mean())


@pytest.mark.parametrize(
    ("matrix", "rotation", "corner"),
    [
        ([0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30], 270, "tr"),  # an iPhone shot upright: turn clockwise
        ([0, -65536, 0, 65536, 0, 0, 0, 0, 1 << 30], 90, "bl"),
        ([-65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30], 180, "br"),
    ],
)
def test_rotation_metadata_is_applied(clip_dir: Path, matrix: list[int], rotation: int, corner: str) -> None:
    img = np.zeros((48, 80, 3), np.uint8)
    img[:12, :20] = 255  # marker top-left as stored
    path = encode(clip_dir / f"rot{rotation}.mp4", [img] * 3, display_matrix=matrix)
    with open_video(path) as r:
        assert r.info.rotation == rotation
        expected = (48, 80) if rotation in (90, 270) else (80, 48)
        assert r.size == expected
        out = r.read(1)
        assert out.shape == (expected[1], expected[0], 3)
        assert _marker_corner(out) == corner


def test_anamorphic_pixels_are_made_square(clip_dir: Path) -> None:
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = 200  # left half bright
    path = encode(clip_dir / "anamorphic.mp4", [img] * 3, sample_aspect=Fraction(2, 1))
    with open_video(path) as r:
        assert r.info.sample_aspect == 2 and r.info.coded_size == (64, 48)
        assert r.size == (128, 48)
        out = r.read(0)
        assert out.shape == (48, 128, 3)
        assert out[:, :60].mean() > 190 and out[:, 68:].mean() < 10


def test_ten_bit_source(clip_dir: Path, src_frames: list[np.ndarray]) -> None:
    path = encode(clip_dir / "tenbit.mkv", src_frames[:12], pix_fmt="yuv420p10le", options={"crf": "10"})
    with open_video(path) as r:
        assert r.info.bit_depth == 10 and r.info.pixel_format == "yuv420p10le"
        img = r.read(7)
        assert img.dtype == np.uint8 and read_stamp(img) == 7
        assert psnr(img, src_frames[7]) > 32


def test_odd_size_source(clip_dir: Path, data_dir: Path) -> None:
    import cv2

    files = sorted((data_dir / "cutie_judo" / "JPEGImages").glob("*.jpg"))[:4]
    frames = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)[:, :853] for f in files]  # 853×480
    path = encode(clip_dir / "odd.webm", frames, codec="libvpx-vp9", options={"crf": "10", "b:v": "0", "deadline": "realtime", "cpu-used": "8"})
    with open_video(path) as r:
        assert r.size == (853, 480)
        assert r.read(2).shape == (480, 853, 3)
        assert psnr(r.read(2), frames[2]) > 30


@pytest.mark.parametrize(("colorspace", "rgb"), [(1, (200, 40, 90)), (6, (200, 40, 90)), (1, (30, 180, 250))])
def test_colour_matrix_follows_the_tag(clip_dir: Path, colorspace: int, rgb: tuple[int, int, int]) -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    img[:] = rgb
    path = encode(clip_dir / f"colour{colorspace}{rgb[0]}.mp4", [img] * 2, colorspace=colorspace, options={"crf": "0"})
    with open_video(path) as r:
        out = r.read(0)[16:48, 16:48].reshape(-1, 3).mean(axis=0)
        assert np.abs(out - np.array(rgb)).max() < 3


def test_two_threads_read_the_same_reader(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    import threading

    errors: list[str] = []
    with open_video(gop_clip) as r:

        def work(order: list[int]) -> None:
            for i in order:
                if not np.array_equal(r.read(i), sequential[i]):
                    errors.append(f"frame {i}")

        a = threading.Thread(target=work, args=(list(range(N)),))
        b = threading.Thread(target=work, args=(list(range(N - 1, -1, -7)),))
        a.start(), b.start()
        a.join(), b.join()
    assert errors == []


def test_clone_reads_independently(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    with open_video(gop_clip) as r, r.clone() as c:
        assert c.index is r.index
        assert np.array_equal(c.read(90), sequential[90])
        assert np.array_equal(r.read(1), sequential[1])


@pytest.mark.parametrize("movflags", ["", "+faststart", "+frag_keyframe+empty_moov"])
def test_mp4_index_from_sample_tables_matches_a_packet_pass(clip_dir: Path, src_frames: list[np.ndarray], movflags: str) -> None:
    import av

    from sam2_studio.media.video import _Probe

    tb = Fraction(1, 90000)
    pts = [round(i * 90000 / 24) + (7000 if i > 20 else 0) for i in range(40)]  # a jump: VFR
    path = encode(
        clip_dir / f"tables{movflags.replace('+', '_')}.mp4", src_frames[:40], pts=pts, time_base=tb,
        options={"g": "9", "bf": "3"}, container_options={"movflags": movflags} if movflags else None,
    )
    probe = _Probe(path)
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        builder, damaged = probe._index_from_packets(c, vs, vs.time_base, path.stat().st_size)
    with av.open(str(path)) as c:
        fast = probe._index_from_sample_tables(c, c.streams.video[0], tb, path.stat().st_size)
    assert (fast is None) == ("frag" in movflags)  # fragmented files take the packet pass
    ref = builder.build()
    assert damaged == "" and probe.problem is None
    assert np.array_equal(probe.index.pts, ref.pts)
    assert np.array_equal(probe.index.keyframes, ref.keyframes)
    with open_video(path) as r:
        for i in (39, 0, 21, 20, 5):
            assert read_stamp(r.read(i)) == i
