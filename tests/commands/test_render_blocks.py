"""Block Kit renderings as plain dicts: KPI answers, the scorecard, help, the Home tab, Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from commands.errors import UsageError
from commands.periods import resolve_period
from commands.render_blocks import MAX_BLOCKS, MAX_SECTION, help_message, kpi_message, scorecard_message
from commands.render_home import home_view
from commands.result import KpiResult, Scorecard

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK = resolve_period("7d", NOW, ZoneInfo("UTC"))


def result(metric: str, values: dict, previous: dict | None = None, **extra) -> KpiResult:
    return KpiResult(metric, ("twitter",), False, WEEK, WEEK.previous(), values, previous or {}, **extra)


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def texts(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]


FRT = {
    "mean": 5400.0,
    "median": 5400.0,
    "p90": 6840.0,
    "count": 2,
    "still_waiting": 1,
    "oldest_waiting": 3600.0,
}


def test_frt_answer_shows_figure_change_benchmark_waiting_stats_and_scope():
    message = kpi_message(
        result("frt", FRT, {"mean": 10800.0, "count": 1}, benchmark={"mean": 10800.0}), asked_by="U1"
    )

    # 5,400 s = 1h 30m, down 5,400 s = 50 % from 3 h (lower is better); p90 6,840 s = 1h 54m
    assert message == {
        "text": "First response time: 1h 30m (last 7 days · twitter)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "First response time: 1h 30m", "emoji": True},
            },
            section(
                "Previous period (2026-11-06 12:00 – 2026-11-13 12:00): 3h · ▼ 1h 30m (-50 %), better\n"
                "Benchmark: 3h :white_check_mark: met\n"
                ":hourglass_flowing_sand: Still waiting: 1, oldest 1h"
            ),
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Median*\n1h 30m"},
                    {"type": "mrkdwn", "text": "*90th percentile*\n1h 54m"},
                    {"type": "mrkdwn", "text": "*Count*\n2"},
                ],
            },
            context("last 7 days · twitter · asked by <@U1>"),
        ],
    }


def test_a_rise_in_a_higher_is_better_rate_reads_in_points_and_missing_the_benchmark_warns():
    values = {"score": 0.6, "responses": 40}

    message = kpi_message(result("csat", values, {"score": 0.5}, benchmark={"score": 0.7}))

    # 60 % vs 50 % is +10 points (not +20 %); 60 % is under the 70 % benchmark
    assert texts(message)[0] == (
        "Previous period (2026-11-06 12:00 – 2026-11-13 12:00): 50 % · ▲ 10 pt, better\n"
        "Benchmark: 70 % :warning: missed"
    )


def test_no_data_says_so_once_and_still_shows_who_is_waiting():
    values = {
        "mean": None,
        "median": None,
        "p90": None,
        "count": 0,
        "still_waiting": 3,
        "oldest_waiting": 7500.0,
    }

    message = kpi_message(result("frt", values, notes=["no first responses in this period"]))

    # 7,500 s = 2h 5m; the engine's note is the "no data" sentence, shown once, capitalised
    assert message["blocks"][0]["text"]["text"] == "First response time"
    assert texts(message) == [
        ":hourglass_flowing_sand: Still waiting: 3, oldest 2h 5m",
        "_No first responses in this period_",
    ]


def test_lists_render_as_aligned_tables():
    oldest = [
        {"conversation_id": "tw-9", "channel": "twitter", "age": 90061.0},
        {"conversation_id": "fb-12", "channel": "facebook", "age": 86500.0},
    ]
    values = {"over_threshold": 2, "open": 3, "oldest_age": 90061.0, "threshold": 86400.0, "oldest": oldest}

    message = kpi_message(result("backlog", values, {"over_threshold": 4}))

    # 90,061 s = 1d 1h 1m 1s -> "1d 1h"; 86,500 s -> "1d"
    assert texts(message)[-1] == (
        "*Oldest*\n```\n"
        "Conversation  Channel   Age\n"
        "tw-9          twitter   1d 1h\n"
        "fb-12         facebook  1d\n"
        "```"
    )


def test_a_mapping_of_counts_is_a_table_headed_by_its_declared_column():
    values = {"rate": 0.2, "customers": 5, "repeat_customers": 1, "hops": {"twitter>whatsapp": 3}}

    message = kpi_message(result("repeat", values))

    # the hops are counts (a "count" column), not shares as mix's are
    assert texts(message)[-1] == "*Channel hops*\n```\n                  Count\ntwitter&gt;whatsapp  3\n```"


def test_the_team_report_table_is_titled_by_what_its_rows_are():
    rows = [{"agent": "U01AGENT2", "name": "Tom", "conversations": 4, "replies": 6}]

    message = kpi_message(result("agents", {"rows": rows}, {"rows": []}))

    assert texts(message)[0].splitlines()[:3] == [
        "*Agents*",
        "```",
        "Agent      Name  Conversations  Replies",
    ]


def test_long_breakdown_is_cut_to_fit_with_and_n_more():
    rows = [{"key": f"agent-{n:02d}", "values": {"mean": 60.0 * n, "count": n}} for n in range(1, 41)]

    message = kpi_message(result("frt", FRT, by="agent", breakdown=rows))

    table = texts(message)[-1]
    lines = table.splitlines()
    # header line, "```", the column titles, 15 rows, "```", then the 25 rows left out
    assert lines[:4] == ["*By agent*", "```", "Agent     Mean  Count", "agent-01  1m    1"]
    assert lines[-1] == "…and 25 more" and len(lines) == 20 and len(table) <= MAX_SECTION


def test_more_than_fifty_blocks_are_cut_keeping_the_scope_line_last():
    notes = [f"note {n}" for n in range(60)]

    message = kpi_message(result("frt", FRT, notes=notes))

    # header, comparison, fields, 60 notes, context = 64 blocks: 48 kept, "…and 15 more", context
    assert len(message["blocks"]) == MAX_BLOCKS
    assert message["blocks"][-2] == section("…and 15 more")
    assert message["blocks"][-1] == context("last 7 days · twitter")


def test_scorecard_has_one_section_per_kpi_and_a_short_text_fallback():
    card = Scorecard(
        (),
        WEEK,
        WEEK.previous(),
        [
            result("frt", {**FRT, "still_waiting": 0}, {"mean": 5400.0}),
            result("csat", {"score": None, "responses": 0}, notes=["no CSAT answers in this period"]),
        ],
    )

    message = scorecard_message(card)

    assert message["text"] == "Scorecard, last 7 days: First response time 1h 30m · CSAT no data"
    assert message["blocks"][0]["text"]["text"] == "Scorecard: last 7 days"
    assert texts(message) == [
        "*First response time*  *1h 30m*\n"
        "Previous period (2026-11-06 12:00 – 2026-11-13 12:00): 1h 30m · no change",
        "*CSAT*\n_No CSAT answers in this period_",
    ]
    assert message["blocks"][-1] == context("last 7 days · all channels")


def test_help_after_a_usage_error_starts_with_the_did_you_mean_and_fits_sections():
    help_text = "\n".join(f"`metric-{n}` a line of help" for n in range(300))
    error = UsageError("unknown channel `twiter` — did you mean `twitter`?", ["twitter"])

    message = help_message(help_text, error=error)

    assert message["text"] == "unknown channel `twiter` — did you mean `twitter`?"
    assert message["blocks"][:2] == [
        section(":warning: unknown channel `twiter` — did you mean `twitter`?"),
        {"type": "divider"},
    ]
    chunks = texts(message)[1:]
    assert all(len(chunk) <= MAX_SECTION for chunk in chunks) and "\n".join(chunks) == help_text


def test_home_view_has_refresh_and_period_picker_around_the_scorecard():
    month = resolve_period("30d", NOW, ZoneInfo("Europe/Paris"))
    card = Scorecard((), month, month.previous(), [result("frt", FRT)])

    view = home_view(card, period_word="30d", updated_at=NOW)

    assert view["type"] == "home" and view["blocks"][0]["text"]["text"] == "Scorecard: last 30 days"
    refresh, picker = view["blocks"][1]["elements"]
    assert (refresh["action_id"], refresh["value"]) == ("home_refresh", "30d")
    assert picker["action_id"] == "home_period" and picker["initial_option"]["value"] == "30d"
    assert [option["value"] for option in picker["options"]] == ["1d", "7d", "30d"]
    # 12:00 UTC is 13:00 in Paris in November
    assert view["blocks"][-1] == context("all channels · Updated 2026-11-20 13:00 (Europe/Paris)")
