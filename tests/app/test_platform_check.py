"""Before Qt starts, the launcher says what the system lacks (libraries and the command that
installs them, or a display) and exits 2; offscreen and the other non-desktop platforms pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_studio.app import platform_check as pc
from sam2_studio.app.platform_check import PlatformProblem, check_platform

ROOT = Path(__file__).resolve().parents[2]
ICCCM_KEYSYMS = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /site-packages/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


@pytest.fixture
def plugins(tmp_path):
    folder = tmp_path / "platforms"
    folder.mkdir()
    for name in ("libqxcb.so", "libqwayland.so", "libqoffscreen.so"):
        (folder / name).write_bytes(b"\x7fELF")
    return folder


def fake_ldd(outputs: dict[str, str]):
    """An ldd that answers per plugin file name and records what it was asked."""
    asked: list[str] = []

    def ldd(plugin: Path) -> str:
        asked.append(plugin.name)
        return outputs.get(plugin.name, "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")

    ldd.asked = asked  # type: ignore[attr-defined]
    return ldd


def refuse_ldd(plugin: Path) -> str:
    raise AssertionError(f"ldd must not run here ({plugin})")


def check(env, plugins, ldd=None, loadable=lambda name: True, system="linux"):
    return check_platform(env, system, plugin_dir=plugins, ldd=ldd or fake_ldd({}), loadable=loadable)


def test_missing_libraries_are_named_with_the_install_command_of_each_distribution(plugins):
    env = {"DISPLAY": ":0"}
    problem = check(env, plugins, fake_ldd({"libqxcb.so": ICCCM_KEYSYMS}))
    assert problem == PlatformProblem("missing-libraries", "xcb", ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"),
                                      plugins / "libqxcb.so")
    text = problem.message()
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in text
    assert "sudo pacman -S xcb-util-wm xcb-util-keysyms" in text
    assert "libxcb-icccm.so.4" in text and "libxcb-cursor" not in text  # not Qt's misleading guess
    assert "sam2-studio segment" in text  # the way that needs no window
    assert "QT_QPA_PLATFORM" not in env  # nothing is chosen for Qt when nothing works


def test_a_library_qt_opens_at_run_time_is_checked_too(plugins):
    problem = check({"DISPLAY": ":0"}, plugins, loadable=lambda name: name != "libxcb-cursor.so.0")
    assert problem is not None and problem.missing == ("libxcb-cursor.so.0",)
    assert "sudo apt install libxcb-cursor0" in problem.message()
    assert "needs a library" in problem.message() and "Install it," in problem.message()


def test_an_unknown_library_says_how_to_find_its_package(plugins):
    ldd = fake_ldd({"libqxcb.so": "\tlibxcb-icccm.so.4 => not found\n\tlibfancy.so.3 => not found\n"})
    text = check({"DISPLAY": ":0"}, plugins, ldd).message()
    assert "sudo apt install libxcb-icccm4\n" in text  # the known one, alone
    assert "apt-file search libfancy.so.3" in text and "pacman -F libfancy.so.3" in text


def test_every_package_list_names_three_distributions():
    for soname, packages in pc.LIBRARY_PACKAGES.items():
        assert soname.startswith("lib") and ".so." in soname
        assert len(packages) == len(pc.MANAGERS) and all(packages), soname


def test_without_a_display_it_points_to_the_command_line(plugins):
    problem = check({}, plugins, refuse_ldd)
    assert problem is not None and problem.kind == "no-display"
    text = problem.message()
    assert "DISPLAY" in text and "sam2-studio segment" in text and "sam2-studio export" in text
    assert "Headless use" in text


def test_a_requested_platform_without_its_display_is_named(plugins):
    text = check({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, plugins, refuse_ldd).message()
    assert "QT_QPA_PLATFORM=xcb" in text and "DISPLAY" in text


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc:size=800x600", "eglfs", "xcb;offscreen"])
def test_offscreen_and_other_platforms_are_never_blocked(plugins, platform):
    env = {"QT_QPA_PLATFORM": platform}  # no display at all, and ldd would say libraries are missing
    assert check(env, plugins, refuse_ldd) is None
    assert env["QT_QPA_PLATFORM"] == platform


def test_a_wayland_session_falls_back_to_xwayland_when_the_wayland_plugin_lacks_a_library(plugins):
    ldd = fake_ldd({"libqwayland.so": "\tlibwayland-cursor.so.0 => not found\n"})
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert check(env, plugins, ldd) is None
    assert env["QT_QPA_PLATFORM"] == "xcb"  # Qt tries only what loads
    assert ldd.asked == ["libqwayland.so", "libqxcb.so"]


def test_wayland_first_in_a_wayland_session_and_x11_elsewhere(plugins):
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert check(env, plugins) is None and env["QT_QPA_PLATFORM"] == "wayland;xcb"
    env = {"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}
    assert check(env, plugins) is None and env["QT_QPA_PLATFORM"] == "xcb"
    env = {"WAYLAND_DISPLAY": "wayland-0"}  # a bare compositor without XWayland
    assert check(env, plugins) is None and env["QT_QPA_PLATFORM"] == "wayland"


def test_a_wayland_only_session_reports_the_wayland_plugin(plugins):
    ldd = fake_ldd({"libqwayland.so": "\tlibwayland-cursor.so.0 => not found\n"})
    problem = check({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, plugins, ldd)
    assert problem is not None and problem.platform == "wayland"
    assert "sudo apt install libwayland-cursor0" in problem.message()
    assert "sudo pacman -S wayland" in problem.message()


def test_a_platform_the_user_chose_is_checked_and_kept(plugins):
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    assert check(env, plugins, fake_ldd({"libqxcb.so": ICCCM_KEYSYMS})).kind == "missing-libraries"
    assert check(env, plugins) is None and env["QT_QPA_PLATFORM"] == "xcb"


def test_a_plugin_missing_from_the_install_says_reinstall(plugins):
    (plugins / "libqxcb.so").unlink()
    problem = check({"DISPLAY": ":0"}, plugins, refuse_ldd)
    assert problem is not None and problem.kind == "no-plugin"
    assert "pip install --force-reinstall PySide6-Essentials" in problem.message()


@pytest.mark.parametrize(("system", "plugin"), [("win32", "qwindows.dll"), ("darwin", "libqcocoa.dylib")])
def test_windows_and_macos_need_only_their_plugin(tmp_path, system, plugin):
    env: dict[str, str] = {}  # no DISPLAY there, and no ldd
    problem = check_platform(env, system, plugin_dir=tmp_path, ldd=refuse_ldd, loadable=lambda n: False)
    assert problem is not None and problem.kind == "no-plugin" and plugin in problem.message()
    (tmp_path / plugin).write_bytes(b"")
    assert check_platform(env, system, plugin_dir=tmp_path, ldd=refuse_ldd, loadable=lambda n: False) is None
    assert env == {}


def test_the_check_can_be_skipped(plugins):
    assert check({pc.SKIP_ENV: "1"}, plugins, refuse_ldd) is None


def test_no_ldd_means_no_verdict_on_libraries(plugins):
    assert check({"DISPLAY": ":0"}, plugins, lambda plugin: None) is None


def test_the_plugin_folder_is_found_without_importing_qt():
    before = set(sys.modules)
    folder = pc.qt_plugin_dir({})
    assert folder is not None and folder.name == "platforms" and folder.is_dir()
    assert not any(name.startswith("PySide6") for name in set(sys.modules) - before)
    assert pc.qt_plugin_dir({"QT_QPA_PLATFORM_PLUGIN_PATH": "/elsewhere"}) == Path("/elsewhere")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd and the xcb plugin are Linux's")
def test_the_real_check_agrees_with_the_dynamic_loader():
    """On this machine, with the real ldd on the installed plugin: what the check reports
    missing is what the loader refuses (a fresh process opening the plugin), and nothing
    else; when the loader opens it, the check passes."""
    folder = pc.qt_plugin_dir({})
    plugin = folder / "libqxcb.so"
    env = {"DISPLAY": ":99"}
    problem = check_platform(env, "linux")
    opened = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(plugin)!r})"],
                            capture_output=True, text=True, timeout=60)
    if opened.returncode == 0 and pc.can_load("libxcb-cursor.so.0"):
        assert problem is None and env["QT_QPA_PLATFORM"] == "xcb"
    else:
        assert problem is not None and problem.kind == "missing-libraries" and problem.plugin == plugin
        first = opened.stderr.strip().splitlines()[-1].split("OSError: ")[-1].split(":")[0]
        assert first in problem.missing or opened.returncode == 0, opened.stderr
        for soname in problem.missing:  # each one is truly absent
            assert not pc.can_load(soname), soname


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a fake ldd script on PATH")
def test_the_launcher_exits_2_with_the_message_instead_of_qts_abort(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldd").write_text("#!/bin/sh\nprintf '\\tlibxcb-icccm.so.4 => not found\\n'\n")
    (fake / "ldd").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", pc.SKIP_ENV)}
    env.update(PATH=f"{fake}{os.pathsep}{env.get('PATH', '')}", DISPLAY=":99", XDG_SESSION_TYPE="x11")
    done = subprocess.run([sys.executable, "-m", "sam2_studio"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "sudo apt install libxcb-icccm4" in done.stderr and "core dumped" not in done.stderr
    del env["DISPLAY"]
    done = subprocess.run([sys.executable, "-m", "sam2_studio", "clip.mp4"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no display found" in done.stderr and "sam2-studio segment" in done.stderr
