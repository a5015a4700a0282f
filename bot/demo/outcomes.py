"""The demo's outcomes around its conversations: the customer base and its changes, survey answers,
leads and conversions."""

from __future__ import annotations

from random import Random

from bot.demo.profile import DAY, HOUR, NAMES, TONE_MOOD, Sink, money
from bot.demo.texts import SURVEY_COMMENTS


def customers(rng: Random, sink: Sink, start: int, days: int, count: int) -> list[str]:
    """Adds customer changes and returns the handles of the customers who use social support."""

    def change(t: float, handle: str, kind: str, **revenue) -> None:
        sink.add(t, "customer", None, None, {"customer_id": handle, "change": kind, **revenue})

    social = []
    for k in range(count + count * 8 // 100):
        handle = f"@{NAMES[k % len(NAMES)]}_{k // len(NAMES) + 10}"
        if k >= count:  # joined during the window
            change(start + rng.uniform(0, days) * DAY, handle, "new", revenue=money(rng, 60))
            continue
        uses_social = k == 0 or rng.random() < 0.4
        if uses_social:
            social.append(handle)
        change(start - rng.uniform(1, 60) * DAY, handle, "new", revenue=money(rng, 60))
        # Customers who get help on social churn less and spend more: article 004's social impact.
        if rng.random() < (0.04 if uses_social else 0.10):
            change(start + rng.uniform(0, days) * DAY, handle, "lost")
        elif rng.random() < 0.4:
            change(
                start + rng.uniform(0, days) * DAY,
                handle,
                "active",
                revenue=money(rng, 90 if uses_social else 70),
            )
    return social


def surveys(
    rng: Random, sink: Sink, conversation_id: str, channel: str, resolved: float, frt: float, tone: str
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


def leads(rng: Random, sink: Sink, opened: list[tuple[str, str, int]]) -> None:
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
