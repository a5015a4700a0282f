"""`kpibot me --agent ID`: the terminal twin of `/kpi me`, as text or JSON, exit 2 for an unknown agent."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from commands.render_me import NO_ACTIVITY
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.commands.test_me import A, three_agents
from tests.storage.builders import assignment, inbound

# Asked a day after T0 over the last day: the period of tests.commands.test_me, [T0, T0 + 1 day), and the
# day before as the previous period.
AT = ["--at", "2026-11-21T09:00:00Z"]


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, pseudonym_key="test-key")
    events = [*three_agents(), inbound("w1", 100, conv="w1"), assignment("w2", 101, conv="w1", agent="UIDLE")]
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
    assert not result.rejected
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


def test_json_is_the_report_with_the_team_median_and_the_previous_period(runner):
    result = runner.invoke(app, ["me", "--agent", A, "1d", "--json", *AT])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # A: FRT 60 and 180 s -> mean 120; team median of (120, 300, 900) = 300; the day before 600 s
    assert document["figures"]["frt_mean"] == {"value": 120.0, "team_median": 300.0, "previous": 600.0}
    assert document["figures"]["replies"] == {"value": 3, "team_median": 3, "previous": 1}
    assert (document["agent"], document["name"], document["active"]) == (A, "Ana", True)
    assert document["period"]["start"] == "2026-11-20T09:00:00+00:00"


def test_text_names_the_agent_and_reads_like_slack(runner):
    result = runner.invoke(app, ["me", "--agent", A, "twitter", "1d", *AT])
    assert result.exit_code == 0, result.output
    assert "Ana (UA1) · twitter" in result.stdout
    assert "FRT median: 2m · team median 5m · previous 10m" in result.stdout


def test_a_known_agent_without_activity_gets_the_report_saying_so_and_what_waits_on_them(runner):
    result = runner.invoke(app, ["me", "--agent", "UIDLE", "1d", *AT])
    assert result.exit_code == 0, result.output
    assert NO_ACTIVITY in result.stdout
    # w1 waits since 10:40 on 2026-11-20: 22h 20m at 09:00 the day after
    assert "w1 · twitter · waiting 22h 20m" in result.stdout


def test_an_unknown_agent_id_is_a_usage_error(runner):
    result = runner.invoke(app, ["me", "--agent", "UA2", "1d", *AT])
    assert result.exit_code == 2
    assert "no agent UA2 in the events or the agents: map" in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["me", "--agent", A, "public"], "public is for Slack"),
        (["me", "--agent", A, "frt"], "ask me without frt"),
        (["me", "twitter"], "Missing option '--agent'"),
        (["kpi", "me", "30d"], "kpibot me --agent AGENT_ID"),
    ],
)
def test_what_me_does_not_take_is_a_usage_error(runner, args, said):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert said in result.stderr
