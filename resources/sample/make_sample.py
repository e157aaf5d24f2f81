"""Make ``car-shadow.mp4``, the sample clip that ``./dev.sh run`` opens.

Source: the 40 JPEG frames of DAVIS 2016 "car-shadow" (Perazzi et al., CVPR 2016, CC BY 4.0),
in ``../shared/data/davis16_car-shadow``. Encoded with PyAV's libx264 at 24 fps, yuv420p,
CRF 26: about 300 kB, small enough to commit, good enough to segment.

    .venv/bin/python resources/sample/make_sample.py [SOURCE_FOLDER]
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "davis16_car-shadow" / "JPEGImages"
OUT = HERE / "car-shadow.mp4"
FPS = Fraction(24)
CRF = 26


def main(source: Path = DEFAULT_SOURCE) -> Path:
    files = sorted(source.glob("*.jpg"))
    if not files:
        raise SystemExit(f"no JPEG frames in {source}")
    first = cv2.imread(str(files[0]))
    h, w = first.shape[:2]
    with av.open(str(OUT), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "veryslow", "tune": "film"}
        stream.codec_context.color_primaries = 1  # BT.709, tagged so no player guesses
        stream.codec_context.color_trc = 1
        stream.codec_context.colorspace = 1
        for f in files:
            bgr = cv2.imread(str(f))
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return OUT


if __name__ == "__main__":
    path = main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
    print(f"{path} ({path.stat().st_size // 1024} kB)")
