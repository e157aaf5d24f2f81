"""The effects panel: the active object's matte refinement and its stack of effects.

Add an effect from the menu of installed ones (built-ins and plugins), switch it on and
off, reorder, remove, and edit its parameters with controls built from its description.
Every change is written to the document (so it is saved and can be undone); a burst of
changes (dragging a slider) is one undo step. The viewer previews the result on the
current frame as it changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMenu, QScrollArea, QToolButton,
                               QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from sam2_studio.app.rendering import registry, stack_fields, stack_of
from sam2_studio.effects import EffectEntry, EffectError, ObjectStack, RefineParams, Target, specs, to_dict, updated
from sam2_studio.project import ProjectError
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.icons import icon
from sam2_studio.ui.param_form import ParamForm

EDIT_IDLE_MS = 600  # changes closer together than this are one undo step


class EffectsPanel(QWidget):
    problem = Signal(str)

    def __init__(self, ctx: EditorContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EffectsPanel")
        self.ctx = ctx
        self.registry = registry()
        self.stack: ObjectStack | None = None
        self._editing = False
        self._writing = False
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(EDIT_IDLE_MS)
        self._idle.timeout.connect(self.finish_edit)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(6, 6, 6, 6)
        scroll.setWidget(body)
        outer.addWidget(scroll)

        self.title = QLabel()
        self.title.setObjectName("EffectsTitle")
        self.body.addWidget(self.title)

        self.refine_box = QGroupBox("Matte refinement")
        self.refine_box.setToolTip("Edge controls applied to the object's matte before its effects and in matte exports")
        self.refine_layout = QVBoxLayout(self.refine_box)
        self.refine_form: ParamForm | None = None
        self.entry_form: ParamForm | None = None  # the selected effect's controls
        self.body.addWidget(self.refine_box)

        box = QGroupBox("Effects")
        v = QVBoxLayout(box)
        self.list = QListWidget()
        self.list.setObjectName("EffectList")
        self.list.setMaximumHeight(96)
        self.list.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.list.model().rowsMoved.connect(self._rows_moved)
        self.list.currentRowChanged.connect(self._show_entry)
        self.list.itemChanged.connect(self._item_changed)
        v.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = QToolButton()
        self.add_button.setObjectName("AddEffectButton")
        self.add_button.setText("Add Effect")
        self.add_button.setIcon(icon("mdi6.plus"))
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolTip("<b>Add an effect</b><br>to the active object or its background")
        self.add_menu = QMenu(self.add_button)
        self.add_button.setMenu(self.add_menu)
        row.addWidget(self.add_button)
        row.addStretch(1)
        for name, tip, slot in (("mdi6.chevron-up", "Move the effect up (it runs earlier)", lambda: self._move(-1)),
                                ("mdi6.chevron-down", "Move the effect down (it runs later)", lambda: self._move(1)),
                                ("mdi6.delete", "Remove the effect", self._remove)):
            b = QToolButton()
            b.setIcon(icon(name))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            row.addWidget(b)
        v.addLayout(row)
        self.body.addWidget(box)

        self.entry_box = QGroupBox("Effect settings")
        self.entry_layout = QVBoxLayout(self.entry_box)
        self.body.addWidget(self.entry_box)
        self.holdout = QCheckBox("Keep this object out of other objects' background effects")
        self.holdout.setToolTip("Two people colour-popped both stay in colour. Turn off to let this object count as background.")
        self.holdout.toggled.connect(self._holdout_changed)
        self.body.addWidget(self.holdout)
        self.problems = QLabel()
        self.problems.setObjectName("PluginProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #ffaa00;")
        self.body.addWidget(self.problems)
        self.body.addStretch(1)
        self._fill_menu()
        ctx.documentChanged.connect(self.reload)
        ctx.activeObjectChanged.connect(lambda _o: self.reload())
        ctx.objectsChanged.connect(self._on_objects)
        self.reload()

    # -- the effects on offer ----------------------------------------------------------------------
    def _fill_menu(self) -> None:
        self.add_menu.clear()
        for info in self.registry.available():
            cls = info.cls
            for target in cls.targets:
                where = "object" if target is Target.OBJECT else "background"
                label = f"{cls.label} — {where}" if len(cls.targets) > 1 else cls.label
                a = self.add_menu.addAction(label)
                a.setToolTip(cls.description or cls.label)
                a.setStatusTip(cls.description or cls.label)
                a.triggered.connect(lambda _c=False, i=cls.id, t=target: self.add_effect(i, t))
        problems = [f"{p.plugin}: {p.message}" for p in self.registry.problems]
        self.problems.setText("Plugins not loaded:\n" + "\n".join(problems) if problems else "")
        self.problems.setVisible(bool(problems))

    # -- reading the document ------------------------------------------------------------------------
    def _stack(self) -> ObjectStack:
        return self.stack if self.stack is not None else ObjectStack()

    def _on_objects(self, event: Any) -> None:
        if self._writing:
            return
        if getattr(event, "object_id", None) == self.ctx.active_object:
            self.reload()

    def reload(self) -> None:
        doc, obj = self.ctx.doc, self.ctx.active_object
        enabled = doc is not None and obj is not None
        for w in (self.refine_box, self.list, self.add_button, self.entry_box, self.holdout):
            w.setEnabled(enabled)
        if not enabled:
            self.stack = None
            self.title.setText("<span style='color:#8a8f98'>Select an object to give it effects.</span>")
            self._fill(ObjectStack())
            return
        o = doc.object(obj)
        try:
            self.stack = stack_of(o, self.registry)
        except EffectError as exc:
            self.problem.emit(f"The effects of {o.name} cannot be read: {exc}")
            self.stack = ObjectStack()
        self.title.setText(f"<b>{o.name}</b>" + (" <span style='color:#ffaa00'>(locked)</span>" if o.locked else ""))
        self._fill(self.stack)

    def _fill(self, stack: ObjectStack) -> None:
        current = self.list.currentRow()
        # refinement
        if self.refine_form is not None:
            # never setParent(None): a child not yet shown would pop up as a window of its own
            self.refine_layout.removeWidget(self.refine_form)
            self.refine_form.hide()
            self.refine_form.deleteLater()
        self.refine_form = ParamForm(specs(RefineParams), to_dict(stack.refine))
        self.refine_form.changed.connect(self._refine_changed)
        self.refine_layout.addWidget(self.refine_form)
        # stack
        self.list.blockSignals(True)
        self.list.clear()
        for entry in stack.effects:
            cls = self.registry.find(entry.effect)
            label = cls.label if cls is not None else f"{entry.effect} (not installed)"
            if cls is not None and len(cls.targets) > 1:
                label += " — " + ("object" if entry.target is Target.OBJECT else "background")
            item = QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if entry.enabled else Qt.CheckState.Unchecked)
            item.setToolTip("Tick to switch the effect on; drag to reorder")
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.holdout.blockSignals(True)
        self.holdout.setChecked(stack.holdout)
        self.holdout.blockSignals(False)
        row = min(max(current, 0), len(stack.effects) - 1)
        self.list.setCurrentRow(row)
        self._show_entry(row)

    def _show_entry(self, row: int) -> None:
        self.entry_form = None
        while self.entry_layout.count():
            item = self.entry_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        stack = self._stack()
        if not 0 <= row < len(stack.effects):
            hint = QLabel("Add an effect to change how the object (or its background) looks.")
            hint.setWordWrap(True)
            hint.setStyleSheet("color: #8a8f98;")
            self.entry_layout.addWidget(hint)
            return
        entry = stack.effects[row]
        cls = self.registry.find(entry.effect)
        if cls is None or not entry.available:
            missing = QLabel(f"The effect '{entry.effect}' is not installed; its settings are kept.")
            missing.setWordWrap(True)
            self.entry_layout.addWidget(missing)
            return
        if cls.description:
            about = QLabel(cls.description)
            about.setWordWrap(True)
            about.setStyleSheet("color: #9aa0a8;")
            self.entry_layout.addWidget(about)
        common = QWidget()
        form = QFormLayout(common)
        form.setContentsMargins(0, 0, 0, 0)
        if len(cls.targets) > 1:
            target = QComboBox()
            target.setObjectName("TargetCombo")
            for t in cls.targets:
                target.addItem("The object" if t is Target.OBJECT else "The background", t.value)
            target.setCurrentIndex([t.value for t in cls.targets].index(entry.target.value))
            target.currentIndexChanged.connect(lambda _i: self._entry_changed(row, target=Target(target.currentData())))
            form.addRow("Acts on:", target)
        mix = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        mix.setObjectName("MixSlider")
        mix.setRange(0.0, 1.0)
        mix.setSingleStep(0.05)
        mix.setDecimals(2)
        mix.setValue(entry.mix)
        mix.setToolTip("How much of the effect shows over the picture")
        mix.valueChanged.connect(lambda v: self._entry_changed(row, mix=float(v)))
        form.addRow("Mix:", mix)
        self.entry_layout.addWidget(common)
        params = ParamForm(specs(cls.Params), to_dict(entry.params))
        params.setObjectName("EffectParams")
        self.entry_form = params
        params.changed.connect(lambda name, value: self._param_changed(row, name, value))
        self.entry_layout.addWidget(params)

    # -- writing the document ------------------------------------------------------------------------
    def _commit(self, stack: ObjectStack, label: str) -> None:
        doc, obj = self.ctx.doc, self.ctx.active_object
        if doc is None or obj is None:
            return
        if not self._editing:
            doc.history.begin_group(label)
            self._editing = True
        self._idle.start()
        self.stack = stack
        self._writing = True
        try:
            doc.update_object(obj, **stack_fields(stack))
        except ProjectError as exc:
            self.problem.emit(str(exc))
            self.finish_edit()
            self.reload()
        finally:
            self._writing = False

    def finish_edit(self) -> None:
        """Close the undo step of the changes in progress (before undo, tracking, saving)."""
        self._idle.stop()
        if self._editing:
            self._editing = False
            doc = self.ctx.doc
            if doc is not None and doc.history.in_group:
                doc.history.end_group()

    def _holdout_changed(self, on: bool) -> None:
        self._commit(dataclasses.replace(self._stack(), holdout=bool(on)), "Change hold-out")
        self.finish_edit()

    def _refine_changed(self, name: str, value: Any) -> None:
        stack = self._stack()
        try:
            self._commit(stack.with_refine(updated(stack.refine, **{name: value})), "Change refinement")
        except EffectError as exc:
            self.problem.emit(str(exc))

    def _param_changed(self, row: int, name: str, value: Any) -> None:
        stack = self._stack()
        if not 0 <= row < len(stack.effects):
            return
        entry = stack.effects[row]
        try:
            params = updated(entry.params, **{name: value})
        except EffectError as exc:
            self.problem.emit(str(exc))
            return
        self._commit(stack.replaced(row, EffectEntry(entry.effect, params, entry.target, entry.enabled, entry.mix)),
                     "Change effect")

    def _entry_changed(self, row: int, **changes: Any) -> None:
        stack = self._stack()
        if not 0 <= row < len(stack.effects):
            return
        e = stack.effects[row]
        values = {"target": e.target, "enabled": e.enabled, "mix": e.mix, **changes}
        self._commit(stack.replaced(row, EffectEntry(e.effect, e.params, values["target"], values["enabled"],
                                                     values["mix"])), "Change effect")
        if "target" in changes:
            self._fill(self._stack())

    def _item_changed(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        self._entry_changed(row, enabled=item.checkState() == Qt.CheckState.Checked)
        self.finish_edit()

    def add_effect(self, effect_id: str, target: Target | None = None) -> None:
        if self.ctx.doc is None or self.ctx.active_object is None:
            self.problem.emit("Select an object first")
            return
        try:
            entry = self.registry.entry(effect_id, target)
        except EffectError as exc:
            self.problem.emit(str(exc))
            return
        self.finish_edit()
        stack = self._stack().added(entry)
        self._commit(stack, f"Add {self.registry.find(effect_id).label}")
        self.finish_edit()
        self._fill(stack)
        self.list.setCurrentRow(len(stack.effects) - 1)

    def _remove(self) -> None:
        row = self.list.currentRow()
        stack = self._stack()
        if 0 <= row < len(stack.effects):
            self.finish_edit()
            self._commit(stack.removed(row), "Remove effect")
            self.finish_edit()
            self._fill(self._stack())

    def _move(self, delta: int) -> None:
        row = self.list.currentRow()
        stack = self._stack()
        dest = row + delta
        if 0 <= row < len(stack.effects) and 0 <= dest < len(stack.effects):
            self.finish_edit()
            self._commit(stack.moved(row, dest), "Reorder effects")
            self.finish_edit()
            self._fill(self._stack())
            self.list.setCurrentRow(dest)

    def _rows_moved(self, _parent: Any, start: int, _end: int, _dest_parent: Any, dest: int) -> None:
        stack = self._stack()
        to = dest - 1 if dest > start else dest
        if 0 <= start < len(stack.effects) and start != to:
            self.finish_edit()
            self._commit(stack.moved(start, to), "Reorder effects")
            self.finish_edit()
            QTimer.singleShot(0, lambda: self._fill(self._stack()))
