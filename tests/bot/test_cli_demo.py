"""`kpibot demo` through the real command line on a real SQLite file: the periods it suggests compare with
a previous period that has data, the commands it suggests next answer with data, and it never prints a
database password."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.context import safe_url
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.storage.builders import inbound

# The end of a 31-day month after a 31-day month: `this-month`'s previous period (all of July) starts
# 61 days 23.5 hours earlier, the longest history a suggested period needs. In the past, so the bot's
# clock takes every event.
AT = "2026-08-31T23:30:00+00:00"
CONVERSATIONS = 1000  # a sixth of the default: quick, and still a few a day on twitter


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's database (its URL) and what `kpibot demo` printed, generated once for the module."""
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # where the digest chart lands
        arguments = ["demo", "--db", url, "--conversations", str(CONVERSATIONS), "--at", AT]
        result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return url, result.output


def ask(url: str, *words: str) -> dict:
    result = CliRunner().invoke(app, [*words, "--json", "--at", AT], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("period", "previous_start", "previous_end"),
    [
        # the 30 x 24 h before the last 30 x 24 h: 60 days back
        ("30d", "2026-07-02T23:30:00+00:00", "2026-08-01T23:30:00+00:00"),
        ("7d", "2026-08-17T23:30:00+00:00", "2026-08-24T23:30:00+00:00"),
        # `today` is compared with all of yesterday, `this-month` with all of July
        ("today", "2026-08-30T00:00:00+00:00", "2026-08-31T00:00:00+00:00"),
        ("this-month", "2026-07-01T00:00:00+00:00", "2026-08-01T00:00:00+00:00"),
    ],
)
def test_every_suggested_period_has_a_previous_period_with_data(demo, period, previous_start, previous_end):
    url, _ = demo
    document = ask(url, "kpi", "frt", "twitter", period)
    assert document["previous_period"] == {"start": previous_start, "end": previous_end}
    assert document["previous"]["count"] > 0
    assert document["previous"]["mean"] is not None
    assert document["values"]["count"] > 0


def test_the_terminal_compares_30d_with_real_previous_figures(demo):
    url, _ = demo
    result = CliRunner().invoke(app, ["kpi", "frt", "twitter", "30d", "--at", AT], env={"DATABASE_URL": url})
    document = ask(url, "kpi", "frt", "twitter", "30d")
    count_row = next(line.split() for line in result.stdout.splitlines() if line.startswith("count"))
    values, previous = document["values"]["count"], document["previous"]["count"]
    assert count_row[:3] == ["count", f"{values:,}", f"{previous:,}"]
    assert count_row[3] in ("▲", "▼", "=")


def test_the_commands_suggested_next_answer_with_data(demo, tmp_path):
    url, output = demo
    said = " ".join(output.split())
    assert f"next: export DATABASE_URL={url} then try" in said
    for words in ("kpibot kpi frt twitter 30d", "kpibot kpi backlog", "kpibot digest --preview"):
        assert f"{words} --at {AT}" in said
    assert "or kpibot kpi help" in said

    backlog = ask(url, "kpi", "backlog")
    assert backlog["values"]["open"] > 0 and backlog["previous"]["open"] > 0

    runner = CliRunner()
    env = {"DATABASE_URL": url}
    out = tmp_path / "digest.png"
    digest = runner.invoke(app, ["digest", "--preview", "--at", AT, "--out", str(out)], env=env)
    assert digest.exit_code == 0, digest.output
    # yesterday, Sunday 30 August, against Saturday 29th: conversations counted on both days
    assert "Daily digest · Sun 30 Aug 2026" in digest.stdout
    conversations = next(line for line in digest.stdout.splitlines() if "Conversations" in line)
    assert "no data" not in conversations and "none the day before" not in conversations
    assert out.stat().st_size > 0

    help_text = runner.invoke(app, ["kpi", "help"], env=env)
    assert help_text.exit_code == 0 and "kpibot kpi [metric]" in help_text.stdout


def test_the_demo_says_where_its_data_is(demo):
    url, output = demo
    said = " ".join(output.split())  # the terminal wraps a long path's line (pytest's temporary folders)
    stored = re.search(rf"demo data in {re.escape(url)}: (\d+) events", said)
    assert stored is not None, said
    assert int(stored.group(1)) > CONVERSATIONS * 5  # messages, statuses, surveys…
    # the scorecard's last 7 days end at --at, so it compares with the 7 days a week before
    assert "Scorecard — all channels — last 7 days\nvs 2026-08-17 23:30 – 2026-08-24 23:30" in output


def test_a_database_already_holding_conversations_is_named_without_its_password(database_url):
    # On PostgreSQL (pytest --db postgresql) the URL carries a password; the message must mask it.
    settings = Settings(database_url=database_url, pseudonym_key="test-key")
    engine = make_engine(database_url)
    Ingestor(engine, settings).ingest([(1, json.dumps(inbound("m1", 0)))])
    engine.dispose()
    result = CliRunner().invoke(app, ["demo", "--db", database_url, "--conversations", "10"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"error: {safe_url(database_url)} already holds conversations" in message
    password = make_url(database_url).password
    # (the test server's user, password and database all say "kpibot": look for it where a password goes)
    assert password is None or (f":{password}@" not in result.output and ":***@" in message)
