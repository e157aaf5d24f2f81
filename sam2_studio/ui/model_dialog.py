"""The model manager dialog: which SAM 2 checkpoints are installed, downloading one with
progress (resumable), choosing a file already on disk, and the device to run on.

It also says plainly what works without a model (brush, effects, export) and when the
editor runs on random weights (developer mode).
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from sam2_studio.app.model_source import CheckpointFile, ModelSource
from sam2_studio.app.progress import format_bytes
from sam2_studio.app.settings import Settings
from sam2_studio.app.tracking import TrackerState
from sam2_studio.errors import StudioError
from sam2_studio.project.resolution import RESOLUTIONS
from sam2_studio.project.resolution import describe as describe_resolution
from sam2_studio.ui import dialogs
from sam2_studio.ui.actions import MEMORY_TIP
from sam2_studio.ui.qt_bridge import MainThreadRelay

INTRO = (
    "<p><b>SAM2 Studio segments with SAM 2, which needs a checkpoint file.</b> "
    "Download one here (it is stored in your user folder and checked), or choose a "
    "<code>.pt</code> file you already have. <i>tiny</i> is the fastest and works well on a "
    "laptop; <i>large</i> is the most accurate and wants a GPU.</p>"
    "<p style='color:#9aa0a8'>Without a model you can still open videos, paint masks with the "
    "brush, apply effects and export.</p>")


def _combo(name: str, tip: str, items: list[tuple[str, Any]], current: Any) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    box.setToolTip(tip)
    for label, data in items:
        box.addItem(label, data)
        if data == current:
            box.setCurrentIndex(box.count() - 1)
    return box


def cpu_engine_choices() -> list[tuple[str, str]]:
    """(label, engine) for the CPU engine menu (the precision is the Precision menu's)."""
    from sam2_studio.model.openvino_engine import openvino_version

    have = openvino_version() is not None
    out = [("Automatic — " + ("OpenVINO" if have else "torch (OpenVINO is not installed)"), "auto"), ("torch", "torch")]
    if have:
        out.append(("OpenVINO", "openvino"))
    return out
PRECISION_CHOICES: list[tuple[str, str | None]] = [
    ("Automatic", None), ("fp32 (exact)", "fp32"), ("bf16 (NVIDIA GPUs, recent CPUs)", "bf16"),
    ("fp16 (Apple GPUs)", "fp16")]
COMPILE_CHOICES: list[tuple[str, bool | None]] = [("Automatic", None), ("On", True), ("Off", False)]


def available_devices() -> list[tuple[str, str | None]]:
    """(label, device) pairs for the device menu; None picks the best present."""
    from sam2_studio.model import choose_device, describe

    out: list[tuple[str, str | None]] = [(f"Automatic — {describe(choose_device(None))}", None),
                                         ("CPU", "cpu")]
    try:
        import torch

        if torch.cuda.is_available():
            out.append((f"GPU — {torch.cuda.get_device_name(0)}", "cuda"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            out.append(("Apple GPU (MPS)", "mps"))
    except Exception:  # noqa: BLE001
        pass
    return out


MEMORY_CHOICES = (("SAM 2", "sam2"), ("Distractor-aware (SAM2.1++)", "distractor_aware"))


class ModelDialog(QDialog):
    chosen = Signal(object, object, object)  # ModelSource, variant or None, device or None
    memoryChosen = Signal(str)  # the project's tracking memory: "sam2" or "distractor_aware"
    resolutionChosen = Signal(str)  # the project's working resolution: "full", "balanced", "draft"

    def __init__(self, parent: QWidget | None, manager: Any, state: TrackerState, settings: Settings,
                 resolution: str | None = None, memory: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelDialog")
        self.setWindowTitle("Models")
        self.setMinimumWidth(720)
        self.manager = manager
        self.settings = settings
        self._cancel = threading.Event()
        self._relay = MainThreadRelay(self)
        self._relay.delivered.connect(self._on_download_event)
        self._downloading: str | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)

        self.current = QLabel()
        self.current.setObjectName("CurrentModel")
        self.current.setWordWrap(True)
        self.current.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.current)
        self.show_state(state)

        self.table = QTableWidget(0, 3)
        self.table.setObjectName("ModelTable")
        self.table.setHorizontalHeaderLabels(["Model", "Download size", "Status"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.use_selected())
        layout.addWidget(self.table, 1)

        form = QFormLayout()
        self.device = _combo("DeviceCombo", "Where the model runs. Automatic picks a GPU when there is one.",
                             [(label, dev) for label, dev in available_devices()], settings.device)
        form.addRow("Device:", self.device)
        self.engine = _combo(
            "CpuEngineCombo", "What runs the model on a CPU. Automatic: OpenVINO where it is installed "
            "(faster, same results), else torch. The first use of a model at a working resolution "
            "converts it for OpenVINO once; later loads reuse it.",
            cpu_engine_choices(), settings.cpu_engine)
        form.addRow("CPU engine:", self.engine)
        self.resolution = _combo(
            "ResolutionCombo", "The project's working resolution: the model's input size. Draft and "
            "Balanced are faster and coarser (small objects may be lost); masks always come out at "
            "the video's size. Also in Track › Working Resolution.",
            [(describe_resolution(name), name) for name in RESOLUTIONS], resolution)
        self.resolution.setEnabled(resolution is not None)
        self.resolution.activated.connect(lambda _i: self.resolutionChosen.emit(self.resolution.currentData()))
        form.addRow("Working resolution:", self.resolution)
        self.memory = _combo(
            "MemoryCombo", ("<b>Tracking memory of this project</b> (also Track › Memory)<br>" + MEMORY_TIP)
            if memory is not None else "The tracking memory is chosen per project: open one first.",
            list(MEMORY_CHOICES), memory)
        self.memory.setEnabled(memory is not None)
        self.memory.currentIndexChanged.connect(lambda _i: self.memoryChosen.emit(self.memory.currentData()))
        form.addRow("Memory:", self.memory)
        self.precision = _combo(
            "PrecisionCombo", "Arithmetic precision. Automatic: bf16 on NVIDIA GPUs (as the official "
            "model), fp16 on Apple GPUs, fp32 on the CPU. A device that lacks the choice falls back "
            "and says so in the status bar.", PRECISION_CHOICES, settings.precision)
        form.addRow("Precision:", self.precision)
        self.compile = _combo(
            "CompileCombo", "torch.compile the image encoder and memory attention: tracking runs faster "
            "after about a minute of compiling when the model loads. Automatic: on for NVIDIA GPUs, "
            "off elsewhere.", COMPILE_CHOICES, settings.compile)
        form.addRow("Compile:", self.compile)
        self.folder = QLabel(f"<span style='color:#9aa0a8'>{html.escape(str(getattr(manager, 'root', '')))}</span>")
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Models folder:", self.folder)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setObjectName("DownloadProgress")
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.hide()
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)

        row = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("DownloadButton")
        self.download_button.setToolTip("Download the selected official checkpoint (resumes if interrupted)")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.clicked.connect(self._cancel.set)
        self.cancel_button.hide()
        self.file_button = QPushButton("Choose File…")
        self.file_button.setObjectName("ChooseFileButton")
        self.file_button.setToolTip("Use a checkpoint (.pt) you already have")
        self.file_button.clicked.connect(self.choose_file)
        self.use_button = QPushButton("Use Selected")
        self.use_button.setObjectName("UseButton")
        self.use_button.setToolTip("Load the selected model on the chosen device")
        self.use_button.clicked.connect(self.use_selected)
        for b in (self.download_button, self.cancel_button, self.file_button, self.use_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.refresh()

    # -- content ---------------------------------------------------------------------------------
    def show_state(self, state: TrackerState) -> None:
        m = state.model
        if m is not None and m.random_weights:
            text = (f"<p style='color:#ffaa00'><b>Now: {html.escape(m.label)}.</b> This is not a "
                    "trained model (developer mode): its masks mean nothing. Choose a real model below.</p>")
        elif m is not None:
            text = f"<p>Now: <b>{html.escape(m.variant)}</b> on {html.escape(m.device)}</p>"
        elif state.loading:
            text = f"<p>Loading {html.escape(state.loading)}…</p>"
        elif state.model_error:
            text = f"<p style='color:#ff7b6b'>The last model failed to load: {html.escape(state.model_error)}</p>"
        else:
            text = "<p style='color:#ffcc66'><b>No model is loaded.</b></p>"
        self.current.setText(text)

    def refresh(self) -> None:
        statuses = self.manager.statuses()
        selected = self.selected_variant()
        self.table.setRowCount(len(statuses))
        for r, s in enumerate(statuses):
            name = QTableWidgetItem(s.spec.variant)
            name.setData(Qt.ItemDataRole.UserRole, s.spec.variant)
            size = QTableWidgetItem(format_bytes(s.spec.size) if s.spec.size else "≈ like SAM 2")
            state = s.state
            if s.installed is not None and s.installed.path.is_file():
                state = f"installed ({s.installed.source}) — {s.installed.path}"
            elif s.partial_bytes:
                state = f"partly downloaded ({format_bytes(s.partial_bytes)}): Download resumes"
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, size)
            self.table.setItem(r, 2, QTableWidgetItem(state))
            if s.spec.variant == selected or (selected is None and r == 4):
                self.table.selectRow(r)
        self._update_buttons()

    def selected_variant(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _installed(self, variant: str | None) -> Path | None:
        if variant is None:
            return None
        model = self.manager.installed(variant)
        return model.path if model is not None and model.path.is_file() else None

    def _update_buttons(self) -> None:
        variant = self.selected_variant()
        installed = self._installed(variant) is not None
        busy = self._downloading is not None
        self.download_button.setEnabled(variant is not None and not installed and not busy)
        self.use_button.setEnabled(installed and not busy)

    # -- choosing ----------------------------------------------------------------------------------
    def _device(self) -> str | None:
        return self.device.currentData()

    def _checkpoint(self, path: Path, variant: str | None) -> CheckpointFile:
        return CheckpointFile(path, variant, self._device(), precision=self.precision.currentData(),
                              compile=self.compile.currentData())

    def use_selected(self) -> None:
        variant = self.selected_variant()
        path = self._installed(variant)
        if path is None:
            return
        self._choose(self._checkpoint(path, variant), variant)

    def _choose(self, source: ModelSource, variant: str | None) -> None:
        self.settings.cpu_engine = self.engine.currentData()
        self.chosen.emit(source, variant, self._device())
        self.accept()

    def choose_file(self) -> None:
        path = dialogs.choose_checkpoint(self)
        if path is not None:
            self.add_file(path)

    def add_file(self, path: Path) -> bool:
        """Register a checkpoint the user has (checked by a strict load) and use it."""
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            model = self.manager.add(path)
        except StudioError as exc:
            dialogs.show_error(self, "This checkpoint cannot be used", exc)
            return False
        finally:
            self.unsetCursor()
        self.refresh()
        self._choose(self._checkpoint(model.path, model.variant), model.variant)
        return True

    # -- downloading -------------------------------------------------------------------------------
    def download_selected(self) -> None:
        variant = self.selected_variant()
        if variant is None or self._downloading:
            return
        self._downloading = variant
        self._cancel.clear()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.progress_label.setText(f"Downloading {variant}…")
        self.progress_label.show()
        self.cancel_button.show()
        self._update_buttons()
        relay = self._relay

        def work() -> None:
            try:
                path = self.manager.download(variant, progress=lambda d, t: relay(("progress", d, t)),
                                             cancelled=self._cancel.is_set)
                relay(("done", variant, path))
            except StudioError as exc:
                relay(("failed", variant, exc))
            except Exception as exc:  # noqa: BLE001
                relay(("failed", variant, exc))

        threading.Thread(target=work, name="model-download", daemon=True).start()

    def _on_download_event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "progress":
            _, done, total = event
            if total:
                self.progress.setRange(0, 1000)
                self.progress.setValue(int(1000 * done / total))
                self.progress_label.setText(f"Downloading {self._downloading}: {format_bytes(done)} of {format_bytes(total)}")
            else:
                self.progress_label.setText(f"Downloading {self._downloading}: {format_bytes(done)}")
            return
        variant = event[1]
        self._downloading = None
        self.progress.hide()
        self.cancel_button.hide()
        if kind == "done":
            self.progress_label.setText(f"{variant} is installed.")
            self.refresh()
        else:
            exc = event[2]
            self.progress_label.setText(f"{variant} was not installed.")
            if "Cancelled" not in type(exc).__name__:
                dialogs.show_error(self, f"{variant} could not be downloaded", exc)
            self.refresh()
        self._update_buttons()

    def reject(self) -> None:
        self._cancel.set()
        super().reject()
