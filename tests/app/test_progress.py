import io

from sam2_studio.app.progress import ProgressBar, format_bytes, format_duration


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_frames_rate_and_time_left():
    clock = Clock()
    bar = ProgressBar(1000, unit="frames", label="segment", stream=io.StringIO(), clock=clock)
    bar.update(0)
    clock.now += 10
    bar.update(250)
    line = bar.line()
    assert "segment" in line and "25.0%" in line and "250/1000 frames" in line
    assert "25.0 frames/s" in line and "0:30 left" in line
    assert "[#######---------------------]" in line


def test_bytes_of_a_resumed_download_count_only_new_bytes():
    clock = Clock()
    bar = ProgressBar(None, unit="bytes", stream=io.StringIO(), clock=clock)
    bar.update(100_000_000, 300_000_000)    # resumed: 100 MB were already there
    clock.now += 4
    bar.update(120_000_000)
    line = bar.line()
    assert "120.0 MB / 300.0 MB" in line and "5.0 MB/s" in line and "0:36 left" in line


def test_terminal_redraws_in_place_and_logs_get_lines():
    clock = Clock()
    tty = Tty()
    bar = ProgressBar(10, stream=tty, clock=clock)
    for i in range(1, 11):
        clock.now += 1
        bar.advance()
    bar.close("done")
    out = tty.getvalue()
    assert out.count("\r") == 11 and out.endswith("done\n") and out.count("\n") == 1
    log = io.StringIO()
    bar = ProgressBar(100, stream=log, clock=clock)
    for i in range(100):
        clock.now += 0.5
        bar.advance()
    bar.close()
    lines = log.getvalue().splitlines()
    assert 4 <= len(lines) <= 7 and "100/100 frames" in lines[-1]


def test_an_aborted_bar_ends_its_line_without_a_final_report():
    tty = Tty()
    try:
        with ProgressBar(10, stream=tty, clock=Clock()) as bar:
            bar.update(3)
            raise OSError("disk gone")
    except OSError:
        pass
    assert tty.getvalue().endswith("3/10 frames\n") and tty.getvalue().count("\r") == 1
    quiet = io.StringIO()
    try:
        with ProgressBar(10, stream=quiet, clock=Clock()):
            raise OSError
    except OSError:
        pass
    assert quiet.getvalue() == ""


def test_unknown_total_and_formatting():
    bar = ProgressBar(None, stream=io.StringIO(), clock=Clock())
    bar.update(42)
    assert "42 frames" in bar.line() and "%" not in bar.line()
    assert format_bytes(999) == "999 B" and format_bytes(155_906_050) == "155.9 MB"
    assert format_duration(59.6) == "1:00" and format_duration(3725) == "1:02:05"
