"""What the KPIs measure, declared once: every cached KPI reads these, from the per-day cache or straight
from the tables, and both readings are compiled from the same declaration (docs/architecture.md, "The
KPI cache"; the KPIs themselves: docs/metrics.md).

A `Measure` is one column dated by one timestamp — first response times by when the reply was sent, waits
by when they ended, sentiment and survey scores by when they were given, the ids of conversations given a
human reply — or, without a column, a count of rows: conversations opened, replied, resolved; customer
messages and human replies. It also says who a row is credited to for `by agent` (`owner`) and, for a
duration, the two times it spans, so business hours can count it again (`span`). `RANKINGS` keep a
slot's first rows by a ranking (voice's strongest messages), `TALLIES` a slot's count per label (replies
per quick-reply template).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, String, and_, case, cast, distinct, func, literal, or_, select

from storage.kpi_cache.labels import half_hour, quarter_hour, quarter_of_day, utc_hour
from storage.models import Conversation, Message, SlaClock, Survey
from storage.planner import unindexed
from storage.sentiment import NEGATIVE_BELOW, POSITIVE_ABOVE

C = Conversation.__table__.c
M = Message.__table__.c
V = Survey.__table__.c
K = SlaClock.__table__.c
WAIT_KINDS = ("first", "next")  # the sla_clock rows that are a customer's waits

# Who a conversation is credited to: its assignee, else whoever answered it first.
OWNER = func.coalesce(C.agent, C.first_responder)
# What the customer wrote, and what a human agent replied: bots and private notes are neither.
CUSTOMER_SAID = (M.direction == "inbound", M.author_kind == "customer", M.private.is_(False))
HUMAN_REPLY = (M.direction == "outbound", M.author_kind == "agent", M.private.is_(False))
# A message's conversation, for crediting a customer message to the conversation's owner.
MESSAGE_CONVERSATION = (Conversation.__table__, M.conversation_id == C.id)
_CLOCK_CONVERSATION = (Conversation.__table__, K.conversation_id == C.id)
# A resolution undone by a reopening within this many seconds did not "stay resolved".
REOPEN_WINDOW = 7 * 86400


@dataclass(frozen=True)
class Measure:
    """The timestamp dating each row, its channel, the value (None: rows are only counted), which rows
    belong, and for an outcome known only later (a reply, a resolution) the time it happened (`as_of`):
    a row counts "as of now" when that time is before now. `distinct`: values are ids, counted once.
    `owner` credits a row to an agent (with `join`, the table it lives in); `span` the (start, end) times
    a duration value measures."""

    at: object
    channel: object
    value: object = None
    where: tuple = ()
    as_of: object = None
    distinct: bool = False
    owner: object = None
    join: tuple | None = None
    span: tuple | None = None


_RESOLVED = (unindexed(C.resolved).is_(True),)
_RESOLUTION = (*_RESOLVED, C.full_resolution_seconds.is_not(None))
MEASURES = {
    # durations
    "frt": Measure(
        C.first_response_at,
        C.channel,
        C.frt_seconds,
        (C.frt_seconds.is_not(None),),
        owner=C.first_responder,
        span=(C.opened_at, C.first_response_at),
    ),
    # waits ended by a human reply (a wait stopped by a resolution has no length), by when it was sent
    "wait": Measure(
        K.end_at,
        K.channel,
        K.seconds,
        (K.kind.in_(WAIT_KINDS), K.seconds.is_not(None)),
        owner=K.agent,
        span=(K.start_at, K.end_at),
    ),
    "first_resolution": Measure(
        C.last_resolved_at,
        C.channel,
        C.first_resolution_seconds,
        _RESOLUTION,
        owner=OWNER,
        span=(C.opened_at, C.first_resolved_at),
    ),
    "full_resolution": Measure(
        C.last_resolved_at,
        C.channel,
        C.full_resolution_seconds,
        _RESOLUTION,
        owner=OWNER,
        span=(C.opened_at, C.last_resolved_at),
    ),
    # work seconds the inbox tool measured: business hours do not change them (no span)
    "handle": Measure(
        C.first_response_at, C.channel, C.handle_seconds, (C.handle_seconds.is_not(None),), owner=OWNER
    ),
    "reply_handle": Measure(
        M.at, M.channel, M.handle_seconds, (*HUMAN_REPLY, M.handle_seconds.is_not(None)), owner=M.author_id
    ),
    # scores
    "sentiment": Measure(M.at, M.channel, M.sentiment, (*CUSTOMER_SAID, M.sentiment.is_not(None))),
    "csat": Measure(V.at, V.channel, V.score, (V.kind == "csat",)),
    "nps": Measure(V.at, V.channel, V.score, (V.kind == "nps",)),
    "ces": Measure(V.at, V.channel, V.score, (V.kind == "ces",)),
    # conversations given a human reply (ids, to count each once over a period)
    "handled": Measure(
        M.at,
        M.channel,
        M.conversation_id,
        (*HUMAN_REPLY, M.conversation_id.is_not(None)),
        distinct=True,
        owner=M.author_id,
    ),
    # counts
    "opened": Measure(C.opened_at, C.channel, owner=OWNER),
    # still open now, by when they opened: the backlog of any instant counts those opened before it
    "open": Measure(C.opened_at, C.channel, where=(C.resolved.is_(False),), owner=OWNER),
    # still open now and never answered, by when they opened: most of frt's "still waiting" (those
    # answered only after the instant asked are read from the tables)
    "unanswered": Measure(
        C.opened_at,
        C.channel,
        where=(C.resolved.is_(False), unindexed(C.first_response_at).is_(None)),
        owner=OWNER,
    ),
    "replied": Measure(
        C.opened_at,
        C.channel,
        where=(C.first_response_at.is_not(None),),
        as_of=C.first_response_at,
        owner=OWNER,
    ),
    "resolved_since": Measure(
        C.opened_at,
        C.channel,
        where=(*_RESOLVED, C.first_resolved_at.is_not(None)),
        as_of=C.first_resolved_at,
        owner=OWNER,
    ),
    "escalated": Measure(
        C.opened_at,
        C.channel,
        where=(C.escalated_to.is_not(None), C.escalated_at.is_not(None)),
        as_of=C.escalated_at,
        owner=OWNER,
    ),
    "resolved": Measure(C.last_resolved_at, C.channel, where=_RESOLVED, owner=OWNER),
    "transferred": Measure(
        C.last_resolved_at, C.channel, where=(*_RESOLVED, C.transfer_count > 0), owner=OWNER
    ),
    # customer messages count for whoever owns their conversation
    "inbound": Measure(
        M.at,
        M.channel,
        where=(M.direction == "inbound", M.private.is_(False)),
        owner=OWNER,
        join=MESSAGE_CONVERSATION,
    ),
    "human_replies": Measure(M.at, M.channel, where=HUMAN_REPLY, owner=M.author_id),
    # Reopens (docs/metrics.md, "reopens"), as conversation ids to count each conversation once: those
    # resolved (a resolution clock ended), those reopened (a resolution clock a reopening started, by the
    # reopening), and those whose resolution was undone within REOPEN_WINDOW (by that resolution, as of
    # the reopening). The reopening clocks have their own partial indexes.
    "resolutions": Measure(
        K.end_at,
        K.channel,
        K.conversation_id,
        (K.kind == "resolution", K.end_at.is_not(None)),
        distinct=True,
        owner=OWNER,
        join=_CLOCK_CONVERSATION,
    ),
    "reopenings": Measure(
        K.start_at,
        K.channel,
        K.conversation_id,
        (K.reopened_from.is_not(None),),
        distinct=True,
        owner=OWNER,
        join=_CLOCK_CONVERSATION,
    ),
    "reopened_soon": Measure(
        K.reopened_from,
        K.channel,
        K.conversation_id,
        (K.reopened_from.is_not(None), K.reopen_gap <= REOPEN_WINDOW),
        as_of=K.start_at,
        distinct=True,
        owner=OWNER,
        join=_CLOCK_CONVERSATION,
    ),
    "read": Measure(M.at, M.channel, where=(*CUSTOMER_SAID, M.lang.is_not(None))),  # analysed at ingestion
}


CLOCK_KINDS = ("first", "next", "resolution")  # sla_clock.kind: the service-level clocks


@dataclass(frozen=True)
class Ranking:
    """The `limit` rows of a slot ranked first by `score` (ascending or not), then the latest first: their
    (score, time, id), kept per slot so a period's first rows are the first of its slots' first rows."""

    at: object
    channel: object
    score: object
    ascending: bool
    where: tuple
    id: object  # the ranked table's id column
    limit: int = 12  # the voice's candidates: 3 quotes x 4

    def rank(self, row: tuple[float, datetime, int]) -> tuple:
        score, at, row_id = row
        return (score if self.ascending else -score, -at.timestamp(), -row_id)


_STRONG = (*CUSTOMER_SAID, M.sentiment.is_not(None))
RANKINGS = {  # the candidates of the voice quotes: the most negative and the most positive customer messages
    "most_negative": Ranking(
        M.at, M.channel, M.sentiment, True, (*_STRONG, M.sentiment < NEGATIVE_BELOW), M.id
    ),
    "most_positive": Ranking(
        M.at, M.channel, M.sentiment, False, (*_STRONG, M.sentiment > POSITIVE_ABOVE), M.id
    ),
    # the longest first responses, customer waits and resolutions, what "Show conversations" lists
    # (commands/drill_queries.py): thirty a slot, as several waits may be one conversation's
    "longest_frt": Ranking(
        C.first_response_at, C.channel, C.frt_seconds, False, (C.frt_seconds.is_not(None),), C.id, 30
    ),
    "longest_wait": Ranking(
        K.end_at, K.channel, K.seconds, False, (K.kind.in_(WAIT_KINDS), K.seconds.is_not(None)), K.id, 30
    ),
    "longest_resolution": Ranking(
        C.last_resolved_at, C.channel, C.full_resolution_seconds, False, _RESOLUTION, C.id, 30
    ),
    # the service-level breaches that ended furthest past their deadline, by deadline
    # (every clock has one of CLOCK_KINDS: naming them lets the index on (kind, deadline) serve)
    "sla_late": Ranking(
        K.deadline, K.channel, K.late, False, (K.kind.in_(CLOCK_KINDS), K.late.is_not(None)), K.id, limit=10
    ),
}


@dataclass(frozen=True)
class Tally:
    """How many rows of a slot carry each value of `label` (a template id, say) and, per label, the sums
    of `sums` (SQL aggregates that add up over slots, such as sum() and count() of a column): kept as
    {label: count}, or {label: [count, *sums]} when there are sums. `owner` as for a measure."""

    at: object
    channel: object
    label: object
    where: tuple
    sums: tuple = ()
    owner: object = None
    join: tuple | None = None  # (table, on) where `owner` lives, as for a measure


TALLIES = {
    "quick_replies": Tally(
        M.at, M.channel, M.quick_reply, (*HUMAN_REPLY, M.quick_reply.is_not(None)), owner=M.author_id
    ),
    # the customer messages read at ingestion per language, and how many of them were scored: what was
    # not read (a language without a lexicon, or a taxonomy) is said per language
    "languages": Tally(
        M.at, M.channel, M.lang, (*CUSTOMER_SAID, M.lang.is_not(None)), (func.count(M.sentiment),)
    ),
    # Service levels (docs/metrics.md, "sla"), per clock kind: the clocks that met their target, by when
    # (their end), and those that breached it, by their deadline (still running, or ended late). Each
    # clock carries its own deadline (storage.service_levels): every channel counts against its policy.
    "sla_met": Tally(
        K.end_at,
        K.channel,
        K.kind,
        (K.kind.in_(CLOCK_KINDS), K.deadline.is_not(None), K.end_at <= K.deadline),
        owner=OWNER,
        join=_CLOCK_CONVERSATION,
    ),
    "sla_breached": Tally(
        K.deadline,
        K.channel,
        K.kind,
        (K.kind.in_(CLOCK_KINDS), or_(K.end_at.is_(None), K.end_at > K.deadline)),
        owner=OWNER,
        join=_CLOCK_CONVERSATION,
    ),
    # the topics of customer messages (labels as stored: "topic/subtopic,..."), with their sentiment
    "topics": Tally(
        M.at,
        M.channel,
        M.topics,
        (*CUSTOMER_SAID, M.topics.is_not(None)),
        (func.sum(M.sentiment), func.count(M.sentiment)),
    ),
}


# `/kpi why` (docs/metrics.md, "why"): a mean KPI's items grouped, within each channel, by the agent credited
# with them, when their customer arrived (the UTC half hour: business or off hours are told from it) and
# their conversation's first topic (the labels of its earliest customer message that has any), with the
# count and sum of their values per label; and the active agent-hours of the load. A period's split is then
# read from a few rows a day.
SATISFIED = 4  # CSAT answers of 4 or 5 on the 1-5 scale are satisfied
_EARLIER = Message.__table__.alias("earlier")
_ASKED = Conversation.__table__.alias("asked")


def first_topics(conversation) -> ScalarSelect:
    """The topic labels of the conversation's earliest customer message that has any (None without)."""
    said = _EARLIER.c
    return (
        select(said.topics)
        .where(
            said.conversation_id == conversation,
            said.direction == "inbound",
            said.author_kind == "customer",
            said.private.is_(False),
            func.coalesce(said.topics, "") != "",
        )
        .order_by(said.at, said.id)
        .limit(1)
        .scalar_subquery()
    )


