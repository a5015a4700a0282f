"""SLA risk (docs/metrics.md, "Service levels"): the running clocks that will breach soon, given the queue
ahead of them and the team's pace — what the SLA-risk alert posts and `kpibot alert sla --preview` shows.

For a running response clock (a customer waiting for a first or a next reply) with deadline `d`, at
`now`: its queue position `k` counts the running waits of its channel (or of every channel, `queue="all"`)
that started before it, plus one; the pace `r` is the waits of that channel answered in the last 60
minutes ÷ 60 (per minute). It is at risk when not yet breached and either the predicted answer time
`now + k / r` is after `d` and `d − now` ≤ the lead time, or `r = 0` and `d − now` ≤ the lead time. A
resolution clock has no queue: it is at risk when its deadline is within the lead time. Conversations
someone took ("I'm on it") or snoozed are left out.

Only clocks whose deadline lies within the lead time can be at risk: a narrow range of the running clocks'
deadline index (each clock carries its deadline: storage.service_levels). Queue positions come from one
count per queue on the running clocks' queue index, plus the starts after its first candidate's.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from commands.alert import Decision, next_post
from commands.format import format_duration
from commands.slack_text import inline, link
from storage.bulk import stored_time
from storage.db import raw_rows
from storage.kpi_cache.measures import OWNER
from storage.models import AlertState, Conversation, SlaClaim, SlaClock
from storage.planner import on_channels
from storage.service_levels import KIND_TARGETS, TARGET_NAMES

C = Conversation.__table__.c
K = SlaClock.__table__.c
CLAIM = SlaClaim.__table__.c
RESPONSES = ("first", "next")
PACE_WINDOW = timedelta(minutes=60)
DEFAULT_LEAD = 1800.0
LISTED = 10


@dataclass(frozen=True)
class Risk:
    """One clock at risk: its conversation, target, deadline, queue position and the pace behind the
    prediction (`predicted` None when no pace is measurable or for a resolution clock)."""

    conversation: int
    conversation_id: str
    channel: str
    target: str
    deadline: datetime
    left: float
    position: int | None
    pace: float | None
    predicted: datetime | None
    agent: str | None
    link: str | None


def at_risk(
    conn: Connection,
    now: datetime,
    *,
    channels: tuple[str, ...] = (),
    lead: float = DEFAULT_LEAD,
    queue: str = "channel",
) -> list[Risk]:
    """The clocks at risk at `now`, soonest deadline first."""
    excluded = _excluded(conn, now)
    candidates = [row for row in _due_soon(conn, channels, now, lead) if row.conversation not in excluded]
    starts = _queue_starts(conn, candidates, queue)
    paces = _paces(conn, {row.channel for row in candidates}, now)
    found = []
    for row in candidates:
        left = (row.deadline - now).total_seconds()
        position = pace = predicted = None
        if row.kind in RESPONSES:
            position = starts.position(row.channel if queue == "channel" else None, row.start_at)
            pace = paces.get(row.channel, 0.0)
            if pace > 0:
                predicted = now + timedelta(minutes=position / pace)
                if predicted <= row.deadline:
                    continue  # the team will reach it in time
        found.append(
            Risk(
                row.conversation,
                row.external_id,
                row.channel,
                TARGET_NAMES[KIND_TARGETS[row.kind]],
                row.deadline,
                left,
                position,
                pace,
                predicted,
                row.agent,
                row.link,
            )
        )
    found.sort(key=lambda risk: (risk.deadline, risk.conversation_id))
    return found


def _due_soon(conn: Connection, channels: tuple[str, ...], now: datetime, lead: float) -> list:
    """Running clocks on `channels` (() = all) whose deadline is in (now, now + lead]: a narrow range of the
    running clocks' deadline index."""
    statement = (
        select(
            K.conversation_id.label("conversation"),
            K.kind,
            K.channel,
            K.start_at,
            K.deadline,
            C.external_id,
            C.link,
            OWNER.label("agent"),
        )
        .join_from(SlaClock.__table__, Conversation.__table__, K.conversation_id == C.id)
        .where(
            K.end_at.is_(None),
            K.deadline > now,
            K.deadline <= now + timedelta(seconds=lead),
            on_channels(K.channel, channels),
        )
    )
    return conn.execute(statement).all()


class _Starts:
    """Queue positions: per queue (a channel, or None for all), how many running waits started before its
    first candidate, and the later starts as stored (text on SQLite: read raw, never parsed)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.before: dict[str | None, int] = {}
        self.after: dict[str | None, list] = {}

    def position(self, channel: str | None, start: datetime) -> int:
        stored = stored_time(self.dialect, start)
        return self.before[channel] + bisect_left(self.after[channel], stored) + 1


def _queue_starts(conn: Connection, candidates: list, queue: str) -> _Starts:
    """For each queue holding a waiting candidate: the running waits started before its first candidate
    (one count), and the starts from there on, all from the running clocks' queue index."""
    starts = _Starts(conn.dialect.name)
    first: dict[str | None, datetime] = {}
    for row in candidates:
        if row.kind in RESPONSES:
            key = row.channel if queue == "channel" else None
            first[key] = min(first.get(key, row.start_at), row.start_at)
    table = SlaClock.__table__
    for key, since in first.items():
        running = [K.kind.in_(RESPONSES), K.end_at.is_(None)] + ([K.channel == key] if key else [])
        counted = select(func.count()).select_from(table)
        starts.before[key] = conn.execute(counted.where(*running, K.start_at < since)).scalar_one()
        later = select(K.start_at)
        starts.after[key] = sorted(
            start for (start,) in raw_rows(conn, later.where(*running, K.start_at >= since))
        )
    return starts


