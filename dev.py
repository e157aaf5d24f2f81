#!/usr/bin/env python3
"""One setup for every desktop: makes ``.venv``, installs torch first (the build that fits
this machine), then SAM2 Studio, then runs what you ask.

    python3 dev.py run [ARGS]    set up and start the editor (on the bundled sample by default)
    python3 dev.py test [ARGS]   set up with the test oracle, then pytest ARGS (offscreen Qt)
    python3 dev.py setup         set up (with the test oracle) only

On Windows ``py dev.py run``; ``./dev.sh run`` calls this file. Which torch:

- macOS: the default build, which runs on Apple GPUs through MPS (Apple silicon only:
  PyTorch builds no wheels for Intel Macs any more);
- Windows and Linux with an NVIDIA driver (``nvidia-smi`` answers): the CUDA build from the
  PyTorch wheel index, for the newest CUDA the driver supports;
- otherwise the CPU build (on Linux from the PyTorch CPU index: PyPI's Linux torch carries
  gigabytes of CUDA libraries).

The version is pinned (``torch==2.13.0``; these build machines carry exactly that CPU wheel,
and any other spec pulls gigabytes). The PyTorch index is used only when its host resolves;
offline, pip takes the pinned wheel from the sources it is configured with. Overrides:
``TORCH_SPEC`` (e.g. ``torch==2.13.0``), ``TORCH_INDEX_URL`` (empty: pip's own sources),
``VENV`` (default ``.venv``), ``PYTHON`` (the Python 3.11+ that makes the venv).

Setting up again is skipped until ``pyproject.toml``, this file or the torch choice change
(a stamp file in the venv). Written for any Python 3.8+, so that an old ``python3`` can still
find a newer one or say what is missing.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
TORCH_VERSION = "2.13.0"
DEFAULT_TORCH_SPEC = f"torch=={TORCH_VERSION}"
PYTORCH_INDEX = "https://download.pytorch.org/whl"
# The CUDA builds published for the pinned version, newest first, with the lowest driver CUDA
# version each needs (``nvidia-smi`` prints the newest CUDA its driver supports). Update with
# the pin.
CUDA_BUILDS: Tuple[Tuple[Tuple[int, int], str], ...] = (((13, 0), "cu130"), ((12, 8), "cu128"), ((12, 6), "cu126"))
ORACLE = "sam2==1.1.0"  # the reference implementation: a test oracle only
MIN_PYTHON = (3, 11)
SAMPLE = Path("resources") / "sample" / "car-shadow.mp4"
USAGE = "usage: python3 dev.py run|test|setup [ARGS]   (Windows: py dev.py ...)"

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class SetupError(Exception):
    """Something this machine lacks, in words that say what to do."""


@dataclass(frozen=True)
class Machine:
    """What decides the torch build: the system (``sys.platform``), the CPU architecture and
    the newest CUDA version the NVIDIA driver supports (None without a driver)."""

    system: str
    arch: str
    driver_cuda: Optional[Tuple[int, int]] = None


@dataclass(frozen=True)
class TorchPlan:
    spec: str
    index_url: Optional[str]  # None: pip's configured sources (PyPI, mirrors, find-links)
    why: str

    def pip_args(self) -> List[str]:
        return [self.spec] + (["--index-url", self.index_url] if self.index_url else [])


# == which torch =============================================================================
def parse_driver_cuda(text: str) -> Optional[Tuple[int, int]]:
    """The "CUDA Version: 12.8" that ``nvidia-smi`` prints in its header."""
    found = re.search(r"CUDA Version\s*:\s*(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def nvidia_smi(system: str, environ: Mapping[str, str], which: Callable[[str], Optional[str]] = shutil.which) -> Optional[str]:
    found = which("nvidia-smi")
    if found or system != "win32":
        return found
    # Older Windows drivers install it outside PATH.
    legacy = Path(environ.get("ProgramFiles", r"C:\Program Files")) / "NVIDIA Corporation" / "NVSMI" / "nvidia-smi.exe"
    return str(legacy) if legacy.is_file() else None


def detect_driver_cuda(system: str, environ: Mapping[str, str], run: Runner = subprocess.run,
                       which: Callable[[str], Optional[str]] = shutil.which) -> Optional[Tuple[int, int]]:
    """The CUDA version the NVIDIA driver supports; None without a working driver. (0, 0)
    when ``nvidia-smi`` answers but names no CUDA version (a very old driver)."""
    if system == "darwin":
        return None
    smi = nvidia_smi(system, environ, which)
    if smi is None:
        return None
    try:
        done = run([smi], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None  # installed but no driver loaded, or no GPU
    return parse_driver_cuda(done.stdout) or (0, 0)


def this_machine(environ: Mapping[str, str]) -> Machine:
    system = "linux" if sys.platform.startswith("linux") else sys.platform
    return Machine(system, platform.machine().lower(), detect_driver_cuda(system, environ))


def cuda_build(driver_cuda: Tuple[int, int]) -> Optional[str]:
    """The newest CUDA build the driver can run, e.g. "cu128"; None if it is too old."""
    for needs, tag in CUDA_BUILDS:
        if driver_cuda >= needs:
            return tag
    return None


def torch_plan(machine: Machine, environ: Mapping[str, str]) -> TorchPlan:
    """Which torch to install on ``machine``: see the module's docstring."""
    spec = environ.get("TORCH_SPEC", "").strip() or DEFAULT_TORCH_SPEC
    if "TORCH_INDEX_URL" in environ:
        url = environ["TORCH_INDEX_URL"].strip() or None
        return TorchPlan(spec, url, f"TORCH_INDEX_URL={url or '(pip sources)'}")
    if machine.system == "darwin":
        if machine.arch in ("x86_64", "amd64", "i386") and not environ.get("TORCH_SPEC"):
            raise SetupError(
                "PyTorch builds no wheels for Intel Macs since torch 2.2, and SAM2 Studio needs a newer "
                "one. Use an Apple silicon Mac with an arm64 Python (not one running under Rosetta), "
                "or set TORCH_SPEC to a torch you have.")
        return TorchPlan(spec, None, "macOS: the default build (Apple GPU through MPS)")
    if machine.driver_cuda is not None:
        tag = cuda_build(machine.driver_cuda)
        version = "%d.%d" % machine.driver_cuda
        if tag is not None:
            return TorchPlan(spec, f"{PYTORCH_INDEX}/{tag}",
                             f"NVIDIA driver for CUDA {version}: the CUDA build ({tag})")
        oldest = "%d.%d" % CUDA_BUILDS[-1][0]
        why = (f"the NVIDIA driver supports CUDA {version}, older than the {oldest} the CUDA build "
               "needs: the CPU build (update the driver to use the GPU)")
    else:
        why = "no NVIDIA driver: the CPU build"
    if machine.system == "win32":
        return TorchPlan(spec, None, why)  # PyPI's Windows torch is the CPU build
    return TorchPlan(spec, f"{PYTORCH_INDEX}/cpu", why)


