"""Can Qt open a window here? Decided before Qt is imported, so that a missing system
library gives a message and exit code 2 instead of Qt's abort (exit 134, a core dump).

When no platform plugin loads, Qt stops the process, and on Linux its message names
``libxcb-cursor0`` whatever is actually missing. The Linux desktop libraries that Qt's
``xcb`` and ``wayland`` plugins link against come from the system, not from the PySide6
wheel, so a fresh machine may lack some. This check reads ``ldd`` of the plugin in the
installed PySide6 (nothing of Qt is loaded into this process), names the missing libraries
and the packages that hold them for apt, dnf and pacman. Without any display it points to
the command line, which needs none. ``offscreen`` and the other non-desktop platforms (tests,
CI, VNC) are never blocked, nor are Windows and macOS, whose plugins need only the system.

``SAM2_STUDIO_SKIP_PLATFORM_CHECK=1`` skips the check, for systems where it is wrong.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SKIP_ENV = "SAM2_STUDIO_SKIP_PLATFORM_CHECK"
DESKTOP_PLATFORMS = ("xcb", "wayland")  # the Linux plugins this check knows how to judge

# Libraries Qt opens at run time (dlopen), which ldd cannot see: Qt 6.5+ refuses to start
# the xcb plugin without libxcb-cursor.
RUNTIME_LIBRARIES = {"xcb": ("libxcb-cursor.so.0",)}

# soname -> (apt: Debian/Ubuntu, dnf: Fedora/RHEL, pacman: Arch) package holding it.
LIBRARY_PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libXau.so.6": ("libxau6", "libXau", "libxau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp"),
    "libSM.so.6": ("libsm6", "libSM", "libsm"),
    "libICE.so.6": ("libice6", "libICE", "libice"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
    "libpng16.so.16": ("libpng16-16", "libpng", "libpng"),
    "libz.so.1": ("zlib1g", "zlib", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd", "zstd"),
    "libexpat.so.1": ("libexpat1", "expat", "expat"),
    "libbrotlidec.so.1": ("libbrotli1", "libbrotli", "brotli"),
    "libbrotlicommon.so.1": ("libbrotli1", "libbrotli", "brotli"),
}
MANAGERS = (  # (who uses it, the install command); the order of LIBRARY_PACKAGES' tuples
    ("Debian, Ubuntu", "sudo apt install"),
    ("Fedora", "sudo dnf install"),
    ("Arch", "sudo pacman -S"),
)
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)

Ldd = Callable[[Path], str | None]  # the output of ``ldd PLUGIN``; None when ldd cannot run
Loadable = Callable[[str], bool]  # whether a library name can be opened (dlopen)


@dataclass(frozen=True)
class PlatformProblem:
    """Why the editor cannot open a window, in words a user can act on."""

    kind: Literal["no-display", "missing-libraries", "no-plugin"]
    platform: str = ""  # the Qt platform plugin concerned ("xcb", "wayland")
    missing: tuple[str, ...] = ()  # the sonames that did not resolve
    plugin: Path | None = None

    def message(self) -> str:
        if self.kind == "no-display" and self.platform:  # QT_QPA_PLATFORM names one we lack
            return (f"sam2-studio: QT_QPA_PLATFORM={self.platform} asks for a display that is not there "
                    "(DISPLAY for xcb, WAYLAND_DISPLAY for wayland): unset it or set the display.\n"
                    f"{_COMMAND_LINE}")
        if self.kind == "no-display":
            return _NO_DISPLAY
        if self.kind == "no-plugin":
            return (f"sam2-studio: the editor cannot start: Qt's {self.platform} platform plugin is missing "
                    f"({self.plugin}). Reinstall PySide6: pip install --force-reinstall PySide6-Essentials\n"
                    f"{_COMMAND_LINE}")
        lines = [f"sam2-studio: the editor cannot start: Qt's {self.platform} platform plugin needs "
                 f"{'a library' if len(self.missing) == 1 else 'libraries'} this system lacks:"]
        lines += [f"  {name}" for name in self.missing]
        lines.append(f"Install {'it' if len(self.missing) == 1 else 'them'}, then start again:")
        lines += [f"  {who + ':':<16}{command}" for who, command in install_commands(self.missing)]
        unknown = [name for name in self.missing if name not in LIBRARY_PACKAGES]
        if unknown:
            lines.append("The package of " + ", ".join(unknown) + " is not in our list: find it with "
                         f"`apt-file search {unknown[0]}`, `dnf provides '*/{unknown[0]}'` or "
                         f"`pacman -F {unknown[0]}`.")
        lines.append(f"(Found with ldd on {self.plugin}.)")
        lines.append(_COMMAND_LINE)
        return "\n".join(lines)


_COMMAND_LINE = ("The command line needs no window: `sam2-studio segment` and `sam2-studio export` "
                 "(`sam2-studio --help`; README, \"Headless use\").")
_NO_DISPLAY = (
    "sam2-studio: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the editor "
    "cannot open a window.\n"
    "Start it from a desktop session, or use the command line, which needs no display:\n"
    "  sam2-studio segment clip.mp4 --prompts prompts.json --out clip.s2s --mattes mattes/\n"
    "  sam2-studio export clip.s2s --video clip-fx.mp4\n"
    "`sam2-studio --help` lists every command; docs/command-line.md and the README's "
    "\"Headless use\" explain them.")


def install_commands(missing: Sequence[str]) -> list[tuple[str, str]]:
    """(who, command) for apt, dnf and pacman: the packages that hold ``missing``; sonames we
    do not know are left out (the message says how to find them)."""
    out = []
    for index, (who, command) in enumerate(MANAGERS):
        packages = list(dict.fromkeys(LIBRARY_PACKAGES[name][index] for name in missing
                                      if name in LIBRARY_PACKAGES))
        if packages:
            out.append((who, f"{command} {' '.join(packages)}"))
    return out


def missing_from_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` could not resolve, each once, in its order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def run_ldd(plugin: Path) -> str | None:
    try:
        done = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None  # no ldd (musl, a stripped image): let Qt try
    return done.stdout + done.stderr


def can_load(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def qt_plugin_dir(environ: Mapping[str, str]) -> Path | None:
    """Where Qt will look for platform plugins: ``QT_QPA_PLATFORM_PLUGIN_PATH``, else the
    installed PySide6's (``Qt/plugins/platforms`` on Linux and macOS, ``plugins/platforms``
    on Windows), found without importing it. None when PySide6 is not installed."""
    if environ.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return Path(environ["QT_QPA_PLATFORM_PLUGIN_PATH"])
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (package / "Qt" / "plugins" / "platforms", package / "plugins" / "platforms"):
        if candidate.is_dir():
            return candidate
    return package / "Qt" / "plugins" / "platforms"


def plugin_file(plugin_dir: Path, platform: str, system: str) -> Path:
    if system == "win32":
        return plugin_dir / f"q{platform}.dll"
    if system == "darwin":
        return plugin_dir / f"libq{platform}.dylib"
    named = plugin_dir / f"libq{platform}.so"
    if platform.startswith("wayland") and not named.exists():
        return plugin_dir / "libqwayland.so"  # one plugin serves wayland, wayland-egl, ...
    return named


def requested_platforms(environ: Mapping[str, str]) -> list[str]:
    """The platform names in ``QT_QPA_PLATFORM`` ("wayland;xcb", "xcb:option=1"), in order."""
    value = environ.get("QT_QPA_PLATFORM", "")
    return [part.split(":", 1)[0].strip() for part in value.split(";") if part.strip()]


def linux_candidates(environ: Mapping[str, str]) -> list[str]:
    """The desktop plugins Qt tries when ``QT_QPA_PLATFORM`` is unset, in Qt's order: Wayland
    first in a Wayland session, X11 (xcb, also XWayland) always."""
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return ["wayland", "xcb"]
    return ["xcb", "wayland"]


def has_display(platform: str, environ: Mapping[str, str]) -> bool:
    return bool(environ.get("WAYLAND_DISPLAY") if platform.startswith("wayland") else environ.get("DISPLAY"))


def missing_libraries(plugin: Path, platform: str, ldd: Ldd, loadable: Loadable) -> list[str]:
    missing = missing_from_ldd(ldd(plugin) or "")
    for name in RUNTIME_LIBRARIES.get(platform, ()):
        if name not in missing and not loadable(name):
            missing.append(name)
    return missing


def check_platform(environ: MutableMapping[str, str] | None = None, system: str | None = None, *,
                   plugin_dir: Path | None = None, ldd: Ldd = run_ldd,
                   loadable: Loadable = can_load) -> PlatformProblem | None:
    """None when Qt can open a window (or when this check cannot judge: it never blocks what
    it does not know); else the problem.

    On Linux with ``QT_QPA_PLATFORM`` unset, the desktop platforms that pass are written to
    ``environ["QT_QPA_PLATFORM"]`` in Qt's order (e.g. "wayland;xcb" or "xcb"), so that Qt
    tries only those: a Wayland plugin lacking a library then no longer stops a session
    that XWayland would serve.
    """
    env = os.environ if environ is None else environ
    system = sys.platform if system is None else system
    if env.get(SKIP_ENV, "").strip().lower() in ("1", "yes", "true", "on"):
        return None
    requested = requested_platforms(env)
    if any(name.split("-")[0] not in DESKTOP_PLATFORMS for name in requested):
        return None  # offscreen, minimal, vnc, eglfs, windows, cocoa ...: not ours to judge
    plugin_dir = plugin_dir if plugin_dir is not None else qt_plugin_dir(env)
    if plugin_dir is None:
        return None  # no PySide6: the import fails and says so
    if not system.startswith("linux"):
        native = {"win32": "windows", "darwin": "cocoa"}.get(system)
        if native and not plugin_file(plugin_dir, native, system).exists():
            return PlatformProblem("no-plugin", native, plugin=plugin_file(plugin_dir, native, system))
        return None
    candidates = requested or linux_candidates(env)
    shown = [name for name in candidates if has_display(name, env)]
    if not shown:
        return PlatformProblem("no-display", ";".join(requested))
    first: PlatformProblem | None = None
    usable = []
    for name in shown:
        plugin = plugin_file(plugin_dir, name, system)
        if not plugin.exists():
            first = first or PlatformProblem("no-plugin", name, plugin=plugin)
            continue
        missing = missing_libraries(plugin, name, ldd, loadable)
        if missing:
            first = first or PlatformProblem("missing-libraries", name, tuple(missing), plugin)
        else:
            usable.append(name)
    if not usable:
        return first
    if not requested:
        env["QT_QPA_PLATFORM"] = ";".join(usable)
    return None
