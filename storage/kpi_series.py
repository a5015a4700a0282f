"""What the per-day KPI cache (`storage.kpi_days`) keeps: the series, top rows and tallies of a day.

A series is one column dated by one timestamp — first response times by when the reply was sent, waits by
when they ended, sentiment and survey scores by when they were given, the ids of conversations given a
human reply — or, without a column, a count of rows: conversations opened, replied, resolved; customer
messages and human replies. `TOPS` keep a day's first rows by a ranking (voice's strongest messages),
`TALLIES` a day's count per label (replies per quick-reply template). `Sample` is what a series gives
over a period: its values and the statistics the KPIs read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func

from storage.models import Conversation, Message, Survey, Wait
from storage.planner import unindexed
from storage.sentiment import NEGATIVE_BELOW, POSITIVE_ABOVE

C = Conversation.__table__.c
M = Message.__table__.c
V = Survey.__table__.c
W = Wait.__table__.c


@dataclass(frozen=True)
class Series:
    """The timestamp dating each row, its channel, the duration column (None: rows are only counted),
    which rows belong to the series, and for an outcome known only later (a reply, a resolution) the
    time it happened (`as_of`): a row counts "as of now" when that time is before now."""

    at: object
    channel: object
    value: object = None
    where: tuple = ()
    as_of: object = None
    distinct: bool = False  # values are ids, kept once per day: see `distinct`


_CUSTOMER_SAID = (M.direction == "inbound", M.author_kind == "customer", M.private.is_(False))
HUMAN_REPLY = (M.direction == "outbound", M.author_kind == "agent", M.private.is_(False))
_RESOLVED = (unindexed(C.resolved).is_(True),)
_RESOLUTION = (*_RESOLVED, C.full_resolution_seconds.is_not(None))
SERIES = {
    # durations
    "frt": Series(C.first_response_at, C.channel, C.frt_seconds, (C.frt_seconds.is_not(None),)),
    "wait": Series(W.end_at, W.channel, W.seconds, (W.seconds.is_not(None),)),
    "first_resolution": Series(C.last_resolved_at, C.channel, C.first_resolution_seconds, _RESOLUTION),
    "full_resolution": Series(C.last_resolved_at, C.channel, C.full_resolution_seconds, _RESOLUTION),
    "handle": Series(C.first_response_at, C.channel, C.handle_seconds, (C.handle_seconds.is_not(None),)),
    "sentiment": Series(M.at, M.channel, M.sentiment, (*_CUSTOMER_SAID, M.sentiment.is_not(None))),
    "reply_handle": Series(M.at, M.channel, M.handle_seconds, (*HUMAN_REPLY, M.handle_seconds.is_not(None))),
    "csat": Series(V.at, V.channel, V.score, (V.kind == "csat",)),
    "nps": Series(V.at, V.channel, V.score, (V.kind == "nps",)),
    "ces": Series(V.at, V.channel, V.score, (V.kind == "ces",)),
    # conversations given a human reply (ids, to count each once over a period)
    "handled": Series(
        M.at, M.channel, M.conversation_id, (*HUMAN_REPLY, M.conversation_id.is_not(None)), distinct=True
    ),
    # counts
    "opened": Series(C.opened_at, C.channel),
    # still open now, by when they opened: the backlog of any instant counts those opened before it
    "open": Series(C.opened_at, C.channel, where=(C.resolved.is_(False),)),
    "replied": Series(
        C.opened_at, C.channel, where=(C.first_response_at.is_not(None),), as_of=C.first_response_at
    ),
    "resolved_since": Series(
        C.opened_at,
        C.channel,
        where=(*_RESOLVED, C.first_resolved_at.is_not(None)),
        as_of=C.first_resolved_at,
    ),
    "escalated": Series(
        C.opened_at,
        C.channel,
        where=(C.escalated_to.is_not(None), C.escalated_at.is_not(None)),
        as_of=C.escalated_at,
    ),
    "resolved": Series(C.last_resolved_at, C.channel, where=_RESOLVED),
    "transferred": Series(C.last_resolved_at, C.channel, where=(*_RESOLVED, C.transfer_count > 0)),
    "inbound": Series(M.at, M.channel, where=(M.direction == "inbound", M.private.is_(False))),
    "human_replies": Series(M.at, M.channel, where=HUMAN_REPLY),
    "read": Series(M.at, M.channel, where=(*_CUSTOMER_SAID, M.lang.is_not(None))),  # analysed at ingestion
    "unscored": Series(
        M.at, M.channel, where=(*_CUSTOMER_SAID, M.sentiment.is_(None), M.lang.is_not(None), M.lang != "und")
    ),
}


@dataclass(frozen=True)
class Top:
    """The `limit` rows of a day ranked first by `score` (ascending or not), then the latest first: their
    (score, time, id), kept per day so a period's first rows are the first of its days' first rows."""

    at: object
    channel: object
    score: object
    ascending: bool
    where: tuple
    limit: int = 12  # the voice's candidates: 3 quotes x 4, as the table query takes

    def rank(self, row: tuple[float, datetime, int]) -> tuple:
        score, at, row_id = row
        return (score if self.ascending else -score, -at.timestamp(), -row_id)


_STRONG = (*_CUSTOMER_SAID, M.sentiment.is_not(None))
TOPS = {  # the candidates of the voice quotes: the most negative and the most positive customer messages
    "most_negative": Top(M.at, M.channel, M.sentiment, True, (*_STRONG, M.sentiment < NEGATIVE_BELOW)),
    "most_positive": Top(M.at, M.channel, M.sentiment, False, (*_STRONG, M.sentiment > POSITIVE_ABOVE)),
}


@dataclass(frozen=True)
class Tally:
    """How many rows of a day carry each value of `label` (a template id, say) and, per label, the sums
    of `sums` (SQL aggregates that add up over days, such as sum() and count() of a column): kept as
    {label: count}, or {label: [count, *sums]} when there are sums."""

    at: object
    channel: object
    label: object
    where: tuple
    sums: tuple = ()


TALLIES = {
    "quick_replies": Tally(M.at, M.channel, M.quick_reply, (*HUMAN_REPLY, M.quick_reply.is_not(None))),
    # the topics of customer messages (labels as stored: "topic/subtopic,..."), with their sentiment
    "topics": Tally(
        M.at,
        M.channel,
        M.topics,
        (*_CUSTOMER_SAID, M.topics.is_not(None)),
        (func.sum(M.sentiment), func.count(M.sentiment)),
    ),
}


@dataclass
class Sample:
    """The values of a series over a period (unsorted) and their exact sum."""

    values: np.ndarray
    total: float

    @property
    def count(self) -> int:
        return len(self.values)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentiles(self, *qs: float) -> list[float | None]:
        """The q-quantiles, interpolated as `commands.stats.percentile` does; only the needed ranks are
        selected (np.partition), the values are never fully sorted."""
        n = self.count
        if not n:
            return [None for _ in qs]
        ranks = [q * (n - 1) for q in qs]
        needed = sorted({r for rank in ranks for r in (math.floor(rank), min(math.floor(rank) + 1, n - 1))})
        chosen = np.partition(self.values, needed)
        out = []
        for rank in ranks:
            below = math.floor(rank)
            low, high = float(chosen[below]), float(chosen[min(below + 1, n - 1)])
            out.append(low + (high - low) * (rank - below))
        return out

    def summary(self) -> dict[str, float | int | None]:
        """Mean, median, p90 and count, as `commands.stats.summary` gives them."""
        median, p90 = self.percentiles(0.5, 0.9)
        return {"mean": self.mean(), "median": median, "p90": p90, "count": self.count}

    def at_most(self, limit: float) -> int:
        """How many values are <= `limit`."""
        return int(np.count_nonzero(self.values <= limit))

    def below(self, limit: float) -> int:
        """How many values are < `limit`."""
        return int(np.count_nonzero(self.values < limit))
