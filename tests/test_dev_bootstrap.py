"""``dev.py``, the one setup for every desktop, with the platform and the NVIDIA driver
simulated: which torch it installs where, the venv's layout on Windows, the order of the
installs, the stamp that skips a finished setup, and what it says when something is missing.
Nothing is installed: the commands are recorded."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("dev_bootstrap", ROOT / "dev.py")
dev = importlib.util.module_from_spec(_spec)
sys.modules["dev_bootstrap"] = dev  # dataclasses look their module up
_spec.loader.exec_module(dev)

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PIN = "torch==2.13.0"


def plan(system, arch="x86_64", cuda=None, **env):
    return dev.torch_plan(dev.Machine(system, arch, cuda), env)


# == which torch =============================================================================
def test_linux_without_a_driver_gets_the_pinned_cpu_build():
    p = plan("linux")
    assert (p.spec, p.index_url) == (PIN, CPU_INDEX) and "CPU" in p.why
    assert p.pip_args() == [PIN, "--index-url", CPU_INDEX]


@pytest.mark.parametrize(("system", "cuda", "tag"), [
    ("linux", (12, 8), "cu128"), ("linux", (13, 1), "cu130"), ("linux", (12, 6), "cu126"),
    ("win32", (12, 9), "cu128"), ("win32", (13, 0), "cu130"),
])
def test_an_nvidia_driver_gets_the_newest_cuda_build_it_runs(system, cuda, tag):
    p = plan(system, cuda=cuda)
    assert p.spec == PIN and p.index_url == f"https://download.pytorch.org/whl/{tag}"
    assert f"CUDA {cuda[0]}.{cuda[1]}" in p.why


@pytest.mark.parametrize("cuda", [(12, 4), (11, 8), (0, 0)])
def test_a_driver_too_old_for_any_cuda_build_gets_the_cpu_build_and_a_word(cuda):
    p = plan("linux", cuda=cuda)
    assert p.index_url == CPU_INDEX and "update the driver" in p.why
    assert plan("win32", cuda=cuda).index_url is None


def test_windows_without_a_driver_takes_pypi_whose_windows_torch_is_the_cpu_build():
    p = plan("win32", "amd64")
    assert (p.spec, p.index_url) == (PIN, None) and "CPU" in p.why


def test_macos_on_apple_silicon_gets_the_default_build_for_mps():
    p = plan("darwin", "arm64")
    assert (p.spec, p.index_url) == (PIN, None) and "MPS" in p.why


def test_an_intel_mac_is_told_plainly_unless_it_names_its_own_torch():
    with pytest.raises(dev.SetupError, match="Intel Macs"):
        plan("darwin", "x86_64")
    assert plan("darwin", "x86_64", TORCH_SPEC="torch==2.2.2").spec == "torch==2.2.2"


def test_overrides_win():
    assert plan("linux", TORCH_SPEC="torch==2.13.0+cpu").spec == "torch==2.13.0+cpu"
    assert plan("linux", cuda=(12, 8), TORCH_INDEX_URL="").index_url is None
    mirror = "https://mirror.example/torch"
    assert plan("win32", TORCH_INDEX_URL=mirror).index_url == mirror


def test_offline_the_pin_comes_from_pips_own_sources():
    p = dev.reachable_plan(plan("linux"), {}, resolves=lambda url: False)
    assert (p.spec, p.index_url) == (PIN, None) and "does not resolve" in p.why
    online = plan("linux", cuda=(12, 8))
    assert dev.reachable_plan(online, {}, resolves=lambda url: True) == online
    named = plan("linux", TORCH_INDEX_URL="https://mirror.example/t")
    assert dev.reachable_plan(named, {"TORCH_INDEX_URL": "x"}, resolves=lambda url: False) == named


def test_dns_lookup_of_a_name_that_cannot_exist_is_false():
    assert not dev.host_resolves("https://no-such-host.invalid/whl", timeout=5)
    assert not dev.host_resolves("not a url")


# == the NVIDIA driver =======================================================================
SMI = """+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.124.06             Driver Version: 570.124.06     CUDA Version: 12.8     |
|-----------------------------------------+------------------------+----------------------+
"""


class FakeRun:
    """Records commands; answers from a table of (predicate, returncode, stdout)."""

    def __init__(self, answers=()):
        self.calls: list[tuple[list[str], dict | None]] = []
        self.answers = list(answers)

    def __call__(self, command, **kw):
        command = [str(c) for c in command]
        self.calls.append((command, kw.get("env")))
        for match, code, out in self.answers:
            if match(command):
                return subprocess.CompletedProcess(command, code, out, "")
        return subprocess.CompletedProcess(command, 0, "", "")

    def commands(self):
        return [c for c, _ in self.calls]


def test_the_driver_is_read_from_nvidia_smi():
    which = {"nvidia-smi": "/usr/bin/nvidia-smi"}.get
    assert dev.detect_driver_cuda("linux", {}, FakeRun([(lambda c: True, 0, SMI)]), which) == (12, 8)
    assert dev.detect_driver_cuda("linux", {}, FakeRun([(lambda c: True, 9, "NVIDIA-SMI has failed")]), which) is None
    assert dev.detect_driver_cuda("linux", {}, FakeRun([(lambda c: True, 0, "no version here")]), which) == (0, 0)
    assert dev.detect_driver_cuda("linux", {}, FakeRun(), lambda name: None) is None


def test_macos_never_asks_for_nvidia():
    def which(name):
        raise AssertionError("no nvidia-smi on macOS")

    assert dev.detect_driver_cuda("darwin", {}, FakeRun(), which) is None


def test_windows_finds_nvidia_smi_where_older_drivers_put_it(tmp_path):
    smi = tmp_path / "NVIDIA Corporation" / "NVSMI" / "nvidia-smi.exe"
    smi.parent.mkdir(parents=True)
    smi.write_bytes(b"")
    run = FakeRun([(lambda c: True, 0, SMI)])
    assert dev.detect_driver_cuda("win32", {"ProgramFiles": str(tmp_path)}, run, lambda name: None) == (12, 8)
    assert run.commands() == [[str(smi)]]
    assert dev.nvidia_smi("linux", {"ProgramFiles": str(tmp_path)}, lambda name: None) is None


# == Python and the venv =====================================================================
def test_the_venv_layout_of_each_system(tmp_path):
    assert dev.venv_python(tmp_path, "win32") == tmp_path / "Scripts" / "python.exe"
    assert dev.venv_python(tmp_path, "linux") == tmp_path / "bin" / "python"
    assert dev.venv_python(tmp_path, "darwin") == tmp_path / "bin" / "python"


def test_a_new_enough_python_makes_the_venv_else_a_newer_one_is_found():
    assert dev.find_python("linux", {}, FakeRun(), ["/usr/bin/python3"], (3, 11)) == ["/usr/bin/python3"]
    only_312 = FakeRun([(lambda c: c[0] != "python3.12", 1, "")])
    assert dev.find_python("linux", {}, only_312, ["/usr/bin/python3"], (3, 9)) == ["python3.12"]
    only_311 = FakeRun([(lambda c: c[:2] != ["py", "-3.11"], 1, "")])
    assert dev.find_python("win32", {}, only_311, ["C:/Python39/python.exe"], (3, 9)) == ["py", "-3.11"]


@pytest.mark.parametrize(("system", "hint"), [("linux", "apt install python3.11"),
                                              ("darwin", "brew install"), ("win32", "winget")])
def test_without_python_311_it_says_how_to_get_one(system, hint):
    with pytest.raises(dev.SetupError, match="Python 3.11 or newer") as err:
        dev.find_python(system, {}, FakeRun([(lambda c: True, 1, "")]), ["python3"], (3, 9))
    assert hint in str(err.value) and "3.9" in str(err.value)
    with pytest.raises(dev.SetupError, match="PYTHON=/old/python"):
        dev.find_python(system, {"PYTHON": "/old/python"}, FakeRun([(lambda c: True, 1, "")]))


# == setting up ==============================================================================
@pytest.fixture
def project(tmp_path):
    root = tmp_path / "clone"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "dev.py").write_text("# dev\n")
    return root


def venv_maker(system):
    """A run that makes the venv's python when asked to make a venv."""
    def make(command):
        if command[-3:-1] == ["-m", "venv"]:
            python = dev.venv_python(Path(command[-1]), system)
            python.parent.mkdir(parents=True)
            python.write_text("")
            return True
        return False

    return make


