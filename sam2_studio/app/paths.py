"""Where the application keeps its files: one data directory per user (platformdirs), or
``$SAM2_STUDIO_DATA_DIR`` for portable installs and tests."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "sam2-studio"
DATA_DIR_ENV = "SAM2_STUDIO_DATA_DIR"


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser().absolute()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def models_dir() -> Path:
    return data_dir() / "models"


def autosave_dir() -> Path:
    return data_dir() / "autosave"
