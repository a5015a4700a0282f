"""The words of a `/kpi why` answer, said before its tables: "FRT rose 1h 10m: 45m from twitter getting
slower, 20m from more traffic on viber (slowest channel), 5m other." Then one sentence for what moved
most within the channels, and the load. Plain text: the renderings escape it for where it goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.format import FRACTION, SECONDS, format_duration
from commands.kpis import KPIS
from commands.why_items import OFF_HOURS, UNASSIGNED, UNTAGGED

if TYPE_CHECKING:
    from commands.why import Row, Split, Why

NAMED = 3  # parts named before "other"
SMALL = 0.05  # a part under this share of the change is left in "other"


def amount(value: float, unit: str) -> str:
    """A part of a change, without its sign: `45m`, `4.2 pt`, `0.12`."""
    if unit == SECONDS:
        return format_duration(abs(value))
    if unit == FRACTION:
        points = abs(value) * 100
        return f"{points:.1f} pt" if points >= 0.095 else f"{points:.2f} pt"
    return f"{abs(value):.2f}"


def summary(why: Why) -> str:
    """The answer in words: the change and its largest parts, what moved within the channels, the load."""
    spec = KPIS[why.metric]
    name = spec.name
    if why.change is None:
        missing = "this period" if why.current is None else "the previous period"
        return f"{name}: nothing to compare, no data in {missing}."
    if why.change == 0 or why.by_channel is None:
        return f"{name} did not change ({amount(why.current or 0, why.unit)} in both periods)."
    verb = "rose" if why.change > 0 else "fell"
    parts = _channel_parts(why.by_channel, why.unit, spec.better)
    words = f"{name} {verb} {amount(why.change, why.unit)}: {_listed(parts, why.change, why.unit)}."
    within = [said for by, split in why.within.items() if (said := _within(by, split, why.change, why.unit))]
    if within:
        words += " Within channels: " + "; ".join(within) + "."
    before, now = why.load.get("all", (None, None))
    if before is not None and now is not None:
        words += f" Load: {before:.1f} → {now:.1f} conversations per active agent-hour."
    return words


def _channel_parts(split: Split, unit: str, better: str | None) -> list[tuple[float, str]]:
    """(part, what it is) for each channel's performance and mix, in words."""
    means = {row.key: row.previous_mean for row in split.rows if row.previous_mean is not None}
    up, down = ("slower", "faster") if unit == SECONDS else ("higher", "lower")
    extreme = max(means, key=means.__getitem__) if means else None
    parts = []
    for row in split.rows:
        if row.performance:
            parts.append((row.performance, f"{row.key} getting {up if row.performance > 0 else down}"))
        if row.mix:
            more = "more" if row.share > row.previous_share else "less"
            slowest = "slowest" if unit == SECONDS else "highest"
            where = f"{slowest} channel" if row.key == extreme else None
            parts.append((row.mix, f"{more} traffic on {row.key}" + (f" ({where})" if where else "")))
    return parts


def _listed(parts: list[tuple[float, str]], change: float, unit: str) -> str:
    """The largest parts by size, then the rest as "other"; a part against the change says "offset"."""
    ranked = sorted(parts, key=lambda part: -abs(part[0]))
    named = [part for part in ranked[:NAMED] if abs(part[0]) >= SMALL * abs(change)]
    said = [_part(value, f"from {what}", change, unit) for value, what in named]
    other = change - sum(value for value, _ in named)
    if abs(other) >= SMALL * abs(change) or not said:
        said.append(_part(other, "other", change, unit))
    return ", ".join(said)


def _part(value: float, what: str, change: float, unit: str) -> str:
    """`45m from X`, or against the change `offset 10m from X`."""
    said = f"{amount(value, unit)} {what}"
    return said if (value > 0) == (change > 0) else f"offset {said}"


def _within(by: str, split: Split, change: float, unit: str) -> str | None:
    """The group that moved most within the channels, if it weighs: "agent U7 slower (20m of it)",
    "off-hours arrivals 22 % → 35 % (offsets 12m)". Items without an agent or a topic are not named."""
    rows = [
        row
        for row in split.rows
        if abs(row.part) >= SMALL * abs(change) and row.key not in (UNASSIGNED, UNTAGGED)
    ]
    if not rows:
        return None
    row: Row = rows[0]
    size = amount(row.part, unit)
    adds = f"{size} of it" if (row.part > 0) == (change > 0) else f"offsets {size}"
    if abs(row.mix) > abs(row.performance):
        if by == "hours":
            off = next(r for r in split.rows if r.key == OFF_HOURS) if row.key != OFF_HOURS else row
            shares = f"{off.previous_share * 100:.0f} % → {off.share * 100:.0f} %"
            return f"off-hours arrivals {shares} ({adds})"
        more = "more" if row.share > row.previous_share else "less"
        if by == "agent":
            return f"agent {row.key} handling {more} ({adds})"
        return f"{more} conversations about {row.key} ({adds})"
    up, down = ("slower", "faster") if unit == SECONDS else ("higher", "lower")
    return f"{_named(by, row.key)} {up if row.performance > 0 else down} ({adds})"


def _named(by: str, key: str) -> str:
    return {"hours": f"arrivals in {key}", "agent": f"agent {key}", "topic": f"conversations about {key}"}[by]