def split_tallies(key: str, measure: Measure, agent, arrival, conversation, value=None) -> dict[str, Tally]:
    """The three tallies (`why:KEY:agent|arrival|topic`) of a KPI whose items are `measure`'s rows, each
    valued `value` (the measure's own value by default)."""
    sums = (func.sum(measure.value if value is None else value),)
    labels = {"agent": agent, "arrival": half_hour(arrival), "topic": first_topics(conversation)}
    return {
        f"why:{key}:{by}": Tally(measure.at, measure.channel, label, measure.where, sums)
        for by, label in labels.items()
    }


ANSWERED = case((C.first_response_at.is_not(None), 1), else_=0)
RESOLVED_ONCE = case((and_(C.resolved.is_(True), C.first_resolved_at.is_not(None)), 1), else_=0)


def _of_survey(column):
    """A column of a survey's conversation (None for a survey without one)."""
    return select(column).where(_ASKED.c.id == V.conversation_id).scalar_subquery()


# the volume heatmap (commands/heatmap.py): the volume KPI's inbound messages per UTC quarter hour, which
# the heatmap places in its local hours (a UTC day's row holds its 96 quarters, so 90 days are 90 rows)
TALLIES["inbound_quarters"] = Tally(
    MEASURES["inbound"].at, MEASURES["inbound"].channel, quarter_hour(M.at), MEASURES["inbound"].where
)

