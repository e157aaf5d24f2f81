"""Controls built from an effect's parameter description (``effects.ParamSpec``): a slider
with a number for ranges, a check box, a menu of choices, a colour button, a file field.
The form knows nothing of effects; it reports ``changed(name, value)``."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget)
from superqt import QLabeledDoubleSlider, QLabeledSlider

SLIDER_STEPS = 2000  # beyond this many steps a range gets a number box instead of a slider


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value
    hex_ = getattr(value, "hex", None)
    if isinstance(hex_, str):
        return hex_
    r, g, b = value
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


class ParamForm(QWidget):
    changed = Signal(str, object)

    def __init__(self, specs: tuple[Any, ...], values: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.specs = {s.name: s for s in specs}
        self.widgets: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for spec in specs:
            w = self._control(spec, values.get(spec.name, spec.default))
            w.setObjectName(f"param_{spec.name}")
            tip = f"<b>{spec.label}</b>" + (f" ({spec.unit})" if spec.unit else "")
            if spec.help:
                tip += f"<br>{spec.help}"
            w.setToolTip(tip)
            self.widgets[spec.name] = w
            label = spec.label + (f" ({spec.unit})" if spec.unit and spec.kind in ("float", "int") else "")
            layout.addRow(label + ":", w)

    def _control(self, spec: Any, value: Any) -> QWidget:
        name = spec.name
        if spec.kind == "bool":
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda v: self.changed.emit(name, bool(v)))
            return w
        if spec.kind == "choice":
            w = QComboBox()
            for c in spec.choices:
                w.addItem(c.replace("_", " ").capitalize(), c)
            w.setCurrentIndex(max(0, list(spec.choices).index(value)) if value in spec.choices else 0)
            w.currentIndexChanged.connect(lambda _i: self.changed.emit(name, w.currentData()))
            return w
        if spec.kind == "color":
            w = QPushButton()
            self._paint_color(w, _hex(value))
            w.clicked.connect(lambda: self._pick_color(w, name))
            return w
        if spec.kind == "path":
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            edit = QLineEdit(str(value or ""))
            edit.editingFinished.connect(lambda: self.changed.emit(name, edit.text()))
            browse = QPushButton("…")
            browse.setFixedWidth(28)
            browse.clicked.connect(lambda: self._browse(edit, name, spec.file_filter))
            row.addWidget(edit, 1)
            row.addWidget(browse)
            return box
        if spec.kind == "text":
            w = QLineEdit(str(value or ""))
            w.editingFinished.connect(lambda: self.changed.emit(name, w.text()))
            return w
        return self._number(spec, value)

    def _number(self, spec: Any, value: Any) -> QWidget:
        name = spec.name
        lo = spec.minimum if spec.minimum is not None else -1e6
        hi = spec.maximum if spec.maximum is not None else 1e6
        step = spec.step or (1 if spec.kind == "int" else 0.1)
        is_int = spec.kind == "int"
        if (hi - lo) / step <= SLIDER_STEPS:
            if is_int:
                s = QLabeledSlider(Qt.Orientation.Horizontal)
                s.setRange(int(lo), int(hi))
                s.setSingleStep(int(step))
                s.setValue(int(value))
            else:
                s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
                s.setDecimals(max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0)
                s.setRange(float(lo), float(hi))
                s.setSingleStep(float(step))
                s.setValue(float(value))
            s.valueChanged.connect(lambda v: self.changed.emit(name, int(v) if is_int else float(v)))
            return s
        box: QSpinBox | QDoubleSpinBox
        if is_int:
            box = QSpinBox()
            box.setRange(int(lo), int(hi))
            box.setSingleStep(int(step))
            box.setValue(int(value))
        else:
            box = QDoubleSpinBox()
            box.setDecimals(2)
            box.setRange(float(lo), float(hi))
            box.setSingleStep(float(step))
            box.setValue(float(value))
        box.setKeyboardTracking(False)
        box.setMinimumWidth(70)
        box.valueChanged.connect(lambda v: self.changed.emit(name, int(v) if is_int else float(v)))
        return box

    @staticmethod
    def _paint_color(button: QPushButton, hex_: str) -> None:
        button.setText(hex_)
        c = QColor(hex_)
        text = "#000000" if c.lightness() > 128 else "#ffffff"
        button.setStyleSheet(f"background: {hex_}; color: {text}; border-radius: 3px; padding: 3px;")
        button.setProperty("color", hex_)

    def _pick_color(self, button: QPushButton, name: str) -> None:
        chosen = QColorDialog.getColor(QColor(button.property("color") or "#ffffff"), self, "Colour")
        if chosen.isValid():
            self._paint_color(button, chosen.name())
            self.changed.emit(name, chosen.name())

    def _browse(self, edit: QLineEdit, name: str, file_filter: str) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(), file_filter or "All files (*)")
        if chosen:
            edit.setText(chosen)
            self.changed.emit(name, chosen)
