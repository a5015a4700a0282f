"""The export's two file formats, each written row by row in constant memory: CSV (the csv module, UTF-8,
a header row) and XLSX (XlsxWriter's constant-memory mode, one header row per sheet).

A row is a list of cells as `commands.export.row_cells` makes them: text (already neutralised), numbers
(for CSV, already their text), or None for an empty cell.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence

Cell = str | float | int | None
XLSX_MAX_ROWS = 1_048_576  # rows in one Excel sheet, its header row included
SHEET = "conversations"


def write_csv(path: str, header: Sequence[str], table: Iterable[Sequence[Cell]]) -> None:
    """Writes `header` then `table` to `path` as CSV: UTF-8 (no byte-order mark), Excel's quoting and CRLF
    line ends, None as an empty field."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(table)


def write_xlsx(path: str, header: Sequence[str], table: Iterable[Sequence[Cell]]) -> None:
    """Writes `header` then `table` to `path` as an XLSX workbook: text cells as text (never read as a
    formula, a number or a link), numbers as numbers, None as an empty cell. A sheet holds 1,048,575
    rows; further rows go on to sheets "conversations 2", "conversations 3"… each with the header.
    Returns the number of rows after the headers."""
    import xlsxwriter  # only an XLSX export needs it (the CLI starts without it)

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,  # each row goes to disk once the next one starts
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    sheets, sheet, line = 0, None, XLSX_MAX_ROWS
    try:
        for row in table:
            if line == XLSX_MAX_ROWS:
                sheets += 1
                sheet, line = _sheet(workbook, header, bold, sheets), 1
                text, number = sheet.write_string, sheet.write_number
            for column, cell in enumerate(row):
                if cell is None:
                    continue
                (text if type(cell) is str else number)(line, column, cell)
            line += 1
        if sheet is None:
            _sheet(workbook, header, bold, 1)
    finally:
        workbook.close()


def _sheet(workbook, header: Sequence[str], bold, number: int):
    """A new sheet with the header row, frozen above the rows."""
    sheet = workbook.add_worksheet(SHEET if number == 1 else f"{SHEET} {number}")
    sheet.freeze_panes(1, 0)
    for column, name in enumerate(header):
        sheet.write_string(0, column, name, bold)
    return sheet


WRITERS: dict[str, Callable[[str, Sequence[str], Iterable[Sequence[Cell]]], None]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
}
