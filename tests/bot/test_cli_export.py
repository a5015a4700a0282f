"""`kpibot export conversations`: the file written end to end, the closing line, exit code 2 with nothing
written for a bad word, a bad suffix or a missing folder, `--help` at each level."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from commands import export
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.commands.test_export import DAY_CSV, HEADER, xlsx_rows
from tests.storage.test_export import day_conversations

BAD_SUFFIX = "error: unknown export format `.txt`: the file must end in .csv or .xlsx"


@pytest.fixture
def runner(database_url, monkeypatch) -> CliRunner:
    engine = make_engine(database_url)
    ingestor = Ingestor(engine, Settings(database_url=database_url, pseudonym_key="test-key"))
    for batch in day_conversations():
        assert not ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(batch, 1)]).rejected
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KPIBOT_TZ", "Europe/Paris")
    return CliRunner()


@pytest.fixture
def out(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_csv_export_writes_the_rows_and_says_how_many(runner, out):
    path = out / "day [1].csv"  # brackets: not read as markup

    result = runner.invoke(app, ["export", "conversations", "2026-11-20", "--out", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 4 conversations to {path}\n"
    assert path.read_text(encoding="utf-8").splitlines() == DAY_CSV


def test_channels_period_and_at_are_read_as_in_slack(runner, out):
    path = out / "twitter.xlsx"

    # the last 24 hours as of Friday 14:10 Paris time (13:10 UTC): tw-1 opened 10:00, tw-2 15:00 (later)
    result = runner.invoke(
        app, ["export", "conversations", "x", "24h", "--at", "2026-11-20T14:10:00", "-o", str(path)]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 1 conversation to {path}\n"
    assert [row[0] for row in xlsx_rows(path)] == ["id", "tw-1"]


def test_without_out_the_file_is_named_for_the_period_in_the_current_folder(runner, out, monkeypatch):
    monkeypatch.chdir(out)

    result = runner.invoke(app, ["export", "conversations", "instagram", "2026-11-20"])

    written = out / "kpibot-conversations-2026-11-20-2026-11-20.csv"
    assert result.exit_code == 0, result.output
    assert written.read_text(encoding="utf-8").splitlines() == [HEADER, DAY_CSV[3]]


def test_an_empty_period_writes_the_header_alone(runner, out):
    path = out / "empty.csv"

    result = runner.invoke(app, ["export", "conversations", "2026-10-01..2026-10-31", "--out", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 0 conversations to {path}\n"
    assert path.read_text(encoding="utf-8").splitlines() == [HEADER]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["twiter", "2026-11-20"], "error: unknown channel twiter — did you mean twitter?"),
        (["frt", "30d"], "error: an export takes channels and a period only"),
        (["2026-11-20", "-o", "{out}/day.txt"], BAD_SUFFIX),
        (["2026-11-20", "--out", "{out}/missing/day.csv"], "the folder"),
        (["2026-11-20", "--at", "friday"], "is not an ISO-8601 time"),
    ],
)  # fmt: skip
def test_a_usage_error_exits_2_and_writes_nothing(runner, out, words, message):
    words = [word.replace("{out}", str(out)) for word in words]
    if "-o" not in words and "--out" not in words:
        words += ["--out", str(out / "day.csv")]

    result = runner.invoke(app, ["export", "conversations", *words])

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""
    assert list(out.iterdir()) == []


def test_help_word_prints_what_an_export_is(runner):
    result = runner.invoke(app, ["export", "conversations", "help"])

    assert result.exit_code == 0
    assert result.stdout.startswith(
        "kpibot export conversations [channel…] [period] --out FILE.csv|FILE.xlsx"
    )


@pytest.mark.parametrize(
    ("words", "code", "shown"),
    [
        (["export", "--help"], 0, "conversations"),
        (["export"], 2, "conversations"),  # Click shows the help and exits 2 when no command is given
        (["export", "conversations", "--help"], 0, "--out"),
    ],
)
def test_help_is_there_at_each_level(runner, words, code, shown):
    result = runner.invoke(app, words)

    assert result.exit_code == code
    assert shown in result.output


def test_a_failure_while_writing_exits_3_and_leaves_no_file(runner, out, monkeypatch):
    rows = export.conversation_rows

    def failing(*args, **kwargs):
        with closing(rows(*args, **kwargs)) as iterator:  # closed now, not by a later garbage collection
            yield next(iterator)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "conversation_rows", failing)

    result = runner.invoke(app, ["export", "conversations", "2026-11-20", "--out", str(out / "day.csv")])

    assert result.exit_code == 3
    assert "No space left on device; nothing was written" in " ".join(result.stderr.split())
    assert list(out.iterdir()) == []
