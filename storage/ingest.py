"""The ingestion core every door calls: validate, store raw, update projections, in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError

from storage import kpi_cache
from storage.analysis import text_analyser
from storage.bulk import bulk_insert
from storage.dialect import insert_ignoring_conflicts, lock_names
from storage.events import EventError
from storage.models import RejectedEvent
from storage.normalise import Accepted, Normaliser, Unreadable
from storage.privacy import private_event, pseudonymiser, redacted
from storage.projection import Projection, Step, project
from storage.rebuild import rebuild_conversations
from storage.rows import TABLES, TIMELINE_TYPES, Analyser, Analysis, analysed_text, row_for, step_for
from storage.service_levels import Deadlines
from storage.settings import Settings
from storage.writes import conversation_ids, link_conversions, set_links, store_raw, stored_keys

if TYPE_CHECKING:
    from storage.analysis_pool import AnalysisPool, Scored

_CONVERSATION_TYPES = ("message", "status", "assignment", "escalation", "survey")
_log = logging.getLogger("kpibot.ingest")


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


@dataclass
class Prepared:
    """A batch validated, not yet stored (`Ingestor.prepare`): its accepted events (one per key), the
    payloads rejected with their reasons, how many repeated a key of the batch, and the analyses of
    the texts of `scored_keys` when a pool is computing them."""

    source: str
    accepted: list[Accepted]
    rejected: list[tuple[int, str, Any]]
    repeated: int
    size: int  # how many payloads the batch held
    scored_keys: list[tuple[str, str]] = field(default_factory=list)
    scored: Scored | None = None


class Ingestor:
    """Stores events for one workspace. Reuse one instance: it caches the pseudonymiser and channel map."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        analyse_text: bool = True,
        clock: Callable[[], datetime] | None = None,
    ):
        self.engine = engine
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))  # the time window's "now" (see Normaliser)
        self._normaliser: Normaliser | None = None
        self.analyser: Analyser | None = text_analyser(settings) if analyse_text else None

    @property
    def normalise(self) -> Normaliser:
        """The validator, built on first use: the pseudonymisation key may live in the database."""
        if self._normaliser is None:
            self._normaliser = Normaliser(self.settings, pseudonymiser(self.settings, self.engine))
        return self._normaliser

    def ingest(
        self,
        items: Iterable[tuple[int, Any]],
        *,
        source: str = "kpibot",
        now: datetime | None = None,
        pseudonymised: bool = False,
    ) -> IngestResult:
        """Stores every good event of (position, payload) pairs in one transaction; bad ones are rejected.
        `now` is the receive time stored with them (default: the wall clock); `pseudonymised` says their
        customer ids are pseudonyms already (rejected events kept privately, replayed).

        An event the database itself refuses (a value no validation foresaw) is found by splitting the
        batch and rejected alone; a failure that is not about one event's data (the database is down,
        locked, or refuses every event) is raised, and nothing of the batch is stored.
        """
        return self.store(self.prepare(items, source=source, pseudonymised=pseudonymised), now=now)

    def prepare(
        self,
        items: Iterable[tuple[int, Any]],
        *,
        source: str = "kpibot",
        pseudonymised: bool = False,
        pool: AnalysisPool | None = None,
    ) -> Prepared:
        """The first half of `ingest`, which touches no database: every payload validated and normalised,
        and with a `pool`, the texts of the accepted events sent to it for analysis (the caller stores
        another batch meanwhile: `storage.importer.import_items`)."""
        clock = self.clock()
        accepted: dict[tuple[str, str], Accepted] = {}
        rejected: list[tuple[int, str, Any]] = []
        repeated = size = 0
        for position, payload in items:
            size += 1
            try:
                event = self.normalise(position, payload, source, now=clock, pseudonymised=pseudonymised)
            except EventError as exc:
                rejected.append((position, str(exc), payload))
                continue
            if event.key in accepted:
                repeated += 1
            else:
                accepted[event.key] = event
        prepared = Prepared(source, list(accepted.values()), rejected, repeated, size)
        if pool is not None and pool.active and self.analyser is not None:
            texts = [(item.key, analysed_text(item)) for item in prepared.accepted]
            texts = [(key, text) for key, text in texts if text is not None]
            if texts:  # a re-imported file's events are duplicates: their texts need no analysis
                with self.engine.connect() as conn:
                    known = stored_keys(conn, [key for key, _ in texts])
                texts = [(key, text) for key, text in texts if key not in known]
            prepared.scored_keys = [key for key, _ in texts]
            prepared.scored = pool.score([text for _, text in texts])
        return prepared

    def store(self, prepared: Prepared, *, now: datetime | None = None) -> IngestResult:
        """The second half of `ingest`: the accepted events of `prepared` stored in one transaction (split
        on an event the database refuses), the rejected ones kept; `now` is the receive time."""
        received = now or datetime.now(UTC)
        source = prepared.source
        analyses = self._analyses(prepared)  # waited for before the transaction, never inside it
        result = IngestResult(duplicates=prepared.repeated)
        stored, duplicates, refused = self._store(prepared.accepted, received, analyses)
        result.stored, result.duplicates = stored, result.duplicates + duplicates
        rows = [
            self._kept(source, pos, reason, payload, received) for pos, reason, payload in prepared.rejected
        ]
        # accepted events refused by the database: their bodies are pseudonymised already
        rows += [
            kept_row(source, i.position, why, i.body, received, pseudonymised=True) for i, why in refused
        ]
        if rows:
            rows.sort(key=lambda row: row["position"])
            table = RejectedEvent.__table__
            # a payload kept already (a re-imported file, a resent event) is not kept again: still rejected
            with self.engine.begin() as conn:
                conn.execute(insert_ignoring_conflicts(conn, table, ["fingerprint"]), rows)
        result.rejected = [Outcome(row["position"], "rejected", row["reason"]) for row in rows]
        return result

    def _analyses(self, prepared: Prepared) -> dict[tuple[str, str], Analysis]:
        """The analyses the pool made for `prepared`, by event key (none without a pool). Should the pool
        fail (a worker killed), the texts are analysed in-process instead, as without one."""
        if prepared.scored is None:
            return {}
        try:
            return dict(zip(prepared.scored_keys, prepared.scored.result(), strict=True))
        except Exception as exc:  # noqa: BLE001 - the same analyses are made in-process
            _log.warning("text analysis workers failed (%s); analysing in this process", type(exc).__name__)
            return {}

    def _kept(self, source: str, position: int, reason: str, payload: Any, received: datetime) -> dict:
        """The rejected-event row for a refused payload: customer handles pseudonymised and names dropped
        when it is a JSON object (NaN and Infinity read as numbers here); else only its shape
        (`privacy.redacted`)."""
        private = private_event(_lenient(payload), self.normalise.pseudonymise)
        if private is None:  # no object to find the customer in: its shape only
            return kept_row(source, position, reason, redacted(storable_text(payload)), received)
        return kept_row(source, position, reason, private, received, pseudonymised=True)

    def _store(
        self,
        accepted: list[Accepted],
        received: datetime,
        analyses: dict[tuple[str, str], Analysis],
        *,
        top: bool = True,
    ) -> tuple[int, int, list[tuple[Accepted, str]]]:
        """(stored, duplicates, refused by the database with why) for `accepted`, split on a data error."""
        try:
            with self.engine.begin() as conn:
                new = store_raw(conn, accepted, received)
                if new:
                    self._project(conn, new, analyses)
            return len(new), len(accepted) - len(new), []
        except _DATA_ERRORS as exc:
            if not _about_data(exc):
                raise
            if len(accepted) == 1:
                if top:
                    raise
                return 0, 0, [(accepted[0], f"the database refused this event ({_kind(exc)})")]
            half = len(accepted) // 2
            parts = [
                self._store(part, received, analyses, top=False)
                for part in (accepted[:half], accepted[half:])
            ]
            refused = parts[0][2] + parts[1][2]
            if top and len(refused) == len(accepted):
                raise  # every event refused: the database, not the events
            _log.warning(
                "%d of %d events refused by the database; the others stored", len(refused), len(accepted)
            )
            return parts[0][0] + parts[1][0], parts[0][1] + parts[1][1], refused

    def _project(
        self, conn: Connection, new: list[tuple[int, Accepted]], analyses: dict[tuple[str, str], Analysis]
    ) -> None:
        timelines: dict[tuple[str, str], list[Step]] = defaultdict(list)  # by (source, conversation id)
        for _, item in new:
            if item.event.type in TIMELINE_TYPES:
                timelines[(item.source, item.event.conversation_id)].append(step_for(item))
        # A conversation this batch creates has all its events here: it is inserted with its projection,
        # one write (and one note of its hours for the KPI cache) instead of a blank row updated at once.
        projections: dict[tuple[str, str], Projection] = {}

        def projected(key: tuple[str, str]) -> dict:
            projections[key] = projection = project(timelines.get(key, []))
            return projection.columns()

        ids, created = conversation_ids(
            conn,
            [a for _, a in new if a.event.type in _CONVERSATION_TYPES and a.event.conversation_id],
            projected=projected,
        )
        rows: dict[Table, list[dict]] = defaultdict(list)
        linked: list[dict] = []
        for raw_id, item in new:
            e = item.event
            cid = ids.get((item.source, e.conversation_id)) if e.conversation_id else None
            row = row_for(raw_id, item, cid, self._analysis(item, analyses) if e.type == "message" else None)
            rows[TABLES[e.type]].append(row)
            if e.type in ("lead", "conversion"):
                linked.append(row)
        if linked:  # a lead and its conversion stored at once by two processes must still meet
            lock_names(
                conn, (f"link {r['source']} {r['conversation_key']}" for r in linked if r["conversation_key"])
            )
        for table, table_rows in rows.items():
            bulk_insert(conn, table, table_rows)
            if table.name in kpi_cache.NOTED_BY_INGEST:  # past hours whose cached figures these rows change
                kpi_cache.note(conn, {row["at"] for row in table_rows}, self.clock())
        if linked:
            link_conversions(conn, linked)
        steps = {ids[key]: timeline for key, timeline in timelines.items()}
        # Conversations created by this batch have all their events here; others are replayed from the DB.
        known = {cid: steps[cid] for cid in created if cid in steps}
        deadlines = Deadlines.load(conn, self.settings)
        rebuild_conversations(
            conn,
            steps,
            known=known,
            deadlines=deadlines,
            now=self.clock(),
            inserted=created,
            projected={ids[key]: projection for key, projection in projections.items()},
        )
        # A tagged customer message makes its conversation's other rows count for its topics (`by topic`):
        # their past hours are stale. A conversation this batch created has no other rows stored before.
        messages = rows.get(TABLES["message"], ())
        tagged = {r["conversation_id"] for r in messages if r["direction"] == "inbound" and r["topics"]}
        kpi_cache.note_conversations(conn, tagged - set(created) - {None}, self.clock())
        set_links(conn, ids, new)  # after the rebuild, which locks the conversations in a deadlock-free order

    def _analysis(self, item: Accepted, analyses: dict[tuple[str, str], Analysis]) -> Analysis | None:
        """The analysis of a message's text: made by the pool, else here; None when not analysed."""
        if self.analyser is None:
            return None
        analysis = analyses.get(item.key)
        if analysis is None:
            text = analysed_text(item)
            analysis = None if text is None else self.analyser(text)
        return analysis


