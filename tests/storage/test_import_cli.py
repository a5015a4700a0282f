"""`kpibot import`: the summary line, per-line rejections, exit codes, CSV and stdin."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events.ndjson"


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")
    return CliRunner()


def test_importing_the_events_md_example_twice_imports_then_counts_duplicates(runner):
    first = runner.invoke(app, ["import", str(EXAMPLE)])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "imported 4, duplicates 0, rejected 0"
    second = runner.invoke(app, ["import", str(EXAMPLE)])
    assert second.exit_code == 0
    assert second.stdout.strip() == "imported 0, duplicates 4, rejected 0"


def test_rejected_lines_are_printed_with_line_and_reason_and_exit_1(runner, tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    lines.insert(1, '{"id":"bad","type":"message","at":"20/11/2026"}')
    lines.insert(3, "")  # blank lines are skipped but still counted as lines
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == 1
    assert 'line 2: "at" is not an ISO-8601 time' in result.stderr
    assert result.stdout.strip() == "imported 4, duplicates 0, rejected 1"


def test_csv_import_with_flattened_author_columns(runner, tmp_path):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "id,type,at,conversation_id,channel,direction,author_kind,author_id,text,status\n"
        "c1,message,2026-11-20T09:00:00Z,fb-1,fb,inbound,customer,@bob,Where is my order?,\n"
        "c2,message,2026-11-20T09:10:00Z,fb-1,fb,outbound,agent,U7,Checking,\n"
        "c3,status,2026-11-20T10:00:00Z,fb-1,fb,,,,,solved\n"
    )
    result = runner.invoke(app, ["import", str(csv_file)])
    assert result.exit_code == 1
    assert result.stdout.strip() == "imported 2, duplicates 0, rejected 1"
    assert (
        "line 4: \"status\" must be 'open', 'pending', 'resolved' or 'closed', not 'solved'" in result.stderr
    )


def test_stdin_import(runner):
    result = runner.invoke(app, ["import", "-"], input=EXAMPLE.read_text())
    assert result.exit_code == 0
    assert result.stdout.strip() == "imported 4, duplicates 0, rejected 0"


def test_missing_file_is_a_usage_error(runner):
    result = runner.invoke(app, ["import", "nope.ndjson"])
    assert result.exit_code == 2
    assert "nope.ndjson: no such file" in result.stderr
