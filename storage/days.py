"""Where a day starts: the one rule for midnights, in UTC or in a workspace's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo


def midnight(day: date, tz: tzinfo = UTC) -> datetime:
    """The instant (aware UTC) `day` starts in `tz`. Where a clock change skips midnight (fold=0) this is
    the change itself, the day's real start."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
