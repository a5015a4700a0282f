"""`kpibot import`: the summary line, per-line rejections, exit codes, CSV (headers in any case, columns
left out), stdin, bad lines kept once however often a file is imported, `--db`."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Conversation, Message, RawEvent, RejectedEvent
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


def _said(result) -> list[str]:
    """The lines the command wrote to stderr (the progress bar, transient, leaves blank lines)."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def _rejected_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(RejectedEvent.position, RejectedEvent.reason).order_by(RejectedEvent.id)
        ).all()


def test_csv_headers_are_matched_ignoring_case_and_surrounding_spaces(runner, engine, tmp_path):
    export = tmp_path / "odd-case.csv"
    export.write_text(
        " ID , Type,AT,Conversation_ID,CHANNEL,Direction,Author_Kind,AUTHOR_ID , Author_Name,Text\n"
        "c1,message,2026-11-20T09:00:00Z,fb-1,fb,inbound,customer,@bob,Bob,Where is my order?\n"
        "c2,message,2026-11-20T09:10:00Z,fb-1,fb,outbound,agent,U7,Bo,Checking\n"
    )

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip(), _said(result)) == (
        0,
        "imported 2, duplicates 0, rejected 0",
        [],
    )
    with engine.connect() as conn:
        conversation = conn.execute(select(Conversation.channel, Conversation.frt_seconds)).one()
        bodies = [
            json.loads(body) for body in conn.execute(select(RawEvent.body).order_by(RawEvent.id)).scalars()
        ]
    assert tuple(conversation) == ("facebook", 600.0)
    assert [body["author"]["kind"] for body in bodies] == ["customer", "agent"]
    assert bodies[1]["author"] == {"kind": "agent", "id": "U7", "name": "Bo"}


