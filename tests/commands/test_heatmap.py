"""The hour x weekday heatmap (commands/heatmap.py): grids worked out by hand from events ingested through
the real core, across both of 2026's clock changes in Paris and in a half-hour zone; the FRT median per
hour; what the grammar accepts; the text, JSON and PNG renderings."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from commands.errors import UsageError
from commands.heatmap import Heatmap, compute_heatmap, local_hours, parse_heatmap
from commands.heatmap_chart import render_heatmap_png
from commands.kpis.volume import volume
from commands.query import Query
from commands.render_heatmap import heatmap_grid, heatmap_message, heatmap_text, summary_lines
from tests.storage.builders import inbound, reply

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def when(event: dict, moment: datetime) -> dict:
    return {**event, "at": moment.isoformat().replace("+00:00", "Z")}


def grid(cells: dict[tuple[int, int], int]) -> list[list[int]]:
    expected = [[0] * 24 for _ in range(7)]
    for (day, hour), n in cells.items():
        expected[day][hour] = n
    return expected


@pytest.fixture
def paris(settings):
    return settings.model_copy(update={"tz": "Europe/Paris"})


@pytest.fixture
def heatmap(engine):
    def heatmap(text: str, settings, now: datetime = NOW) -> Heatmap:
        request = parse_heatmap(text, settings, now)
        with engine.connect() as conn:
            return compute_heatmap(conn, request, settings, now)

    return heatmap


def test_spring_clock_change_puts_the_same_utc_hour_in_different_local_hours(feed, heatmap, paris):
    # Paris goes from +1 to +2 at 2026-03-29 01:00 UTC (Sunday): local 02:00-03:00 never happens that day.
    feed(
        when(inbound("sat", 0, conv="c1"), utc(2026, 3, 28, 1, 30)),  # 02:30 +1 -> Sat 2
        when(inbound("sun-before", 0, conv="c2"), utc(2026, 3, 29, 0, 30)),  # 01:30 +1 -> Sun 1
        when(inbound("sun-after", 0, conv="c3"), utc(2026, 3, 29, 1, 30)),  # 03:30 +2 -> Sun 3
        when(inbound("sun-edge", 0, conv="c4"), utc(2026, 3, 29, 1, 0)),  # 03:00 +2 -> Sun 3
        when(inbound("mon", 0, conv="c5"), utc(2026, 3, 30, 1, 30)),  # 03:30 +2 -> Mon 3
    )
    answer = heatmap("heatmap 2026-03-28..2026-03-30", paris)

    assert [list(row) for row in answer.counts] == grid({(SAT, 2): 1, (SUN, 1): 1, (SUN, 3): 2, (MON, 3): 1})
    assert answer.total == 5 and answer.by_hour[3] == 3 and answer.by_weekday[SUN] == 3


def test_autumn_clock_change_counts_the_hour_lived_twice_in_one_cell(feed, heatmap, paris):
    # Paris goes from +2 to +1 at 2026-10-25 01:00 UTC (Sunday): local 02:00-03:00 happens twice.
    feed(
        when(inbound("fri-late", 0, conv="c0"), utc(2026, 10, 23, 21, 59)),  # Fri 23:59 +2: before the period
        when(inbound("sat-first", 0, conv="c1"), utc(2026, 10, 23, 22, 0)),  # Sat 00:00 +2 -> Sat 0
        when(inbound("sat", 0, conv="c2"), utc(2026, 10, 24, 1, 30)),  # 03:30 +2 -> Sat 3
        when(inbound("sun-first", 0, conv="c3"), utc(2026, 10, 25, 0, 30)),  # 02:30 +2 -> Sun 2
        when(inbound("sun-again", 0, conv="c4"), utc(2026, 10, 25, 1, 30)),  # 02:30 +1 -> Sun 2
        when(inbound("mon", 0, conv="c5"), utc(2026, 10, 26, 1, 30)),  # 02:30 +1 -> Mon 2
        when(inbound("tue", 0, conv="c6"), utc(2026, 10, 26, 23, 0)),  # Tue 00:00 +1: after the period
    )
    answer = heatmap("heatmap 2026-10-24..2026-10-26", paris)

    assert [list(row) for row in answer.counts] == grid({(SAT, 0): 1, (SAT, 3): 1, (SUN, 2): 2, (MON, 2): 1})
    # read in UTC, the same messages fall elsewhere: Fri 21 and 22 are before the period, Mon 23 inside
    in_utc = heatmap("heatmap 2026-10-24..2026-10-26", paris.model_copy(update={"tz": "UTC"}))
    expected = grid({(SAT, 1): 1, (SUN, 0): 1, (SUN, 1): 1, (MON, 1): 1, (MON, 23): 1})
    assert [list(row) for row in in_utc.counts] == expected


def test_a_half_hour_zone_splits_a_utc_hour_at_its_local_hour(feed, heatmap, settings):
    # Asia/Kolkata is +5:30: 03:29 UTC is 08:59, 03:31 UTC is 09:01 (Monday 2026-11-16).
    feed(
        when(inbound("a", 0, conv="c1"), utc(2026, 11, 16, 3, 29)),
        when(inbound("b", 0, conv="c2"), utc(2026, 11, 16, 3, 31)),
        when(inbound("c", 0, conv="c3"), utc(2026, 11, 16, 4, 29)),  # 09:59 -> Mon 9
    )
    answer = heatmap("heatmap 2026-11-16", settings.model_copy(update={"tz": "Asia/Kolkata"}))

    assert [list(row) for row in answer.counts] == grid({(MON, 8): 1, (MON, 9): 2})


def test_a_quarter_hour_zone_places_each_utc_quarter_in_its_local_hour(feed, heatmap, settings):
    # Asia/Kathmandu is +5:45: 03:14 UTC is 08:59, 03:15 UTC is 09:00 (Monday 2026-11-16); the volume
    # heatmap reads UTC quarter hours, each of which lies in one local hour
    feed(
        when(inbound("a", 0, conv="c1"), utc(2026, 11, 16, 3, 14, 59)),
        when(inbound("b", 0, conv="c2"), utc(2026, 11, 16, 3, 15)),
        when(inbound("c", 0, conv="c3"), utc(2026, 11, 16, 4, 14)),  # 09:59 -> Mon 9
        when(inbound("d", 0, conv="c4"), utc(2026, 11, 16, 4, 15)),  # 10:00 -> Mon 10
    )
    answer = heatmap("heatmap 2026-11-16", settings.model_copy(update={"tz": "Asia/Kathmandu"}))

    assert [list(row) for row in answer.counts] == grid({(MON, 8): 1, (MON, 9): 2, (MON, 10): 1})


def test_the_volume_heatmap_is_kept_in_the_kpi_cache_and_follows_a_late_message(
    feed, heatmap, settings, engine
):
    import json

    from sqlalchemy import text

    feed(
        when(inbound("a", 0, conv="c1"), utc(2026, 11, 16, 10, 5)),
        when(inbound("b", 0, conv="c2"), utc(2026, 11, 17, 22, 50)),
    )
    first = heatmap("heatmap 2026-11-16..2026-11-17", settings)
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT day, payload FROM kpi_slot WHERE measure = 'inbound_quarters' AND channel = ''")
        ).all()
    feed(when(inbound("late", 0, conv="c3"), utc(2026, 11, 16, 10, 40)))  # a day already kept
    after = heatmap("heatmap 2026-11-16..2026-11-17", settings)

    assert [list(row) for row in first.counts] == grid({(MON, 10): 1, (TUE, 22): 1})
    quarters = {str(day)[:10]: json.loads(payload) for day, payload in kept}
    assert quarters["2026-11-16"] == {"2026-11-16 10:00": 1} and quarters["2026-11-17"] == {
        "2026-11-17 22:45": 1
    }
    assert [list(row) for row in after.counts] == grid({(MON, 10): 2, (TUE, 22): 1})


def test_local_hours_cut_a_period_where_the_local_hour_changes():
    from zoneinfo import ZoneInfo

    # 2026-03-29 00:20 to 02:10 UTC in Paris: Sun 01:20-02:00 +1, then 03:00-04:00 +2, then 04:00-04:10 +2
    ranges = local_hours(utc(2026, 3, 29, 0, 20), utc(2026, 3, 29, 2, 10), ZoneInfo("Europe/Paris"))

    assert ranges == [
        (SUN * 24 + 1, utc(2026, 3, 29, 0, 20), utc(2026, 3, 29, 1, 0)),
        (SUN * 24 + 3, utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0)),
        (SUN * 24 + 4, utc(2026, 3, 29, 2, 0), utc(2026, 3, 29, 2, 10)),
    ]


def test_volume_counts_the_volume_kpis_inbound_messages_on_the_asked_channels(
    feed, heatmap, settings, engine
):
    feed(
        when(inbound("a1", 0, conv="tw-1"), utc(2026, 11, 16, 10, 5)),  # Mon 10
        when(inbound("a2", 0, conv="tw-1"), utc(2026, 11, 16, 10, 55)),  # Mon 10
        when(reply("r1", 0, conv="tw-1"), utc(2026, 11, 16, 10, 58)),  # outbound: not counted
        when(reply("note", 0, conv="tw-1", private=True), utc(2026, 11, 16, 11, 0)),  # private: not counted
        when(inbound("b1", 0, conv="fb-1", channel="facebook"), utc(2026, 11, 17, 3, 0)),  # Tue 3
    )
    every = heatmap("heatmap 2026-11-16..2026-11-17", settings)
    twitter = heatmap("heatmap twitter 2026-11-16..2026-11-17", settings)

    assert [list(row) for row in every.counts] == grid({(MON, 10): 2, (TUE, 3): 1})
    assert [list(row) for row in twitter.counts] == grid({(MON, 10): 2})
    assert every.values == every.counts
    kpi = Query(utc(2026, 11, 16), utc(2026, 11, 18), (), NOW, settings)
    with engine.connect() as conn:
        assert volume(conn, kpi)["inbound"] == every.total == 3
    assert summary_lines(every) == [
        "busiest: Mon 10:00–11:00, 2 messages",
        "busiest day: Monday, 2 messages · busiest hour: 10:00–11:00, 2 messages",
        "total: 3 messages",
    ]


def test_frt_takes_the_median_of_the_first_responses_sent_in_each_local_hour(feed, heatmap, settings):
    mon = (2026, 11, 16)
    feed(
        # answered Mon 10:xx after 5m, 10m and 30m -> median 10m; a second reply is not a first response
        when(inbound("a", 0, conv="a"), utc(*mon, 10, 0)),
        when(reply("a-r", 0, conv="a"), utc(*mon, 10, 5)),
        when(reply("a-r2", 0, conv="a"), utc(*mon, 11, 10)),
        when(inbound("b", 0, conv="b"), utc(*mon, 9, 50)),
        when(reply("b-r", 0, conv="b"), utc(*mon, 10, 0)),
        when(inbound("c", 0, conv="c"), utc(*mon, 10, 20)),
        when(reply("c-bot", 0, conv="c", kind="bot", agent="B1"), utc(*mon, 10, 21)),  # a bot: not a response
        when(reply("c-r", 0, conv="c"), utc(*mon, 10, 50)),
        # opened Sunday 23:50, answered Monday 00:10: counted where the reply happened, Mon 0, 20m
        when(inbound("d", 0, conv="d"), utc(2026, 11, 15, 23, 50)),
        when(reply("d-r", 0, conv="d"), utc(*mon, 0, 10)),
    )
    answer = heatmap("heatmap frt 2026-11-16", settings)

    assert [list(row) for row in answer.counts] == grid({(MON, 10): 3, (MON, 0): 1})
    assert answer.values[MON][10] == 600.0 and answer.values[MON][0] == 1200.0
    assert answer.values[MON][11] is None and answer.values[TUE][10] is None
    assert summary_lines(answer)[:2] == [
        "slowest: Mon 00:00–01:00, median 20m (1 first response)",
        "busiest: Mon 10:00–11:00, 3 first responses (median 10m)",
    ]
    data = answer.to_json()
    assert data["grid"][MON][10] == 600.0 and data["grid"][MON][11] is None
    assert (
        data["counts"][MON][10] == 3 and len(data["grid"]) == 7 and {len(row) for row in data["grid"]} == {24}
    )
    assert data["tz"] == "UTC" and data["metric"] == "frt" and data["channels"] == []


def test_an_empty_period_says_so_and_draws_no_grid(heatmap, settings):
    answer = heatmap("heatmap 7d", settings)

    assert answer.total == 0 and answer.busiest() is None
    assert summary_lines(answer) == ["no inbound customer messages in this period"]
    assert heatmap_text(answer).endswith("\n\nno inbound customer messages in this period")
    assert "Mon" not in heatmap_text(answer)
    frt = heatmap("heatmap frt 7d", settings)
    assert summary_lines(frt) == ["no first responses in this period"] and frt.to_json()["grid"][0][0] is None


def test_the_text_grid_shades_each_hour_in_quarters_of_the_busiest(settings):
    period = parse_heatmap("heatmap 7d", settings, NOW).period
    counts = grid({(MON, 10): 4, (MON, 11): 1, (TUE, 3): 2})
    answer = Heatmap("volume", (), period, "UTC", tuple(map(tuple, counts)), tuple(map(tuple, counts)))

    lines = heatmap_grid(answer).splitlines()
    assert lines[0] == "    0     3     6     9     12    15    18    21"
    # 4 of 4 -> █ (top quarter), 1 -> ░ (first quarter), 2 -> ▒ (second); empty hours read " ·"
    assert lines[1] == "Mon " + " ·" * 10 + "██░░" + " ·" * 12 + "       5"
    assert lines[2] == "Tue " + " ·" * 3 + "▒▒" + " ·" * 20 + "       2"
    assert lines[-1] == "· none  ░▒▓█ quarters up to 4 messages in the hour (whole period)"


def test_parse_reads_the_kpi_grammar_with_a_30_day_default(settings):
    plain = parse_heatmap("heatmap", settings, NOW)
    asked = parse_heatmap("heatmap FRT twitter 7d public", settings, NOW)

    assert (plain.metric, plain.channels, plain.period_word, plain.public) == ("volume", (), "30d", False)
    assert (plain.period.end - plain.period.start).days == 30
    assert (asked.metric, asked.channels, asked.period_word, asked.public) == (
        "frt",
        ("twitter",),
        "7d",
        True,
    )
    assert parse_heatmap("heatmap help", settings, NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "heatmap csat",
            "a heatmap shows `volume` (inbound messages) or `frt` (median first response), not `csat`",
        ),
        ("heatmap twiter", "unknown channel `twiter` — did you mean `twitter`?"),
        ("heatmap frt by agent", "a heatmap has no breakdown: ask without `by agent`"),
        ("heatmap volume bh", "business hours are not configured"),
    ],
)
def test_parse_refuses_what_a_heatmap_cannot_show(settings, text, message):
    with pytest.raises(UsageError) as refused:
        parse_heatmap(text, settings, NOW)

    assert refused.value.message.startswith(message)


def test_the_png_is_a_real_png_of_the_chart_size(settings):
    period = parse_heatmap("heatmap frt 7d", settings, NOW).period
    values = [[None] * 24 for _ in range(7)]
    values[MON][10] = 600.0
    counts = grid({(MON, 10): 3})
    answer = Heatmap(
        "frt", ("twitter",), period, "Europe/Paris", tuple(map(tuple, counts)), tuple(map(tuple, values))
    )

    png = render_heatmap_png(answer)

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # IHDR: width and height, big-endian, after the signature and the chunk's length and type
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1250, 550)
    assert np.frombuffer(png[:4], dtype=np.uint8)[0] == 0x89


def test_channel_names_from_the_settings_are_inert_in_slack_and_in_the_png(settings):
    period = parse_heatmap("heatmap 7d", settings, NOW).period
    counts = tuple(map(tuple, grid({(MON, 10): 1})))
    answer = Heatmap("volume", ("<!here>&$\\nope{$",), period, "UTC", counts, counts)

    scope = heatmap_message(answer)["blocks"][1]["elements"][0]["text"]

    assert scope == "last 7 days · &lt;!here&gt;&amp;$\\nope{$ · local hours of UTC"
    # drawn as text: read as mathtext, `$\\nope{$` would stop the drawing with a ValueError
    assert render_heatmap_png(answer)[:8] == b"\x89PNG\r\n\x1a\n"


def _by_minute(start: datetime, end: datetime, tz) -> list[tuple[int, datetime, datetime]]:
    """What `local_hours` must give, worked out another way: every minute's local weekday and hour, runs
    of the same cell joined (slow, but a different path from the code's day and hour steps)."""
    from datetime import timedelta

    ranges: list[tuple[int, datetime, datetime]] = []
    moment = start
    while moment < end:
        local = moment.astimezone(tz)
        cell = local.weekday() * 24 + local.hour
        following = min(moment.replace(second=0, microsecond=0) + timedelta(minutes=1), end)
        if ranges and ranges[-1][0] == cell:
            ranges[-1] = (cell, ranges[-1][1], following)
        else:
            ranges.append((cell, moment, following))
        moment = following
    return ranges


@settings_hypothesis(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(
        [
            "UTC",
            "Europe/Paris",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "America/Santiago",
        ]
    ),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31)),
    minutes=st.integers(min_value=0, max_value=4 * 24 * 60),
    at_midnight=st.booleans(),
)
def test_local_hours_match_the_local_hour_of_every_minute(zone, start, minutes, at_midnight):
    # days of 24 hours on one offset are cut in one step, clock-change days hour by hour: both must give
    # what the local clock shows minute by minute (Lord Howe moves by half an hour, Santiago at midnight)
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from storage.days import midnight

    tz = ZoneInfo(zone)
    begin = start.replace(tzinfo=UTC)
    if at_midnight:
        begin = midnight(begin.astimezone(tz).date(), tz)
    end = begin + timedelta(minutes=minutes)

    assert local_hours(begin, end, tz) == _by_minute(begin, end, tz)
