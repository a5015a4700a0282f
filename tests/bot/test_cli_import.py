"""`kpibot import`: the summary line, per-line rejections, exit codes, CSV and stdin."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Message
from tests.databases import refused_inserts
from tests.storage.builders import inbound

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


CSV_HEADER = "id,type,at,conversation_id,channel,direction,author_kind,author_id,text\n"


def csv_row(n: int, text: str = "Where is my order?") -> str:
    return f"c{n},message,2026-11-20T09:00:00Z,fb-{n},facebook,inbound,customer,@bob,{text}\n"


def ndjson_line(n: int) -> str:
    return json.dumps(inbound(f"e{n}", 0, conv=f"tw-{n}")) + "\n"


def test_csv_saved_by_excel_with_a_byte_order_mark_imports_every_row(runner, tmp_path):
    export = tmp_path / "excel.csv"
    export.write_bytes(codecs.BOM_UTF8 + (CSV_HEADER + csv_row(1) + csv_row(2)).encode())

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip()) == (0, "imported 2, duplicates 0, rejected 0")


def test_ndjson_with_a_byte_order_mark_imports_its_first_line(runner, tmp_path):
    export = tmp_path / "bom.ndjson"
    export.write_bytes(codecs.BOM_UTF8 + (ndjson_line(1) + ndjson_line(2)).encode())

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip()) == (0, "imported 2, duplicates 0, rejected 0")


def test_a_latin_1_byte_on_line_6001_of_6101_rejects_that_line_only(runner, tmp_path):
    lines = [ndjson_line(n).encode() for n in range(1, 6102)]
    lines[6000] = lines[6000].replace(b'"hello"', '"café"'.encode("latin-1"))
    export = tmp_path / "mixed.ndjson"
    export.write_bytes(b"".join(lines))

    result = runner.invoke(app, ["import", str(export)])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stdout.strip() == "imported 6100, duplicates 0, rejected 1"
    assert "line 6001: not UTF-8 (byte 200 is 0xe9)" in result.stderr


def test_a_csv_row_with_a_latin_1_byte_is_rejected_by_its_line(runner, tmp_path):
    export = tmp_path / "mixed.csv"
    export.write_bytes(
        CSV_HEADER.encode() + csv_row(1).encode() + csv_row(2, "café").encode("latin-1") + csv_row(3).encode()
    )

    result = runner.invoke(app, ["import", str(export)])

    assert result.stdout.strip() == "imported 2, duplicates 0, rejected 1"
    assert "line 3: not UTF-8 (byte 72 of the line is 0xe9)" in result.stderr


def test_a_200_kb_csv_cell_is_imported(runner, engine, tmp_path):
    export = tmp_path / "long.csv"
    export.write_text(CSV_HEADER + csv_row(1, "x" * 200_000))

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip()) == (0, "imported 1, duplicates 0, rejected 0")
    with engine.connect() as conn:
        assert len(conn.execute(select(Message.text)).scalar_one()) == 200_000


def test_a_cell_over_the_event_limit_is_rejected_and_the_next_rows_imported(runner, tmp_path):
    export = tmp_path / "huge.csv"
    export.write_text(CSV_HEADER + csv_row(1) + csv_row(2, "x" * (1024 * 1024 + 1)) + csv_row(3))

    result = runner.invoke(app, ["import", str(export)])

    assert result.stdout.strip() == "imported 2, duplicates 0, rejected 1"
    assert "line 3: cannot read this CSV row (field larger than field limit" in result.stderr


@pytest.mark.parametrize("name", ["events.ndjson.gz", "events.csv.gz"])
def test_gzipped_files_are_read_transparently(runner, tmp_path, name):
    content = ndjson_line(1) + ndjson_line(2) if "ndjson" in name else CSV_HEADER + csv_row(1) + csv_row(2)
    export = tmp_path / name
    export.write_bytes(gzip.compress(content.encode()))

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip()) == (0, "imported 2, duplicates 0, rejected 0")


def test_a_directory_is_named_as_one(runner, tmp_path):
    result = runner.invoke(app, ["import", str(tmp_path)])

    assert result.exit_code == 2 and f"{tmp_path}: is a directory" in result.stderr


def test_an_import_stopped_by_the_database_says_what_it_kept_and_exits_3(runner, engine, tmp_path):
    export = tmp_path / "two-batches.ndjson"
    export.write_text("".join(ndjson_line(n) for n in range(1, 12)))  # batches of 10: e1-e10, then e11

    with refused_inserts(engine, "raw_event", external_id="e11"):
        result = runner.invoke(app, ["import", str(export), "--batch", "10"])

    assert result.exit_code == 3 and "Traceback" not in result.output
    assert result.stdout.strip() == "imported 10, duplicates 0, rejected 0"
    assert "the import stopped (IntegrityError" in result.stderr or "the import stopped (" in result.stderr
    assert "the 10 events imported before it are kept; run the same command again" in result.stderr
    again = runner.invoke(app, ["import", str(export), "--batch", "10"])
    assert again.stdout.strip() == "imported 1, duplicates 10, rejected 0"
