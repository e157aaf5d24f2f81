"""Which engine runs the model's heavy parts on a CPU, as the user's setting asks.

``auto`` (the default) is OpenVINO on a CPU where it is installed, torch elsewhere; ``torch``
and ``openvino`` force one (a forced OpenVINO that cannot run falls back to torch with a
notice, never a crash). The converted graphs are kept in the user data directory, so only
the first use of a model and size on a machine pays the conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sam2_studio.app.paths import data_dir

CPU_ENGINES = ("auto", "torch", "openvino")


def engine_cache_dir() -> Path:
    return data_dir() / "openvino-cache"


def prepare_cpu_engine(model: Any, requested: str = "auto", precision: str = "fp32",
                       cache_dir: Path | None = None) -> Any:
    """Put ``model`` on the engine asked for; returns the ``EngineReport`` (engine, precision,
    conversion time, and a notice for the user when there is something to say)."""
    from sam2_studio.model import openvino_engine as ove

    engine, note = ove.choose_engine(model.device, requested)
    if engine == "openvino":  # on failure the report is torch's, its notice says why
        return ove.install(model, cache_dir or engine_cache_dir(), precision)
    ove.uninstall(model)
    return ove.EngineReport("torch", precision, notice=note)
