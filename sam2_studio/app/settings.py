"""The editor's remembered choices: recent files, the model and device last used, view
options. A small JSON file in the user data directory, written atomically; a damaged file
is set aside and defaults are used (settings are never worth a crash)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sam2_studio.app.paths import data_dir
from sam2_studio.project.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
MAX_RECENT = 10


@dataclass
class Settings:
    recent_files: list[str] = field(default_factory=list)
    model_variant: str | None = None
    device: str | None = None  # None: the best present
    precision: str | None = None  # "fp32", "bf16", "fp16"; None: the device's (bf16 CUDA, fp16 MPS, fp32 CPU)
    compile: bool | None = None  # torch.compile; None: on CUDA with Triton only
    overlay_opacity: float = 0.5
    show_outlines: bool = True
    brush_radius: float = 12.0
    autosave_interval_s: float = 30.0
    cpu_engine: str = "auto"  # "auto" (OpenVINO where installed), "torch" or "openvino"
    speed_figures: dict = field(default_factory=dict)  # machine key -> {resolution: s a frame}
    offer_draft: bool = True  # offer Draft at the first tracking of a clip on a CPU
    window_geometry: str | None = None  # hex of Qt's saveGeometry()
    window_state: str | None = None

    def __post_init__(self) -> None:
        if self.cpu_engine not in ("auto", "torch", "openvino"):
            self.cpu_engine = "auto"

    def add_recent(self, path: str | Path) -> None:
        p = str(Path(path).absolute())
        self.recent_files = [p] + [r for r in self.recent_files if r != p]
        del self.recent_files[MAX_RECENT:]

    def existing_recent(self) -> list[Path]:
        return [Path(p) for p in self.recent_files if Path(p).exists()]


def settings_path(directory: Path | None = None) -> Path:
    return (directory or data_dir()) / SETTINGS_FILE


def load_settings(directory: Path | None = None) -> Settings:
    path = settings_path(directory)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings %s unreadable (%s); using defaults", path, exc)
        try:
            path.replace(path.with_suffix(".damaged.json"))
        except OSError:
            pass
        return Settings()
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    defaults = Settings()
    for name, value in raw.items():
        if name in known and (value is None or isinstance(value, type(getattr(defaults, name)))
                              or getattr(defaults, name) is None
                              or (isinstance(value, int) and isinstance(getattr(defaults, name), float))):
            values[name] = value
    try:
        return Settings(**values)
    except TypeError:
        return Settings()


def save_settings(settings: Settings, directory: Path | None = None) -> None:
    path = settings_path(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(asdict(settings), indent=1).encode("utf-8"))
    except OSError as exc:
        log.warning("settings could not be saved to %s: %s", path, exc)
