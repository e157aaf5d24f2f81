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


# == the spec on each system: run with PyInstaller's names faked and the platform simulated ===
class SpecRun:
    """What the spec asked PyInstaller for."""

    def __init__(self) -> None:
        self.analysis: dict = {}
        self.exes: list[dict] = []
        self.collect: tuple | None = None
        self.bundles: list[tuple] = []

    def names(self, root: Path) -> dict:
        run = self

        class Analysis:
            def __init__(self, scripts, **kw):  # noqa: ANN001, ANN003
                run.analysis = {"scripts": scripts, **kw}
                self.pure, self.scripts, self.binaries, self.datas = [], ["launcher"], ["libs"], ["data"]

        def exe(*args, **kw):  # noqa: ANN002, ANN003, ANN202
            run.exes.append(kw)
            return kw["name"]

        def collect(*args, **kw):  # noqa: ANN002, ANN003, ANN202
            run.collect = (args, kw)
            return "COLLECT"

        def bundle(*args, **kw):  # noqa: ANN002, ANN003, ANN202
            run.bundles.append((args, kw))

        return {"SPECPATH": str(root / "packaging"), "Analysis": Analysis, "PYZ": lambda pure: "PYZ",
                "EXE": exe, "COLLECT": collect, "BUNDLE": bundle, "__name__": "__main__"}


def run_spec(monkeypatch, tmp_path, system: str, icons: tuple[str, ...] = ()) -> SpecRun:  # noqa: ANN001
    import sys
    import types

    root = tmp_path / "checkout"
    (root / "packaging" / "build-icons").mkdir(parents=True)
    for name in icons:
        (root / "packaging" / "build-icons" / name).write_bytes(b"icon")
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_data_files = lambda package: [(f"{package}/data", package)]
    hooks.collect_submodules = lambda package: [f"{package}.main"]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    run = SpecRun()
    code = compile((PACKAGING / "sam2-studio.spec").read_text(), "sam2-studio.spec", "exec")
    with monkeypatch.context() as m:
        m.setattr(sys, "platform", system)
        exec(code, run.names(root))  # noqa: S102 - our own spec, as PyInstaller runs it
    return run


def test_the_spec_on_linux_makes_two_programs_in_one_folder(monkeypatch, tmp_path):
    run = run_spec(monkeypatch, tmp_path, "linux", icons=("sam2-studio.ico", "sam2-studio.icns"))
    assert [(e["name"], e["console"]) for e in run.exes] == [("sam2-studio", False), ("sam2-studio-cli", True)]
    assert all(e["icon"] is None for e in run.exes)  # the desktop entry carries the icon
    assert run.collect[0][:2] == ("sam2-studio", "sam2-studio-cli") and run.collect[1]["name"] == "SAM2 Studio"
    assert not run.bundles
    assert run.analysis["scripts"] == [str(tmp_path / "checkout" / "packaging" / "launcher.py")]
    assert {"sam2", "pytest", "hydra"} <= set(run.analysis["excludes"])
    assert "sam2_studio.main" in run.analysis["hiddenimports"]


def test_the_spec_on_windows_gives_both_programs_the_ico(monkeypatch, tmp_path):
    run = run_spec(monkeypatch, tmp_path, "win32", icons=("sam2-studio.ico", "sam2-studio.icns"))
    assert [Path(e["icon"]).name for e in run.exes] == ["sam2-studio.ico", "sam2-studio.ico"]
    assert [e["console"] for e in run.exes] == [False, True]  # the CLI keeps its console output
    assert not run.bundles
    bare = run_spec(monkeypatch, tmp_path / "bare", "win32")
    assert [e["icon"] for e in bare.exes] == [None, None]  # before make_icons.py: still builds


def test_the_spec_on_macos_makes_an_app_that_opens_projects(monkeypatch, tmp_path):
    from sam2_studio import __version__

    run = run_spec(monkeypatch, tmp_path, "darwin", icons=("sam2-studio.ico", "sam2-studio.icns"))
    assert [Path(e["icon"]).name for e in run.exes] == ["sam2-studio.icns"] * 2
    (args, kw), = run.bundles
    assert args == ("COLLECT",) and kw["name"] == "SAM2 Studio.app" and kw["bundle_identifier"] == APP_ID
    assert Path(kw["icon"]).name == "sam2-studio.icns"
    plist = kw["info_plist"]
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == __version__
    exported, = plist["UTExportedTypeDeclarations"]
    assert exported["UTTypeTagSpecification"]["public.filename-extension"] == ["s2s"]
    project, video = plist["CFBundleDocumentTypes"]
    assert project["LSItemContentTypes"] == [exported["UTTypeIdentifier"]] and project["CFBundleTypeRole"] == "Editor"
    assert video["LSItemContentTypes"] == ["public.movie"]
    assert not any(e.get("argv_emulation") for e in run.exes)  # Qt gets the file: see below


def test_a_file_the_system_hands_over_is_opened(qtbot, window):
    """macOS gives a double-clicked project or video to the running app as a QFileOpenEvent."""
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from sam2_studio.ui.file_open import FileOpenRelay

    app = QApplication.instance()
    relay = FileOpenRelay(window.open_path)
    app.installEventFilter(relay)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(str(resource("sample", "car-shadow.mp4"))))
    finally:
        app.removeEventFilter(relay)
    assert window.doc is not None and window.doc.video.path.name == "car-shadow.mp4"
    assert "FileOpenRelay(window.open_path" in (ROOT / "sam2_studio" / "ui" / "launch.py").read_text()
