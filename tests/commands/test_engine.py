"""The engine: periods and previous periods, benchmarks, notes, breakdowns, scorecard and errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from pydantic import ValidationError
from sqlalchemy import event

from commands.engine import SCORECARD, change, compute, local_days
from commands.errors import UsageError
from commands.kpis import KPIS
from commands.parse import parse_command
from commands.render_blocks import kpi_message
from commands.render_text import to_text
from commands.result import KpiResult, Scorecard
from storage.settings import BusinessHours, Settings
from tests.storage.builders import T0, inbound, reply

NOW = datetime(2026, 11, 9, tzinfo=UTC)  # Monday 00:00 UTC


def minutes(moment: datetime) -> float:
    """The builders' time argument (minutes after T0) for an absolute moment."""
    return (moment - T0).total_seconds() / 60


def answered(conv: str, opened: datetime, frt_seconds: float, channel: str = "twitter", agent="U1") -> list:
    return [
        inbound(f"{conv}-in", minutes(opened), conv=conv, channel=channel),
        reply(f"{conv}-out", minutes(opened) + frt_seconds / 60, conv=conv, channel=channel, agent=agent),
    ]


@pytest.fixture
def make(make_database):
    """Builds settings (UTC unless told) and a database holding the given events, received at NOW."""
    return partial(make_database, now=NOW)


def run(settings, engine, text: str, now: datetime = NOW, source: str = "auto"):
    with engine.connect() as conn:
        return compute(conn, parse_command(text, settings, now), settings, now, source=source)


def test_frt_document_follows_the_json_contract_with_previous_period_and_channel_benchmark(make):
    # This week (Nov 2-8): twitter FRTs 1800 s and 9000 s -> mean 5400, median 5400,
    # p90 = 1800 + 0.9 x 7200 = 8280; one conversation opened Sunday 23:00 still waiting 1 h at NOW.
    # Week before: one FRT of 7200 s. Twitter's FRT benchmark is 3 h = 10800 s.
    events = [
        *answered("a", datetime(2026, 11, 3, 10, tzinfo=UTC), 1800),
        *answered("b", datetime(2026, 11, 5, 10, tzinfo=UTC), 9000),
        *answered("p", datetime(2026, 10, 28, 10, tzinfo=UTC), 7200),
        inbound("w-in", minutes(NOW - timedelta(hours=1)), conv="w"),
    ]
    settings, engine = make(events)
    result = run(settings, engine, "frt twitter 2026-11-02..2026-11-08")
    assert result.to_json() == {
        "metric": "frt",
        "channels": ["twitter"],
        "business_hours": False,
        "period": {"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-09T00:00:00+00:00"},
        "previous_period": {"start": "2026-10-26T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00"},
        "values": {
            "mean": 5400.0,
            "median": 5400.0,
            "p90": 8280.0,
            "count": 2,
            "still_waiting": 1,
            "oldest_waiting": 3600.0,
        },
        "previous": {
            "mean": 7200.0,
            "median": 7200.0,
            "p90": 7200.0,
            "count": 1,
            "still_waiting": 0,
            "oldest_waiting": None,
        },
        "benchmark": {"mean": 10800.0},
    }


@pytest.mark.parametrize(
    ("metric", "keys"),
    [
        ("frt", ["mean", "median", "p90", "count", "still_waiting", "oldest_waiting"]),
        ("bands", ["within_15m", "within_1h", "within_4h", "within_24h", "count"]),
        ("wait", ["mean", "median", "p90", "count"]),
        ("art", ["first_mean", "first_median", "full_mean", "full_median", "count"]),
        ("aht", ["mean", "count"]),
    ],
)
def test_each_speed_kpi_has_exactly_the_contract_keys_in_values_and_previous(make, metric, keys):
    settings, engine = make(answered("a", NOW - timedelta(days=1), 600))
    document = run(settings, engine, metric).to_json()
    assert list(document["values"]) == keys
    assert list(document["previous"]) == keys


def test_empty_period_says_so_instead_of_showing_zero(make):
    settings, engine = make([])
    result = run(settings, engine, "frt 7d")
    assert result.values["mean"] is None
    assert result.notes == ["no first responses in this period"]
    assert result.to_json()["notes"] == ["no first responses in this period"]


def test_benchmark_keeps_only_keys_the_kpi_reports(make):
    # bands benchmark: 50 % within 4 h, 90 % within 24 h; `bogus` is not a frt value and is dropped.
    settings, engine = make([], benchmarks={"frt": {"mean": 900.0, "bogus": 1}, "bands": {"within_4h": 0.5}})
    assert run(settings, engine, "frt").benchmark == {"mean": 900.0}
    assert run(settings, engine, "bands").benchmark == {"within_4h": 0.5}
    assert run(settings, engine, "wait").benchmark == {}


