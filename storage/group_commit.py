"""Group commit: concurrent small ingestions stored together, one transaction for all of them.

A database has one writer at a time (SQLite strictly so), and a transaction's fixed cost dwarfs one
event's (figures: docs/performance.md, "Webhooks"). So callers
queue; whoever finds no write under way stores everything queued meanwhile, and each caller still gets its
own exact counts. Requests with a bad event, and big batches, are ingested on their own (their
rejections must carry their own positions); merged ones are pre-validated, and which of their events
the shared transaction stored is read back by its receive time, which each transaction has its own.
A failure is its own request's: when a shared transaction fails, each of its requests is stored again on
its own, so only the one that cannot be stored hears of the error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.events import EventError
from storage.ingest import Ingestor, IngestResult, Outcome
from storage.models import RawEvent
from storage.rebuild import chunks

MERGE_MAX = 50  # events; bigger requests amortise their own transaction
_log = logging.getLogger("kpibot.ingest")


@dataclass
class _Job:
    items: list[tuple[int, Any]]
    source: str
    keys: list[tuple[str, str]] | None  # (source, id) of every item when all are valid and few
    result: IngestResult | None = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None


class GroupCommit:
    """An ingestor for many threads at once: `ingest` blocks until the events are committed."""

    def __init__(self, ingestor: Ingestor, *, clock: Callable[[], datetime] | None = None):
        self.ingestor = ingestor
        self.clock = clock or (lambda: datetime.now(UTC))
        self._changed = threading.Condition()  # guards the queue and `_writing`
        self._queue: list[_Job] = []
        self._writing = False

    def ingest(self, items: list[tuple[int, Any]], *, source: str = "kpibot") -> IngestResult:
        """What storing these (position, payload) pairs did, as `Ingestor.ingest` reports it; durable."""
        job = _Job(items, source, self._keys(items, source) if len(items) <= MERGE_MAX else None)
        with self._changed:
            self._queue.append(job)
            # a caller whose events another caller's write stored returns at once, without waiting
            # for the write that is queued after it
            while self._writing and not job.finished:
                self._changed.wait()
            if not job.finished:
                self._writing = True
                jobs, self._queue = self._queue, []
        if not job.finished:
            try:
                self._write(jobs)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    def _keys(self, items: list[tuple[int, Any]], source: str) -> list[tuple[str, str]] | None:
        try:
            now = self.ingestor.clock()
            return [self.ingestor.normalise(pos, payload, source, now=now).key for pos, payload in items]
        except EventError:
            return None

    def _write(self, jobs: list[_Job]) -> None:
        try:
            groups: dict[str, list[_Job]] = {}
            for job in jobs:
                if job.keys is None:
                    self._alone(job)
                else:
                    groups.setdefault(job.source, []).append(job)
            for source, group in groups.items():
                try:
                    self._merged(source, group)
                except Exception:  # noqa: BLE001 - which request failed it is found by storing each alone
                    _log.warning("a group commit of %d requests failed; storing each on its own", len(group))
                    for job in group:
                        self._alone(job)
        except BaseException as exc:  # interrupted: every waiting caller hears of it, not only this one
            for job in jobs:
                if not job.finished:
                    job.error = exc
            raise

    def _alone(self, job: _Job) -> None:
        try:
            job.result = self.ingestor.ingest(job.items, source=job.source, now=self.clock())
        except Exception as exc:  # noqa: BLE001 - handed to this job's caller, and to no one else
            job.error = exc

    def _merged(self, source: str, group: list[_Job]) -> None:
        now = self.clock()
        owners = [(job, n) for job in group for n in range(len(job.items))]
        payloads = [payload for job in group for _, payload in job.items]
        total = self.ingestor.ingest(list(enumerate(payloads)), source=source, now=now)
        results = {id(job): IngestResult() for job in group}
        refused: dict[int, set[int]] = {id(job): set() for job in group}
        # validated just before, so only the database can refuse one now: it is its own request's rejection
        for outcome in total.rejected:
            job, n = owners[outcome.position]
            results[id(job)].rejected.append(Outcome(job.items[n][0], "rejected", outcome.reason))
            refused[id(job)].add(n)
        keys = {key for job in group for n, key in enumerate(job.keys) if n not in refused[id(job)]}
        # all new or all known is the usual case; only a mix needs reading back which were stored
        if total.stored in (0, len(keys)):
            stored = keys if total.stored else set()
        else:
            stored = self._stored_at(now, keys)
        for job in group:
            result = results[id(job)]
            for n, key in enumerate(job.keys):
                if n in refused[id(job)]:
                    continue
                if key in stored:
                    stored.discard(key)  # the first to send it stored it; a repeat is a duplicate
                    result.stored += 1
                else:
                    result.duplicates += 1
            job.result = result

    def _stored_at(self, received: datetime, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The keys among `keys` whose raw event was received at `received` (stored by that transaction)."""
        table = RawEvent.__table__
        by_source: dict[str, list[str]] = {}
        for source, external_id in keys:
            by_source.setdefault(source, []).append(external_id)
        found: set[tuple[str, str]] = set()
        with self.ingestor.engine.connect() as conn:
            for source, ids in by_source.items():
                for part in chunks(ids):
                    query = select(table.c.external_id).where(
                        table.c.source == source,
                        table.c.external_id.in_(part),
                        table.c.received_at == received,
                    )
                    found.update((source, external_id) for external_id in conn.execute(query).scalars())
        return found