def installs(run):
    return [c[5:] for c in run.commands() if c[1:5] == ["-m", "pip", "install", "-q"] and "--upgrade" not in c]


def test_a_fresh_setup_installs_torch_first_then_the_package_and_the_oracle(project):
    run = FakeRun([(venv_maker("linux"), 0, "")])
    python = dev.setup("test", dev.Machine("linux", "x86_64"), {}, root=project, run=run, resolves=lambda u: True)
    assert python == project / ".venv" / "bin" / "python"
    assert run.commands()[0][-3:] == ["-m", "venv", str(project / ".venv")]
    assert installs(run) == [
        [PIN, "--index-url", CPU_INDEX],
        ["-e", f"{project}[test]"],
        ["setuptools", "wheel"],
        ["--no-build-isolation", "--no-deps", "sam2==1.1.0"],
    ]
    oracle_env = run.calls[-1][1]
    assert oracle_env["SAM2_BUILD_CUDA"] == "0"
    assert all(c[0] == str(python) for c in run.commands()[1:])  # everything into the venv
    assert len(list((project / ".venv").glob(".setup-test-*"))) == 1


def test_a_finished_setup_is_not_repeated_until_its_inputs_change(project):
    machine = dev.Machine("linux", "x86_64")
    run = FakeRun([(venv_maker("linux"), 0, "")])
    dev.setup("test", machine, {}, root=project, run=run, resolves=lambda u: False)
    first = len(run.calls)
    dev.setup("test", machine, {}, root=project, run=run, resolves=lambda u: False)
    assert len(run.calls) == first  # the stamp says done
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\ndependencies = ['y']\n")
    dev.setup("test", machine, {}, root=project, run=run, resolves=lambda u: False)
    assert len(run.calls) > first
    again = len(run.calls)
    dev.setup("test", machine, {"TORCH_SPEC": "torch==2.13.0+cpu"}, root=project, run=run, resolves=lambda u: False)
    assert len(run.calls) > again and installs(run)[-4][0] == "torch==2.13.0+cpu"
    dev.setup("test", dev.Machine("linux", "x86_64", (12, 8)), {"TORCH_SPEC": "torch==2.13.0+cpu"},
              root=project, run=run, resolves=lambda u: True)  # a driver appeared: the CUDA build
    assert installs(run)[-4] == ["torch==2.13.0+cpu", "--index-url", "https://download.pytorch.org/whl/cu128"]
    assert len(list((project / ".venv").glob(".setup-test-*"))) == 1  # old stamps go


