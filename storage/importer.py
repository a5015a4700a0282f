"""File import: NDJSON and CSV exports read into the ingestion core in batched transactions.

CSV columns (header row required; empty cells are left out): the event fields of docs/events.md by name
(CSV_FIELDS: `id,type,at,conversation_id,channel,direction,text,quick_reply,handle_seconds,private,status,
agent,team,to_channel,kind,score,comment,value,converted,customer_id,change,revenue,link,source`), with the
message author flattened into `author_kind,author_id,author_name`. Header names are matched ignoring case
and surrounding spaces (`Author_Kind `); a column naming no event field is left out (`csv_header` says
which, with a near-miss suggested), and a header naming one field twice is refused (CsvHeaderError).

Files are read as bytes: a UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped, a `.gz` file is
decompressed on the fly, and a line that is not UTF-8 (or a CSV row that cannot be read) is rejected by
its line number while the rest of the file goes on.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gc
import gzip
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from storage.ingest import Ingestor, IngestResult, Prepared
from storage.normalise import MAX_EVENT_CHARS, Unreadable
from storage.rebuild import chunks

if TYPE_CHECKING:
    from storage.analysis_pool import AnalysisPool

BATCH = 5000
_BOM = codecs.BOM_UTF8
csv.field_size_limit(MAX_EVENT_CHARS)  # a cell may hold as much text as a whole event
# Every field of storage/events.py's models a CSV column can name (the author's flattened into author_*).
CSV_FIELDS = (
    "id", "type", "at", "conversation_id", "channel", "direction", "text", "quick_reply", "handle_seconds",
    "private", "status", "agent", "team", "to_channel", "kind", "score", "comment", "value", "converted",
    "customer_id", "change", "revenue", "link", "source", "author_kind", "author_id", "author_name",
)  # fmt: skip


class CsvHeaderError(ValueError):
    """A CSV header the import cannot go by (one field named by two columns, or unreadable): a usage
    problem, said in the user's words, before any row is read."""


@dataclass(frozen=True)
class CsvColumns:
    """A CSV header as read: the event field of each column (None: left out) and the columns left out,
    each with the field it may have meant (None when nothing is close)."""

    fields: tuple[str | None, ...]
    left_out: tuple[tuple[str, str | None], ...] = ()

    def notice(self) -> str | None:
        """ "columns left out (not event fields): foo, conversation (did you mean conversation_id?)",
        or None when every column is an event field."""
        if not self.left_out:
            return None
        named = [name + (f" (did you mean {near}?)" if near else "") for name, near in self.left_out]
        plural = len(named) > 1
        what = "columns left out (not event fields)" if plural else "column left out (not an event field)"
        return f"{what}: {', '.join(named)}"


def csv_columns(header: list[str]) -> CsvColumns:
    """The event field each column of `header` names, matched ignoring case and surrounding spaces;
    CsvHeaderError when two columns name the same field (which one to read is the user's call)."""
    fields: list[str | None] = []
    named: dict[str, str] = {}  # field -> the column naming it
    for column in header:
        field = column.strip().lower()
        if field not in CSV_FIELDS:
            fields.append(None)
            continue
        if field in named:
            raise CsvHeaderError(
                f"the columns {named[field].strip()!r} and {column.strip()!r} both name the field "
                f"{field!r}; keep one of them"
            )
        named[field] = column
        fields.append(field)
    # a blank header cell (a trailing comma) names nothing and is not worth a word
    unknown = dict.fromkeys(c.strip() for c, f in zip(header, fields, strict=True) if f is None and c.strip())
    left_out = tuple((name, _near(name, named)) for name in unknown)
    return CsvColumns(tuple(fields), left_out)


def _near(name: str, given: dict[str, str]) -> str | None:
    """The event field `name` is closest to, unless another column names it already (then the column is
    not a misspelling of it, and a farther field would be a worse guess)."""
    # stricter than difflib's 0.6, which takes "blank" for "link"
    close = difflib.get_close_matches(name.strip().lower(), CSV_FIELDS, n=1, cutoff=0.7)
    return close[0] if close and close[0] not in given else None


def is_csv(name: str) -> bool:
    """Whether a file is read as CSV: its name ends in .csv (or .csv.gz)."""
    return name.lower().removesuffix(".gz").endswith(".csv")


def csv_header(stream: IO[bytes]) -> CsvColumns:
    """The columns of the CSV file in `stream` (its header row; read before the import, to say which
    columns are left out); CsvHeaderError when the import could not go by it."""
    return _header(csv.reader(_text_lines(stream, {})))


