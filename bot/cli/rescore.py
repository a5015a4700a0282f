"""`kpibot rescore`: read stored customer messages again after a lexicon or taxonomy change.

Ingestion scores each inbound message once (sentiment, language, topics) and the KPIs read what was
stored; this brings stored messages in line with the current code and `topics` setting. Messages are
read in id order, a batch per transaction, so an interrupted run keeps what it finished and a rerun
only changes what still differs. Messages whose text was purged keep what they have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Engine

from bot.cli.context import console, errors, fail, load_settings, open_engine
from storage import kpi_days
from storage.analysis import text_analyser
from storage.models import Message
from storage.rows import Analyser
from storage.settings import Settings

M = Message.__table__.c
FIELDS = ("sentiment", "lang", "topics")


def register(app: typer.Typer) -> None:
    app.command("rescore")(rescore)


@dataclass
class RescoreResult:
    """How many messages were read again, and how many changed in each field and in any."""

    read: int = 0
    changed: int = 0
    sentiment: int = 0
    lang: int = 0
    topics: int = 0


def rescore(
    since: str = typer.Option(
        None, help="Only messages sent from this date (YYYY-MM-DD, workspace time zone) or ISO time on."
    ),
    batch: int = typer.Option(5000, min=1, help="Messages per transaction."),
) -> None:
    """Re-score stored customer messages (sentiment, language, topics) with the current lexicon and
    taxonomy; prints how many changed."""
    settings = load_settings()
    start = _since(since, settings)
    try:
        analyser = text_analyser(settings)
    except ValueError as exc:
        fail(f"configuration error: {exc}")
    engine = open_engine(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("rescoring messages", total=None)
        result = rescore_messages(
            engine,
            analyser,
            since=start,
            batch=batch,
            total=lambda n: progress.update(task, total=n),
            progress=lambda n: progress.advance(task, n),
        )
    scope = f" sent since {start:%Y-%m-%d %H:%M} UTC" if start is not None else ""
    console.print(
        f"rescored {result.read} messages{scope}: {result.changed} changed "
        f"(sentiment {result.sentiment}, language {result.lang}, topics {result.topics})",
        highlight=False,
    )


def rescore_messages(
    engine: Engine,
    analyser: Analyser,
    *,
    since: datetime | None = None,
    batch: int = 5000,
    total: Callable[[int], object] = lambda n: None,
    progress: Callable[[int], object] = lambda n: None,
) -> RescoreResult:
    """Analyses again every stored message ingestion analyses (inbound, with text, not a private note),
    sent at or after `since` if given, and stores what differs; returns the counts. `total` is told how
    many messages will be read, `progress` how many each batch read."""
    where = [M.direction == "inbound", M.private.is_(False), M.text.is_not(None), M.text != ""]
    if since is not None:
        where.append(M.at >= since)
    with engine.connect() as conn:
        total(conn.execute(select(func.count()).select_from(Message.__table__).where(*where)).scalar_one())
    store = (
        update(Message.__table__)
        .where(M.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}") for name in FIELDS})
    )
    result, last = RescoreResult(), 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(M.id, M.at, M.text, *(M[name] for name in FIELDS))
                .where(*where, M.id > last)
                .order_by(M.id)
                .limit(batch)
            ).all()
            changes, changed_at = [], set()
            for row_id, at, text, *stored in rows:
                fresh = analyser(text)
                if tuple(stored) != fresh:
                    changes.append(
                        {"_id": row_id, **{f"_{n}": v for n, v in zip(FIELDS, fresh, strict=True)}}
                    )
                    changed_at.add(at)
                    for name, old, new in zip(FIELDS, stored, fresh, strict=True):
                        setattr(result, name, getattr(result, name) + (old != new))
            if changes:
                conn.execute(store, changes)
                kpi_days.note(conn, changed_at)  # the per-day KPI cache computes those days again
        if not rows:
            return result
        result.read += len(rows)
        result.changed += len(changes)
        last = rows[-1].id
        progress(len(rows))


def _since(value: str | None, settings: Settings) -> datetime | None:
    """--since as an aware UTC instant: a date is its local midnight, a time without offset is local."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not a date or ISO-8601 time (e.g. 2026-11-01 or 2026-11-01T09:00Z)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.astimezone(UTC)
