"""Terminal text of KPI results and the scorecard, and the shared number formats."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from commands.format import format_change, format_duration, format_value, meets_benchmark
from commands.periods import Period
from commands.render_blocks import kpi_message
from commands.render_text import to_text
from commands.result import KpiResult, Scorecard

WEEK = Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC), unit="day")


def frt_result(values: dict, previous: dict, **extra) -> KpiResult:
    return KpiResult("frt", ("twitter",), False, WEEK, WEEK.previous(), values, previous, **extra)


def squeeze(text: str) -> str:
    """The text with runs of spaces collapsed, so assertions do not depend on column widths."""
    return re.sub(r"[ \t]+", " ", text)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0, "0s"),
        (45, "45s"),
        (59.6, "1m"),  # rounds into the next unit rather than "60s"
        (67.5, "1m 8s"),  # half up: the article's 67.5 s mean
        (2520, "42m"),
        (7980, "2h 13m"),
        (3599.7, "1h"),
        (97200, "1d 3h"),
        (-90, "-1m 30s"),
    ],
)
def test_durations_read_in_their_two_largest_units(seconds, shown):
    assert format_duration(seconds) == shown


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.735, "fraction", "73.5 %"),
        (0.5, "fraction", "50 %"),
        (20.0, "nps", "+20"),
        (-5.0, "nps", "-5"),
        (0.0, "nps", "0"),
        (1234, "count", "1,234"),
        (12.34, "per_day", "12.3/day"),
        (3, "money", "3.00"),
        (8280.0, "seconds", "2h 18m"),
        (None, "fraction", "—"),
        ({"facebook": 0.6, "twitter": 0.25}, "fraction", "facebook 60 % · twitter 25 %"),
    ],
)
def test_values_read_in_their_unit(value, unit, shown):
    assert format_value(value, unit) == shown


def test_changes_read_as_arrows_with_points_for_rates():
    assert format_change({"absolute": -1800.0, "relative": -0.25, "direction": "down"}, "seconds") == (
        "▼ 30m (-25 %)"
    )
    assert format_change({"absolute": 0.05, "relative": None, "direction": "up"}, "fraction") == "▲ 5 pt"
    assert format_change({"absolute": 0, "relative": 0.0, "direction": "same"}, "count") == "="
    assert format_change({"absolute": None}, "count") == "—"
    # 6.64 % -> 6.68 %: a real rise too small for one decimal still shows which way it went
    assert format_change({"absolute": 0.0004, "relative": None, "direction": "up"}, "fraction") == "▲ <0.1 pt"


def test_benchmark_is_met_when_at_least_as_good():
    assert meets_benchmark(5400.0, 10800.0, "lower") is True
    assert meets_benchmark(0.4, 0.5, "higher") is False
    assert meets_benchmark(None, 0.5, "higher") is None


def test_kpi_table_shows_value_previous_change_and_benchmark():
    # mean 1h 30m vs 2h: down 30 min (-25 %), within the 3 h twitter benchmark.
    result = frt_result(
        {
            "mean": 5400.0,
            "median": 5400.0,
            "p90": 8280.0,
            "count": 2,
            "still_waiting": 1,
            "oldest_waiting": 3600.0,
        },
        {
            "mean": 7200.0,
            "median": 7200.0,
            "p90": 7200.0,
            "count": 1,
            "still_waiting": 0,
            "oldest_waiting": None,
        },
        benchmark={"mean": 10800.0},
    )
    text = squeeze(to_text(result))
    assert "First response time — twitter — 2026-11-02 – 2026-11-08" in text
    assert "mean 1h 30m 2h ▼ 30m (-25 %) 3h ✅" in text
    assert "p90 2h 18m 2h ▲ 18m (+15 %)" in text
    assert "still waiting 1 0 ▲ 1" in text
    assert "oldest waiting 1h — —" in text


def test_kpi_without_data_shows_its_note_and_no_zero_duration():
    empty = {
        "mean": None,
        "median": None,
        "p90": None,
        "count": 0,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    result = frt_result(empty, dict(empty), notes=["no first responses in this period"])
    text = to_text(result)
    assert "no first responses in this period" in text
    assert "0s" not in text and "mean" not in text


def test_a_previous_period_without_data_shows_no_figure_and_no_change_on_any_row_anywhere():
    # The week before had no first response (mean None): its count 0 and still-waiting 0 are no real
    # zeros to compare with, so no row reads "▲ 2" against them, in the terminal, in Slack or in JSON.
    values = {
        "mean": 5400.0,
        "median": 5400.0,
        "p90": 8280.0,
        "count": 2,
        "still_waiting": 1,
        "oldest_waiting": 3600.0,
    }
    nothing = {
        "mean": None,
        "median": None,
        "p90": None,
        "count": 0,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    result = frt_result(values, nothing, benchmark={"mean": 10800.0})

    text = squeeze(to_text(result))
    assert "mean 1h 30m — — 3h ✅" in text
    assert "count 2 — —" in text
    assert "still waiting 1 — —" in text
    assert "▲" not in text and "▼" not in text

    slack = "\n".join(block["text"]["text"] for block in kpi_message(result)["blocks"] if "text" in block)
    assert "Previous period (2026-10-26 – 2026-11-01): no data" in slack
    assert "▲" not in slack and "▼" not in slack

    assert result.to_json()["previous"] == dict.fromkeys(nothing)


def test_a_previous_period_with_data_keeps_its_real_zeros():
    # A previous mean of 2 h is data: its still-waiting 0 is a real zero, and the rise to 1 shows.
    previous = {
        "mean": 7200.0,
        "median": 7200.0,
        "p90": 7200.0,
        "count": 1,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    values = {**previous, "still_waiting": 1, "oldest_waiting": 60.0}
    result = frt_result(values, previous)
    assert result.to_json()["previous"] == previous
    assert "still waiting 1 0 ▲ 1" in squeeze(to_text(result))


def test_breakdown_by_agent_names_each_agent_or_falls_back_to_the_id():
    values = {
        "mean": 900.0,
        "median": 900.0,
        "p90": 1140.0,
        "count": 2,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    rows = [
        {"key": "U01AGENT1", "name": "Maya", "values": {**values, "mean": 1200.0, "count": 1}},
        {"key": "U01AGENT9", "values": {**values, "mean": 600.0, "count": 1}},
    ]
    result = frt_result(values, values, by="agent", breakdown=rows)

    text = squeeze(to_text(result))
    assert "by agent" in text and " agent mean median" in text
    assert "Maya 20m" in text and "U01AGENT9 10m" in text
    assert "U01AGENT1" not in text

    slack = kpi_message(result)["blocks"][-2]["text"]["text"]
    assert slack.splitlines() == [
        "*By agent*",
        "```",
        "Agent      Mean  Count",
        "Maya       20m   1",
        "U01AGENT9  10m   1",
        "```",
    ]

    assert [(row["key"], row["name"]) for row in result.to_json()["breakdown"]] == [
        ("U01AGENT1", "Maya"),
        ("U01AGENT9", "U01AGENT9"),
    ]


def test_breakdown_rows_are_listed_under_the_kpi():
    values = {
        "mean": 900.0,
        "median": 900.0,
        "p90": 1140.0,
        "count": 2,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    rows = [
        {"key": "facebook", "values": {**values, "mean": 1200.0, "count": 1}},
        {"key": "twitter", "values": {**values, "mean": 600.0, "count": 1}},
    ]
    result = frt_result(values, values, by="channel", breakdown=rows)
    text = squeeze(to_text(result))
    assert "by channel" in text
    assert "facebook 20m" in text and "twitter 10m" in text


def test_scorecard_shows_each_headline_or_the_reason_it_has_none():
    frt = frt_result(
        {
            "mean": 5400.0,
            "median": 5400.0,
            "p90": 8280.0,
            "count": 2,
            "still_waiting": 3,
            "oldest_waiting": 18720.0,
        },
        {
            "mean": 7200.0,
            "median": 7200.0,
            "p90": 7200.0,
            "count": 1,
            "still_waiting": 0,
            "oldest_waiting": None,
        },
        benchmark={"mean": 7200.0},
    )
    csat = KpiResult(
        "csat",
        (),
        False,
        WEEK,
        WEEK.previous(),
        {"score": None, "responses": 0},
        {"score": 0.75, "responses": 4},
        benchmark={"score": 0.70},
        notes=["no CSAT answers in this period"],
    )
    text = squeeze(to_text(Scorecard((), WEEK, WEEK.previous(), [frt, csat]), width=140))
    assert "Scorecard — all channels — 2026-11-02 – 2026-11-08" in text
    assert "First response time 1h 30m 2h ▼ 30m (-25 %) 2h ✅" in text
    assert "CSAT no CSAT answers in this period 75 %" in text
    assert "still waiting for a first response: 3, oldest 5h 12m" in text


def test_values_made_only_of_records_show_just_their_table():
    rows = [
        {"agent": "U1", "replies": 12, "frt_mean": 600.0},
        {"agent": "U2", "replies": 3, "frt_mean": None},
    ]
    result = KpiResult("agents", (), False, WEEK, WEEK.previous(), {"rows": rows}, {"rows": []})
    text = squeeze(to_text(result))
    assert "U1 12 10m" in text and "U2 3 —" in text
    assert "previous" not in text  # no empty value/previous/change table above the records
    assert text.splitlines()[2].strip() == "agents"  # the table's title says what its rows are
    assert "rows" not in text


def test_a_mapping_shows_its_first_five_entries_and_how_many_more():
    from commands.format import COUNT
    from commands.kpis.spec import rows
    from commands.render_table import show

    hops = {f"a>{name}": 10 - n for n, name in enumerate("bcdefgh")}
    assert show(hops, rows(count=COUNT)) == "a>b 10 · a>c 9 · a>d 8 · a>e 7 · a>f 6 · +2 more"
    assert show({"twitter>whatsapp": 1}, rows(count=COUNT)) == "twitter>whatsapp 1"
    assert show({}, rows(count=COUNT)) == "—"
