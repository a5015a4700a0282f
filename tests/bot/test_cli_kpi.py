"""`kpibot kpi`: the same grammar and result as Slack, as text or JSON, with `--at` and exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.storage.builders import inbound, reply

# Friday 2026-11-20: a twitter conversation opened 09:00 and answered 09:42 (FRT 2520 s), and one on
# facebook opened 10:00 that nobody answered.
EVENTS = [
    inbound("m1", 0),
    reply("m2", 42),
    inbound("m3", 60, conv="fb-1", channel="facebook"),
]


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    url = database_url
    engine = make_engine(url)
    settings = Settings(database_url=url, pseudonym_key="test-key")
    Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(EVENTS, 1)])
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner()


def test_json_output_is_the_result_document_with_durations_in_seconds(runner):
    # As of 12:00, `today` (UTC) runs 00:00-12:00; twitter only: one FRT of 42 min = 2520 s.
    result = runner.invoke(app, ["kpi", "frt", "x", "today", "--json", "--at", "2026-11-20T12:00:00Z"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["metric"] == "frt"
    assert document["channels"] == ["twitter"]
    assert document["period"] == {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-20T12:00:00+00:00"}
    assert document["values"]["mean"] == 2520.0
    assert document["values"]["count"] == 1
    assert document["previous"]["count"] == 0


def test_at_measures_still_waiting_as_of_that_moment(runner):
    # At 09:30 the twitter conversation had waited 30 min (its reply came at 09:42); at 12:00 the
    # facebook one has waited 2 h = 7200 s.
    early = runner.invoke(app, ["kpi", "frt", "today", "--json", "--at", "2026-11-20T09:30:00+00:00"])
    late = runner.invoke(app, ["kpi", "frt", "today", "--json", "--at", "2026-11-20T12:00:00+00:00"])
    early_values, late_values = json.loads(early.stdout)["values"], json.loads(late.stdout)["values"]
    assert (early_values["count"], early_values["still_waiting"], early_values["oldest_waiting"]) == (
        0,
        1,
        1800.0,
    )
    assert (late_values["count"], late_values["still_waiting"], late_values["oldest_waiting"]) == (
        1,
        1,
        7200.0,
    )


def test_text_output_is_a_readable_table(runner):
    result = runner.invoke(app, ["kpi", "frt", "twitter", "today", "--at", "2026-11-20T12:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "First response time — twitter — today" in result.stdout
    assert "42m" in result.stdout


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("agents", "no agent activity in this period"),
        ("quick-replies", "no quick replies used in this period"),
    ],
)
def test_a_kpi_without_a_headline_says_when_it_found_nothing(runner, words, sentence):
    # the week before the events: nothing at all
    at = ["--at", "2026-11-13T12:00:00Z"]
    text = runner.invoke(app, ["kpi", words, "7d", *at])
    found = runner.invoke(app, ["kpi", "agents", "today", "--at", "2026-11-20T12:00:00Z"])

    assert text.exit_code == 0 and sentence in text.stdout
    assert "U1" in found.stdout and "no agent activity" not in found.stdout


def test_no_words_prints_the_scorecard(runner):
    result = runner.invoke(app, ["kpi", "--at", "2026-11-20T12:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["metric"] == "scorecard"
    assert document["kpis"]["frt"]["values"]["mean"] == 2520.0


def test_misspelt_channel_exits_2_with_did_you_mean_and_help(runner):
    result = runner.invoke(app, ["kpi", "frt", "twiter"])
    assert result.exit_code == 2
    assert "unknown channel `twiter` — did you mean `twitter`?" in result.stderr
    assert "Periods:" in result.stderr  # the help follows the error
    assert result.stdout == ""


def test_help_prints_the_grammar_without_slack_markup(runner):
    result = runner.invoke(app, ["kpi", "help"])
    assert result.exit_code == 0
    assert "/kpi [metric] [channel…] [period]" in result.stdout
    assert "*" not in result.stdout and "`" not in result.stdout


def test_unreadable_at_exits_2(runner):
    result = runner.invoke(app, ["kpi", "frt", "--at", "yesterday noon"])
    assert result.exit_code == 2
    assert "not an ISO-8601 time" in result.stderr


def test_demo_ends_by_printing_the_scorecard_of_its_data(tmp_path):
    result = CliRunner().invoke(
        app, ["demo", "--conversations", "60", "--days", "7", "--db", str(tmp_path / "d.db")]
    )
    assert result.exit_code == 0, result.output
    assert "Scorecard — all channels — last 7 days" in result.stdout
    assert "First response time" in result.stdout
