"""Shared test set-up: offscreen Qt, the ../shared data folder, deterministic torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAM2_STUDIO_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"test data folder {SHARED} is missing (set SAM2_STUDIO_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def openvino_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One OpenVINO conversion cache for the whole run: a model converted once is reused."""
    return tmp_path_factory.mktemp("openvino-cache")
