"""`kpibot kpi`: the same grammar and result as Slack, as text or JSON, with `--at` and exit code 2."""

from __future__ import annotations

import json
from importlib.metadata import version as package_version

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
    assert document["previous"]["count"] is None  # the day before had no data: nothing to compare with


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


def test_misspelt_channel_exits_2_with_did_you_mean_and_one_line_pointing_to_help(runner):
    result = runner.invoke(app, ["kpi", "frt", "twiter"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: unknown channel twiter — did you mean twitter?",
        "see `kpibot kpi help` for the metrics, periods and channels",
    ]
    assert result.stdout == ""


def test_help_prints_the_terminal_grammar_without_slack_markup(runner):
    result = runner.invoke(app, ["kpi", "help"])
    assert result.exit_code == 0
    grammar = "kpibot kpi [metric] [channel…] [period] [by agent|team|channel|topic|day|hour|weekday] [bh]\n"
    assert grammar in result.stdout
    assert "kpibot sentiment instagram 30d · kpibot topics" in result.stdout
    assert "kpibot digest list|add|off · kpibot alert list|add|off" in result.stdout
    assert "/kpi" not in result.stdout and "/sentiment" not in result.stdout and "public" not in result.stdout
    assert "*" not in result.stdout and "`" not in result.stdout


@pytest.mark.parametrize("command", ["sentiment", "topics"])
def test_sentiment_and_topics_have_terminal_twins_answering_as_kpi_does(runner, command):
    words = ["today", "--json", "--at", "2026-11-20T12:00:00Z"]
    twin = runner.invoke(app, [command, *words])
    through_kpi = runner.invoke(app, ["kpi", command, *words])
    assert twin.exit_code == 0, twin.output
    assert json.loads(twin.stdout) == json.loads(through_kpi.stdout)
    assert json.loads(twin.stdout)["metric"] == command


def test_settings_words_under_kpi_point_to_their_own_command(runner):
    result = runner.invoke(app, ["kpi", "digest", "list"])
    assert result.exit_code == 2
    assert "kpibot digest --help" in result.stderr


def test_an_empty_database_is_said_once_naming_its_absolute_path_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["kpi", "frt", "twitter", "30d"])
    assert result.exit_code == 0
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: the database {tmp_path.resolve() / 'kpibot.db'} holds no events yet: try `kpibot demo`, "
        "`kpibot import FILE`, or send webhooks to `kpibot serve`; for another database use --db or "
        "DATABASE_URL"
    ]


def test_a_database_with_events_gets_no_note_and_db_names_it(runner, database_url, monkeypatch, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # ./kpibot.db: a database of its own, not the test's
    monkeypatch.delenv("DATABASE_URL")
    result = runner.invoke(app, ["kpi", "frt", "today", "--json", "--at", "2026-11-20T12:00:00Z"])
    named = runner.invoke(
        app, ["kpi", "frt", "today", "--json", "--at", "2026-11-20T12:00Z", "--db", database_url]
    )
    assert "holds no events" in result.stderr  # ./kpibot.db is not the database holding them
    assert named.exit_code == 0 and "note:" not in named.stderr
    assert json.loads(named.stdout)["values"]["count"] == 1  # the twitter reply; facebook still waits


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kpibot {package_version('kpibot')}"


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
