"""The status bar's messages: the one after loading random weights is whole (it once showed
as the model label cut after a colon), and a message too long for the bar ends in "…"."""

from __future__ import annotations

from sam2_studio.app.model_source import ModelInfo
from sam2_studio.app.tracking import RANDOM_WEIGHTS_NOTICE
from sam2_studio.app.worker import ModelLoaded


def visible_text(w) -> str:  # noqa: ANN001
    return w.status.currentMessage()


def test_the_first_message_after_loading_random_weights_is_whole(window):
    w = window
    messages: list[str] = []
    w.status.messageChanged.connect(messages.append)
    info = ModelInfo("sam2.1_hiera_large", "CUDA: NVIDIA H100 80GB HBM3 (bf16)", True, None, 1024)
    w.tracker.handle(ModelLoaded(info))
    assert messages[0] == RANDOM_WEIGHTS_NOTICE  # whole: it fits beside the badge
    assert w.status.fontMetrics().horizontalAdvance(messages[0]) <= w.status._message_room()
    assert not messages[0].rstrip().endswith(":") and messages[0].endswith(".")
    assert info.label not in messages[0]  # the orange badge says it, beside the message
    assert w.status.model.text() == f"⚠ {info.label}"


def test_a_message_too_long_for_the_bar_is_elided(window):
    w = window
    w.resize(700, 500)
    w.status.show_model(w.tracker.state)
    long = "Developer mode, RANDOM WEIGHTS (sam2.1_hiera_tiny @ 256px, developer mode) · CPU, 2 threads " \
           "(fp32): the masks do not come from a trained model."
    w.status.showMessage(long, 1000)
    shown = visible_text(w)
    assert shown != long and shown.endswith("…") and long.startswith(shown[:-1].rstrip())
    assert w.status.fontMetrics().horizontalAdvance(shown) <= w.status._message_room()
    w.status.showMessage("Saved.", 1000)
    assert visible_text(w) == "Saved."
