"""``sam2-studio batch JOBS``: many shots from a jobs file, here or on a Ray cluster.

The jobs file (``jobs.py``) is read and checked whole before anything runs. Shots already
done (``shot_record.py``) are skipped; the rest run through ``shot_run.py`` on this machine
(``batch.py``) or as Ray tasks (``batch_ray.py``, with ``--ray``). Progress on stderr, the
summary table on stdout. Exit codes: 0 every shot done or skipped, 1 a shot failed (after
its retry), 2 a bad jobs file or option (nothing ran), 130 interrupted (the shots not done
run on the next run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sam2_studio.app.exits import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from sam2_studio.app.interrupt import StopRequest

if TYPE_CHECKING:
    from sam2_studio.app.batch import Plan
    from sam2_studio.app.cli import CliContext


class BatchCommand:
    name = "batch"
    help = "segment and export many shots from a jobs file (JSON or CSV), here or on Ray"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from sam2_studio.app.segment_command import SegmentCommand

        parser.add_argument("jobs", type=Path, metavar="JOBS",
                            help="a .json or .csv file listing the shots: see docs/command-line.md")
        parser.add_argument("--check", action="store_true",
                            help="check every shot's video, prompts and effects and say which "
                                 "shots would run; run nothing")
        parser.add_argument("--force", action="store_true",
                            help="run every shot, also those done by an earlier run")
        parser.add_argument("--retries", type=int, default=1, metavar="N",
                            help="run a failed shot again up to N times (default 1)")
        w = parser.add_argument_group("where the shots run")
        w.add_argument("--workers", type=int, metavar="N",
                       help="shots at once on this machine (default: one per GPU, one on CPU)")
        w.add_argument("--ray", metavar="ADDRESS",
                       help="run the shots as Ray tasks: 'auto' (the cluster this machine is "
                            "part of), 'local' (a cluster started here for this run), "
                            "HOST:PORT or ray://HOST:10001; needs sam2-studio[cluster]")
        w.add_argument("--cpus-per-shot", type=float, default=1.0, metavar="N",
                       help="with --ray: CPUs a shot reserves (default 1; on a cluster without "
                            "GPUs, the threads it computes with)")
        w.add_argument("--gpus-per-shot", type=float, default=1.0, metavar="N",
                       help="with --ray: GPUs a shot reserves where the cluster has GPUs "
                            "(default 1)")
        SegmentCommand.add_model_options(parser)

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.batch import make_plan
        from sam2_studio.app.jobs import read_jobs
        from sam2_studio.app.segment_command import SegmentCommand

        self._check(args)
        if args.ray is not None:
            from sam2_studio.app.batch_ray import require_ray

            require_ray()  # before anything else: say how to install it
        jobs = read_jobs(args.jobs)
        segment = SegmentCommand()
        source = segment.chosen_source(args, ctx)
        plan = make_plan(jobs, source.description, args.force)
        if args.check:
            return self._report_check(plan, ctx)
        return self._run(plan, source, args, ctx)

    @staticmethod
    def _check(args: argparse.Namespace) -> None:
        from sam2_studio.app.segment_command import SegmentCommand

        if args.retries < 0:
            raise UsageError(f"--retries is 0 or more, got {args.retries}")
        if args.workers is not None and args.workers < 1:
            raise UsageError(f"--workers is 1 or more, got {args.workers}")
        if args.workers is not None and args.ray is not None:
            raise UsageError("--workers is for this machine; with --ray the cluster decides "
                             "(see --cpus-per-shot, --gpus-per-shot)")
        if args.cpus_per_shot <= 0 or args.gpus_per_shot <= 0:
            raise UsageError("--cpus-per-shot and --gpus-per-shot are more than 0")
        SegmentCommand.check_model_options(args)

    @staticmethod
    def _report_check(plan: Plan, ctx: CliContext) -> int:
        from sam2_studio.app.shot_run import check_shot, words

        planned = {p.shot.name: p.reason for p in plan.todo}
        problems = 0
        for shot in plan.jobs.shots:
            try:
                what = check_shot(shot)
            except Exception as exc:  # noqa: BLE001 - every shot is checked, each said
                problems += 1
                ctx.stdout.write(f"{shot.name}: PROBLEM: {words(exc)}\n")
                continue
            skipped = next((r for r in plan.skipped if r.shot == shot.name), None)
            verdict = f"would run ({planned[shot.name]})" if shot.name in planned else \
                f"skipped ({skipped.note if skipped else 'complete'})"
            ctx.stdout.write(f"{shot.name}: {what}: {verdict}\n")
        ctx.stdout.write(f"{len(plan.jobs.shots)} shots: {len(plan.todo)} would run, "
                         f"{len(plan.skipped)} done" + (f", {problems} with a problem"
                                                        if problems else "") + "\n")
        return EXIT_USAGE if problems else EXIT_OK

    def _run(self, plan: Plan, source: object, args: argparse.Namespace, ctx: CliContext) -> int:
        from sam2_studio.app.batch import BatchState, run_here, stages_of, worker_devices
        from sam2_studio.app.batch_progress import BatchReporter, summary
        from sam2_studio.app.shot_run import FAILED

        stages = {p.shot.name: stages_of(p.shot) for p in plan.todo}
        reporter = BatchReporter(len(plan.todo), ctx.stderr,
                                 stages=lambda shot: stages.get(shot, ("segment",)))
        for result in plan.skipped:
            reporter.skipped(result)
        for p in plan.todo:
            if p.reason not in ("not done yet", "forced"):
                reporter.say(f"{p.shot.name}: runs again: {p.reason}")
        state = BatchState(plan, args.retries, reporter)
        t0 = time.monotonic()
        with StopRequest("stopping: the shots in hand stop after this frame and run again next "
                         "time (Ctrl+C again to quit at once)") as stop:
            try:
                if not plan.todo:
                    pass
                elif args.ray is not None:
                    from sam2_studio.app.batch_ray import RayOptions, run_on_ray

                    options = RayOptions(args.ray, args.cpus_per_shot, args.gpus_per_shot,
                                         use_gpus=args.device != "cpu")
                    run_on_ray(state, source, options, reporter, stop)
                else:
                    run_here(state, source, worker_devices(args.workers, args.device),
                             reporter, stop)
            finally:
                reporter.close()
        results = state.in_order()
        ctx.stdout.write(summary(results, time.monotonic() - t0))
        if stop.requested:
            ctx.stderr.write("sam2-studio batch: interrupted; run the same command again to "
                             "do the shots not done (the done ones are skipped)\n")
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if any(r.status == FAILED for r in results) else EXIT_OK