TALLIES |= {
    **split_tallies("frt", MEASURES["frt"], C.first_responder, C.opened_at, C.id),
    **split_tallies("wait", MEASURES["wait"], K.agent, K.start_at, K.conversation_id),
    **split_tallies("art", MEASURES["first_resolution"], OWNER, C.opened_at, C.id),
    **split_tallies(
        "csat",
        MEASURES["csat"],
        _of_survey(func.coalesce(_ASKED.c.agent, _ASKED.c.first_responder)),
        func.coalesce(_of_survey(_ASKED.c.opened_at), V.at),
        V.conversation_id,
        case((V.score >= SATISFIED, 1), else_=0),
    ),
    # rates: the conversations opened, valued 1 once answered (resolved); as of an instant before an answer
    # (a resolution) of the period's conversations, commands.why_items reads the tables instead
    **split_tallies("reply-rate", MEASURES["opened"], OWNER, C.opened_at, C.id, ANSWERED),
    **split_tallies("resolution-rate", MEASURES["opened"], OWNER, C.opened_at, C.id, RESOLVED_ONCE),
    # the different UTC hours each agent sent a human reply in: active agent-hours, per channel
    "agent_hours": Tally(
        M.at,
        M.channel,
        M.author_id,
        (*HUMAN_REPLY, M.author_id.is_not(None)),
        (func.count(distinct(utc_hour(M.at))),),
    ),
}

# A measure's (or tally's) key with QUARTERED appended names its whole days kept per UTC quarter hour: for
# questions about some hours of a period (storage.kpi_cache.quarters, storage.kpi_cache.quarter_tallies).
QUARTERED = "@q"
SEPARATOR = "|"  # in a quartered tally's labels, between the quarter of the day and the tally's label
# the tallies a KPI with `by hour` / `by weekday` reads (sentiment: what was not scored, per language)
QUARTERED_TALLIES = ("languages",)


def quartered(tally: Tally) -> Tally:
    """The tally's quartered twin: the same rows labelled "quarter|label" (0-95: the UTC quarter of the
    day). For a tally whose label is never NULL and whose sums are counts."""
    label = cast(quarter_of_day(tally.at), String) + literal(SEPARATOR) + tally.label
    return Tally(tally.at, tally.channel, label, tally.where, tally.sums)


TALLIES |= {key + QUARTERED: quartered(TALLIES[key]) for key in QUARTERED_TALLIES}
