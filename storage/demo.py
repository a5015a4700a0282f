"""Synthetic support traffic for `kpibot demo`, in the bot's own event format (docs/events.md).

The numbers follow the benchmark articles (spec/METRICS.md "Benchmarks"): the 60/25/10/5
channel mix, first responses around 2 h with a tail to 72 h, CSAT near 70 %, NPS near +20,
about 5 leads a day converting at 2 %; plus a few bad days and a backlog spike at the end,
so the scorecard, digest and alerts have something to say.
"""

import math
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from itertools import accumulate
from random import Random

from storage.demo_texts import (
    AGENT_LINES,
    CUSTOMER_LINES,
    FOLLOW_UPS,
    NOTES,
    PRODUCTS,
    QUICK_REPLIES,
    SURVEY_COMMENTS,
    TOPIC_QUICK_REPLY,
)

DAY = 86400
HOUR = 3600
# name, share of conversations, id prefix, median first response in hours (Viber is slowest)
CHANNELS = (
    ("facebook", 0.60, "fb", 1.3),
    ("twitter", 0.25, "tw", 1.1),
    ("instagram", 0.10, "ig", 2.0),
    ("viber", 0.05, "vb", 5.0),
)
# author, speed factor on response times (below 1 is faster)
AGENTS = (
    ({"kind": "agent", "id": "U01AGENT1", "name": "Maya"}, 0.6),
    ({"kind": "agent", "id": "U01AGENT2", "name": "Tom"}, 0.8),
    ({"kind": "agent", "id": "U01AGENT3", "name": "Priya"}, 0.9),
    ({"kind": "agent", "id": "U01AGENT4", "name": "Lukas"}, 1.0),
    ({"kind": "agent", "id": "U01AGENT5", "name": "Sofia"}, 1.1),
    ({"kind": "agent", "id": "U01AGENT6", "name": "Omar"}, 1.3),
    ({"kind": "agent", "id": "U01AGENT7", "name": "Jen"}, 1.7),
)
BOT = {"kind": "bot", "id": "B01AUTOREPLY", "name": "Auto-reply"}
NAMES = ("ana", "ben", "chloe", "diego", "emma", "farid", "grace", "hiro", "ines", "jack", "kemal", "lena")
# relative inbound traffic per UTC hour, 00-11 then 12-23: quiet nights, busy late morning and evening
HOUR_WEIGHTS = (0.15, 0.1, 0.1, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 0.95, 1.0, 1.0) + (
    (0.95, 0.9, 0.9, 0.85, 0.85, 0.9, 0.95, 1.0, 0.9, 0.7, 0.45, 0.25)
)
WEEKEND = 0.55
TOPICS = ("delivery", "refund", "login", "billing", "praise", "defect", "pricing", "cancellation")
TOPIC_CUMULATIVE = tuple(accumulate((30, 15, 12, 12, 10, 8, 7, 6)))
TONES = ("negative", "neutral", "positive")
TONE_MOOD = {"negative": -0.08, "neutral": 0.0, "positive": 0.08}  # shifts the chance of a good survey


