"""Every command of the editor in one table: its menu, its shortcut, and a tooltip that
names the shortcut. Menus, toolbars, buttons and the shortcut overlay (``?``) are all built
from this table, so a shortcut is defined once and shown the same everywhere.

Shortcuts follow DESIGN.md: Space play/pause, J/K/L shuttle, Left/Right a frame,
Shift+Left/Right a second, Home/End, I/O in and out points, Ctrl+Z / Ctrl+Shift+Z,
number keys select objects, Esc cancels, ? shows this table. Suspect frames are markers to
review: Shift+Up/Shift+Down go to the previous/next one (DaVinci Resolve's previous/next
marker; Up/Down are keyframes here), C marks the frame checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from sam2_studio.ui.icons import icon


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    menu: str  # "File", "Edit", "View", "Playback", "Tools", "Track", "Object", "Help"
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    icon: str = ""
    checkable: bool = False
    group: str | None = None  # exclusive group (tools)
    submenu: str = ""  # shown in this submenu of ``menu`` (Track › Memory)


def _a(id: str, text: str, menu: str, shortcuts: str | tuple[str, ...] = (), tip: str = "",  # noqa: A002
       icon: str = "", checkable: bool = False, group: str | None = None,
       submenu: str = "") -> ActionSpec:
    keys = (shortcuts,) if isinstance(shortcuts, str) else tuple(shortcuts)
    return ActionSpec(id, text, menu, keys, tip, icon, checkable, group, submenu)


MEMORY_TIP = ("Distractor-aware memory (SAM2.1++, CVPR 2025) helps when look-alike objects are "
              "nearby (players, cars, animals in a group) and after long occlusions: it keeps "
              "reliable frames as anchors and updates its recent memory only when the object "
              "is visible. SAM 2's memory is the default, and as good on single, distinct objects. "
              "Changing it marks tracked frames stale: track again.")


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    _a("new", "&New Project from Video…", "File", "Ctrl+N", "Open a video or image sequence as a new project", "mdi6.movie-open"),
    _a("open", "&Open…", "File", "Ctrl+O", "Open a project (.s2s), a video or an image sequence", "mdi6.folder-open"),
    _a("save", "&Save", "File", "Ctrl+S", "Save the project", "mdi6.content-save"),
    _a("save_as", "Save &As…", "File", "Ctrl+Shift+S", "Save the project under a new name"),
    _a("export", "&Export…", "File", "Ctrl+E", "Export a video with effects, alpha mattes or masks", "mdi6.export"),
    _a("models", "&Models…", "File", "Ctrl+M", "Get a SAM 2 model, choose one, choose the device", "mdi6.chip"),
    _a("quit", "&Quit", "File", "Ctrl+Q", "Close SAM2 Studio"),
    # Edit
    _a("undo", "&Undo", "Edit", "Ctrl+Z", "Undo the last edit", "mdi6.undo"),
    _a("redo", "&Redo", "Edit", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the edit undone last", "mdi6.redo"),
    _a("clear_prompts", "&Clear Prompts on This Frame", "Edit", "Delete",
       "Remove the active object's clicks, box and strokes on the current frame"),
    _a("cancel", "Cancel", "Edit", "Esc", "Stop tracking, or cancel the box or stroke being drawn", "mdi6.close-circle"),
    # Playback
    _a("play", "&Play / Pause", "Playback", "Space", "Play or pause", "mdi6.play"),
    _a("shuttle_back", "Play &Backward (faster each press)", "Playback", "J", "Shuttle backward: press again to go faster", "mdi6.rewind"),
    _a("shuttle_stop", "&Stop", "Playback", "K", "Stop playback", "mdi6.stop"),
    _a("shuttle_fwd", "Play &Forward (faster each press)", "Playback", "L", "Shuttle forward: press again to go faster", "mdi6.fast-forward"),
    _a("step_back", "Previous Frame", "Playback", "Left", "Go back one frame", "mdi6.step-backward"),
    _a("step_fwd", "Next Frame", "Playback", "Right", "Go forward one frame", "mdi6.step-forward"),
    _a("second_back", "Back One Second", "Playback", "Shift+Left", "Go back one second"),
    _a("second_fwd", "Forward One Second", "Playback", "Shift+Right", "Go forward one second"),
    _a("prev_key", "Previous Keyframe", "Playback", "Up", "Jump to the previous prompted frame", "mdi6.skip-previous"),
    _a("next_key", "Next Keyframe", "Playback", "Down", "Jump to the next prompted frame", "mdi6.skip-next"),
    _a("home", "Go to Start", "Playback", "Home", "Go to the first frame", "mdi6.skip-backward"),
    _a("end", "Go to End", "Playback", "End", "Go to the last frame", "mdi6.skip-forward"),
    _a("mark_in", "Mark &In", "Playback", "I", "Set the in point here: tracking and exports stay inside in/out", "mdi6.ray-start-arrow"),
    _a("mark_out", "Mark &Out", "Playback", "O", "Set the out point here", "mdi6.ray-end-arrow"),
    _a("clear_in_out", "Clear In and Out", "Playback", "Alt+X", "Use the whole clip again"),
    # Tools
    _a("tool_point", "&Point", "Tools", "P", "Click the object: left click adds, right click or Alt+click removes", "mdi6.cursor-default-click", True, "tools"),
    _a("tool_box", "&Box", "Tools", "R", "Drag a box around the object", "mdi6.selection-drag", True, "tools"),
    _a("tool_brush", "B&rush", "Tools", "B", "Paint the active object's mask; the model follows the correction", "mdi6.brush", True, "tools"),
    _a("tool_eraser", "&Eraser", "Tools", "E", "Erase from the active object's mask", "mdi6.eraser", True, "tools"),
    _a("tool_hand", "&Hand", "Tools", "H", "Pan the picture (or drag with the middle button)", "mdi6.hand-back-right", True, "tools"),
    _a("brush_smaller", "Smaller Brush", "Tools", "[", "Make the brush smaller"),
    _a("brush_larger", "Larger Brush", "Tools", "]", "Make the brush larger"),
    # Track
    _a("track_fwd", "Track &Forward", "Track", "T", "Track every prompted object forward from this frame, up to the out point", "mdi6.arrow-right-bold"),
    _a("track_back", "Track &Backward", "Track", "Shift+T", "Track every prompted object backward from this frame, down to the in point", "mdi6.arrow-left-bold"),
    _a("track_both", "Track Both &Ways", "Track", "Ctrl+T", "Track forward, then backward, from this frame", "mdi6.arrow-left-right-bold"),
    _a("resolution_full", "Working Resolution: &Full (1024)", "Track", "Alt+1",
       "The model's own input size: the finest masks, the slowest on a CPU", checkable=True, group="resolution"),
    _a("resolution_balanced", "Working Resolution: &Balanced (768)", "Track", "Alt+2",
       "56% of Full's pixels: faster, a little coarser", checkable=True, group="resolution"),
    _a("resolution_draft", "Working Resolution: &Draft (512)", "Track", "Alt+3",
       "A quarter of Full's pixels: much faster, coarser masks; small objects may be lost", checkable=True, group="resolution"),
    _a("memory_sam2", "&SAM 2", "Track", "Ctrl+Alt+1", "Track with SAM 2's memory (the default). " + MEMORY_TIP,
       checkable=True, group="memory", submenu="&Memory"),
    _a("memory_distractor", "&Distractor-aware (SAM2.1++)", "Track", "Ctrl+Alt+2",
       "Track with the distractor-aware memory. " + MEMORY_TIP, checkable=True, group="memory", submenu="&Memory"),
    _a("prev_suspect", "Previous &Suspect Frame", "Track", "Shift+Up",
       "Go to the previous frame where a tracked object may have gone wrong (lost, jumped, changed size, or the model was unsure)",
       "mdi6.alert-circle-outline"),
    _a("next_suspect", "&Next Suspect Frame", "Track", "Shift+Down",
       "Go to the next frame where a tracked object may have gone wrong (lost, jumped, changed size, or the model was unsure)",
       "mdi6.alert-circle-check-outline"),
    _a("mark_checked", "Mark Frame &Checked", "Track", "C",
       "The object's mask on this frame is right: it leaves the suspects (press again to unmark; Ctrl+Z undoes)",
       "mdi6.check-decagram"),
    # Object
    _a("add_object", "&New Object", "Object", "N", "Add an object to segment", "mdi6.plus"),
    _a("delete_object", "&Delete Object", "Object", "Shift+Delete", "Delete the active object with its masks", "mdi6.delete"),
    _a("rename_object", "&Rename Object…", "Object", "F2", "Rename the active object", "mdi6.rename-box"),
    _a("hide_object", "&Hide / Show Object", "Object", "Ctrl+H", "Hide or show the active object (and its effects)", "mdi6.eye"),
    _a("lock_object", "&Lock / Unlock Object", "Object", "Ctrl+L", "Protect the active object's masks from edits", "mdi6.lock"),
    *(_a(f"select_object_{n}", f"Select Object {n}", "Object", str(n), f"Make object {n} the active one") for n in range(1, 10)),
    # View
    _a("zoom_fit", "Zoom to &Fit", "View", "Ctrl+0", "Fit the frame in the viewer", "mdi6.fit-to-screen"),
    _a("zoom_100", "Zoom &100%", "View", "Ctrl+1", "One video pixel per screen pixel"),
    _a("zoom_in", "Zoom &In", "View", ("Ctrl+=", "Ctrl++"), "Zoom in", "mdi6.magnify-plus"),
    _a("zoom_out", "Zoom &Out", "View", "Ctrl+-", "Zoom out", "mdi6.magnify-minus"),
    _a("show_overlay", "Show &Masks", "View", "V", "Show the objects' masks over the picture", "mdi6.layers", True),
    _a("show_outlines", "Show &Outlines", "View", "Shift+V", "Outline each mask", "mdi6.vector-square", True),
    _a("show_effects", "Show &Effects (Before/After)", "View", "\\", "Toggle between the picture with effects and the original", "mdi6.compare", True),
    _a("matte_view", "&Matte View (Alpha)", "View", "A", "Show the matte alone: white is the object", "mdi6.alpha-a-box", True),
    _a("timeline_zoom_in", "Zoom Timeline In", "View", "Alt+=", "Show fewer frames in the timeline"),
    _a("timeline_zoom_out", "Zoom Timeline Out", "View", "Alt+-", "Show more frames in the timeline"),
    _a("review_panel", "&Review Panel", "View", "Alt+R",
       "Show the suspect frames of every object, the confidence threshold, and what is checked", "mdi6.clipboard-check-outline"),
    # Help
    _a("shortcuts", "&Keyboard Shortcuts", "Help", "?", "Show every shortcut", "mdi6.keyboard"),
    _a("about", "&About SAM2 Studio", "Help", "Shift+F1", "Version, licences and credits"),
)

MENUS = ("File", "Edit", "View", "Playback", "Tools", "Track", "Object", "Help")
SPECS = {spec.id: spec for spec in ACTIONS}


def shortcut_text(spec: ActionSpec) -> str:
    return ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts)


def tooltip(spec: ActionSpec) -> str:
    keys = shortcut_text(spec)
    title = spec.text.replace("&", "").rstrip("…")
    tip = f"<b>{title}</b>" + (f" &nbsp;<span style='color:#9aa0a8'>({keys})</span>" if keys else "")
    return tip + (f"<br>{spec.tip}" if spec.tip else "")


class Actions(QObject):
    """The QActions of one window, by id: ``actions["play"]``, ``actions.connect(id, fn)``."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._actions: dict[str, QAction] = {}
        self._groups: dict[str, QActionGroup] = {}
        for spec in ACTIONS:
            a = QAction(spec.text, parent)
            a.setObjectName(f"action_{spec.id}")
            if spec.icon:
                a.setIcon(icon(spec.icon))
            if spec.shortcuts:
                a.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(tooltip(spec))
            a.setStatusTip(spec.tip)
            a.setCheckable(spec.checkable)
            if spec.group:
                group = self._groups.get(spec.group)
                if group is None:
                    group = self._groups[spec.group] = QActionGroup(parent)
                    group.setExclusive(True)
                group.addAction(a)
            self._actions[spec.id] = a

    def __getitem__(self, action_id: str) -> QAction:
        return self._actions[action_id]

    def __iter__(self):  # noqa: ANN204
        return iter(self._actions.values())

    def items(self):  # noqa: ANN201
        return self._actions.items()

    def connect(self, action_id: str, slot: Callable[..., object]) -> None:
        a = self._actions[action_id]
        if a.isCheckable():
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _checked=False: slot())

    def enable(self, enabled: bool, *ids: str) -> None:
        for i in ids:
            self._actions[i].setEnabled(enabled)
