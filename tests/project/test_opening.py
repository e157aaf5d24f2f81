import shutil

import pytest

from sam2_studio.project import (Document, VideoMismatchError, VideoMissingError, find_video,
                                 load, open_project, save)

from .conftest import make_video_file, state


@pytest.fixture
def project(doc, tmp_path):
    obj = doc.add_object("Car")
    doc.add_point(obj.id, 0, 5, 5)
    return save(doc, tmp_path / "p.s2s")


def test_video_in_place(project, doc):
    opened = open_project(project)
    assert opened.video.path == doc.video.path and not opened.dirty


def test_moved_together_with_the_project_is_found(project, tmp_path):
    moved = tmp_path / "elsewhere" / "deeper"
    moved.mkdir(parents=True)
    shutil.move(project, moved / "p.s2s")
    shutil.move(tmp_path / "clip.mp4", moved / "clip.mp4")
    doc = open_project(moved / "p.s2s")
    assert doc.video.path == moved / "clip.mp4" and not doc.dirty
    save(doc)
    assert load(moved / "p.s2s").video.path == moved / "clip.mp4"


def test_moved_video_is_asked_for_then_relinked(project, tmp_path):
    new_home = tmp_path / "archive"
    new_home.mkdir()
    shutil.move(tmp_path / "clip.mp4", new_home / "renamed.mp4")
    with pytest.raises(VideoMissingError, match="clip.mp4 is missing.*--relink") as info:
        open_project(project)
    assert info.value.path == project
    assert find_video(load(project)) is None
    loose = open_project(project, require_video=False)          # a GUI opens, then asks
    assert loose.video.path == tmp_path / "clip.mp4"
    doc = open_project(project, relink=new_home / "renamed.mp4")
    assert doc.video.path == new_home / "renamed.mp4" and doc.dirty
    assert doc.history.undo_label == "Relink video"
    save(doc)
    assert open_project(project).video.path == new_home / "renamed.mp4"


def test_a_different_video_is_refused(project, tmp_path):
    other = make_video_file(tmp_path / "other.mp4", seed=5)
    with pytest.raises(VideoMismatchError, match="not the video the project was made on") as info:
        open_project(project, relink=other)
    assert info.value.path == other
    same_size = make_video_file(tmp_path / "same-size.mp4", seed=6)
    with pytest.raises(VideoMismatchError, match="content differs"):
        load(project).relink_video(same_size)
    shorter = make_video_file(tmp_path / "short.mp4", seed=0, size=1000)
    with pytest.raises(VideoMismatchError, match="1,000 bytes"):
        load(project).relink_video(shorter)


def test_a_video_replaced_in_place_is_noticed(project, tmp_path):
    make_video_file(tmp_path / "clip.mp4", seed=9)
    with pytest.raises(VideoMismatchError, match="has changed since the project was saved"):
        open_project(project)


def test_relink_undo_restores_the_old_path(doc: Document, tmp_path):
    copy = tmp_path / "copy.mp4"
    shutil.copy(doc.video.path, copy)
    before = state(doc)
    doc.relink_video(copy)
    doc.undo()
    assert state(doc) == before
