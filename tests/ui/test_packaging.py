"""The packaging files agree with each other and with what the app looks for."""

from __future__ import annotations

import ast
import configparser
import xml.etree.ElementTree as ET
from pathlib import Path

from sam2_studio.ui.resources import app_icon_path, resource

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "org.sam2studio.SAM2Studio"


def test_bundled_resources_exist():
    assert app_icon_path().is_file() and ET.parse(app_icon_path()).getroot().tag.endswith("svg")
    sample = resource("sample", "car-shadow.mp4")
    assert sample.is_file() and sample.stat().st_size < 500_000
    assert (ROOT / "resources" / "README.md").read_text().count("CC BY 4.0")


def test_the_spec_is_python_and_names_files_that_exist():
    spec = (PACKAGING / "sam2-studio.spec").read_text()
    ast.parse(spec)
    for rel in ("packaging/launcher.py", "resources/icons", "resources/sample/car-shadow.mp4", "plugins"):
        assert (ROOT / rel).exists(), rel
    assert 'console=False' in spec and 'console=True' in spec and '"sam2"' in spec  # oracle excluded


def test_desktop_entry_and_appstream_agree():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING / "linux" / f"{APP_ID}.desktop")
    d = entry["Desktop Entry"]
    assert d["Icon"] == APP_ID and d["Exec"].startswith("sam2-studio ")
    assert "application/x-sam2-studio-project" in d["MimeType"]
    meta = ET.parse(PACKAGING / "linux" / f"{APP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.find("launchable").text == f"{APP_ID}.desktop"
    mime = ET.parse(PACKAGING / "linux" / "sam2-studio-mime.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    assert mime.find(f"{ns}mime-type").get("type") == "application/x-sam2-studio-project"
    from sam2_studio.project.format import MIMETYPE

    assert MIMETYPE == "application/x-sam2-studio-project"
    assert f'setDesktopFileName("{APP_ID}")' in (ROOT / "sam2_studio" / "ui" / "launch.py").read_text()