def ces_answers(*scores: float) -> list[dict]:
    """CES answers given on twitter yesterday (Sunday 2026-11-08), a minute apart from 10:00."""
    start = NOW - timedelta(hours=14)
    return [
        {
            "id": f"ces-{n}",
            "type": "survey",
            "at": (start + timedelta(minutes=n)).isoformat(),
            "channel": "twitter",
            "kind": "ces",
            "score": score,
        }
        for n, score in enumerate(scores)
    ]


def test_ces_shows_no_benchmark_unless_one_is_configured_on_its_scale(make):
    # (2 + 3 + 7) / 3 = 4 on the default 1-7 scale; no benchmark is built in for CES.
    settings, engine = make(ces_answers(2, 3, 7))
    result = run(settings, engine, "ces")
    assert (result.values, result.benchmark) == ({"mean": 4.0, "responses": 3}, {})
    lines = [" ".join(line.split()) for line in to_text(result).splitlines()]
    assert "mean 4 — —" in lines  # nothing in the benchmark column
    assert "Benchmark" not in json.dumps(kpi_message(result))

    # Configured at 3 on the 1-7 scale: shown, and a mean effort of 4 misses it (lower is better).
    settings, _ = make([], benchmarks={"ces": {"mean": 3}})
    result = run(settings, engine, "ces")
    assert result.benchmark == {"mean": 3}
    assert "mean 4 — — 3 ⚠️" in " ".join(to_text(result).split())
    assert "Benchmark: 3 :warning: missed" in json.dumps(kpi_message(result))


def test_a_ces_benchmark_off_its_scale_is_a_configuration_error():
    # The source article's 10 on the default 1-7 scale would always be met: refused when settings load.
    with pytest.raises(
        ValidationError, match=r"benchmarks\.ces\.mean is 10, not a number on the CES scale 1-7"
    ):
        Settings(benchmarks={"ces": {"mean": 10}})
    with pytest.raises(ValidationError, match=r"channel_benchmarks\.viber\.ces\.mean is 0,"):
        Settings(channel_benchmarks={"viber": {"ces": {"mean": 0}}})
    with pytest.raises(ValidationError, match=r"ces_scale must go from low to high"):
        Settings(ces_scale=(7, 1))
    # On a 0-10 scale, 10 is a benchmark like any other.
    assert Settings(ces_scale=(0, 10), benchmarks={"ces": {"mean": 10}}).benchmark("ces") == {"mean": 10}


def test_by_channel_lists_channels_with_data_worst_first(make):
    # facebook 1200 s is worse than twitter 600 s; instagram has no data and no row.
    events = [
        *answered("t", NOW - timedelta(days=1), 600),
        *answered("f", NOW - timedelta(days=2), 1200, channel="facebook"),
    ]
    settings, engine = make(events)
    result = run(settings, engine, "frt by channel")
    assert [(row["key"], row["values"]["mean"]) for row in result.breakdown] == [
        ("facebook", 1200.0),
        ("twitter", 600.0),
    ]
    assert result.to_json()["by"] == "channel"


def test_by_agent_splits_first_responses_by_who_answered(make):
    events = [
        *answered("a", NOW - timedelta(days=1), 600, agent="U1"),
        *answered("b", NOW - timedelta(days=1), 1800, agent="U2"),
        *answered("c", NOW - timedelta(days=2), 1200, agent="U1"),
    ]
    settings, engine = make(events)
    rows = run(settings, engine, "frt by agent").breakdown
    # U2: 1800; U1: (600 + 1200) / 2 = 900
    assert [(row["key"], row["values"]["mean"], row["values"]["count"]) for row in rows] == [
        ("U2", 1800.0, 1),
        ("U1", 900.0, 2),
    ]


def test_by_agent_rows_are_named_as_the_agents_kpi_names_them_with_the_id_when_nameless(make):
    opened = NOW - timedelta(days=1)
    events = [
        inbound("a-in", minutes(opened), conv="a"),
        reply("a-out", minutes(opened) + 10, conv="a", agent="U1", name="Bo"),
        inbound("b-in", minutes(opened), conv="b"),
        reply("b-out", minutes(opened) + 20, conv="b", agent="U2", name="Cy"),
        inbound("c-in", minutes(opened), conv="c"),
        reply("c-out", minutes(opened) + 5, conv="c", agent="U3", name=None),
    ]
    settings, engine = make(events)
    answer = run(settings, engine, "frt by agent")

    assert [(row["key"], row["name"], row["values"]["mean"]) for row in answer.breakdown] == [
        ("U2", "Cy", 1200.0),
        ("U1", "Bo", 600.0),
        ("U3", "U3", 300.0),
    ]
    table = to_text(answer)
    assert "Cy" in table and "Bo" in table and "U2" not in table and "U1" not in table


def test_by_agent_is_refused_for_a_kpi_without_it(make):
    settings, engine = make([])
    with pytest.raises(UsageError, match="`by agent` is not available for csat"):
        run(settings, engine, "csat by agent")


