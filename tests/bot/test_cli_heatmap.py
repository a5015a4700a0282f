"""`kpibot kpi heatmap`: the grid as text or JSON in the workspace time zone, `--out` writing the PNG, and
exit codes that say what went wrong."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_engine
from storage.settings import Settings
from tests.bot.running_bot import ingest
from tests.storage.builders import inbound, reply

# Friday 2026-11-20, Paris (+1): twitter opened 09:00 UTC = 10:00 and answered 09:42 UTC = 10:42 (FRT 2520 s);
# facebook opened 10:00 UTC = 11:00, never answered.
EVENTS = [inbound("m1", 0), reply("m2", 42), inbound("m3", 60, conv="fb-1", channel="facebook")]
AT = ["--at", "2026-11-20T12:00:00Z"]
FRI = 4


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, pseudonym_key="test-key")
    ingest(engine, settings, EVENTS)  # every event accepted
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KPIBOT_TZ", "Europe/Paris")
    return CliRunner()


def test_the_text_grid_shows_local_hours_and_the_rush_hours(runner):
    result = runner.invoke(app, ["kpi", "heatmap", *AT])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Inbound messages by hour and weekday · all channels · last 30 days · Europe/Paris"
    # one message at 10:00 and one at 11:00 local: both the top quarter
    assert "Fri " + " ·" * 10 + "████" + " ·" * 12 + "       2" in lines
    assert lines[-3:] == [
        "busiest: Fri 10:00–11:00, 1 message",
        "busiest day: Friday, 2 messages · busiest hour: 10:00–11:00, 1 message",
        "total: 2 messages",
    ]


def test_json_gives_the_7_by_24_grid_with_null_where_nobody_was_answered(runner):
    result = runner.invoke(app, ["kpi", "heatmap", "frt", "x", "7d", "--json", *AT])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["metric"], document["channels"], document["tz"]) == ("frt", ["twitter"], "Europe/Paris")
    assert document["grid"][FRI][10] == 2520.0 and document["counts"][FRI][10] == 1
    assert sum(value is not None for row in document["grid"] for value in row) == 1
    assert len(document["grid"]) == 7 and {len(row) for row in document["grid"]} == {24}
    assert document["period"]["label"] == "last 7 days" and document["total"] == 1


def test_out_writes_the_png(runner, tmp_path):
    target = tmp_path / "heatmap.png"

    result = runner.invoke(app, ["kpi", "heatmap", "--out", str(target), *AT])

    assert result.exit_code == 0, result.output
    png = target.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1250
    assert f"heatmap image written to {target}" in result.stderr


def test_an_empty_period_says_so_and_writes_no_image(runner, tmp_path):
    target = tmp_path / "heatmap.png"

    result = runner.invoke(app, ["kpi", "heatmap", "2026-10-01", "--out", str(target), *AT])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "no inbound customer messages in this period"
    assert "nothing to draw in this period" in result.stderr and not target.exists()


def test_an_unwritable_out_stops_with_exit_3_after_the_grid(runner, tmp_path):
    result = runner.invoke(app, ["kpi", "heatmap", "--out", str(tmp_path / "missing" / "h.png"), *AT])

    assert result.exit_code == 3
    assert "total: 2 messages" in result.stdout and "cannot write" in result.stderr


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (
            ["heatmap", "csat"],
            "error: a heatmap shows volume (inbound messages) or frt (median first response)",
        ),
        (["heatmap", "twiter"], "error: unknown channel twiter — did you mean twitter?"),
        (["frt", "--out", "x.png"], "--out writes the heatmap image: use it with `kpibot kpi heatmap …`"),
    ],
)
def test_usage_errors_exit_2_with_the_reason(runner, words, said):
    result = runner.invoke(app, ["kpi", *words, *AT])

    assert result.exit_code == 2
    assert said in result.stderr
