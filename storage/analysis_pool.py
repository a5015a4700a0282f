"""Text analysis in worker processes, for bulk imports: the inbound texts of a batch are scored while the
importing process stores the batch before it.

Scoring a message (sentiment, language, topics: `storage.analysis`) is pure Python CPU work, about as
long as storing the event, and the same text always gets the same result. So a big import sends each
batch's texts to `workers` processes, each running the very analyser ingestion runs in-process, and
stores the previous batch meanwhile (`storage.importer.import_items`). It pays only with a spare core
(docs/performance.md, "Import (ingestion core)"): a single-core or busy machine keeps analysing
in-process.
Workers are started by `forkserver`: the importing process may run threads (the progress bar), which a
plain fork would copy mid-lock.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor

from storage.analysis import text_analyser
from storage.rows import Analyser, Analysis
from storage.settings import Settings

TASK_TEXTS = 1000  # texts per task: a batch is shared among the workers, each task worth ~50 ms of CPU

_analyse: Analyser | None = None  # the worker process's analyser


def default_workers() -> int:
    """One worker per core left idle beside the importing process: the cores less one, less the cores
    busy, rounded; 0 on a single core or a busy machine. A worker pays only on a core of its own: where
    other work takes the spare core, the importer waits for the texts' analyses and pays their round trip
    besides (docs/performance.md, "Import (ingestion core)"). The cores busy are the 1-minute load average,
    or what the cores do right now (`busy_now`) when that is less: the average lags a minute behind work
    that has ended (a previous import), which left a 2-core machine without its worker."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this system
        busy = 0.0
    now = busy_now()
    if now is not None:
        busy = min(busy, now)
    return max(0, min(cores - 1, round(cores - 1 - busy)))


def busy_now(window: float = 0.1) -> float | None:
    """How many cores were busy over the next `window` seconds (Linux's /proc/stat: all but idle and I/O
    wait); None where there is no /proc/stat."""
    try:
        before = _cpu_times()
        time.sleep(window)
        after = _cpu_times()
    except (OSError, ValueError):
        return None
    spent = [later - earlier for earlier, later in zip(before, after, strict=True)]
    total = sum(spent)
    if total <= 0:
        return None
    idle = spent[3] + spent[4]  # idle, iowait
    return (os.cpu_count() or 1) * (total - idle) / total


def _cpu_times() -> list[int]:
    """The machine's CPU time so far by state (user, nice, system, idle, iowait, …), in clock ticks."""
    with open("/proc/stat", encoding="ascii") as stat:
        first = stat.readline().split()
    if first[0] != "cpu":
        raise ValueError("/proc/stat does not start with the CPU total")
    return [int(value) for value in first[1:8]]


def import_pool(settings: Settings, *, analyse: bool = True, workers: int | None = None) -> AnalysisPool:
    """The pool for an import (`storage.importer.import_items`): `workers` processes (default: one per
    spare core) when it analyses text; else one with no workers, which leaves analysis in-process."""
    if not analyse:
        return AnalysisPool(settings, 0)
    return AnalysisPool(settings, default_workers() if workers is None else workers)


class AnalysisPool:
    """Worker processes scoring texts with the workspace's analyser; `score` returns at once. Processes
    start with the first texts to score; with 0 workers there are none (`active` is False)."""

    def __init__(self, settings: Settings, workers: int):
        self.workers = workers
        self.cpu_seconds = 0.0  # the workers' CPU time in the tasks finished so far (bench/ingest.py)
        if not workers:
            self._executor = None
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["storage.analysis"])
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start, initargs=(settings,)
        )

    @property
    def active(self) -> bool:
        return self._executor is not None

    def score(self, texts: list[str]) -> Scored:
        """The analyses of `texts`, in order, once the workers have them (`Scored.result` raises what
        went wrong, a broken or closed pool included: the caller then analyses in-process)."""
        assert self._executor is not None, "a pool without workers scores nothing"
        try:
            tasks = [
                self._executor.submit(_score, texts[start : start + TASK_TEXTS])
                for start in range(0, len(texts), TASK_TEXTS)
            ]
        except RuntimeError as exc:  # closed, or a worker died (BrokenProcessPool is a RuntimeError)
            failed: Future = Future()
            failed.set_exception(exc)
            tasks = [failed]
        for task in tasks:
            task.add_done_callback(self._count)
        return Scored(tasks)

    def _count(self, task: Future) -> None:
        if not task.cancelled() and task.exception() is None:
            self.cpu_seconds += task.result()[1]

    def close(self) -> None:
        """Stops the workers (tasks not started are dropped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Scored:
    """The analyses of a list of texts being computed by the pool."""

    def __init__(self, tasks: list[Future]):
        self._tasks = tasks

    def result(self) -> list[Analysis]:
        """Every text's analysis, in the order given (waits for the workers; raises what a worker raised)."""
        return [analysis for task in self._tasks for analysis in task.result()[0]]


def _start(settings: Settings) -> None:
    global _analyse
    _analyse = text_analyser(settings)


def _score(texts: list[str]) -> tuple[list[Analysis], float]:
    """The analyses of `texts`, and the CPU seconds they took."""
    assert _analyse is not None, "the worker was started without its analyser"
    started = time.process_time()
    return [_analyse(text) for text in texts], time.process_time() - started
