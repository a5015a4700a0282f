"""The shape of the demo's traffic: its channels, agents and customers, when messages arrive, how long
answers take, and the collector that hands events out in time order."""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import UTC, datetime
from functools import lru_cache
from itertools import accumulate
from random import Random

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


class Sink:
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


def split(total: int, weights: list[float]) -> list[int]:
    """Whole counts summing to `total` in proportion to `weights` (largest remainder)."""
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def traffic(t: int) -> float:
    """Relative inbound traffic at epoch second `t`: quiet nights and weekends."""
    weekday = (t // DAY + 3) % 7  # 1970-01-01 was a Thursday
    return HOUR_WEIGHTS[t % DAY // HOUR] * (WEEKEND if weekday >= 5 else 1.0)


def money(rng: Random, median: float) -> float:
    return round(min(rng.lognormvariate(math.log(median), 0.6), 2000.0), 2)


def delay(rng: Random, median: float, sigma: float, longest: float) -> float:
    """Seconds of a lognormal delay with the given median, clipped to [1 min, longest]."""
    return min(max(rng.lognormvariate(math.log(median), sigma), 60.0), longest)
