"""Recompute the projections (conversation row, its waits and other service-level clocks) of conversations
whose events changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import case, delete, select
from sqlalchemy.engine import Connection

from storage import kpi_cache
from storage.bulk import bulk_insert, bulk_update
from storage.models import Conversation, ConversationEvent, Message, SlaClock
from storage.projection import Projection, Step, WaitSpan, project, service_clocks
from storage.service_levels import Deadlines
from storage.settings import Settings

_CONV = Conversation.__table__
_MSG = Message.__table__
_EVT = ConversationEvent.__table__
_CLOCK = SlaClock.__table__
# The times a stored clock counts at (`_dated`): the hours a rebuild must note when it leaves them.
_DATED = (
    _CLOCK.c.end_at,
    _CLOCK.c.deadline,
    case((_CLOCK.c.reopened_from.is_not(None), _CLOCK.c.start_at), else_=None),
)
CHUNK = 500


def chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    """`items` in lists of at most `size` (keeps IN lists under every database's parameter limit)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rebuild_conversations(
    conn: Connection,
    conversation_ids: Iterable[int],
    known: dict[int, list[Step]] | None = None,
    deadlines: Deadlines | None = None,
    now: datetime | None = None,
    *,
    inserted: Collection[int] = (),
    projected: dict[int, Projection] | None = None,
) -> int:
    """Replays each conversation's events and writes its derived fields; returns how many.

    `known` gives the complete timeline of some conversations (e.g. created by this batch) so they
    are not read back; the others are loaded from the database. Of those known, the `inserted` ones were
    inserted with the projection of that timeline in this transaction: their row is not written again
    (only their clocks are; an update changing nothing cost ~20 µs a conversation on SQLite, firing the
    KPI cache's update triggers for nothing on PostgreSQL), and `projected` may give the projections of
    known timelines made already (they are not replayed again). `deadlines` stamps the service-level
    clocks (default: the policies of the settings from the environment). The hours over at `now` whose
    clocks changed are noted for the KPI cache here, once each, rather than by a trigger per row.
    """
    known = known or {}
    projected = projected or {}
    deadlines = deadlines or Deadlines.load(conn, Settings())
    now = now or datetime.now(UTC)
    done = 0
    for ids in chunks(sorted(set(conversation_ids))):
        # Lock the rows first (PostgreSQL; SQLite already holds the one write lock): another process
        # ingesting into the same conversation waits, then replays our events with its own, instead of
        # overwriting the projection with a timeline that misses ours. In id order, and FOR NO KEY
        # UPDATE, which the key-share locks of both processes' message inserts don't block: no deadlock.
        locked = select(_CONV.c.id, _CONV.c.channel).where(_CONV.c.id.in_(ids)).order_by(_CONV.c.id)
        channels = dict(conn.execute(locked.with_for_update(key_share=True)).all())
        reloaded = [cid for cid in ids if cid not in known]
        steps = _load_steps(conn, reloaded)
        steps.update((cid, known[cid]) for cid in ids if cid in known)
        updates, clocks = [], []
        for conversation_id in ids:
            projection = projected.get(conversation_id) if conversation_id in known else None
            if projection is None:
                projection = project(steps.get(conversation_id, []))
            if conversation_id not in inserted or conversation_id not in known:
                updates.append({**projection.columns(), "id": conversation_id})
            channel = channels[conversation_id]
            for kind, clock in service_clocks(projection):
                deadline, late = deadlines.stamp(kind, channel, clock.start, clock.end)
                row = _span(conversation_id, channel, clock)
                clocks.append({**row, "kind": kind, "deadline": deadline, "late": late})
        bulk_update(conn, _CONV, "id", updates)
        changed = [time for row in clocks for time in _dated(row) if time is not None]
        if reloaded:  # conversations stored before: the hours their clocks leave
            before = select(*_DATED).where(_CLOCK.c.conversation_id.in_(reloaded))
            changed += [time for row in conn.execute(before) for time in row if time is not None]
        kpi_cache.note(conn, changed, now)
        conn.execute(delete(_CLOCK).where(_CLOCK.c.conversation_id.in_(ids)))
        bulk_insert(conn, _CLOCK, clocks)
        done += len(ids)
    return done


def _dated(clock: dict) -> tuple:
    """The times a clock counts at in the KPI cache: its end, its deadline, and for a reopening its start
    (the `reopens` KPI; the resolution it undid is the end of the clock before it)."""
    reopening = clock["start_at"] if clock["reopened_from"] is not None else None
    return clock["end_at"], clock["deadline"], reopening


def _span(conversation_id: int, channel: str, span: WaitSpan) -> dict:
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "start_at": span.start,
        "end_at": span.end,
        "seconds": span.seconds,
        "agent": span.agent,
        "reopened_from": span.reopened_from,
        "reopen_gap": span.reopen_gap,
    }


def _load_steps(conn: Connection, ids: list[int]) -> dict[int, list[Step]]:
    steps: dict[int, list[Step]] = defaultdict(list)
    if not ids:
        return steps
    messages = select(
        _MSG.c.conversation_id,
        _MSG.c.at,
        _MSG.c.direction,
        _MSG.c.author_kind,
        _MSG.c.author_id,
        _MSG.c.private,
        _MSG.c.handle_seconds,
    ).where(_MSG.c.conversation_id.in_(ids))
    for cid, at, direction, kind, author, private, handle in conn.execute(messages):
        steps[cid].append(
            Step(
                at=at,
                kind="message",
                direction=direction,
                author_kind=kind,
                author_id=author,
                private=private,
                handle_seconds=handle,
            )
        )
    events = select(
        _EVT.c.conversation_id,
        _EVT.c.at,
        _EVT.c.kind,
        _EVT.c.status,
        _EVT.c.agent,
        _EVT.c.team,
        _EVT.c.to_channel,
    ).where(_EVT.c.conversation_id.in_(ids))
    for cid, at, kind, status, agent, team, to_channel in conn.execute(events):
        steps[cid].append(
            Step(at=at, kind=kind, status=status, agent=agent, team=team, to_channel=to_channel)
        )
    return steps