def _paces(conn: Connection, channels: set[str], now: datetime) -> dict[str, float]:
    """Waits answered per minute over the last 60 minutes, per channel."""
    if not channels:
        return {}
    answered = (
        select(K.channel, func.count())
        .where(
            K.kind.in_(RESPONSES),
            K.end_at >= now - PACE_WINDOW,
            K.end_at < now,
            K.agent.is_not(None),  # ended by a reply, not by a resolution
            K.channel.in_(sorted(channels)),
        )
        .group_by(K.channel)
    )
    minutes = PACE_WINDOW.total_seconds() / 60
    return {channel: count / minutes for channel, count in conn.execute(answered)}


def _excluded(conn: Connection, now: datetime) -> set[int]:
    """Conversations someone took, or snoozed until after `now`."""
    taken = select(CLAIM.conversation_id).where(or_(CLAIM.claimed_by.is_not(None), CLAIM.snoozed_until > now))
    return set(conn.execute(taken).scalars())


def risk_line(risk: Risk, now: datetime) -> str:
    """ "breaches in 12m — 7th in the twitter queue, team answering 0.5/min · first response · tw-1"."""
    when = f"breaches in {format_duration(max(risk.left, 60.0))}"
    if risk.position is None:
        why = "resolution due"
    else:
        queue = f"{_ordinal(risk.position)} in the {inline(risk.channel)} queue"
        pace = f"team answering {risk.pace:.1f}/min" if risk.pace else "no replies in the last hour"
        why = f"{queue}, {pace}"
    where = (
        link(risk.link, inline(risk.conversation_id)) if risk.link else f"`{inline(risk.conversation_id)}`"
    )
    return f"{when} — {why} · {risk.target.lower()} · {where}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def decide_risk(state: AlertState, risks: list[Risk], now: datetime) -> Decision | None:
    """The SLA-risk post due at `now` (commands.alert.next_post): "fire" (the first risk of an episode),
    "new" (a conversation at risk with a later deadline than any listed so far: told at once), "repeat"
    (still at risk after the cool-down), "clear" (once, when none is left), or None."""
    latest = max((risk.deadline for risk in risks), default=None)
    newer = latest is not None and (state.latest_deadline is None or latest > state.latest_deadline)
    return next_post(
        state,
        now,
        firing=bool(risks),
        worse=newer,
        worse_kind="new",
        after=lambda episode, posts: _after(state, risks, latest, now, episode, posts),
    )


def _after(
    state: AlertState, risks: list[Risk], latest: datetime, now: datetime, episode: int, posts: int
) -> AlertState:
    return AlertState(
        subscription_id=state.subscription_id,
        active=True,
        episode=episode,
        posts=posts,
        last_count=len(risks),
        last_posted_at=now,
        latest_deadline=max(latest, state.latest_deadline or latest) if state.active else latest,
    )


_OPENINGS = {
    "fire": ":stopwatch: *SLA risk*",
    "new": ":stopwatch: *SLA risk, more conversations*",
    "repeat": ":hourglass: *SLA risk, still*",
}
CLEAR = ":white_check_mark: No conversation is about to miss its service level any more."


def risk_message(risks: list[Risk], now: datetime, lead: float, kind: str = "fire") -> dict[str, Any]:
    """The alert as a Slack message: the clocks at risk by deadline, each with Open, Snooze 30 min and
    I'm on it buttons (action ids `sla_open:…`, `sla_snooze:…`, `sla_claim:…` ending with the
    conversation's id, also their value)."""
    if kind == "clear" or not risks:
        return {"text": CLEAR, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": CLEAR}}]}
    shown = risks[:LISTED]
    count = len(risks)
    many = f"{count} conversation{'s' * (count != 1)}"
    text = f"{_OPENINGS[kind]}: {many} may breach within {format_duration(lead)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for risk in shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "• " + risk_line(risk, now)}})
        buttons = []
        if risk.link:
            buttons.append(_button("Open", "sla_open", risk, url=risk.link))
        buttons.append(_button("Snooze 30 min", "sla_snooze", risk))
        buttons.append(_button("I'm on it", "sla_claim", risk, style="primary"))
        blocks.append({"type": "actions", "elements": buttons})
    if count > len(shown):
        more = f"and {count - len(shown)} more"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": text.replace("*", ""), "blocks": blocks}


def _button(label: str, action: str, risk: Risk, **extra: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": f"{action}:{risk.conversation}",
        "value": str(risk.conversation),
        **extra,
    }
