"""Small dialogs in one place: errors that name the file and the problem, questions, and
file choosers. Tests replace the question functions; errors open without blocking, so a
message never stalls the editor (or a test) while work goes on behind it."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from sam2_studio.errors import StudioError

VIDEO_FILTER = ("Videos and image sequences (*.mp4 *.mov *.m4v *.mkv *.avi *.webm *.mpg *.mpeg *.ts "
                "*.mts *.wmv *.png *.jpg *.jpeg *.tif *.tiff *.exr);;All files (*)")
PROJECT_FILTER = "SAM2 Studio projects (*.s2s)"
OPEN_FILTER = (f"Projects, videos and image sequences (*.s2s *.mp4 *.mov *.m4v *.mkv *.avi *.webm "
               f"*.mpg *.mpeg *.ts *.mts *.wmv *.png *.jpg *.jpeg *.tif *.tiff *.exr);;{PROJECT_FILTER};;"
               f"{VIDEO_FILTER}")
CHECKPOINT_FILTER = "SAM 2 checkpoints (*.pt *.pth);;All files (*)"

# The last error shown, for tests and bug reports.
last_error: dict[str, str | None] = {"title": None, "text": None, "path": None}


def error_text(error: BaseException | str) -> tuple[str, str | None]:
    """The words and the file of an error: a StudioError's reason and path, or the text."""
    if isinstance(error, StudioError):
        return error.reason, str(error.path) if error.path is not None else None
    return str(error), None


def show_error(parent: QWidget | None, title: str, error: BaseException | str,
               path: str | Path | None = None, details: str | None = None) -> QMessageBox:
    """A warning naming the file and the problem; opens without blocking."""
    text, err_path = error_text(error)
    path = str(path) if path is not None else err_path
    last_error.update(title=title, text=text, path=path)
    box = QMessageBox(parent)
    box.setObjectName("ErrorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    body = f"<b>{html.escape(title)}</b>"
    if path:
        body += f"<p>File: <code>{html.escape(path)}</code></p>"
    body += f"<p>{html.escape(text[:1].upper() + text[1:])}</p>"
    body += "<p style='color:#9aa0a8'>Nothing you made was changed or lost.</p>"
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(body)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def ask_save_changes(parent: QWidget | None, name: str) -> str:
    """'save', 'discard' or 'cancel'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"<b>Save the changes to {html.escape(name)}?</b>")
    box.setInformativeText("Your changes are lost if you don't save them.")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")


def ask_locate_video(parent: QWidget | None, project: Path, missing: Path) -> Path | None:
    """The project's video moved: ask where it is now (None: the user gave up)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Where is the video?")
    box.setText(f"<b>The video of {html.escape(project.name)} is not where it was.</b>")
    box.setInformativeText(f"It was at {missing}. Show where it is now; the project is only "
                           "opened with the very same video.")
    locate = box.addButton("Locate Video…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is not locate:
        return None
    chosen, _ = QFileDialog.getOpenFileName(parent, "Locate the project's video", str(missing.parent), VIDEO_FILTER)
    return Path(chosen) if chosen else None


def choose_open_path(parent: QWidget | None, folder: str = "", video_only: bool = False) -> Path | None:
    title = "Open a video" if video_only else "Open a project or a video"
    chosen, _ = QFileDialog.getOpenFileName(parent, title, folder, VIDEO_FILTER if video_only else OPEN_FILTER)
    return Path(chosen) if chosen else None


def choose_save_path(parent: QWidget | None, suggestion: str) -> Path | None:
    chosen, _ = QFileDialog.getSaveFileName(parent, "Save project", suggestion, PROJECT_FILTER)
    if not chosen:
        return None
    path = Path(chosen)
    return path if path.suffix.lower() == ".s2s" else path.with_name(path.name + ".s2s")


def choose_checkpoint(parent: QWidget | None) -> Path | None:
    chosen, _ = QFileDialog.getOpenFileName(parent, "Choose a SAM 2 checkpoint", "", CHECKPOINT_FILTER)
    return Path(chosen) if chosen else None
