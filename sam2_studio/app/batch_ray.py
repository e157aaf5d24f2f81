"""The same shots as Ray tasks on a Ray cluster (``sam2-studio batch --ray ADDRESS``).

Ray is an optional extra (``pip install 'sam2-studio[cluster]'``), imported only here and only
when asked for. Each shot is a task that reserves one GPU where the cluster has GPUs (else
``cpus_per_shot`` CPUs, which is also how many threads torch uses for it); Ray places the
tasks, this process only submits them and follows them. A task runs ``shot_run.attempt_shot``
as the local runner does, with the model loaded once per Ray worker process. The shots read
and write the paths of the jobs file, which must mean the same on every node (shared
storage), and every node needs sam2-studio installed, at the same version.

A shot that fails, on an error of its own or because Ray lost its worker (a node that ran out
of memory, a process killed), is retried once by ``BatchState`` without stopping the others.
Progress comes back through a small actor that the tasks report to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sam2_studio.app.batch import BatchState, Stop
from sam2_studio.app.exits import UsageError
from sam2_studio.app.shot_run import (FAILED, INTERRUPTED, ShotResult, WorkerNote, attempt_shot,
                                      cached_model, model_blob, words)

INSTALL_HINT = ("--ray needs Ray, which the desktop install leaves out: pip install "
                "'sam2-studio[cluster]' (here and on every node of the cluster)")


@dataclass(frozen=True)
class RayOptions:
    address: str  # "auto", "local", "host:6379", "ray://host:10001"
    cpus_per_shot: float = 1.0
    gpus_per_shot: float = 1.0
    use_gpus: bool = True  # False when the model is asked to run on the CPU


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


class EventSink:
    """An actor the tasks put their events in; the driver drains it a few times a second."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def put(self, event: Any) -> None:
        self.events.append(event)

    def drain(self) -> list[Any]:
        out, self.events = self.events, []
        return out


def shot_task(shot: Any, attempt: int, blob: bytes, sink: Any) -> ShotResult:
    """One attempt at a shot, in a Ray worker process."""
    import ray

    worker = f"ray node {ray.util.get_node_ip_address()}"

    def emit(event: Any) -> None:
        sink.put.remote(event)

    try:
        loaded = cached_model(blob, lambda text: emit(WorkerNote(worker, text)))
    except Exception as exc:  # noqa: BLE001 - the shot fails; it may work on another node
        return ShotResult(shot.name, FAILED, attempts=attempt, worker=worker,
                          error=f"the model did not load: {words(exc)}")
    return attempt_shot(shot, attempt, loaded, emit, lambda: False, worker)


def run_on_ray(state: BatchState, source: Any, options: RayOptions, reporter: Any,
               stop: Stop) -> None:
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        reporter.say(f"connecting to Ray at {options.address}")
        try:
            ray.init(address=options.address, log_to_driver=False,
                     **({"include_dashboard": False} if options.address == "local" else {}))
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(f"--ray {options.address}: no Ray cluster could be reached "
                             f"({words(exc)})") from None
    try:
        _Driver(ray, state, source, options, reporter, stop).run()
    finally:
        if started:
            ray.shutdown()


class _Driver:
    def __init__(self, ray: Any, state: BatchState, source: Any, options: RayOptions,
                 reporter: Any, stop: Stop) -> None:
        self.ray, self.state, self.reporter, self.stop = ray, state, reporter, stop
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0) if options.use_gpus else 0
        self.task_options = {"num_cpus": options.cpus_per_shot,
                             "num_gpus": options.gpus_per_shot if gpus else 0,
                             "max_retries": 0}  # retries are BatchState's, with the error said
        reporter.say(f"Ray cluster: {resources.get('CPU', 0):g} CPUs, {gpus:g} GPUs; a shot "
                     f"takes {self.task_options['num_gpus']:g} GPU, {options.cpus_per_shot:g} "
                     "CPU")
        self.task = ray.remote(shot_task)
        self.sink = ray.remote(num_cpus=0)(EventSink).remote()
        self.blob = ray.put(model_blob(source))
        self.refs: dict[Any, tuple[str, int]] = {}

    def run(self) -> None:
        ray = self.ray
        self._submit()
        cancelled = False
        while self.refs:
            ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=0.25)
            self._drain()
            for ref in ready:
                self.state.finish(self._result(ref))
            if self.stop() and not cancelled:
                cancelled = True
                self.state.stop()
                for ref in self.refs:
                    ray.cancel(ref)
            self._submit()
        self._drain()

    def _submit(self) -> None:
        while (nxt := self.state.next()) is not None:
            shot, attempt = nxt
            ref = self.task.options(**self.task_options).remote(shot, attempt, self.blob, self.sink)
            self.refs[ref] = (shot.name, attempt)

    def _result(self, ref: Any) -> ShotResult:
        name, attempt = self.refs.pop(ref)
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except exceptions.TaskCancelledError:
            return ShotResult(name, INTERRUPTED, attempts=attempt)
        except exceptions.RayError as exc:  # the worker or node was lost, or out of memory
            return ShotResult(name, FAILED, attempts=attempt, error=f"Ray: {words(exc)}")

    def _drain(self) -> None:
        for event in self.ray.get(self.sink.drain.remote()):
            self.reporter.handle(event)