def host_resolves(url: str, timeout: float = 5.0) -> bool:
    """Whether the host of ``url`` has an address (DNS only, no connection), within ``timeout``."""
    host = urlsplit(url).hostname
    if not host:
        return False
    answer: List[bool] = []

    def look_up() -> None:
        try:
            answer.append(bool(socket.getaddrinfo(host, 443)))
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=look_up, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


def reachable_plan(plan: TorchPlan, environ: Mapping[str, str],
                   resolves: Callable[[str], bool] = host_resolves) -> TorchPlan:
    """Offline (these build machines) the PyTorch index cannot answer: leave it out and let pip
    take the pinned wheel from its configured sources. An index the user named is kept."""
    if plan.index_url is None or "TORCH_INDEX_URL" in environ or resolves(plan.index_url):
        return plan
    return replace(plan, index_url=None, why=f"{plan.why}; {urlsplit(plan.index_url).hostname} "
                   "does not resolve, so from pip's configured sources")


# == the virtual environment =================================================================
def venv_python(venv: Path, system: str) -> Path:
    return venv / "Scripts" / "python.exe" if system == "win32" else venv / "bin" / "python"


def _is_new_enough(command: Sequence[str], run: Runner) -> bool:
    check = "import sys; sys.exit(sys.version_info < %r)" % (MIN_PYTHON,)
    try:
        return run(list(command) + ["-c", check], capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def find_python(system: str, environ: Mapping[str, str], run: Runner = subprocess.run,
                current: Sequence[str] = (sys.executable,),
                current_version: Tuple[int, ...] = tuple(sys.version_info[:2])) -> List[str]:
    """The command of a Python 3.11+ to make the venv with: ``PYTHON``, else the one running
    this file, else a newer one on PATH (``py -3.X`` on Windows)."""
    if environ.get("PYTHON"):
        command = [environ["PYTHON"]]
        if not _is_new_enough(command, run):
            raise SetupError(f"PYTHON={environ['PYTHON']} is not a Python 3.11 or newer.")
        return command
    if current_version >= MIN_PYTHON and current and current[0]:
        return list(current)
    minors = ("13", "12", "11")
    tries = [["py", f"-3.{m}"] for m in minors] if system == "win32" else [[f"python3.{m}"] for m in minors]
    for command in tries:
        if _is_new_enough(command, run):
            return command
    hint = {"win32": "from python.org or `winget install Python.Python.3.11`",
            "darwin": "from python.org or `brew install python@3.11`"}.get(
        system, "with your package manager (e.g. `sudo apt install python3.11 python3.11-venv`)")
    raise SetupError(f"Python 3.11 or newer is needed; this is {'.'.join(map(str, current_version))}. "
                     f"Install one {hint}, or set PYTHON=/path/to/python3.11.")


def make_venv(venv: Path, system: str, environ: Mapping[str, str], run: Runner) -> Path:
    python = venv_python(venv, system)
    command = find_python(system, environ, run) + ["-m", "venv", str(venv)]
    print(f"dev.py: making {venv} with {' '.join(command[:-3])}", flush=True)
    done = run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not python.exists():
        detail = (done.stdout or "") + (done.stderr or "")
        hint = ""
        if "ensurepip" in detail or "venv" in detail:
            hint = (" On Debian and Ubuntu the venv module is a package of its own: "
                    "`sudo apt install python3-venv` (or python3.11-venv), then run this again.")
        if venv.exists() and not python.exists():
            shutil.rmtree(venv)  # a half-made venv would be taken for a finished one next time
        raise SetupError(f"could not make {venv}: {detail.strip().splitlines()[-1] if detail.strip() else done.returncode}.{hint}")
    return python


def stamp_file(venv: Path, extras: str, plan: TorchPlan, root: Path = ROOT) -> Path:
    """Names the inputs of a finished setup: what is declared (pyproject.toml, this file) and
    the torch choice. Any change means setting up again."""
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "dev.py"):
        digest.update((root / name).read_bytes())
    digest.update(repr((plan.spec, plan.index_url)).encode())
    return venv / f".setup-{extras}-{digest.hexdigest()[:16]}"