def read_ndjson(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line, as bytes (decoded, or refused, by ingestion)."""
    for number, line in enumerate(stream, 1):
        if number == 1:
            line = line.removeprefix(_BOM)
        if line.strip():
            yield number, line


def read_csv(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    """(line number, event dict) for every CSV row, with `author_*` columns folded into `author`; a row
    on a line that is not UTF-8, or that the csv module cannot read, comes as `Unreadable`. Raises
    CsvHeaderError, before the first row, when the header names a field twice."""
    undecodable: dict[int, str] = {}
    reader = csv.reader(_text_lines(stream, undecodable))
    columns = _header(reader)
    last = reader.line_num  # the header's line
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last += 1
            yield last, Unreadable(f"cannot read this CSV row ({exc})", "")
            continue
        if not row:  # a blank line
            continue
        spanned = [undecodable.pop(n) for n in range(last + 1, reader.line_num + 1) if n in undecodable]
        last = reader.line_num
        if spanned:
            yield last, Unreadable(spanned[0], "")
            continue
        yield last, _event(columns, row)


def _header(reader: Iterator[list[str]]) -> CsvColumns:
    """The columns named by the first non-blank row of `reader` (none for an empty file)."""
    try:
        for row in reader:
            if row:
                return csv_columns(row)
    except csv.Error as exc:
        raise CsvHeaderError(f"cannot read the CSV header row ({exc})") from None
    return CsvColumns(())


def _text_lines(stream: IO[bytes], undecodable: dict[int, str]) -> Iterator[str]:
    """The lines of `stream` as text; a line that is not UTF-8 is noted in `undecodable` (by number)
    and given with its bad bytes replaced, so the CSV reader keeps its place."""
    for number, line in enumerate(stream, 1):
        if number == 1:
            line = line.removeprefix(_BOM)
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            undecodable[number] = f"not UTF-8 (byte {exc.start + 1} of the line is 0x{line[exc.start]:02x})"
            yield line.decode("utf-8", errors="replace")


def _event(columns: CsvColumns, row: list[str]) -> dict[str, Any]:
    """The event of one CSV row: its non-empty cells under their fields (cells of columns left out, and
    cells beyond the header, are dropped), the `author_*` cells folded into `author`."""
    cells = zip(columns.fields, row, strict=False)  # a short row lacks its last cells; a long one's extra go
    event = {field: cell for field, cell in cells if field is not None and cell != ""}
    author = {
        field: event.pop(f"author_{field}") for field in ("kind", "id", "name") if f"author_{field}" in event
    }
    if author:
        event["author"] = author
    return event


def read_events(stream: IO[bytes], name: str) -> Iterator[tuple[int, Any]]:
    """Payloads of a file: CSV when the name ends in .csv (or .csv.gz), NDJSON otherwise."""
    if is_csv(name):
        return read_csv(stream)
    return read_ndjson(stream)


def import_items(
    ingestor: Ingestor,
    items: Iterable[tuple[int, Any]],
    *,
    source: str = "kpibot",
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
    done: IngestResult | None = None,
    pool: AnalysisPool | None = None,
) -> IngestResult:
    """Ingests `items` in transactions of `batch` events, in order; returns the summed outcome (added to
    `done`, when given, as each batch commits: what it holds stays true if a later batch fails).

    Each batch is validated while the one before it waits to be stored; with a `pool` (and text analysis)
    its texts are scored by the pool's workers meanwhile. The pool is used from the second batch on, so an
    import of one batch never waits for its workers to start."""
    total = done if done is not None else IngestResult()
    parts = chunks(items, batch)
    with bulk_collection():
        pending: Prepared | None = None
        while True:
            try:
                part = next(parts)
            except StopIteration:
                break
            except BaseException:
                if pending is not None:  # read before the file failed: stored, as without a pipeline
                    _store(ingestor, pending, total, progress)
                raise
            prepared = ingestor.prepare(part, source=source, pool=pool if pending is not None else None)
            if pending is not None:
                _store(ingestor, pending, total, progress)
            pending = prepared
        if pending is not None:
            _store(ingestor, pending, total, progress)
    return total


def _store(
    ingestor: Ingestor, prepared: Prepared, total: IngestResult, progress: Callable[[int], None] | None
) -> None:
    total.add(ingestor.store(prepared))
    if progress is not None:
        progress(prepared.size)


# Generation-0 threshold while importing. Ingestion makes and drops millions of small objects (parsed
# events, rows, text-analysis tokens); at Python's default (700) the collector also keeps re-scanning
# the older generations' long-lived objects, ~14 % of an import with text analysis (docs/performance.md).
BULK_GC_THRESHOLD = 50_000


@contextmanager
def bulk_collection():
    """Runs the block with the garbage collector triggered less often; its settings are restored after."""
    before = gc.get_threshold()
    gc.set_threshold(BULK_GC_THRESHOLD, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def open_binary(path: str, stdin: IO[bytes]) -> IO[bytes]:
    """The file at `path` as bytes, decompressed when it ends in .gz (`-` is standard input)."""
    if path == "-":
        return stdin
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")
