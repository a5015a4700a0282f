"""The backlog alert: when it fires, repeats, gets worse or clears, and what it says.

The alert fires when at least `threshold` open conversations have waited longer than the subscription's
age (`max_age_seconds`), or when any has waited past its channel's resolution target where that is
set for the channel or shorter than the age (storage.service_levels: one notion with the backlog KPI's
thresholds). While it fires it is not repeated within COOLDOWN, unless it
got worse by a step: STEP_MIN more conversations or STEP_SHARE more than at the last post, whichever is
larger (so 3 -> 8, 10 -> 15, 40 -> 60), or the first SLA breach of the episode. When it stops firing,
one all-clear ends the episode. The job that checks it every few minutes and posts through the outbox is
`bot.jobs.alert`; the digest's counterpart is `commands.digest`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from commands.format import format_duration
from commands.kpis.backlog import backlog, thresholds
from commands.query import Query
from commands.slack_text import inline, link
from storage.models import AlertState, Conversation, Subscription
from storage.settings import Settings

COOLDOWN = timedelta(hours=1)
STEP_MIN = 5
STEP_SHARE = 0.5
LISTED = 5


@dataclass(frozen=True)
class BacklogReading:
    """Open conversations at one instant: how many waited past the age limit and past their SLA, and the
    oldest ones ({"channel", "age", "conversation_id", "link"})."""

    over: int
    sla_breaches: int
    max_age: float
    oldest: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """A post to make: `kind` is fire, worse, repeat or clear; `state` is the alert's state once sent."""

    kind: str
    key: str
    state: AlertState


def read_backlog(
    conn: Connection, settings: Settings, subscription: Subscription, now: datetime
) -> BacklogReading:
    """The subscription's backlog at `now`, from the `backlog` KPI: over its age limit, past SLAs."""
    max_age = subscription.max_age_seconds or settings.backlog_threshold()
    scope = subscription.channel_list
    query = Query(now, now, scope, now, settings)
    # The subscription's age applies to every channel; each channel's resolution target is its SLA.
    values = backlog(conn, query, limits=(max_age, {}))
    default, special = thresholds(conn, query)
    targets = {channel: special.get(channel, default) for channel in scope or settings.channels}
    sla = sum(
        backlog(conn, Query(now, now, (channel,), now, settings), limits=(seconds, {}))["over_threshold"]
        for channel, seconds in targets.items()
        if seconds < max_age or channel in special
    )
    oldest = values["oldest"][:LISTED]
    links = _links(conn, [row["conversation_id"] for row in oldest])
    listed = [{**row, "link": links.get((row["conversation_id"], row["channel"]))} for row in oldest]
    return BacklogReading(values["over_threshold"], sla, max_age, listed)


def decide(state: AlertState, reading: BacklogReading, limit: int, now: datetime) -> Decision | None:
    """The post due at `now` given the alert's state and the reading, or None when nothing is due."""
    first_breach = reading.sla_breaches > 0 and not state.last_sla
    grew = _grew(reading.over, state.last_count) or _grew(reading.sla_breaches, state.last_sla)
    return next_post(
        state,
        now,
        firing=reading.over >= limit or reading.sla_breaches > 0,
        worse=grew or first_breach,
        worse_kind="worse",
        after=lambda episode, posts: _after(state, reading, now, episode, posts),
    )


def next_post(
    state: AlertState,
    now: datetime,
    *,
    firing: bool,
    worse: bool,
    worse_kind: str,
    after: Callable[[int, int], AlertState],
) -> Decision | None:
    """An alert's episodes, one rule for every alert: "fire" starts an episode, `worse_kind` when it got
    `worse`, "repeat" after COOLDOWN, one "clear" ends it; None when nothing is due. `after(episode,
    posts)` is the alert's state once the post is sent."""
    if not state.active:
        if not firing:
            return None
        episode = state.episode + 1
        return Decision("fire", f"episode-{episode}/post-1", after(episode, 1))
    if not firing:
        cleared = state.model_copy(update={"active": False, "last_posted_at": now})
        return Decision("clear", f"episode-{state.episode}/clear", cleared)
    if worse:
        kind = worse_kind
    elif state.last_posted_at is None or now - state.last_posted_at >= COOLDOWN:
        kind = "repeat"
    else:
        return None
    posts = state.posts + 1
    return Decision(kind, f"episode-{state.episode}/post-{posts}", after(state.episode, posts))


def alert_message(decision: Decision, reading: BacklogReading, subscription: Subscription) -> dict[str, Any]:
    """The alert as a Slack message: what is wrong (or that it is fine again), the oldest conversations."""
    limit, age = subscription.threshold or 1, format_duration(reading.max_age)
    scope = inline(", ".join(subscription.channel_list)) or "all channels"
    counted = f"{reading.over} open conversation{'s' * (reading.over != 1)} waited over {age} (limit {limit})"
    if reading.sla_breaches:
        counted += f", {reading.sla_breaches} past their channel's SLA"
    if decision.kind == "clear":
        text = f":white_check_mark: Backlog back under control: {counted}."
        return {"text": text, "blocks": [_section(text), _context(scope)]}
    opening = {
        "fire": ":rotating_light: *Backlog alert*",
        "worse": ":rotating_light: *Backlog alert, getting worse*",
        "repeat": ":hourglass: *Backlog still over the limit*",
    }[decision.kind]
    text = f"{opening}: {counted}."
    lines = [
        f"• {inline(row['channel'])} · waiting {format_duration(row['age'])} · {_where(row)}"
        for row in reading.oldest
    ]
    blocks = [_section(text)]
    if lines:
        blocks.append(_section("*Oldest*\n" + "\n".join(lines)))
    nudge = reading.over + _step(reading.over)
    blocks.append(_context(f"{scope} · next reminder in 1 h, sooner if it reaches {nudge}"))
    return {"text": text.replace("*", ""), "blocks": blocks}


def _after(state: AlertState, reading: BacklogReading, now: datetime, episode: int, posts: int) -> AlertState:
    return AlertState(
        subscription_id=state.subscription_id,
        active=True,
        episode=episode,
        posts=posts,
        last_count=reading.over,
        last_sla=reading.sla_breaches,
        last_posted_at=now,
    )


def _step(count: int) -> int:
    return max(STEP_MIN, math.ceil(count * STEP_SHARE))


def _grew(count: int, before: int) -> bool:
    return count >= before + _step(before)


def _links(conn, conversation_ids: list[str]) -> dict[tuple[str, str], str]:
    if not conversation_ids:
        return {}
    table = Conversation.__table__.c
    rows = conn.execute(
        select(table.external_id, table.channel, table.link).where(
            table.external_id.in_(conversation_ids), table.link.is_not(None)
        )
    )
    return {(external_id, channel): link for external_id, channel, link in rows}


def _where(row: dict[str, Any]) -> str:
    """The conversation's link when its events carried an http(s) one, else its id; both from events."""
    if row.get("link"):
        return link(row["link"], "open")
    return f"`{inline(row['conversation_id'])}`"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
