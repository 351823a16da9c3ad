"""Run steps in parallel worker processes, each in its own network namespace.

A worker is ``scripts/in-netns python -m bench.run --worker RUN_DIR``: it reads
``RUN_DIR/step.json``, runs the step and writes ``RUN_DIR/measurement.json``.
Each has its own loopback, so all of them can bind the same addresses and ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench import jsonform
from bench.measurement import Measurement, write_atomically
from bench.runners import execute
from bench.scenarios import Step
from bench.settings import WORKER_STAGGER
from tests.harness import REPO_ROOT

STEP_FILE = "step.json"
MEASUREMENT_FILE = "measurement.json"
WORKER_LOG = "worker.log"

Progress = Callable[[int, Step, Optional[Measurement]], None]


def worker_main(run_dir: Path) -> int:
    """The worker's side: run the step the parent left in ``run_dir``."""
    step = jsonform.load(Step, json.loads((run_dir / STEP_FILE).read_text()))
    measurement = execute(step, run_dir)
    write_atomically(run_dir / MEASUREMENT_FILE, json.dumps(jsonform.dump(measurement)))
    return 0


@dataclass
class _Worker:
    index: int
    step: Step
    run_dir: Path
    proc: subprocess.Popen[bytes]
    started: float
    interrupted: bool = False

    @property
    def overdue(self) -> bool:
        # Each certbot command has its own timeout; this is for a worker that hangs outside one.
        deadline = self.step.timeout() * len(self.step.scenario.zones) + 120
        return time.monotonic() - self.started > deadline


def _start(index: int, step: Step, run_dir: Path) -> _Worker:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(run_dir / STEP_FILE, json.dumps(jsonform.dump(step)))
    env = {k: v for k, v in os.environ.items() if k != "IN_NETNS"}  # makes in-netns unshare
    argv = [
        str(REPO_ROOT / "scripts" / "in-netns"), sys.executable, "-m", "bench.run",
        "--worker", str(run_dir),
    ]  # fmt: skip
    with (run_dir / WORKER_LOG).open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return _Worker(index, step, run_dir, proc, time.monotonic())


def _result(worker: _Worker) -> Measurement:
    try:
        data = json.loads((worker.run_dir / MEASUREMENT_FILE).read_text())
        return jsonform.load(Measurement, data)
    except (OSError, ValueError, TypeError) as exc:
        failed = Measurement(worker.step.kind, worker.step.tool)
        log_path = worker.run_dir / WORKER_LOG
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        failed.errors.append(
            f"worker exited {worker.proc.returncode} without a result ({exc}):\n{log[-3000:]}"
        )
        return failed


def run_workers(
    items: Sequence[tuple[int, Step, Path]], jobs: int, progress: Progress
) -> dict[int, Measurement]:
    """Run the steps ``jobs`` at a time, longest first, ``WORKER_STAGGER`` s apart."""
    queue = sorted(items, key=lambda item: -item[1].expected_seconds())
    running: list[_Worker] = []
    done: dict[int, Measurement] = {}
    last_start = float("-inf")
    try:
        while queue or running:
            for worker in list(running):
                if worker.proc.poll() is not None:
                    running.remove(worker)
                    done[worker.index] = _result(worker)
                    progress(worker.index, worker.step, done[worker.index])
                elif worker.overdue and not worker.interrupted:
                    # SIGINT, not SIGKILL: the worker's context managers then
                    # stop its Pebble and emulator.
                    worker.proc.send_signal(signal.SIGINT)
                    worker.interrupted = True
            if queue and len(running) < jobs and time.monotonic() - last_start >= WORKER_STAGGER:
                index, step, run_dir = queue.pop(0)
                running.append(_start(index, step, run_dir))
                last_start = time.monotonic()
                progress(index, step, None)
            time.sleep(0.2)
    finally:
        for worker in running:
            worker.proc.send_signal(signal.SIGINT)
        for worker in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=30)
    return done
