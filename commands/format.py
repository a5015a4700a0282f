"""How KPI numbers read to a person: durations as `2h 13m`, rates as `73.5 %`, NPS as `+20`.

Shared by the terminal and Slack renderings, so both say the same thing. A missing value reads as
an em dash, never as 0.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"
# The units a KPI value is in (commands.kpis.spec): durations in seconds, rates as fractions (0-1), counts,
# scores (a mean of answers or of sentiment), NPS points (-100..+100), money, per day, text and ISO times.
SECONDS, FRACTION, COUNT, SCORE, NPS, MONEY, PER_DAY, TEXT, TIME = (
    "seconds", "fraction", "count", "score", "nps", "money", "per_day", "text", "time"
)  # fmt: skip
UNITS = (SECONDS, FRACTION, COUNT, SCORE, NPS, MONEY, PER_DAY, TEXT, TIME)
# Units whose changes are read in points (73 % -> 75 % is "+2 pt"): a relative change would mislead.
POINTS = frozenset({FRACTION, NPS})
# (unit size, next smaller unit size, their names): a duration is shown in its two largest units
_DURATION_STEPS = ((86400, 3600, "d", "h"), (3600, 60, "h", "m"), (60, 1, "m", "s"))


def format_duration(seconds: float | None) -> str:
    """A duration in its two largest units, rounded half up: `45s`, `1m 8s`, `42m`, `2h 13m`, `1d 3h`."""
    if seconds is None:
        return MISSING
    sign, left = ("-" if seconds < 0 else ""), abs(seconds)
    for big, small, big_name, small_name in _DURATION_STEPS:
        if left >= big - small / 2:  # 59.6 s rounds to "1m", not "60s"
            whole, rest = divmod(_half_up(left / small), big // small)
            return f"{sign}{whole}{big_name}" + (f" {rest}{small_name}" if rest else "")
    return f"{sign}{_half_up(left)}s"


def format_value(value: Any, unit: str) -> str:
    """A value in `unit` (seconds, fraction, nps, count, score, money, per_day) as text; None is `—`."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return " · ".join(f"{key} {format_value(item, unit)}" for key, item in value.items()) or MISSING
    if isinstance(value, list | tuple):
        return f"{len(value)} item" + ("" if len(value) == 1 else "s")
    if not isinstance(value, int | float):
        return str(value)
    if unit == "seconds":
        return format_duration(value)
    if unit == "fraction":
        return f"{_decimal(value * 100, 1)} %"
    if unit == "nps":
        return "0" if round(value, 1) == 0 else f"{'+' if value > 0 else '-'}{_decimal(abs(value), 1)}"
    if unit == "per_day":
        return f"{_decimal(value, 1)}/day"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "score":
        return _decimal(value, 2)
    return f"{value:,}" if isinstance(value, int) else _decimal(value, 1)


def format_change(change: dict[str, Any], unit: str) -> str:
    """A change between periods: `▼ 30m (-25 %)`, `▲ 2.0 pt` for rates and NPS, `=` when equal."""
    absolute = change.get("absolute")
    if absolute is None:
        return MISSING
    if change.get("direction") == "same":
        return "="
    arrow = "▲" if absolute > 0 else "▼"
    if unit in POINTS:
        points = _decimal(abs(absolute) * (100 if unit == FRACTION else 1), 1)
        return f"{arrow} {'<0.1' if points == '0' else points} pt"
    text = f"{arrow} {format_value(abs(absolute), unit)}"
    relative = change.get("relative")
    if relative is not None:
        text += f" ({'+' if relative > 0 else '-'}{_decimal(abs(relative) * 100, 0)} %)"
    return text


# What a sentiment or topics result did not read: its key, what to call it, and whether the messages
# counted by `count` exclude it (sentiment: `count` is the scored) or include it (topics: all read).
NOT_READ = {"sentiment": ("unscored", "unscored", False), "topics": ("unread", "not read for topics", True)}


def not_read(metric: str, values: dict[str, Any], named: int = 3) -> str | None:
    """What a sentiment or topics result did not read, as "12 % unscored: 9 pl, 3 other": its share of
    the messages read, and per language the `named` most frequent, the rest as "other"; None when it
    read everything."""
    key, what, counted_in = NOT_READ[metric]
    unread = values.get(key) or 0
    total = (values.get("count") or 0) + (0 if counted_in else unread)
    if not unread or not total:
        return None
    ranked = [(row["language"], row["count"]) for row in values.get(f"{key}_languages") or []]
    parts = [f"{count} {lang}" for lang, count in ranked[:named]]
    rest = sum(count for _, count in ranked[named:])
    if rest:
        parts.append(f"{rest} other")
    return f"{format_value(unread / total, 'fraction')} {what}: {', '.join(parts)}"


def meets_benchmark(value: Any, target: Any, better: str | None) -> bool | None:
    """True when the value is at least as good as the benchmark, False when worse, None when unknowable."""
    if not isinstance(value, int | float) or not isinstance(target, int | float) or better is None:
        return None
    return value <= target if better == "lower" else value >= target


def _half_up(x: float) -> int:
    # round() is half-to-even: 67.5 s would read "1m 8s" but 66.5 s "1m 6s"
    return math.floor(x + 0.5)


def _decimal(x: float, places: int) -> str:
    """x with at most `places` decimals, trailing zeros dropped: 73.5, 20, 4.25."""
    text = f"{x:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