def generate_demo_events(
    *, now: datetime, days: int = 30, conversations: int = 2000, seed: int = 7
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
    sink = _Sink(now_ts)
    start = math.ceil(sink.now_ts) - days * DAY
    social = _customers(rng, sink, start, days, max(40, conversations * 3 // 4))
    yield from sink.flush(start)
    # Bad days are whole calendar days before the backlog spike, so a daily digest shows them plainly.
    calendar = range(start // DAY + 1, int(sink.now_ts) // DAY - 2)
    bad_days = set(rng.sample(calendar, min(rng.choice((2, 3)), len(calendar))))
    sequence = 0
    for day, size in enumerate(_day_sizes(rng, start, days, conversations)):
        day_start = start + day * DAY
        counts = _split(size, [share for _, share, _, _ in CHANNELS])
        channels = [channel for channel, n in zip(CHANNELS, counts, strict=True) for _ in range(n)]
        rng.shuffle(channels)
        opened = []
        for channel in channels:
            sequence += 1
            conversation_id = f"{channel[2]}-{sequence:06d}"
            t0 = _inbound_time(rng, day_start)
            opened.append((conversation_id, channel[0], t0))
            slow = 6.0 if t0 // DAY in bad_days else 1.0
            backlog = sink.now_ts - t0 < 2 * DAY and rng.random() < 0.45
            _conversation(rng, sink, conversation_id, channel, t0, rng.choice(social), slow, backlog)
        _leads(rng, sink, opened)
        yield from sink.flush(day_start + DAY)
    yield from sink.flush(math.inf)


class _Sink:
    """Collects events that happened before `now` and hands them out in time order."""

    def __init__(self, now_ts: float) -> None:
        self.now_ts = now_ts
        self.count = 0
        self.leads = 0
        self.pending: list[tuple[int, int, dict]] = []

    def add(
        self, t: float, type_: str, conversation_id: str | None, channel: str | None, fields: dict
    ) -> None:
        # The demo is a snapshot taken at `now`: whatever would come later has not happened yet.
        if t >= self.now_ts:
            return
        self.count += 1
        at = int(t)
        event = {"id": f"demo-{self.count}", "type": type_, "at": _iso(at)}
        event["conversation_id"], event["channel"] = conversation_id, channel
        event.update(fields)
        self.pending.append((at, self.count, event))

    def flush(self, before: float) -> list[dict]:
        self.pending.sort()
        cut = bisect_left(self.pending, (before,))
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return [event for _, _, event in ready]


@lru_cache(maxsize=4096)
def _hour(epoch_hour: int) -> str:
    return datetime.fromtimestamp(epoch_hour * HOUR, UTC).strftime("%Y-%m-%dT%H:")


# Formatting a million timestamps is the hot path, hence the prebuilt "MM:SSZ" endings.
_MINUTE_SECOND = tuple(f"{s // 60:02d}:{s % 60:02d}Z" for s in range(HOUR))


def _iso(t: int) -> str:
    return _hour(t // HOUR) + _MINUTE_SECOND[t % HOUR]


def _split(total: int, weights: list[float]) -> list[int]:
    """Whole counts summing to `total` in proportion to `weights` (largest remainder)."""
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _traffic(t: int) -> float:
    """Relative inbound traffic at epoch second `t`: quiet nights and weekends."""
    weekday = (t // DAY + 3) % 7  # 1970-01-01 was a Thursday
    return HOUR_WEIGHTS[t % DAY // HOUR] * (WEEKEND if weekday >= 5 else 1.0)


def _day_sizes(rng: Random, start: int, days: int, conversations: int) -> list[int]:
    weights = []
    for day in range(days):
        surge = 1.35 if day >= days - 2 else 1.0
        traffic = sum(_traffic(start + day * DAY + hour * HOUR) for hour in range(24))
        weights.append(traffic * surge * rng.uniform(0.9, 1.1))
    return _split(conversations, weights)


def _inbound_time(rng: Random, day_start: int) -> int:
    while True:
        t = day_start + rng.randrange(DAY)
        if rng.random() < _traffic(t):
            return t


def _customers(rng: Random, sink: _Sink, start: int, days: int, count: int) -> list[str]:
    """Adds customer changes and returns the handles of the customers who use social support."""

    def change(t: float, handle: str, kind: str, **revenue) -> None:
        sink.add(t, "customer", None, None, {"customer_id": handle, "change": kind, **revenue})

    social = []
    for k in range(count + count * 8 // 100):
        handle = f"@{NAMES[k % len(NAMES)]}_{k // len(NAMES) + 10}"
        if k >= count:  # joined during the window
            change(start + rng.uniform(0, days) * DAY, handle, "new", revenue=_money(rng, 60))
            continue
        uses_social = k == 0 or rng.random() < 0.4
        if uses_social:
            social.append(handle)
        change(start - rng.uniform(1, 60) * DAY, handle, "new", revenue=_money(rng, 60))
        # Customers who get help on social churn less and spend more: article 004's social impact.
        if rng.random() < (0.04 if uses_social else 0.10):
            change(start + rng.uniform(0, days) * DAY, handle, "lost")
        elif rng.random() < 0.4:
            change(
                start + rng.uniform(0, days) * DAY,
                handle,
                "active",
                revenue=_money(rng, 90 if uses_social else 70),
            )
    return social


def _money(rng: Random, median: float) -> float:
    return round(min(rng.lognormvariate(math.log(median), 0.6), 2000.0), 2)


def _delay(rng: Random, median: float, sigma: float, longest: float) -> float:
    """Seconds of a lognormal delay with the given median, clipped to [1 min, longest]."""
    return min(max(rng.lognormvariate(math.log(median), sigma), 60.0), longest)


def _conversation(
    rng: Random,
    sink: _Sink,
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
        seconds = int(_delay(rng, 270, 0.5, HOUR))  # handle time around the 5-minute benchmark
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
    frt = _delay(rng, median_hours * HOUR * agent[1] * slow, 1.2, 72 * HOUR)
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
        t += _delay(rng, 0.6 * HOUR * agent[1] * slow, 1.0, 48 * HOUR)
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
        t += _delay(rng, HOUR * agent[1] * slow, 1.0, 24 * HOUR)
        reply(t, False)
        t += rng.uniform(1, 6) * HOUR
        status(t, "resolved")
    _surveys(rng, sink, conversation_id, name, t, frt, tone)


def _surveys(
    rng: Random, sink: _Sink, conversation_id: str, channel: str, resolved: float, frt: float, tone: str
) -> None:
    """Adds CSAT/NPS/CES answers to a resolved conversation; fast and friendly ones score better."""
    happy = (0.86 if frt < HOUR else 0.74 if frt < 6 * HOUR else 0.45) + TONE_MOOD[tone]
    answered = resolved + rng.uniform(600, 12 * HOUR)
    for kind, share in (("csat", 0.30), ("nps", 0.15), ("ces", 0.10)):
        if rng.random() >= share:
            continue
        draw = rng.random()
        if kind == "csat":
            score = rng.choice((4, 5, 5)) if draw < happy else rng.choice((1, 2, 3, 3))
        elif kind == "nps" and draw < happy - 0.26:
            score = rng.choice((9, 10))
        elif kind == "nps":
            score = rng.choice((7, 8)) if draw < happy + 0.04 else rng.choice((2, 4, 5, 6, 6))
        else:
            score = rng.choice((1, 2, 2, 3)) if draw < happy else rng.choice((4, 5, 6, 7))
        answer = {"kind": kind, "score": score}
        if rng.random() < 0.2:
            answer["comment"] = rng.choice(SURVEY_COMMENTS[draw < happy])
        sink.add(answered, "survey", conversation_id, channel, answer)


def _leads(rng: Random, sink: _Sink, opened: list[tuple[str, str, int]]) -> None:
    """Adds about five leads for the day; every 50th converts (2 %), on the lead or days later."""
    for _ in range(sum(rng.random() < 0.5 for _ in range(10)) if opened else 0):
        conversation_id, channel, t0 = rng.choice(opened)
        at = t0 + rng.uniform(0.2, 3) * HOUR
        if at >= sink.now_ts:
            continue
        sink.leads += 1
        converts = sink.leads % 50 == 0
        later = at + rng.uniform(1, 5) * DAY
        value = rng.choice((49.0, 99.0, 149.0, 299.0, 499.0))
        # Alternate the two ways docs/events.md allows: `converted` on the lead, or a later `conversion`.
        inline = converts and (sink.leads % 100 == 50 or later >= sink.now_ts)
        sink.add(at, "lead", conversation_id, channel, {"value": value, "converted": inline})
        if converts and not inline:
            sink.add(later, "conversion", conversation_id, channel, {"value": value})
