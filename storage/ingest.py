"""The ingestion core every door calls: validate, store raw, update projections, in one transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Engine

from storage import kpi_days
from storage.analysis import text_analyser
from storage.dialect import bulk_insert, lock_names
from storage.events import EventError
from storage.models import RejectedEvent
from storage.normalise import Accepted, Normaliser
from storage.privacy import pseudonymiser
from storage.projection import Step
from storage.rebuild import rebuild_conversations
from storage.rows import TABLES, TIMELINE_TYPES, Analyser, row_for, step_for
from storage.settings import Settings
from storage.writes import conversation_ids, link_conversions, set_links, store_raw

_CONVERSATION_TYPES = ("message", "status", "assignment", "escalation", "survey")


@dataclass
class Outcome:
    """What happened to one payload: stored, duplicate or rejected (with the reason)."""

    position: int
    status: str
    reason: str | None = None


@dataclass
class IngestResult:
    """Counts for a batch, and each rejection with its position and reason."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[Outcome] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


class Ingestor:
    """Stores events for one workspace. Reuse one instance: it caches the pseudonymiser and channel map."""

    def __init__(self, engine: Engine, settings: Settings, *, analyse_text: bool = True):
        self.engine = engine
        self.settings = settings
        self._normaliser: Normaliser | None = None
        self.analyser: Analyser | None = text_analyser(settings) if analyse_text else None

    @property
    def normalise(self) -> Normaliser:
        """The validator, built on first use: the pseudonymisation key may live in the database."""
        if self._normaliser is None:
            self._normaliser = Normaliser(self.settings, pseudonymiser(self.settings, self.engine))
        return self._normaliser

    def ingest(
        self, items: Iterable[tuple[int, Any]], *, source: str = "kpibot", now: datetime | None = None
    ) -> IngestResult:
        """Stores every good event of (position, payload) pairs in one transaction; bad ones are rejected."""
        received = now or datetime.now(UTC)
        result = IngestResult()
        accepted: dict[tuple[str, str], Accepted] = {}
        rejected: list[tuple[int, str, Any]] = []
        for position, payload in items:
            try:
                event = self.normalise(position, payload, source)
            except EventError as exc:
                rejected.append((position, str(exc), payload))
                continue
            if event.key in accepted:
                result.duplicates += 1
            else:
                accepted[event.key] = event
        with self.engine.begin() as conn:
            new = store_raw(conn, list(accepted.values()), received)
            result.duplicates += len(accepted) - len(new)
            result.stored = len(new)
            if new:
                self._project(conn, new)
            if rejected:
                bulk_insert(
                    conn,
                    RejectedEvent.__table__,
                    [
                        {
                            "source": source,
                            "position": pos,
                            "reason": reason,
                            "payload": _as_text(payload),
                            "received_at": received,
                        }
                        for pos, reason, payload in rejected
                    ],
                )
        result.rejected = [Outcome(pos, "rejected", reason) for pos, reason, _ in rejected]
        return result

    def _project(self, conn: Connection, new: list[tuple[int, Accepted]]) -> None:
        ids, created = conversation_ids(
            conn, [a for _, a in new if a.event.type in _CONVERSATION_TYPES and a.event.conversation_id]
        )
        rows: dict[Table, list[dict]] = defaultdict(list)
        steps: dict[int, list[Step]] = defaultdict(list)
        linked: list[dict] = []
        for raw_id, item in new:
            e = item.event
            cid = ids.get((item.source, e.conversation_id)) if e.conversation_id else None
            row = row_for(raw_id, item, cid, self.analyser)
            rows[TABLES[e.type]].append(row)
            if e.type in TIMELINE_TYPES:
                steps[cid].append(step_for(item))
            elif e.type in ("lead", "conversion"):
                linked.append(row)
        if linked:  # a lead and its conversion stored at once by two processes must still meet
            lock_names(
                conn, (f"link {r['source']} {r['conversation_key']}" for r in linked if r["conversation_key"])
            )
        for table, table_rows in rows.items():
            bulk_insert(conn, table, table_rows)
            if table.name in kpi_days.NOTED_BY_INGEST:  # past days whose cached figures these rows change
                kpi_days.note(conn, {row["at"] for row in table_rows})
        if linked:
            link_conversions(conn, linked)
        # Conversations created by this batch have all their events here; others are replayed from the DB.
        rebuild_conversations(conn, steps, known={cid: steps[cid] for cid in created if cid in steps})
        set_links(conn, ids, new)  # after the rebuild, which locks the conversations in a deadlock-free order


def _as_text(payload: Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=str)