def test_run_installs_the_package_without_the_test_tools(project):
    run = FakeRun([(venv_maker("darwin"), 0, "")])
    dev.setup("run", dev.Machine("darwin", "arm64"), {}, root=project, run=run)
    assert installs(run) == [[PIN], ["-e", str(project)]]


def test_windows_installs_into_scripts_python_exe_with_the_cuda_build(project):
    run = FakeRun([(venv_maker("win32"), 0, "")])
    python = dev.setup("test", dev.Machine("win32", "amd64", (12, 8)), {}, root=project, run=run,
                       resolves=lambda u: True)
    assert python == project / ".venv" / "Scripts" / "python.exe"
    assert run.commands()[1][0] == str(python)
    assert installs(run)[0] == [PIN, "--index-url", "https://download.pytorch.org/whl/cu128"]


def test_a_python_without_its_venv_module_gets_the_debian_hint_and_leaves_nothing_half_made(project):
    def half(command):
        if command[-3:-1] == ["-m", "venv"]:
            (Path(command[-1]) / "bin").mkdir(parents=True)  # what a failed venv leaves
            return True
        return False

    message = "The virtual environment was not created successfully because ensurepip is not available."
    run = FakeRun([(half, 1, message)])
    with pytest.raises(dev.SetupError, match="sudo apt install python3-venv"):
        dev.setup("test", dev.Machine("linux", "x86_64"), {}, root=project, run=run)
    assert not (project / ".venv").exists()


def test_a_failing_install_stops_and_leaves_no_stamp(project):
    run = FakeRun([(venv_maker("linux"), 0, ""), (lambda c: "-e" in c, 1, "")])
    with pytest.raises(dev.SetupError, match="pip failed"):
        dev.setup("test", dev.Machine("linux", "x86_64"), {}, root=project, run=run, resolves=lambda u: False)
    assert not list((project / ".venv").glob(".setup-*"))


def test_what_each_command_runs(tmp_path):
    py = tmp_path / "python"
    assert dev.command_line("test", py, ["-k", "model"]) == [str(py), "-m", "pytest", "-k", "model"]
    assert dev.command_line("run", py, []) == [str(py), "-m", "sam2_studio", str(dev.SAMPLE)]
    assert dev.command_line("run", py, ["my.s2s"]) == [str(py), "-m", "sam2_studio", "my.s2s"]
    assert dev.command_line("run", py, [], root=tmp_path) == [str(py), "-m", "sam2_studio"]


def test_an_unknown_command_shows_the_usage(capsys):
    assert dev.main(["build"]) == 2
    assert "run|test|setup" in capsys.readouterr().err


# == the files around it =====================================================================
def test_dev_py_starts_on_an_old_python_to_say_what_is_missing():
    ast.parse((ROOT / "dev.py").read_text(), feature_version=(3, 8))


def test_dev_sh_and_ci_run_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    top = readme[: readme.index("## The editor")]  # the newcomer's commands stay near the top
    for command in ("./dev.sh run", "./dev.sh test", "py dev.py run", "py dev.py test",
                    "python3 dev.py run", "python3 dev.py test"):
        assert command in top, command
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec \./dev\.sh test$", ci, re.MULTILINE)
    sh = (ROOT / "dev.sh").read_text()
    assert 'dev.py "$@"' in sh and "pip install" not in sh  # one setup, in dev.py