def test_yesterday_across_the_autumn_clock_change_is_25_hours_and_days_are_local(make):
    # Paris leaves summer time on Sunday 2026-10-25 (03:00 CEST -> 02:00 CET). Replies (FRT 60 s) at
    # 21:31Z on the 24th (23:31 local, Saturday), 22:31Z on the 24th (00:31 Sunday), 22:31Z on the
    # 25th (23:31 Sunday) and 23:31Z on the 25th (00:31 Monday).
    replies = [datetime(2026, 10, 24, 21, 30, tzinfo=UTC), datetime(2026, 10, 24, 22, 30, tzinfo=UTC)]
    replies += [datetime(2026, 10, 25, 22, 30, tzinfo=UTC), datetime(2026, 10, 25, 23, 30, tzinfo=UTC)]
    events = [e for n, moment in enumerate(replies) for e in answered(f"c{n}", moment, 60)]
    settings, engine = make(events, tz="Europe/Paris")
    monday = datetime(2026, 10, 26, 9, tzinfo=UTC)
    result = run(settings, engine, "frt yesterday", now=monday)
    assert result.period.end - result.period.start == timedelta(hours=25)
    assert result.values["count"] == 2
    by_day = run(settings, engine, "frt 2026-10-24..2026-10-26 by day", now=monday).breakdown
    assert [(row["key"], row["values"]["count"]) for row in by_day] == [
        ("2026-10-24", 1),
        ("2026-10-25", 2),
        ("2026-10-26", 1),
    ]


def test_local_days_are_cut_to_the_period_and_follow_clock_changes(make):
    settings, _ = make([], tz="Europe/Paris")
    period = parse_command("yesterday", settings, datetime(2026, 10, 26, 9, tzinfo=UTC)).period
    assert [
        (day.isoformat(), (end - start).total_seconds() / 3600) for day, start, end in local_days(period)
    ] == [("2026-10-25", 25.0)]


def test_business_hours_result_is_marked_and_uses_open_time(make):
    # Reply Friday 16:00 -> Monday 10:00 UTC: 2 h of Mon-Fri 09-17 business time.
    hours = BusinessHours(hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")})
    settings, engine = make(answered("a", T0 + timedelta(hours=7), 66 * 3600), business_hours=hours)
    now = T0 + timedelta(days=4)
    result = run(settings, engine, "frt 7d bh", now=now)
    assert result.business_hours is True
    assert result.values["mean"] == 7200.0


def test_scorecard_lists_the_registered_headline_kpis_with_previous_and_benchmark(make):
    settings, engine = make(answered("a", NOW - timedelta(days=1), 600))
    card = run(settings, engine, "")
    assert isinstance(card, Scorecard)
    assert [r.metric for r in card.results] == [key for key in SCORECARD if key in KPIS]
    frt = next(r for r in card.results if r.metric == "frt")
    assert isinstance(frt, KpiResult)
    assert (frt.values["mean"], frt.previous["mean"], frt.benchmark) == (600.0, None, {"mean": 7200.0})
    assert card.to_json()["kpis"]["frt"]["values"]["count"] == 1


def test_scorecard_with_a_breakdown_asks_for_one_metric(make):
    settings, engine = make([])
    with pytest.raises(UsageError, match="needs one metric"):
        run(settings, engine, "by channel")


def test_help_is_not_computed(make):
    settings, engine = make([])
    with pytest.raises(ValueError, match="help"):
        run(settings, engine, "help")


def test_change_reports_absolute_relative_and_whether_it_is_good_news():
    # FRT 7200 -> 5400: -1800 s, -25 %, down, good (lower is better).
    assert change(5400.0, 7200.0, "seconds", "lower") == {
        "absolute": -1800.0,
        "relative": -0.25,
        "direction": "down",
        "good": True,
    }
    # A rate is read in points, so no relative change; 0.70 -> 0.75 with higher better is good.
    moved = change(0.75, 0.70, "fraction", "higher")
    assert (moved["absolute"], moved["relative"], moved["good"]) == (pytest.approx(0.05), None, True)
    assert change(3, 0, "count")["relative"] is None  # from zero there is no ratio
    assert change(5, 5, "count", "lower")["direction"] == "same"
    assert change(None, 5, "count") == {"absolute": None, "relative": None, "direction": None, "good": None}


@pytest.mark.parametrize("source", ["auto", "tables"])
def test_frt_percentiles_interpolate_between_ranks_from_the_cache_and_from_the_tables(make, source):
    # FRTs 60, 120, 300, 900 s: mean 345; median between 120 and 300 = 210;
    # p90 at rank 0.9 x 3 = 2.7 -> 300 + 0.7 x (900 - 300) = 720.
    events = [
        item
        for n, frt in enumerate((60, 120, 300, 900))
        for item in answered(f"c{n}", datetime(2026, 11, 3 + n, 10, tzinfo=UTC), frt)
    ]
    settings, engine = make(events)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    values = run(settings, engine, "frt twitter 2026-11-02..2026-11-08", source=source).to_json()["values"]

    assert (values["mean"], values["median"], values["count"]) == (345.0, 210.0, 4)
    assert values["p90"] == pytest.approx(720.0, abs=1e-9)
    assert any("FROM kpi_slot" in sql for sql in statements) == (source == "auto")
