"""The export dialog: a finished video with effects, alpha mattes for compositors, or masks
as COCO RLE JSON; the range, the objects, the numbering of sequences; progress, cancel, and
a button that opens the output folder.

The export runs on its own thread with its own reader and renderer, so the editor stays
responsive; cancelling removes the partial output.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from sam2_studio.app.clip import Clip
from sam2_studio.app.detail import DetailService
from sam2_studio.app.export import (EXR_COMPRESSIONS, LAYERED_FORMATS, MATTE_FORMATS, VIDEO_CODECS,
                                    ExportKind, ExportResult, ExportSettings, run_export)
from sam2_studio.app.progress import format_duration
from sam2_studio.errors import StudioError
from sam2_studio.project import Document
from sam2_studio.ui import dialogs
from sam2_studio.ui.objects_panel import swatch
from sam2_studio.ui.qt_bridge import MainThreadRelay

KINDS = (
    (ExportKind.VIDEO, "Video with effects"),
    (ExportKind.MATTES, "Alpha mattes"),
    (ExportKind.MASKLETS, "Masks as COCO RLE (JSON)"),
)
START_NUMBERS = (0, 1, 1001)


class ExportDialog(QDialog):
    finished_export = Signal(object)  # ExportResult

    def __init__(self, parent: QWidget | None, doc: Document, clip: Clip, current_frame: int = 0,
                 detail: DetailService | None = None) -> None:
        super().__init__(parent)
        self.detail = detail  # runs the detail pass of objects that ask for it (on the model worker)
        self.setObjectName("ExportDialog")
        self.setWindowTitle("Export")
        self.setMinimumWidth(620)
        self.doc = doc
        self.clip = clip
        self.current_frame = current_frame
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._relay = MainThreadRelay(self)
        self._relay.delivered.connect(self._on_event)
        self.result_: ExportResult | None = None
        self.error: str | None = None
        self._started = 0.0

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = QComboBox()
        self.kind.setObjectName("KindCombo")
        for kind, label in KINDS:
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(self._on_kind)
        form.addRow("Export:", self.kind)
        self.format = QComboBox()
        self.format.setObjectName("FormatCombo")
        self.format.currentIndexChanged.connect(self._on_format)
        form.addRow("Format:", self.format)
        path_row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setObjectName("PathEdit")
        self.path.setToolTip("The file, or for image sequences a name with %04d where the frame number goes")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form.addRow("Save to:", path_row)
        layout.addLayout(form)

        # range
        box = QGroupBox("Frames")
        r = QVBoxLayout(box)
        n = doc.video.frame_count
        fr = doc.frame_range
        self.range_all = QRadioButton(f"Whole clip (0–{n - 1}, {n} frames)")
        self.range_in_out = QRadioButton(f"In to out ({fr.first}–{fr.last}, {fr.last - fr.first + 1} frames)")
        self.range_current = QRadioButton(f"Current frame ({current_frame})")
        self.range_in_out.setEnabled(doc.has_frame_range)
        group = QButtonGroup(self)
        for b in (self.range_all, self.range_in_out, self.range_current):
            group.addButton(b)
            r.addWidget(b)
        (self.range_in_out if doc.has_frame_range else self.range_all).setChecked(True)
        layout.addWidget(box)

        # objects
        self.objects_box = QGroupBox("Objects")
        o = QVBoxLayout(self.objects_box)
        self.objects = QListWidget()
        self.objects.setObjectName("ObjectsList")
        self.objects.setMaximumHeight(110)
        for obj in doc.objects:
            item = QListWidgetItem(swatch(obj.color), obj.name)
            item.setData(Qt.ItemDataRole.UserRole, obj.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked)
            self.objects.addItem(item)
        o.addWidget(self.objects)
        self.separate = QCheckBox("One output per object (otherwise one matte of them all)")
        self.separate.setObjectName("SeparateCheck")
        o.addWidget(self.separate)
        layout.addWidget(self.objects_box)

        # options
        self.options_box = QGroupBox("Options")
        f2 = QFormLayout(self.options_box)
        self.start_number = QComboBox()
        self.start_number.setObjectName("StartNumber")
        for s in START_NUMBERS:
            self.start_number.addItem(str(s), s)
        self.start_number.setCurrentIndex(1)
        self.start_number.setToolTip("The number of the first file of a sequence: 0, 1, or 1001 as in film pipelines")
        f2.addRow("First file number:", self.start_number)
        self.premultiplied = QCheckBox("Premultiplied alpha (colour + alpha formats)")
        self.premultiplied.setToolTip("Straight alpha is the default except for EXR, which is premultiplied by convention")
        f2.addRow("", self.premultiplied)
        self.refined = QCheckBox("Apply each object's refinement (detail pass, feather, grow/shrink, smoothing)")
        self.refined.setChecked(True)
        f2.addRow("", self.refined)
        self.exr_compression = QComboBox()
        self.exr_compression.setObjectName("ExrCompression")
        for key, label in EXR_COMPRESSIONS.items():
            self.exr_compression.addItem(label, key)
        self.exr_compression.setToolTip("EXR compression: ZIP or PIZ keep every value; DWAA makes small "
                                        "files, lossy on colour only (mattes stay exact)")
        f2.addRow("EXR compression:", self.exr_compression)
        self.exr_float = QCheckBox("32-bit float (otherwise half float; Cryptomatte IDs are always 32-bit)")
        self.exr_float.setObjectName("ExrFloat")
        f2.addRow("", self.exr_float)
        self.exr_rgb = QCheckBox("Include the frame's colour (scene-linear RGB)")
        self.exr_rgb.setObjectName("ExrRgb")
        self.exr_rgb.setToolTip("The plate and its mattes in one file per frame")
        f2.addRow("", self.exr_rgb)
        self.crf = QSpinBox()
        self.crf.setRange(0, 40)
        self.crf.setValue(18)
        self.crf.setToolTip("H.264 quality: 0 lossless, 18 visually lossless, 23 smaller files")
        f2.addRow("H.264 quality (CRF):", self.crf)
        self.audio = QCheckBox("Copy the source's audio")
        self.audio.setChecked(clip.info.has_audio)
        self.audio.setEnabled(clip.info.has_audio)
        f2.addRow("", self.audio)
        layout.addWidget(self.options_box)

        self.progress = QProgressBar()
        self.progress.setObjectName("ExportProgress")
        self.progress.hide()
        self.status = QLabel("")
        self.status.setObjectName("ExportStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.open_folder = QPushButton("Open Folder")
        self.open_folder.setObjectName("OpenFolderButton")
        self.open_folder.hide()
        self.open_folder.clicked.connect(self._open_folder)
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("Primary")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("CloseButton")
        self.close_button.clicked.connect(self._close_or_cancel)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self._on_kind()

    # -- settings ----------------------------------------------------------------------------------
    @property
    def kind_value(self) -> ExportKind:
        return self.kind.currentData()

    def _base(self) -> Path:
        v = self.doc.video.path
        return (self.doc.path.parent if self.doc.path else v.parent) / v.stem.split(".")[0]

    def _on_kind(self) -> None:
        kind = self.kind_value
        self.format.blockSignals(True)
        self.format.clear()
        if kind is ExportKind.VIDEO:
            for key, (label, _suffix) in VIDEO_CODECS.items():
                self.format.addItem(label, key)
        elif kind is ExportKind.MATTES:
            for key, label in MATTE_FORMATS.items():
                self.format.addItem(label, key)
        else:
            self.format.addItem("SA-V style masklet JSON", "json")
        self.format.blockSignals(False)
        self.format.setEnabled(kind is not ExportKind.MASKLETS)
        self.objects_box.setVisible(kind is not ExportKind.VIDEO)
        self.separate.setVisible(kind is ExportKind.MATTES)
        self._on_format()

    def _on_format(self) -> None:
        kind, key = self.kind_value, self.format.currentData()
        base = self._base()
        if kind is ExportKind.VIDEO:
            suffix = VIDEO_CODECS.get(key, ("", ".mp4"))[1]
            path = base.with_name(base.name + "_export" + suffix)
        elif kind is ExportKind.MATTES:
            if key in ("prores4444",):
                path = base.with_name(base.name + "_matte.mov")
            elif key == "ffv1":
                path = base.with_name(base.name + "_matte.mkv")
            elif key in LAYERED_FORMATS:
                name = "crypto" if key == "cryptomatte" else "layers"
                path = base.parent / f"{base.name}_mattes" / f"{base.name}_{name}.%04d.exr"
            else:
                ext = ".exr" if key and key.startswith("exr") else ".png"
                path = base.parent / f"{base.name}_mattes" / f"{base.name}_matte.%04d{ext}"
        else:
            path = base.with_name(base.name + "_masks.json")
        self.path.setText(str(path))
        is_sequence = kind is ExportKind.MATTES and key not in ("prores4444", "ffv1")
        self.start_number.setEnabled(is_sequence)
        self.premultiplied.setEnabled(kind is ExportKind.MATTES and key in ("png8_rgba", "png16_rgba", "exr_rgba", "prores4444"))
        self.premultiplied.setChecked(key == "exr_rgba")
        self.refined.setEnabled(kind is ExportKind.MATTES)
        layered = kind is ExportKind.MATTES and key in LAYERED_FORMATS
        for w in (self.exr_compression, self.exr_float, self.exr_rgb):
            w.setEnabled(layered)
        dwaa = self.exr_compression.findData("dwaa")
        self.exr_compression.model().item(dwaa).setEnabled(key != "cryptomatte")  # lossy: IDs would change
        if key == "cryptomatte" and self.exr_compression.currentIndex() == dwaa:
            self.exr_compression.setCurrentIndex(0)
        self.separate.setEnabled(not layered)  # every object is in each file anyway        self.crf.setEnabled(kind is ExportKind.VIDEO and key == "h264")
        self.audio.setEnabled(kind is ExportKind.VIDEO and self.clip.info.has_audio)

    def _browse(self) -> None:
        current = Path(self.path.text())
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", str(current))
        if chosen:
            if self.kind_value is ExportKind.MATTES and "%" not in chosen and Path(chosen).suffix.lower() in (".png", ".exr", ""):
                p = Path(chosen)
                chosen = str(p.with_name(f"{p.stem}.%04d{p.suffix or '.png'}"))
            self.path.setText(chosen)

    def frame_range(self) -> tuple[int, int]:
        if self.range_current.isChecked():
            return self.current_frame, self.current_frame
        if self.range_in_out.isChecked():
            fr = self.doc.frame_range
            return fr.first, fr.last
        return 0, self.doc.video.frame_count - 1

    def chosen_objects(self) -> tuple[int, ...]:
        out = []
        for i in range(self.objects.count()):
            item = self.objects.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(out)

    def settings(self) -> ExportSettings:
        first, last = self.frame_range()
        kind = self.kind_value
        key = self.format.currentData()
        return ExportSettings(
            kind=kind, path=Path(self.path.text()).expanduser(), first=first, last=last,
            objects=self.chosen_objects() if kind is not ExportKind.VIDEO else (),
            video_codec=key if kind is ExportKind.VIDEO else "h264", crf=self.crf.value(),
            matte_format=key if kind is ExportKind.MATTES else "png16",
            start_number=int(self.start_number.currentData()),
            premultiplied=self.premultiplied.isChecked() if self.premultiplied.isEnabled() else None,
            separate=self.separate.isChecked(), audio=self.audio.isChecked() and self.audio.isEnabled(),
            refined=self.refined.isChecked(), exr_compression=self.exr_compression.currentData(),
            exr_half=not self.exr_float.isChecked(), exr_rgb=self.exr_rgb.isChecked())

    # -- running -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        s = self.settings()
        if s.kind is not ExportKind.VIDEO and not s.objects:
            self.status.setText("Choose at least one object to export.")
            return
        try:
            s.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            dialogs.show_error(self, "The export folder cannot be made", str(exc.strerror or exc), s.path.parent)
            return
        self.result_, self.error = None, None
        self._cancel.clear()
        self.progress.setRange(0, s.last - s.first + 1)
        self.progress.setValue(0)
        self.progress.show()
        self.open_folder.hide()
        self.status.setText("Exporting…")
        self.export_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self._started = time.monotonic()
        doc, clip, relay = self.doc, self.clip, self._relay
        audio = clip.info.path if clip.info.has_audio else None
        detail = self.detail.blocking(self._cancel.is_set) if self.detail is not None else None

        def work() -> None:
            reader = clip.open_reader()
            try:
                result = run_export(doc, reader, s, fps=doc.video.fps, audio_path=audio,
                                    progress=lambda d, t: relay(("progress", d, t)),
                                    cancelled=self._cancel.is_set, detail=detail)
                relay(("done", result))
            except StudioError as exc:
                relay(("failed", exc))
            except Exception as exc:  # noqa: BLE001 - shown, never a crash
                relay(("failed", exc))
            finally:
                reader.close()

        self._thread = threading.Thread(target=work, name="export", daemon=True)
        self._thread.start()

    def _on_event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "progress":
            _, done, total = event
            self.progress.setValue(done)
            elapsed = time.monotonic() - self._started
            rate = done / elapsed if elapsed > 0 else 0
            left = (total - done) / rate if rate > 0 else 0
            self.status.setText(f"Exporting frame {done} of {total} · {rate:.1f} fps · {format_duration(left)} left")
            return
        self.export_button.setEnabled(True)
        self.close_button.setText("Close")
        self.progress.hide()
        if kind == "done":
            result: ExportResult = event[1]
            self.result_ = result
            if result.cancelled:
                self.status.setText("Export cancelled; nothing was left behind.")
            else:
                where = ", ".join(str(p) for p in result.paths)
                self.status.setText(f"Exported {result.frames} frames in {format_duration(result.seconds)} to {where}")
                self.open_folder.show()
        else:
            exc = event[1]
            text, path = dialogs.error_text(exc)
            self.error = text
            self.status.setText(f"The export failed: {text}")
            dialogs.show_error(self, "The export failed", exc, path)
        self.finished_export.emit(self.result_)

    def cancel(self) -> None:
        self._cancel.set()

    def _close_or_cancel(self) -> None:
        if self.running:
            self.cancel()
            self.status.setText("Cancelling…")
        else:
            self.accept()

    def _open_folder(self) -> None:
        if self.result_ is not None and self.result_.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result_.folder)))

    def reject(self) -> None:
        if self.running:
            self.cancel()
            return
        super().reject()

    def wait(self, timeout: float = 60.0) -> bool:
        """For tests: until the export thread ends."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
