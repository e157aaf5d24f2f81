"""Jobs files and test engines for the batch tests (importable by worker processes and Ray
workers, which get their model source pickled)."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tests.ground_truth import GroundTruthSession, GroundTruthSource


def write_jobs(path: Path, jobs: object) -> Path:
    path.write_text(json.dumps(jobs, indent=1), encoding="utf-8")
    return path


class _FailOnce(GroundTruthSession):
    """Fails the way ``mode`` says on the 3rd frame of its first propagation in the whole
    batch (a marker file says whether that happened, across processes)."""

    marker: Path
    mode: str

    def propagate(self, *args, **kw):  # noqa: ANN002, ANN003, ANN201
        for n, result in enumerate(super().propagate(*args, **kw), 1):
            if n == 3 and not self.marker.exists():
                self.marker.write_text("failed once")
                if self.mode == "kill":  # a worker process killed (as by the OOM killer)
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            yield result


@dataclass(frozen=True)
class FailOnceSource(GroundTruthSource):
    marker: Path = Path("failed-once")
    mode: str = "raise"  # or "kill"

    def load(self):  # noqa: ANN201
        loaded = super().load()
        session_type = type("Session", (_FailOnce,), {"marker": self.marker, "mode": self.mode})

        def factory(model, frames):  # noqa: ANN001, ANN202
            session = session_type(self.clip, self.delay_s)
            self.sessions.append(session)
            return session

        loaded.session_factory = factory
        return loaded
