"""Synthetic support traffic for `kpibot demo`, in the bot's own event format (docs/events.md).

The numbers follow the benchmarks of docs/metrics.md: the 60/25/10/5 channel mix, first responses
around 2 h with a tail to 72 h, CSAT near 70 %, NPS near +20, about 5 leads a day converting at 2 %; plus
a few bad days and a backlog spike at the end, so the scorecard, digest and alerts have something to say.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from random import Random

from bot.demo.outcomes import customers, leads, surveys
from bot.demo.profile import (
    AGENTS,
    BOT,
    CHANNELS,
    DAY,
    HOUR,
    TONES,
    TOPIC_CUMULATIVE,
    TOPICS,
    Sink,
    delay,
    split,
    traffic,
)  # fmt: skip
from bot.demo.texts import (
    AGENT_LINES,
    CUSTOMER_LINES,
    FOLLOW_UPS,
    NOTES,
    PRODUCTS,
    QUICK_REPLIES,
    TOPIC_QUICK_REPLY,
)

# Days of traffic by default: every period the README, the help and `kpibot demo` suggest (`30d`, `7d`,
# `today`, `this-week`, `last-week`, `this-month`) then has a whole previous period with data to compare
# with. `30d` needs 60 days; `this-month` on the 31st, after a 31-day month, needs just under 62.
DAYS = 62


def generate_demo_events(
    *, now: datetime, days: int = DAYS, conversations: int = 2000, seed: int = 7
) -> Iterator[dict]:
    """Returns the demo's support events, lazily and in time order: `conversations` conversations
    opened in [now - days, now), customer changes (the base joined before the window) and leads.
    The same seed and `now` always give the same events; bad arguments raise ValueError at once."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if days < 1 or conversations < 0:
        raise ValueError("days must be at least 1 and conversations must not be negative")
    return _events(now.timestamp(), days, conversations, Random(seed))