def _lenient(payload: Any) -> Any:
    """The JSON value of a payload for keeping it privately, NaN and Infinity allowed; None if unreadable."""
    if isinstance(payload, dict | list):
        return payload
    if isinstance(payload, Unreadable):
        return None
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else str(payload)
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# Errors that may be about one event's values: bind-time conversions and the database's checks.
_DATA_ERRORS = (StatementError, UnicodeError, ValueError, OverflowError)


def _about_data(exc: BaseException) -> bool:
    """Whether `exc` may be about an event (split the batch to find it), not the database's state (down,
    locked, full: every event would fail alike)."""
    return not isinstance(exc, OperationalError | InterfaceError)


def _kind(exc: BaseException) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


def kept_row(
    source: str, position: int, reason: str, payload: Any, received: datetime, *, pseudonymised: bool = False
) -> dict[str, Any]:
    """The rejected-event row keeping `payload` (see `storable_text`), with its `fingerprint`."""
    row = {
        "source": source,
        "position": position,
        "reason": storable_text(reason),  # a reason may quote a value: no NUL or lone surrogate in it
        "payload": storable_text(payload),
        "received_at": received,
        "pseudonymised": pseudonymised,
    }
    row["fingerprint"] = fingerprint(source, row["payload"], position, row["reason"], whole=pseudonymised)
    return row


def fingerprint(source: str, payload: str, position: int | None, reason: str, *, whole: bool) -> str:
    """What identifies a kept rejected payload (SHA-256, hex), from the row's own columns: its source and
    kept payload when that is the whole event (`whole`: pseudonymised, as ingestion would store it, which
    a resent event gives again); otherwise the kept text is only the payload's shape (`privacy.redacted`),
    which two different lines may share, so its position and reason are part of its identity too (a
    re-imported file gives both again). Revision 0008 computed it for the rows kept before it."""
    parts = [source, payload] if whole else [source, payload, position, reason]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def storable_text(payload: Any) -> str:
    """`payload` as text any database stores: undecodable bytes, lone surrogates and NUL escaped."""
    if isinstance(payload, Unreadable):
        payload = payload.raw
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="backslashreplace")
    elif not isinstance(payload, str):
        payload = json.dumps(payload, ensure_ascii=False, default=str)
    payload = payload.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return payload.replace("\x00", "\\u0000")
