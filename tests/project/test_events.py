import gc
import logging

from sam2_studio.project.events import Signal


def test_connect_emit_disconnect():
    got = []
    sig: Signal[int] = Signal("x")
    off = sig.connect(got.append)
    sig.emit(1)
    off()
    sig.emit(2)
    assert got == [1]
    sig.connect(got.append)
    sig.disconnect(got.append)
    sig.emit(3)
    assert got == [1]


def test_bound_methods_are_held_weakly():
    class View:
        def __init__(self):
            self.seen = []

        def on(self, v):
            self.seen.append(v)

    sig: Signal[int] = Signal()
    view = View()
    sig.connect(view.on)
    sig.emit(1)
    assert view.seen == [1] and len(sig) == 1
    del view
    gc.collect()
    sig.emit(2)            # no error, the dead listener is dropped
    assert len(sig) == 0


def test_blocked_and_failing_listener(caplog):
    got = []
    sig: Signal[int] = Signal("s")
    sig.connect(lambda v: 1 / 0)
    sig.connect(got.append)
    with sig.blocked():
        sig.emit(1)
    with caplog.at_level(logging.ERROR):
        sig.emit(2)
    assert got == [2]
    assert "failed" in caplog.text
