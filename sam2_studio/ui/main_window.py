"""The main window: viewer, transport and timeline in the middle, objects and effects on the
right, menus and a toolbar built from the action table, the status bar below.

It owns the document's life: which document is open, drag and drop, and closing without
losing work; opening and saving files is ``files.py``'s. The model runs in
the worker thread; its events come back through a relay and the tracker writes them into
the document.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QSlider,
                               QSplitter, QToolBar, QVBoxLayout, QWidget)

from sam2_studio import __version__
from sam2_studio.app.clip import Clip
from sam2_studio.app.detail import DetailService
from sam2_studio.app.model_source import CheckpointFile, ModelSource, default_source
from sam2_studio.app.review import Review
from sam2_studio.app.settings import Settings, load_settings, save_settings
from sam2_studio.app.tracking import Notice, Tracker, TrackerState
from sam2_studio.app.worker import ModelWorker
from sam2_studio.project import Autosaver, Document, InterruptedSession
from sam2_studio.ui import dialogs
from sam2_studio.ui.actions import MENUS, SPECS, Actions, tooltip
from sam2_studio.ui.context import EditorContext, Tool
from sam2_studio.ui.editing import EditController
from sam2_studio.ui.files import Files
from sam2_studio.ui.objects_panel import ObjectsPanel
from sam2_studio.ui.picture import PictureController
from sam2_studio.ui.qt_bridge import MainThreadRelay
from sam2_studio.ui.resolution import ResolutionControl
from sam2_studio.ui.resources import app_icon_path
from sam2_studio.ui.review_panel import ReviewPanel
from sam2_studio.ui.status_bar import StatusBar
from sam2_studio.ui.timeline import Timeline
from sam2_studio.ui.transport import Playback, PlayheadRest, TransportBar
from sam2_studio.ui.viewer import Viewer

log = logging.getLogger(__name__)

APP_TITLE = "SAM2 Studio"
TOOL_ACTIONS = {Tool.POINT: "tool_point", Tool.BOX: "tool_box", Tool.BRUSH: "tool_brush",
                Tool.ERASER: "tool_eraser", Tool.HAND: "tool_hand"}
EDIT_ACTIONS = ("clear_prompts", "add_object", "delete_object", "rename_object", "hide_object",
                "lock_object", "mark_in", "mark_out", "clear_in_out")
MEMORY_ACTIONS = {"sam2": "memory_sam2", "distractor_aware": "memory_distractor"}
MEMORY_NAMES = {"sam2": "SAM 2", "distractor_aware": "Distractor-aware (SAM2.1++)"}
REVIEW_ACTIONS = ("prev_suspect", "next_suspect", "mark_checked")


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, *, model_manager: Callable[[], object] | None = None,
                 autosave_dir: Path | None = None, save_settings_on_close: bool = True) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.settings = settings if settings is not None else load_settings()
        self._model_manager = model_manager
        self._save_settings_on_close = save_settings_on_close
        self.setWindowTitle(APP_TITLE)
        if app_icon_path().is_file():
            self.setWindowIcon(QIcon(str(app_icon_path())))
        self.setAcceptDrops(True)
        self.resize(1440, 900)

        self.files = Files(self, autosave_dir)
        self.ctx = EditorContext(self)
        self.ctx.overlay_opacity = self.settings.overlay_opacity
        self.ctx.show_outlines = self.settings.show_outlines
        self.ctx.brush_radius = self.settings.brush_radius
        self.actions = Actions(self)
        for action in self.actions:
            self.addAction(action)  # shortcuts work wherever the focus is in the window

        # the model worker and the tracker between it and the document
        self._worker_relay = MainThreadRelay(self)
        # detail passes run on the worker too; their answers are taken in on its thread
        self.detail = DetailService(lambda command: self.worker.submit(command))
        self.worker = ModelWorker(self._on_worker_event)
        self.tracker = Tracker(self.worker)
        self._worker_relay.delivered.connect(self.tracker.handle)
        self.tracker.changed.connect(self._on_tracker)
        self.tracker.notices.connect(self._on_notice)

        # widgets
        self.viewer = Viewer()
        self.playback = Playback(self.ctx, self)
        self.playhead_rest = PlayheadRest(self.ctx, self)
        self._model_ready = False  # a model loaded and no run: the playhead's rest is worth work
        self.transport = TransportBar(self.ctx, self.playback, self.actions)
        self.timeline = Timeline(self.ctx)
        self.objects_panel = ObjectsPanel(self.ctx, self.actions)
        self.review: Review | None = None
        self.review_panel = ReviewPanel(self.ctx, self.actions)
        self.picture = PictureController(self.ctx, self.viewer, self, detail=self.detail)
        self._worker_relay.delivered.connect(self.picture.on_worker_event)
        self.edit = EditController(self.ctx, self.viewer, self.tracker, self)
        self.status = StatusBar(self.actions)
        self.setStatusBar(self.status)
        self.effects_panel = self._make_effects_panel()
        self._build_layout()
        self._build_menus()
        self._build_toolbar()
        self.resolution = ResolutionControl(self, self.actions, self.tracker, self.settings, lambda: self.doc,
                                            lambda d: self.track(d, offer=False), self._message)
        self._wire()

        self._autosave_timer = QTimer(self)
        self._autosave_timer.timeout.connect(self.files.poll_autosave)
        self._autosave_timer.start(1000)
        self._restore_geometry()
        self.ctx.set_tool(Tool.BRUSH)
        self._update_actions()
        self._show_memory()

    def _on_worker_event(self, event: object) -> None:
        """On the worker's thread: the detail service first (an export may be waiting for
        it), then everything goes to the GUI thread."""
        self.detail.on_worker_event(event)
        self._worker_relay(event)

    # == building ================================================================================
    def _make_effects_panel(self) -> QWidget:
        try:
            from sam2_studio.ui.effects_panel import EffectsPanel

            panel = EffectsPanel(self.ctx)
            panel.problem.connect(self._message)
            return panel
        except ImportError as exc:
            label = QLabel(f"Effects are not available in this build\n({exc})")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            return label

    def _build_layout(self) -> None:
        middle = QWidget()
        v = QVBoxLayout(middle)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.viewer, 1)
        v.addWidget(self.transport)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("MainSplitter")
        splitter.addWidget(middle)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(0, False)
        splitter.setSizes([720, 150])
        self.setCentralWidget(splitter)
        self.objects_dock = QDockWidget("Objects", self)
        self.objects_dock.setObjectName("ObjectsDock")
        self.objects_dock.setWidget(self.objects_panel)
        self.objects_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.objects_dock)
        self.effects_dock = QDockWidget("Effects", self)
        self.effects_dock.setObjectName("EffectsDock")
        self.effects_dock.setWidget(self.effects_panel)
        self.effects_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.effects_dock)
        self.review_dock = QDockWidget("Review", self)
        self.review_dock.setObjectName("ReviewDock")
        self.review_dock.setWidget(self.review_panel)
        self.review_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.tabifyDockWidget(self.effects_dock, self.review_dock)
        self.effects_dock.raise_()
        self.resizeDocks([self.objects_dock], [370], Qt.Orientation.Horizontal)
        self.resizeDocks([self.objects_dock, self.effects_dock], [170, 560], Qt.Orientation.Vertical)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.menus: dict[str, QMenu] = {}
        for name in MENUS:
            self.menus[name] = bar.addMenu(f"&{name}")
        separators_before = {"export", "quit", "clear_prompts", "shuttle_back", "step_back", "prev_key",
                             "home", "mark_in", "brush_smaller", "delete_object", "select_object_1",
                             "show_overlay", "timeline_zoom_in", "about", "resolution_full",
                             "prev_suspect"}
        for action_id, action in self.actions.items():
            spec = SPECS[action_id]
            menu = self.menus[spec.menu]
            if spec.submenu:  # e.g. Track › Memory, listed in self.menus as "Track › Memory"
                key = f"{spec.menu} › {spec.submenu.replace('&', '')}"
                if key not in self.menus:
                    menu.addSeparator()
                    self.menus[key] = menu.addMenu(spec.submenu)
                    self.menus[key].setToolTipsVisible(True)
                    self.menus[key].setToolTip(spec.tip)
                menu = self.menus[key]
            if action_id in separators_before:
                menu.addSeparator()
            if action_id == "export":
                self.recent_menu = menu.addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(self.files.fill_recent)
                menu.addSeparator()
            menu.addAction(action)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Tools", self)
        tb.setObjectName("ToolsToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for action_id in ("open", "save", None, "undo", "redo", None, "tool_point", "tool_box", "tool_brush",
                          "tool_eraser", "tool_hand"):
            if action_id is None:
                tb.addSeparator()
            else:
                tb.addAction(self.actions[action_id])
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setObjectName("BrushSize")
        self.brush_slider.setRange(1, 200)
        self.brush_slider.setValue(int(self.ctx.brush_radius))
        self.brush_slider.setMaximumWidth(110)
        self.brush_slider.setToolTip("<b>Brush size</b> ([ and ], or Ctrl+wheel)<br>Radius in video pixels")
        self.brush_slider.valueChanged.connect(lambda v: self.ctx.set_brush_radius(v))
        self.brush_label = QLabel(f" {int(self.ctx.brush_radius)} px ")
        tb.addWidget(QLabel(" Size "))
        tb.addWidget(self.brush_slider)
        tb.addWidget(self.brush_label)
        tb.addSeparator()
        for action_id in ("track_back", "track_both", "track_fwd"):
            tb.addAction(self.actions[action_id])
        tb.addSeparator()
        for action_id in ("show_overlay", "show_outlines", "show_effects", "matte_view"):
            tb.addAction(self.actions[action_id])
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("OverlayOpacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(self.ctx.overlay_opacity * 100))
        self.opacity_slider.setMaximumWidth(100)
        self.opacity_slider.setToolTip("<b>Mask opacity</b><br>How strongly masks tint the picture")
        self.opacity_slider.valueChanged.connect(lambda v: self.ctx.set_view(overlay_opacity=v / 100))
        tb.addWidget(QLabel(" Opacity "))
        tb.addWidget(self.opacity_slider)
        tb.addSeparator()
        for action_id in ("zoom_fit", "zoom_in", "zoom_out", None, "export", "models", "shortcuts"):
            if action_id is None:
                tb.addSeparator()
            else:
                tb.addAction(self.actions[action_id])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _wire(self) -> None:
        a, ctx = self.actions, self.ctx
        a.connect("new", self.files.new_project)
        a.connect("open", self.files.open_dialog)
        a.connect("save", self.save)
        a.connect("save_as", self.save_as)
        a.connect("export", self.export_dialog)
        a.connect("models", self.model_dialog)
        a.connect("quit", self.close)
        a.connect("undo", self.undo)
        a.connect("redo", self.redo)
        a.connect("clear_prompts", self.edit.clear_prompts)
        a.connect("cancel", self.cancel)
        a.connect("play", self.playback.toggle)
        a.connect("shuttle_back", self.playback.shuttle_backward)
        a.connect("shuttle_stop", self.playback.stop)
        a.connect("shuttle_fwd", self.playback.shuttle_forward)
        a.connect("step_back", lambda: self.playback.step(-1))
        a.connect("step_fwd", lambda: self.playback.step(1))
        a.connect("second_back", lambda: self.playback.step_seconds(-1))
        a.connect("second_fwd", lambda: self.playback.step_seconds(1))
        a.connect("prev_key", lambda: self.playback.keyframe(-1))
        a.connect("next_key", lambda: self.playback.keyframe(1))
        a.connect("home", self.playback.home)
        a.connect("end", self.playback.end)
        a.connect("mark_in", self.mark_in)
        a.connect("mark_out", self.mark_out)
        a.connect("clear_in_out", self.clear_in_out)
        for tool, action_id in TOOL_ACTIONS.items():
            a[action_id].triggered.connect(lambda _c=False, t=tool: self.set_tool(t))
        a.connect("brush_smaller", lambda: self.ctx.set_brush_radius(self.ctx.brush_radius / 1.25))
        a.connect("brush_larger", lambda: self.ctx.set_brush_radius(self.ctx.brush_radius * 1.25))
        a.connect("track_fwd", lambda: self.track("forward"))
        a.connect("track_back", lambda: self.track("backward"))
        a.connect("track_both", lambda: self.track("both"))
        a.connect("memory_sam2", lambda on: on and self.set_memory("sam2"))
        a.connect("memory_distractor", lambda on: on and self.set_memory("distractor_aware"))
        a.connect("prev_suspect", lambda: self.goto_suspect(forward=False))
        a.connect("next_suspect", lambda: self.goto_suspect(forward=True))
        a.connect("mark_checked", self.mark_checked)
        a.connect("review_panel", self.show_review_panel)
        a.connect("add_object", self.add_object)
        a.connect("delete_object", self.delete_object)
        a.connect("rename_object", self.rename_object)
        a.connect("hide_object", lambda: self._toggle_object("visible"))
        a.connect("lock_object", lambda: self._toggle_object("locked"))
        for n in range(1, 10):
            a.connect(f"select_object_{n}", lambda n=n: self.select_object(n))
        a.connect("zoom_fit", self.viewer.zoom_fit)
        a.connect("zoom_100", lambda: self.viewer.zoom_to(1.0))
        a.connect("zoom_in", lambda: self.viewer.zoom_by(1.25))
        a.connect("zoom_out", lambda: self.viewer.zoom_by(0.8))
        a["show_overlay"].setChecked(ctx.show_overlay)
        a["show_outlines"].setChecked(ctx.show_outlines)
        a["show_effects"].setChecked(ctx.show_effects)
        a.connect("show_overlay", lambda on: ctx.set_view(show_overlay=on))
        a.connect("show_outlines", lambda on: ctx.set_view(show_outlines=on))
        a.connect("show_effects", lambda on: ctx.set_view(show_effects=on))
        a.connect("matte_view", lambda on: ctx.set_view(matte_view=on))
        a.connect("timeline_zoom_in", lambda: self.timeline.zoom(1.5))
        a.connect("timeline_zoom_out", lambda: self.timeline.zoom(1 / 1.5))
        a.connect("shortcuts", self.show_shortcuts)
        a.connect("about", self.about)

        ctx.toolChanged.connect(self._on_tool)
        ctx.brushChanged.connect(self._on_brush)
        ctx.historyChanged.connect(lambda _e: self._update_actions())
        ctx.documentChanged.connect(self._update_actions)
        ctx.activeObjectChanged.connect(lambda _o: self._update_actions())
        ctx.objectsChanged.connect(lambda _e: self._update_actions())
        ctx.settingsChanged.connect(self._on_setting)
        self.viewer.brushResized.connect(self.ctx.set_brush_radius)
        self.timeline.scrubbed.connect(self._scrub)
        self.timeline.objectClicked.connect(self.ctx.set_active_object)
        self.objects_panel.problem.connect(self._message)
        self.review_panel.problem.connect(self._message)
        self.status.memoryClicked.connect(self.model_dialog)
        self.picture.problem.connect(self._message)
        self.edit.message.connect(self._message)
        self.status.modelClicked.connect(self.model_dialog)
        self.playhead_rest.rested.connect(lambda frame: self.tracker.prefetch(frame, self.ctx.active_object))

    # == document life ===========================================================================
    @property
    def doc(self) -> Document | None:
        return self.ctx.doc

    def set_document(self, doc: Document | None, clip: Clip | None, *,
                     recovered: InterruptedSession | None = None) -> None:
        """Show ``doc`` (its video in ``clip``); the previous one is closed (ask first with
        ``maybe_save``)."""
        self.playback.stop()
        self.edit.cancel_stroke()
        self._finish_edits()
        self.tracker.attach(None, None)
        old_clip = self.ctx.clip
        self.files.close_autosave()
        self._set_review(None)
        self.ctx.set_document(doc, clip)
        if doc is not None:
            self._set_review(Review(doc))
        if old_clip is not None and old_clip is not clip:
            old_clip.close()
        if doc is not None and clip is not None:
            self.tracker.attach(doc, clip.open_reader())
            self.files.autosave(doc, recovered)
            if not self.tracker.has_model and self.tracker.state.loading is None:
                self.load_default_model(doc.model_variant)
        self._update_title()
        self._update_actions()
        self.viewer.setFocus()

    # the files of the document (ui/files.py), as the window's own commands
    def maybe_save(self) -> bool:
        return self.files.maybe_save()

    def open_path(self, path: str | Path) -> bool:
        return self.files.open_path(path)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self) -> bool:
        return self.files.save_as()

    def recover(self, session: InterruptedSession) -> bool:
        return self.files.recover(session)

    def offer_recovery(self, sessions: list[InterruptedSession]) -> None:
        self.files.offer_recovery(sessions)

    @property
    def autosaver(self) -> Autosaver | None:
        return self.files.autosaver

    @autosaver.setter
    def autosaver(self, value: Autosaver | None) -> None:
        self.files.autosaver = value

    def _update_title(self) -> None:
        doc = self.doc
        if doc is None:
            self.setWindowTitle(APP_TITLE)
            self.setWindowModified(False)
            return
        name = doc.path.name if doc.path else doc.video.path.name
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}")
        self.setWindowModified(doc.dirty)

    # == the model ===============================================================================
    def model_manager(self) -> object:
        if self._model_manager is not None:
            return self._model_manager()
        from sam2_studio.app.models import ModelManager

        return ModelManager()

    def load_default_model(self, variant: str | None = None) -> None:
        try:
            source = default_source(variant or self.settings.model_variant, self.model_manager(), self.settings.device,
                                    self.settings.precision, self.settings.compile)
        except Exception as exc:  # noqa: BLE001 - a broken registry must not stop the editor
            log.exception("no default model")
            self._message(f"The model list could not be read: {exc}")
            return
        if source is not None:
            self.load_model(source)

    def load_model(self, source: ModelSource) -> None:
        if isinstance(source, CheckpointFile):  # the CPU engine the user chose (Models…)
            source = dataclasses.replace(source, cpu_engine=self.settings.cpu_engine)
        self.tracker.load_model(source)

    def model_dialog(self) -> None:
        from sam2_studio.ui.model_dialog import ModelDialog

        dialog = ModelDialog(self, self.model_manager(), self.tracker.state, self.settings,
                             self.doc.working_resolution if self.doc is not None else None,
                             self.doc.memory_policy if self.doc is not None else None)
        dialog.chosen.connect(self._model_chosen)
        dialog.resolutionChosen.connect(self.resolution.choose)
        dialog.memoryChosen.connect(self.set_memory)
        dialog.open()
        self._model_dialog = dialog

    def set_memory(self, policy: str) -> None:
        """The project's tracking memory (Track › Memory); tracked frames become stale."""
        doc = self.doc
        if doc is None or policy == doc.memory_policy:
            return
        doc.set_memory_policy(policy)
        self._message(f"Tracking memory: {MEMORY_NAMES[policy]}. Tracked frames are stale: "
                      "track again (T, Shift+T, Ctrl+T) to use it.")

    def _show_memory(self) -> None:
        policy = self.doc.memory_policy if self.doc is not None else None
        for name, action_id in MEMORY_ACTIONS.items():
            action = self.actions[action_id]
            action.blockSignals(True)
            action.setChecked(name == policy)
            action.blockSignals(False)
        self.status.show_memory(MEMORY_NAMES.get(policy) if policy else None)

    def _on_setting(self, name: str) -> None:
        if name == "memory_policy":
            self._show_memory()
        self._update_title()

    def _model_chosen(self, source: ModelSource, variant: str | None, device: str | None) -> None:
        self.settings.model_variant = variant
        self.settings.device = device
        self.settings.precision = getattr(source, "precision", None)
        self.settings.compile = getattr(source, "compile", None)
        self.load_model(source)

    # == editing =================================================================================
    def set_tool(self, tool: Tool) -> None:
        if tool.needs_model and not self.tracker.has_model:
            self._message("Clicks and boxes need a model: open Models… (Ctrl+M). The brush works without one.")
            self.actions[TOOL_ACTIONS[self.ctx.tool]].setChecked(True)
            return
        self.edit.end_stroke()
        self.ctx.set_tool(tool)

    def _on_tool(self, tool: Tool) -> None:
        self.actions[TOOL_ACTIONS[tool]].setChecked(True)
        self.viewer.set_tool(tool)

    def _on_brush(self, radius: float) -> None:
        self.viewer.set_brush_radius(radius)
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(int(round(radius)))
        self.brush_slider.blockSignals(False)
        self.brush_label.setText(f" {int(round(radius))} px ")

    def _scrub(self, frame: int) -> None:
        self.playback.stop()
        self.ctx.set_frame(frame)

    def track(self, direction: str, offer: bool = True) -> None:
        if self.doc is None:
            return
        if not self.tracker.has_model:
            self._message("Tracking needs a model: open Models… (Ctrl+M)")
            return
        if self.tracker.running:
            self._message("Tracking is already running (Esc stops it)")
            return
        if not any(self.doc.prompt_frames(o.id) for o in self.doc.objects):
            self._message("Nothing to track yet: click, box or paint an object first")
            return
        self.edit.end_stroke()
        self._finish_edits()
        self.playback.stop()
        if offer and self.resolution.track_or_offer(direction):
            return  # the first tracking of a clip on a CPU offers Draft first
        self.tracker.propagate(direction, start=self.ctx.frame)

    def cancel(self) -> None:
        overlay = getattr(self, "_shortcut_overlay", None)
        if overlay is not None and overlay.isVisible():
            overlay.hide()
            return
        if self.tracker.running:
            self.tracker.cancel()
            self._message("Stopping…")
            return
        if self.edit.cancel_stroke() | self.viewer.cancel_gesture():
            return
        self.playback.stop()

    def _finish_edits(self) -> None:
        """Close an effect edit in progress, so it is its own undo step."""
        finish = getattr(self.effects_panel, "finish_edit", None)
        if finish is not None:
            finish()

    def undo(self) -> None:
        self._finish_edits()
        doc = self.doc
        if doc is None or not doc.history.can_undo or self.edit.stroking:
            return
        label = doc.undo()
        if label:
            self._message(f"Undid: {label}")

    def redo(self) -> None:
        self._finish_edits()
        doc = self.doc
        if doc is None or not doc.history.can_redo or self.edit.stroking:
            return
        label = doc.redo()
        if label:
            self._message(f"Redid: {label}")

    def add_object(self) -> None:
        if self.doc is not None:
            self.doc.add_object()

    def delete_object(self) -> None:
        if self.doc is not None and self.ctx.active_object is not None:
            self.objects_panel.delete_object(self.ctx.active_object)

    def rename_object(self) -> None:
        if self.ctx.active_object is not None:
            self.objects_dock.show()
            self.objects_panel.focus_name(self.ctx.active_object)

    def _toggle_object(self, field: str) -> None:
        doc, obj = self.doc, self.ctx.active_object
        if doc is None or obj is None:
            return
        current = getattr(doc.object(obj), field)
        self.objects_panel.update_object(obj, **{field: not current})

    def select_object(self, n: int) -> None:
        doc = self.doc
        if doc is not None and 1 <= n <= len(doc.objects):
            self.ctx.set_active_object(doc.objects[n - 1].id)

    # == review ==================================================================================
    def _set_review(self, review: Review | None) -> None:
        if self.review is not None:
            self.review.close()
        self.review = review
        if review is not None:
            review.changed.connect(self._on_review_changed)
        self.timeline.set_review(review)
        self.review_panel.set_review(review)
        self._show_memory()

    def _on_review_changed(self, _object_id: int | None) -> None:
        self.timeline.update()
        self.review_panel.schedule_refresh()

    def goto_suspect(self, forward: bool = True) -> None:
        """Shift+Down / Shift+Up: the next or previous suspect frame of any object; the
        object it belongs to becomes the active one."""
        review = self.review
        if review is None:
            return
        s = review.next(self.ctx.frame, self.ctx.active_object, forward)
        if s is None:
            open_, _ = review.counts()
            self._message(f"No suspect frame {'after' if forward else 'before'} this one"
                          + (f" ({open_} in all)" if open_ else ": nothing to review"))
            return
        self.playback.stop()
        self.ctx.set_active_object(s.object_id)
        self.ctx.set_frame(s.frame)
        name = self.doc.object(s.object_id).name if self.doc is not None else ""
        self._message(f"Frame {s.frame}, {name}: {s.text} (confidence {s.confidence:.2f}). "
                      "C marks it checked.")

    def mark_checked(self) -> None:
        """C: the active object's mask on this frame is right (again: unmark it). Without an
        active object's mask here, every suspect on this frame is marked."""
        doc, review = self.doc, self.review
        if doc is None or review is None:
            return
        frame, obj = self.ctx.frame, self.ctx.active_object
        if obj is not None and doc.encoded_mask(obj, frame) is not None:
            keys, check = [(obj, frame)], not doc.is_checked(obj, frame)
        else:
            keys, check = [(s.object_id, frame) for s in review.at(frame)], True
        if not keys:
            self._message("Nothing to mark here: the object has no mask on this frame")
            return
        doc.set_checked(keys, check)
        names = ", ".join(doc.object(o).name for o, _ in keys)
        self._message(f"{names} on frame {frame} {'marked checked' if check else 'no longer checked'}"
                      " (Ctrl+Z undoes)")

    def show_review_panel(self) -> None:
        self.review_dock.show()
        self.review_dock.raise_()

    def mark_in(self) -> None:
        doc = self.doc
        if doc is None:
            return
        last = doc.frame_range.last if doc.has_frame_range else doc.video.frame_count - 1
        last = last if last >= self.ctx.frame else doc.video.frame_count - 1
        doc.set_frame_range(self.ctx.frame, last)

    def mark_out(self) -> None:
        doc = self.doc
        if doc is None:
            return
        first = doc.frame_range.first if doc.has_frame_range else 0
        first = first if first <= self.ctx.frame else 0
        doc.set_frame_range(first, self.ctx.frame)

    def clear_in_out(self) -> None:
        if self.doc is not None:
            self.doc.set_frame_range(None)

    # == state shown =============================================================================
    def _on_tracker(self, state: TrackerState) -> None:
        ready = state.model is not None and state.run is None
        if ready and not self._model_ready:
            self.playhead_rest.restart()  # a model arrived or a run ended: prepare this frame
        self._model_ready = ready
        self.status.show_model(state)
        self.status.show_job(state)
        self.timeline.set_stale(state.stale)
        self._update_actions()

    def _on_notice(self, notice: Notice) -> None:
        if notice.level == "error" and notice.path:
            dialogs.show_error(self, "The model could not be loaded", notice.text, notice.path)
        elif notice.level == "error":
            dialogs.show_error(self, "Something went wrong", notice.text)
        self._message(notice.text)

    def _message(self, text: str) -> None:
        self.status.showMessage(text, 8000)

    def _update_actions(self) -> None:
        doc = self.doc
        has_doc = doc is not None
        running = self.tracker.running
        model = self.tracker.has_model
        a = self.actions
        a.enable(has_doc, "save", "save_as", "export", *EDIT_ACTIONS, "play", "shuttle_back", "shuttle_stop",
                 "shuttle_fwd", "step_back", "step_fwd", "second_back", "second_fwd", "prev_key", "next_key",
                 "home", "end")
        has_obj = has_doc and self.ctx.active_object is not None
        a.enable(has_obj, "delete_object", "rename_object", "hide_object", "lock_object", "clear_prompts")
        a.enable(has_doc and not running and model, "track_fwd", "track_back", "track_both")
        a.enable(has_doc, *REVIEW_ACTIONS)
        a.enable(has_doc and not running, *MEMORY_ACTIONS.values())
        self.resolution.sync()
        a.enable(has_doc and not running and doc is not None and doc.history.can_undo, "undo")
        a.enable(has_doc and not running and doc is not None and doc.history.can_redo, "redo")
        # point and box stay clickable without a model: choosing them explains what is missing
        if doc is not None:
            a["undo"].setText(f"&Undo {doc.history.undo_label}" if doc.history.undo_label else "&Undo")
            a["redo"].setText(f"&Redo {doc.history.redo_label}" if doc.history.redo_label else "&Redo")
        for tool in (Tool.POINT, Tool.BOX):
            tip = tooltip(SPECS[TOOL_ACTIONS[tool]])
            if not model:
                tip += "<br><i>Needs a model: File › Models… (Ctrl+M)</i>"
            a[TOOL_ACTIONS[tool]].setToolTip(tip)
        if model and self.ctx.tool is Tool.BRUSH and not getattr(self, "_tool_chosen_for_model", False):
            self._tool_chosen_for_model = True
            self.ctx.set_tool(Tool.POINT)  # a model arrived: clicking is the quickest way in
        self._update_title()

    # == dialogs =================================================================================
    def export_dialog(self) -> None:
        if self.doc is None or self.ctx.clip is None:
            return
        from sam2_studio.ui.export_dialog import ExportDialog

        self.playback.stop()
        dialog = ExportDialog(self, self.doc, self.ctx.clip, self.ctx.frame, detail=self.detail)
        dialog.open()
        self._export_dialog = dialog

    def show_shortcuts(self) -> None:
        from sam2_studio.ui.shortcut_overlay import ShortcutOverlay

        overlay = getattr(self, "_shortcut_overlay", None)
        if overlay is None:
            overlay = self._shortcut_overlay = ShortcutOverlay(self)
        overlay.toggle()

    def about(self) -> None:
        QMessageBox.about(self, f"About {APP_TITLE}", (
            f"<h3>{APP_TITLE} {html.escape(__version__)}</h3>"
            "<p>Segment and track objects in videos with our own implementation of SAM 2 "
            "(Ravi et al., ICLR 2025), apply effects, export videos and mattes.</p>"
            "<p>The sample clip is from DAVIS 2016 (Perazzi et al., CVPR 2016), CC BY 4.0.</p>"))

    # == window events ===========================================================================
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda p=urls[0].toLocalFile(): self.open_path(p))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_save():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every thread and close the autosave (a clean exit leaves nothing to recover)."""
        self.playback.stop()
        self._autosave_timer.stop()
        self.tracker.cancel()
        self.picture.stop()
        self.tracker.close()
        self._set_review(None)
        self.worker.stop(timeout=5)
        self.files.close_autosave()
        if self.ctx.clip is not None:
            self.ctx.clip.close()
        self.settings.overlay_opacity = self.ctx.overlay_opacity
        self.settings.show_outlines = self.ctx.show_outlines
        self.settings.brush_radius = self.ctx.brush_radius
        self.settings.window_geometry = bytes(self.saveGeometry().toHex()).decode()
        self.settings.window_state = bytes(self.saveState().toHex()).decode()
        if self._save_settings_on_close:
            save_settings(self.settings)

    def _restore_geometry(self) -> None:
        try:
            if self.settings.window_geometry:
                self.restoreGeometry(QByteArray.fromHex(self.settings.window_geometry.encode()))
            if self.settings.window_state:
                self.restoreState(QByteArray.fromHex(self.settings.window_state.encode()))
        except Exception:  # noqa: BLE001 - a bad saved layout falls back to the default
            pass


__all__ = ["MainWindow"]