def test_columns_that_are_no_event_field_are_named_once_per_file_and_left_out(
    runner, engine, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("export.csv").write_text(
        CSV_HEADER.rstrip("\n")
        + ",foo,bar\n"
        + "".join(csv_row(n).rstrip("\n") + ",x,y\n" for n in range(1, 4))
    )

    result = runner.invoke(app, ["import", "export.csv"])

    assert (result.exit_code, result.stdout.strip()) == (0, "imported 3, duplicates 0, rejected 0")
    assert _said(result) == ["export.csv: columns left out (not event fields): foo, bar"]
    with engine.connect() as conn:
        bodies = [json.loads(body) for body in conn.execute(select(RawEvent.body)).scalars()]
    assert not any({"foo", "bar"} & set(body) for body in bodies)


def test_a_near_miss_column_is_named_with_the_field_it_may_mean_and_the_import_goes_on(
    runner, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("export.csv").write_text(
        "id,type,at,conversation,channel,status,Blank\n"
        "s1,status,2026-11-20T10:00:00Z,fb-1,fb,resolved,\n"
        "s2,status,2026-11-20T11:00:00Z,fb-1,fb,closed,\n"
    )

    result = runner.invoke(app, ["import", "export.csv"])

    assert (result.exit_code, result.stdout.strip()) == (1, "imported 0, duplicates 0, rejected 2")
    assert _said(result) == [
        "export.csv: columns left out (not event fields): conversation (did you mean conversation_id?), "
        "Blank",
        'line 2: "conversation_id" is missing',
        'line 3: "conversation_id" is missing',
    ]


def test_one_column_left_out_is_named_in_the_singular_and_a_blank_header_cell_not_at_all(
    runner, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("a.csv").write_text(
        CSV_HEADER.rstrip("\n") + ",Notes,\n" + csv_row(1).rstrip("\n") + ",call back,\n"
    )

    result = runner.invoke(app, ["import", "a.csv"])

    assert (result.exit_code, _said(result)) == (0, ["a.csv: column left out (not an event field): Notes"])


def test_a_misspelt_channel_in_a_csv_row_is_answered_with_did_you_mean(runner, tmp_path):
    export = tmp_path / "channels.csv"
    export.write_text(CSV_HEADER + csv_row(1).replace(",facebook,", ",twiter,") + csv_row(2))

    result = runner.invoke(app, ["import", str(export)])

    assert (result.exit_code, result.stdout.strip()) == (1, "imported 1, duplicates 0, rejected 1")
    assert _said(result) == [
        "line 2: \"channel\" 'twiter' is not a known channel (chat, email, facebook, instagram, linkedin, "
        "phone, portal, slack, telegram, tiktok, twitter, viber, whatsapp, youtube) — did you mean 'twitter'?"
    ]


def test_importing_a_file_with_bad_lines_again_keeps_each_bad_line_once(runner, engine, tmp_path):
    export = tmp_path / "bad.csv"
    # a misspelt channel; a status nobody knows; a row cut short by a non-UTF-8 byte (kept as its shape only)
    export.write_bytes(
        (CSV_HEADER + csv_row(1) + csv_row(2).replace(",facebook,", ",twiter,")).encode()
        + csv_row(3, "café").encode("latin-1")
        + csv_row(4).encode()
    )

    first = runner.invoke(app, ["import", str(export)])
    second = runner.invoke(app, ["import", str(export)])
    listed = runner.invoke(app, ["rejected", "list"])

    assert first.stdout.strip() == "imported 2, duplicates 0, rejected 2"
    assert (second.exit_code, second.stdout.strip()) == (1, "imported 0, duplicates 2, rejected 2")
    assert second.stderr == first.stderr  # still printed, line by line
    rows = _rejected_rows(engine)
    assert [(position, reason.split(" (")[0]) for position, reason in rows] == [
        (3, "\"channel\" 'twiter' is not a known channel"),
        (4, "not UTF-8"),
    ]
    assert (
        listed.exit_code == 0 and listed.stdout.count("twiter") == 1 and listed.stdout.count("not UTF-8") == 1
    )


def test_the_same_bad_line_in_ndjson_imported_twice_is_kept_once_and_another_source_keeps_its_own(
    runner, engine, tmp_path
):
    export = tmp_path / "bad.ndjson"
    export.write_text(ndjson_line(1) + json.dumps(inbound("e2", 0, channel="twiter")) + "\n" + "{not json\n")

    outcomes = [
        runner.invoke(app, ["import", str(export), *extra]) for extra in ([], [], ["--source", "crm"])
    ]

    assert [outcome.stdout.strip().split(", ")[-1] for outcome in outcomes] == ["rejected 2"] * 3
    with engine.connect() as conn:
        kept = conn.execute(
            select(RejectedEvent.source, RejectedEvent.position).order_by(RejectedEvent.id)
        ).all()
    assert [tuple(row) for row in kept] == [("kpibot", 2), ("kpibot", 3), ("crm", 2), ("crm", 3)]


def test_a_csv_header_naming_a_field_twice_is_a_usage_error_and_nothing_is_imported(
    runner, engine, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("good.csv").write_text(CSV_HEADER + csv_row(1))
    Path("twice.csv").write_text("ID,type,at,id\nc1,message,2026-11-20T09:00:00Z,c2\n")

    result = runner.invoke(app, ["import", "good.csv", "twice.csv"])

    assert (result.exit_code, result.stdout) == (2, "")
    assert (
        result.stderr
        == "error: twice.csv: the columns 'ID' and 'id' both name the field 'id'; keep one of them\n"
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RawEvent)).scalar_one() == 0


def test_author_columns_differing_only_in_case_and_spaces_are_the_same_field(runner, tmp_path):
    export = tmp_path / "author.csv"
    export.write_text("id,type,at,author_kind, Author_Kind\n")

    result = runner.invoke(app, ["import", str(export)])

    assert result.exit_code == 2
    assert "the columns 'author_kind' and 'Author_Kind' both name the field 'author_kind'" in result.stderr


def test_a_csv_header_the_csv_module_cannot_read_is_a_usage_error(runner, tmp_path):
    export = tmp_path / "huge-header.csv"
    export.write_text('id,"' + "x" * (1024 * 1024 + 1) + '"\n' + csv_row(1))

    result = runner.invoke(app, ["import", str(export)])

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"error: {export}: cannot read the CSV header row (field larger than field limit" in result.stderr


def test_a_csv_file_with_a_header_only_or_nothing_imports_nothing(runner, tmp_path):
    (tmp_path / "header.csv").write_text(CSV_HEADER)
    (tmp_path / "empty.csv").write_text("")

    result = runner.invoke(app, ["import", str(tmp_path / "header.csv"), str(tmp_path / "empty.csv")])

    assert (result.exit_code, result.stdout.strip(), _said(result)) == (
        0,
        "imported 0, duplicates 0, rejected 0",
        [],
    )


def test_import_and_purge_take_the_database_as_db(tmp_path, monkeypatch):
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")
    monkeypatch.chdir(tmp_path)  # no DATABASE_URL: without --db, ./kpibot.db
    runner = CliRunner()

    imported = runner.invoke(app, ["import", str(EXAMPLE), "--db", "named.db"])
    purged = runner.invoke(app, ["purge", "--days", "0", "--db", "named.db"])

    assert (imported.exit_code, imported.stdout.strip()) == (0, "imported 4, duplicates 0, rejected 0")
    assert purged.exit_code == 0 and purged.stdout.startswith("purged text of 2 messages and 2 raw events")
    assert Path("named.db").is_file() and not Path("kpibot.db").exists()


def test_the_import_help_points_to_docs_events_md(runner):
    result = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "docs/events.md" in result.stdout and "EVENTS.md" not in result.stdout
    assert "--db" in result.stdout
