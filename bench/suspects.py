"""How well the suspect-frame detector finds tracking faults, and how often it cries wolf.

The ground-truth test engine tracks an object through a clip of ../shared/data while
``tests/faults.py`` puts faults into its answers: lost frames (empty mask), swaps (the mask
moved onto another region), partial masks (half cut away) and full-frame false positives,
single frames and runs of 2-3, and a tracker's boundary noise on every frame. The results go
through the same path as in the editor (``app.review.record_result`` into a document, then
``app.review.Review``), and every injected fault counts as found when one of its frames is
flagged; clean frames flagged count against the detector.

Sets: *tuning* (the rules were chosen on these): car-shadow (40 frames) and car-shadow with
every 2nd frame (twice the motion); *held out* (never looked at while tuning): synthetic
40-frame tracks of the four annotated cutie_judo people (moving, turning, scaling), and
car-shadow with every 3rd frame. Seeds change the faults, the noise and the judo motion.

    .venv/bin/python bench/suspects.py                 # the report
    .venv/bin/python bench/suspects.py --seeds 5       # quicker
    .venv/bin/python bench/suspects.py --sweep         # recall and false alarms per threshold
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from common import ROOT  # noqa: I001

from sam2_studio.project.suspects import SuspectRules, TrackSeries, review_track
from tests.faults import (HARD, KINDS, Severity, Tally, every_nth, plan_faults, synthetic_track,
                          track_with_faults)
from tests.ground_truth import GroundTruthClip, load_clip

DATA = ROOT.parent / "shared" / "data"


Item = tuple[str, GroundTruthClip, int, Severity]


def tracks(seeds: int) -> dict[str, list[Item]]:
    car = load_clip(DATA / "davis16_car-shadow")
    judo = load_clip(DATA / "cutie_judo")
    shapes = [(i, lab == 1) for i, lab in enumerate(judo.labels) if lab is not None]
    sets: dict[str, list[Item]] = {"tuning": [], "held out": [], "stress (beyond the issue)": []}
    normal = Severity()
    for seed in range(seeds):
        sets["tuning"].append(("car-shadow", car, seed, normal))
        sets["tuning"].append(("car-shadow /2", every_nth(car, 2), seed, normal))
        sets["held out"].append(("car-shadow /3", every_nth(car, 3), seed, normal))
        for frame, shape in shapes:
            rng = np.random.default_rng((seed, frame))
            judo_track = synthetic_track(shape, judo.frames[frame], 40, rng)
            sets["held out"].append((f"judo #{frame}", judo_track, seed, normal))
            sets["stress (beyond the issue)"].append((f"judo #{frame}", judo_track, seed, HARD))
        sets["stress (beyond the issue)"].append(("car-shadow /4", every_nth(car, 4), seed, HARD))
    return sets


def evaluate(sets: dict[str, list[Item]], rules: SuspectRules, with_faults: bool = True) -> dict[str, Tally]:
    out = {}
    for name, items in sets.items():
        total = Tally()
        for _label, clip, seed, severity in items:
            faults = plan_faults(len(clip.frames), np.random.default_rng((seed, 99))) if with_faults else []
            total.add(track_with_faults(clip, faults, seed, rules, severity))
        out[name] = total
    return out


def report(name: str, t: Tally, clean_only: Tally) -> None:
    print(f"\n{name}: {t.tracks} tracks, {sum(t.injected.values())} faults on {t.faulty_frames} frames")
    print(f"  {'fault':<11} {'injected':>8} {'found':>6} {'recall':>7}")
    for kind in KINDS:
        n, f = t.injected[kind], t.found[kind]
        print(f"  {kind:<11} {n:>8} {f:>6} {f / max(n, 1):>7.1%}")
    n, f = sum(t.injected.values()), sum(t.found.values())
    print(f"  {'all':<11} {n:>8} {f:>6} {f / max(n, 1):>7.1%}   (faulty frames flagged: "
          f"{t.faulty_flagged / max(t.faulty_frames, 1):.1%})")
    print(f"  clean frames flagged, tracks with faults: {t.false_alarms}/{t.clean} = "
          f"{t.false_alarms / max(t.clean, 1):.1%}; tracks without faults: "
          f"{clean_only.false_alarms}/{clean_only.clean} = {clean_only.false_alarms / max(clean_only.clean, 1):.1%}")


def scale_timing(frames: int = 10_000) -> tuple[float, float]:
    """Time of ``review_track`` on a long synthetic track (wall, CPU), ms."""
    rng = np.random.default_rng(0)
    area = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.02, frames)))
    cx = 400 + np.cumsum(rng.normal(0, 2, frames))
    series = TrackSeries.build(list(range(frames)), area.tolist(), cx.tolist(), [240.0] * frames,
                               [8.0] * frames, [0.93] * frames, [0.85] * frames)
    t, c = time.perf_counter(), time.process_time()
    review_track(series)
    return (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sweep", action="store_true", help="recall and false alarms for thresholds 0.3-0.7")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    sets = tracks(args.seeds)
    rules = SuspectRules()
    print(f"rules: {rules}")
    if args.sweep:
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
            r = replace(rules, threshold=threshold)
            res, clean = evaluate(sets, r), evaluate(sets, r, with_faults=False)
            line = []
            for name in sets:
                t = res[name]
                line.append(f"{name}: recall {sum(t.found.values()) / max(sum(t.injected.values()), 1):.1%}, "
                            f"clean flagged {t.false_alarms / max(t.clean, 1):.1%} / "
                            f"{clean[name].false_alarms / max(clean[name].clean, 1):.1%}")
            print(f"threshold {threshold:.1f}: " + "; ".join(line))
    else:
        res, clean = evaluate(sets, rules), evaluate(sets, rules, with_faults=False)
        for name in sets:
            report(name, res[name], clean[name])
    wall, cpu = scale_timing()
    print(f"\nreview_track on a 10 000-frame track: {wall:.0f} ms (cpu {cpu:.0f} ms)")
    print(f"benchmark: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s cpu "
          "(a shared 2-core machine)")


if __name__ == "__main__":
    main()