def _events(now_ts: float, days: int, conversations: int, rng: Random) -> Iterator[dict]:
    """Yields events day by day; only events not yet due (conversation tails, customer changes) wait."""
    sink = Sink(now_ts)
    start = math.ceil(sink.now_ts) - days * DAY
    social = customers(rng, sink, start, days, max(40, conversations * 3 // 4))
    yield from sink.flush(start)
    # Bad days are whole calendar days before the backlog spike, so a daily digest shows them plainly.
    calendar = range(start // DAY + 1, int(sink.now_ts) // DAY - 2)
    bad_days = set(rng.sample(calendar, min(rng.choice((2, 3)), len(calendar))))
    sequence = 0
    for day, size in enumerate(day_sizes(rng, start, days, conversations)):
        day_start = start + day * DAY
        counts = split(size, [share for _, share, _, _ in CHANNELS])
        channels = [channel for channel, n in zip(CHANNELS, counts, strict=True) for _ in range(n)]
        rng.shuffle(channels)
        opened = []
        for channel in channels:
            sequence += 1
            conversation_id = f"{channel[2]}-{sequence:06d}"
            t0 = inbound_time(rng, day_start)
            opened.append((conversation_id, channel[0], t0))
            slow = 6.0 if t0 // DAY in bad_days else 1.0
            backlog = sink.now_ts - t0 < 2 * DAY and rng.random() < 0.45
            _conversation(rng, sink, conversation_id, channel, t0, rng.choice(social), slow, backlog)
        leads(rng, sink, opened)
        yield from sink.flush(day_start + DAY)
    yield from sink.flush(math.inf)


def day_sizes(rng: Random, start: int, days: int, conversations: int) -> list[int]:
    weights = []
    for day in range(days):
        surge = 1.35 if day >= days - 2 else 1.0
        busy = sum(traffic(start + day * DAY + hour * HOUR) for hour in range(24))
        weights.append(busy * surge * rng.uniform(0.9, 1.1))
    return split(conversations, weights)


def inbound_time(rng: Random, day_start: int) -> int:
    while True:
        t = day_start + rng.randrange(DAY)
        if rng.random() < traffic(t):
            return t


def _conversation(
    rng: Random,
    sink: Sink,
    conversation_id: str,
    channel: tuple,
    t0: int,
    handle: str,
    slow: float,
    backlog: bool,
) -> None:
    """Adds one conversation's events, from its first inbound message to its surveys."""
    name, _, _, median_hours = channel
    topic = rng.choices(TOPICS, cum_weights=TOPIC_CUMULATIVE)[0]
    lines = CUSTOMER_LINES[topic]
    tone = rng.choices(TONES, cum_weights=(0.45, 0.85, 1.0))[0]
    tone = tone if tone in lines else next(iter(lines))
    fill = {"n": rng.choice(("two", "three", "ten")), "order": f"#{rng.randrange(10000, 99999)}"}
    fill.update(product=rng.choice(PRODUCTS), name=handle[1:].split("_")[0].title())
    customer = {"kind": "customer", "id": handle}

    def message(t: float, author: dict, text: str, **extra) -> None:
        if t < sink.now_ts:
            direction = "inbound" if author is customer else "outbound"
            fields = {"direction": direction, "author": dict(author), "text": text.format(**fill), **extra}
            sink.add(t, "message", conversation_id, name, fields)

    def reply(t: float, first: bool) -> None:
        key = TOPIC_QUICK_REPLY.get(topic) or ("greeting" if first and tone != "negative" else "apology")
        quick = {"quick_reply": key} if rng.random() < 0.3 else {}
        seconds = int(delay(rng, 270, 0.5, HOUR))  # handle time around the 5-minute benchmark
        text = QUICK_REPLIES[key] if quick else rng.choice(AGENT_LINES)
        message(t, agent[0], text, handle_seconds=seconds, **quick)

    def status(t: float, value: str) -> None:
        sink.add(t, "status", conversation_id, name, {"status": value})

    message(t0, customer, rng.choice(lines[tone]))
    if rng.random() < 0.4:
        message(t0 + rng.randint(2, 20), BOT, "Thanks for your message! An agent will reply soon.")
    if backlog or rng.random() < 0.04:
        if rng.random() < 0.3:
            message(t0 + rng.uniform(0.5, 20) * HOUR, customer, rng.choice(FOLLOW_UPS["negative"]))
        if not backlog:  # spam and "no action needed" threads get closed without a reply
            status(t0 + rng.uniform(1, 3) * DAY, "closed")
        return
    agent = rng.choice(AGENTS)
    frt = delay(rng, median_hours * HOUR * agent[1] * slow, 1.2, 72 * HOUR)
    assigned = t0 + min(frt * 0.3, rng.uniform(30, 900))
    sink.add(assigned, "assignment", conversation_id, name, {"agent": agent[0]["id"]})
    if rng.random() < 0.12:
        chaser = FOLLOW_UPS["negative" if tone == "negative" else "neutral"]
        message(t0 + frt * rng.uniform(0.4, 0.6), customer, rng.choice(chaser))
    if rng.random() < 0.08:  # a note while investigating, before the reply, must not count as one
        message(t0 + frt * 0.8, agent[0], rng.choice(NOTES), private=True)
    t = t0 + frt
    reply(t, True)
    if rng.random() < 0.05:
        t += rng.uniform(60, 1800)
        agent = rng.choice([a for a in AGENTS if a is not agent])
        target = (
            {"agent": agent[0]["id"]} if rng.random() < 0.7 else {"team": rng.choice(("billing", "tier-2"))}
        )
        sink.add(t, "assignment", conversation_id, name, target)
    rounds = 0
    while rounds < 3 and rng.random() < (0.45 if rounds == 0 else 0.25):
        rounds += 1
        t += rng.uniform(300, 6 * HOUR)
        message(t, customer, rng.choice(FOLLOW_UPS[rng.choice((tone, "neutral", "positive"))]))
        t += delay(rng, 0.6 * HOUR * agent[1] * slow, 1.0, 48 * HOUR)
        reply(t, False)
    if rng.random() < 0.085:
        t += rng.uniform(60, 1200)
        to_channel = rng.choices(("phone", "email", "portal"), weights=(5, 3, 2))[0]
        sink.add(t, "escalation", conversation_id, name, {"to_channel": to_channel})
    if rng.random() < 0.01:  # a forgotten thread: part of the steady small backlog
        return
    if rng.random() < 0.08:
        status(t + rng.uniform(0.2, 2) * HOUR, "pending")
        t += rng.uniform(1, 4) * DAY
    else:
        t += rng.uniform(1, 8) * HOUR
    status(t, "resolved")
    if rng.random() < 0.05:
        t += rng.uniform(2, 36) * HOUR
        if rng.random() < 0.5:
            message(t, customer, "Sorry, the problem with {order} is back again")
        else:
            status(t, "open")
        t += delay(rng, HOUR * agent[1] * slow, 1.0, 24 * HOUR)
        reply(t, False)
        t += rng.uniform(1, 6) * HOUR
        status(t, "resolved")
    surveys(rng, sink, conversation_id, name, t, frt, tone)
