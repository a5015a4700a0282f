"""`kpibot kpi … --list`: the conversations behind a number in the terminal, as a table or as JSON; a
metric without a list is a usage error (exit 2)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine
from storage.settings import Settings
from tests.bot.running_bot import ingest
from tests.storage.builders import inbound, reply

AT = ["--at", "2026-11-20T12:00:00Z"]
# Friday 2026-11-20 (minutes after 09:00 UTC): twitter tw-1 answered in 42 min (2520 s), tw-2 in 5 min by U2,
# tw-3 still waiting since 10:00 (2 h at 12:00), its link a javascript: URL; facebook fb-1 answered in 3 h.
EVENTS = [
    {**inbound("m1", 0), "link": "https://inbox.example/tw-1"},
    reply("m2", 42),
    inbound("m3", 10, conv="tw-2"),
    reply("m4", 15, conv="tw-2", agent="U2"),
    {**inbound("m5", 60, conv="tw-3"), "link": "javascript:alert(1)"},
    inbound("m6", -60, conv="fb-1", channel="facebook"),
    reply("m7", 120, conv="fb-1", channel="facebook"),
]


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, pseudonym_key="test-key")
    ingest(engine, settings, EVENTS)  # every event accepted
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


def test_list_json_gives_the_conversations_worst_first_with_seconds_as_numbers(runner):
    result = runner.invoke(app, ["kpi", "frt", "twitter", "today", "--list", "--json", *AT])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["metric"], document["channels"], document["unit"]) == ("frt", ["twitter"], "seconds")
    assert document["period"] == {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-20T12:00:00+00:00"}
    # tw-3 has waited 2 h = 7200 s; tw-1 answered in 2520 s (opened 3 h ago), tw-2 in 300 s (2h 50m ago)
    assert document["conversations"] == [
        {
            "conversation_id": "tw-3",
            "channel": "twitter",
            "age": 7200.0,
            "agent": None,
            "figure": 7200.0,
            "link": "javascript:alert(1)",
            "note": "still waiting",
        },
        {
            "conversation_id": "tw-1",
            "channel": "twitter",
            "age": 10800.0,
            "agent": "U1",
            "figure": 2520.0,
            "link": "https://inbox.example/tw-1",
            "note": None,
        },
        {
            "conversation_id": "tw-2",
            "channel": "twitter",
            "age": 10200.0,
            "agent": "U2",
            "figure": 300.0,
            "link": None,
            "note": None,
        },
    ]


def test_list_prints_a_table(runner):
    result = runner.invoke(app, ["kpi", "frt", "today", "--list", *AT], env={"COLUMNS": "160"})

    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:2] == [
        "First response time — all channels — today",
        "Slowest first responses, and conversations still waiting for one",
    ]
    assert lines[2].split() == [
        "conversation",
        "channel",
        "age",
        "agent",
        "first",
        "response",
        "note",
        "link",
    ]
    # fb-1 (3 h, opened 09:00 minus 1 h) first, then tw-3 (2 h so far), tw-1 and tw-2
    assert [line.split()[0] for line in lines[3:]] == ["fb-1", "tw-3", "tw-1", "tw-2"]
    assert lines[4].split() == ["tw-3", "twitter", "2h", "—", "2h", "still", "waiting", "javascript:alert(1)"]


def test_list_of_an_empty_period_says_so(runner):
    result = runner.invoke(app, ["kpi", "csat", "today", "--list", *AT])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "no conversations behind this number"


@pytest.mark.parametrize(
    ("words", "error"),
    [
        (["mix", "today"], "error: no conversation list for this metric (mix)"),
        (["today"], "error: no conversation list for this metric (scorecard)"),
        (["heatmap"], "error: --list shows the conversations behind a KPI, not behind the heatmap"),
    ],
    ids=["mix", "scorecard", "heatmap"],
)
def test_list_of_a_metric_without_conversations_is_a_usage_error(runner, words, error):
    result = runner.invoke(app, ["kpi", *words, "--list", *AT])

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == error
