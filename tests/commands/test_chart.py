"""The digest chart: its 14-day series in local days (across the March clock change) and the PNG.

Paris switched to summer time on Sun 2026-03-29 at 02:00, so that day runs 28 23:00 -> 29 22:00 UTC.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.cadence import Cadence
from commands.chart import (
    COLOURS,
    DAYS,
    DailySeries,
    channel_colours,
    chart_title,
    daily_series,
    period_series,
    render_chart,
)
from storage.db import make_engine
from storage.ingest import Ingestor

PARIS = ZoneInfo("Europe/Paris")
LAST_DAY = date(2026, 3, 30)
NOW = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def message(eid, local, conv, channel, direction="inbound"):
    author = {"kind": "customer", "id": "@c"} if direction == "inbound" else {"kind": "agent", "id": "U1"}
    return {"id": eid, "type": "message", "at": local, "conversation_id": conv, "channel": channel,
            "direction": direction, "author": author, "text": "hi"}  # fmt: skip


EVENTS = [
    message("e0", "2026-03-16T12:00:00+01:00", "c0", "twitter"),  # the day before the 14 days
    message("e1", "2026-03-28T23:59:00+01:00", "c4", "facebook"),  # Sat 28
    message("e2", "2026-03-29T00:30:00+01:00", "c1", "twitter"),  # Sun 29, winter time
    message("e3", "2026-03-29T00:40:00+01:00", "c1", "twitter", "outbound"),  # FRT 600
    message("e4", "2026-03-29T23:30:00+02:00", "c2", "twitter"),  # Sun 29, summer time (21:30 UTC)
    message("e5", "2026-03-29T23:50:00+02:00", "c2", "twitter", "outbound"),  # FRT 1200
    message("e6", "2026-03-30T00:30:00+02:00", "c3", "facebook"),  # Mon 30 (29 22:30 UTC)
    message("e7", "2026-03-30T01:30:00+02:00", "c3", "facebook", "outbound"),  # FRT 3600
    message("e8", "2026-03-30T10:00:00+02:00", "c5", "facebook"),
    message("e9", "2026-03-30T10:10:00+02:00", "c5", "facebook", "outbound"),  # FRT 600
]


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(EVENTS, 1)])
    assert not result.rejected, result.rejected
    yield engine
    engine.dispose()


def series_of(engine, settings, channels=()):
    with engine.connect() as conn:
        return daily_series(conn, settings, last_day=LAST_DAY, tz=PARIS, channels=channels, now=NOW)


def test_series_counts_conversations_per_local_day_and_channel_across_the_clock_change(engine, settings):
    series = series_of(engine, settings)
    assert series.days[0] == date(2026, 3, 17) and series.days[-1] == LAST_DAY and len(series.days) == DAYS
    # index 11 = Sat 28, 12 = Sun 29, 13 = Mon 30; c0 on the 16th is outside the 14 days
    twitter = [0] * 12 + [2, 0]  # c1 (00:30 winter) and c2 (23:30 summer) both on Sun 29
    facebook = [0] * 11 + [1, 0, 2]  # c4 at 23:59 on Sat 28; c3 at 00:30 summer time is Mon 30
    assert series.volume == {"facebook": facebook, "twitter": twitter}
    assert list(series.volume) == ["facebook", "twitter"]  # busiest first: 3 against 2


def test_series_median_first_response_per_local_day(engine, settings):
    series = series_of(engine, settings)
    # Sun 29: median of 600 and 1200 = 900; Mon 30: median of 3600 and 600 = 2100; no replies before
    assert series.frt_median == [None] * 12 + [900, 2100]


def test_series_keeps_to_the_asked_channels(engine, settings):
    series = series_of(engine, settings, channels=("twitter",))
    assert list(series.volume) == ["twitter"]
    assert series.frt_median[-2:] == [900, None]


def png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])  # IHDR width and height


def test_chart_is_a_png_sized_for_slack(engine, settings):
    png = render_chart(series_of(engine, settings), title="Last 14 days to Mon 30 Mar")
    assert png.startswith(PNG_MAGIC)
    assert png_size(png) == (1000, 560)
    assert 10_000 < len(png) < 500_000


def test_chart_of_days_without_data_still_renders():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(DAYS)]
    png = render_chart(DailySeries(days, {}, [None] * DAYS))
    assert png.startswith(PNG_MAGIC) and png_size(png) == (1000, 560)


def test_each_channel_gets_a_colour_of_its_own_known_or_not():
    colours = channel_colours(["facebook", "discord", "twitter", "mastodon"])
    assert colours["facebook"] == COLOURS["facebook"] and colours["twitter"] == COLOURS["twitter"]
    assert len(set(colours.values())) == 4
    assert colours["discord"] not in COLOURS.values() and colours["mastodon"] not in COLOURS.values()


def test_a_weekly_series_counts_the_12_local_weeks_ending_with_the_digest_s_week(engine, settings):
    last = Cadence("weekly", 0).covered(date(2026, 3, 30), PARIS)  # Mon 23 - Sun 29 Mar, the clock change
    with engine.connect() as conn:
        series = period_series(conn, settings, last=last, channels=(), now=NOW)
    assert (series.unit, series.days[0], series.days[-1]) == ("week", date(2026, 1, 5), date(2026, 3, 23))
    # week of 16 Mar: c0; week of 23 Mar: c4 (Sat 28), c1 and c2 (Sun 29); Mon 30 is the next week
    assert series.volume == {"twitter": [0] * 10 + [1, 2], "facebook": [0] * 11 + [1]}
    # week of 23 Mar: median of c1's 600 and c2's 1200 = 900; c0 was never answered
    assert series.frt_median == [None] * 11 + [900]
    png = render_chart(series, title=chart_title(date(2026, 3, 29), "week"))
    assert png.startswith(PNG_MAGIC) and png_size(png) == (1000, 560)


def test_a_monthly_series_counts_12_calendar_months(engine, settings):
    last = Cadence("monthly", 1).covered(date(2026, 4, 1), PARIS)  # March 2026
    with engine.connect() as conn:
        series = period_series(conn, settings, last=last, channels=(), now=NOW)
    assert (series.days[0], series.days[-1], len(series.days)) == (date(2025, 4, 1), date(2026, 3, 1), 12)
    # March: three per channel (a tie: by name); FRT median of 600, 1200, 3600, 600 = (600 + 1200) / 2
    assert series.volume == {"facebook": [0] * 11 + [3], "twitter": [0] * 11 + [3]}
    assert series.frt_median == [None] * 11 + [900]


def test_chart_titles_name_what_they_show():
    assert chart_title(date(2026, 11, 19)) == "Last 14 days to Thu 19 Nov"
    assert chart_title(date(2026, 12, 6), "week") == "Last 12 weeks to Sun 6 Dec"
    assert chart_title(date(2026, 11, 30), "month") == "Last 12 months to Nov 2026"
