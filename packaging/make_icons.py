"""Render the SVG icon into the sizes desktops want: PNGs for Linux (hicolor theme), an
.ico for Windows (Qt's ICO writer), and an .iconset folder for macOS's ``iconutil``.

    .venv/bin/python packaging/make_icons.py        # -> packaging/build-icons/
    iconutil -c icns packaging/build-icons/sam2-studio.iconset   # on macOS
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "sam2-studio.svg"
OUT = Path(__file__).resolve().parent / "build-icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int):  # noqa: ANN201
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt needs it
    OUT.mkdir(exist_ok=True)
    iconset = OUT / "sam2-studio.iconset"
    iconset.mkdir(exist_ok=True)
    for size in SIZES:
        image = render(size)
        folder = OUT / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(str(folder / "org.sam2studio.SAM2Studio.png"))
        image.save(str(iconset / f"icon_{size}x{size}.png"))
        if size <= 256:
            render(size * 2).save(str(iconset / f"icon_{size}x{size}@2x.png"))
    if not render(256).save(str(OUT / "sam2-studio.ico")):
        print("this Qt cannot write .ico files; convert a PNG with another tool", file=sys.stderr)
    print(f"icons in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