def pip(python: Path, args: Sequence[str], run: Runner, env: Optional[Dict[str, str]] = None) -> None:
    command = [str(python), "-m", "pip", "install", "-q"] + list(args)
    done = run(command, env=env, check=False)
    if done.returncode != 0:
        raise SetupError(f"pip failed ({done.returncode}): {' '.join(command)}")


def setup(extras: str, machine: Machine, environ: Mapping[str, str], *, root: Path = ROOT,
          run: Runner = subprocess.run, resolves: Callable[[str], bool] = host_resolves) -> Path:
    """Make the venv and install into it (``extras`` "test": the test tools and the reference
    oracle too); returns the venv's Python. Does nothing when the stamp says it is done."""
    venv = root / environ.get("VENV", ".venv")
    python = venv_python(venv, machine.system)
    if not python.exists():
        make_venv(venv, machine.system, environ, run)
    plan = torch_plan(machine, environ)
    stamp = stamp_file(venv, extras, plan, root)
    if stamp.exists():
        return python
    plan = reachable_plan(plan, environ, resolves)
    run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], capture_output=True, check=False)
    # torch first: the package's "torch>=2.3" is then satisfied and pulls nothing more.
    print(f"dev.py: {plan.spec}: {plan.why}", flush=True)
    pip(python, plan.pip_args(), run)
    if extras == "test":
        print("dev.py: SAM2 Studio, the test tools and the reference oracle", flush=True)
        pip(python, ["-e", f"{root}[test]"], run)
        # The reference implementation, a test oracle only: no CUDA build, no other torch.
        pip(python, ["setuptools", "wheel"], run)
        pip(python, ["--no-build-isolation", "--no-deps", ORACLE], run, env={**os.environ, "SAM2_BUILD_CUDA": "0"})
    else:
        print("dev.py: SAM2 Studio", flush=True)
        pip(python, ["-e", str(root)], run)
    for old in venv.glob(f".setup-{extras}-*"):
        old.unlink()
    stamp.write_text(f"{plan.spec} {plan.index_url or ''}\n{plan.why}\n")
    return python


# == commands ================================================================================
def command_line(cmd: str, python: Path, args: Sequence[str], root: Path = ROOT) -> List[str]:
    if cmd == "test":
        return [str(python), "-m", "pytest"] + list(args)
    if not args and (root / SAMPLE).is_file():
        args = [str(SAMPLE)]
    return [str(python), "-m", "sam2_studio"] + list(args)


def hand_over(command: List[str], environ: Dict[str, str], system: str) -> int:
    """Become ``command`` (POSIX), or run it and pass its exit code on (Windows)."""
    sys.stdout.flush()
    if system != "win32":
        os.execve(command[0], command, environ)
    try:
        return subprocess.call(command, env=environ)
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str]) -> int:
    cmd, args = (argv[0], list(argv[1:])) if argv else ("run", [])
    if cmd not in ("run", "test", "setup"):
        print(USAGE, file=sys.stderr)
        return 2
    if sys.version_info < (3, 8):
        print("dev.py needs Python 3.8+ to start (and makes the venv with 3.11+).", file=sys.stderr)
        return 1
    os.chdir(ROOT)
    environ = dict(os.environ)
    try:
        machine = this_machine(environ)
        python = setup("run" if cmd == "run" else "test", machine, environ)
    except SetupError as exc:
        print(f"dev.py: {exc}", file=sys.stderr)
        return 1
    if cmd == "setup":
        print(f"dev.py: set up: {python}")
        return 0
    if cmd == "test":
        environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return hand_over(command_line(cmd, python, args), environ, machine.system)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
