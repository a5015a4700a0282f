"""File import: NDJSON and CSV exports read into the ingestion core in batched transactions.

CSV columns (header row required; empty cells are left out): the event fields of docs/events.md by name
(`id,type,at,conversation_id,channel,direction,text,quick_reply,handle_seconds,private,status,agent,team,
to_channel,kind,score,comment,value,converted,customer_id,change,revenue,link,source`), with the message
author flattened into `author_kind,author_id,author_name`.

Files are read as bytes: a UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped, a `.gz` file is
decompressed on the fly, and a line that is not UTF-8 (or a CSV row that cannot be read) is rejected by
its line number while the rest of the file goes on.
"""

from __future__ import annotations

import codecs
import csv
import gzip
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from storage.ingest import Ingestor, IngestResult
from storage.normalise import MAX_EVENT_CHARS, Unreadable
from storage.rebuild import chunks

BATCH = 5000
_BOM = codecs.BOM_UTF8
csv.field_size_limit(MAX_EVENT_CHARS)  # a cell may hold as much text as a whole event


def read_ndjson(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line, as bytes (decoded, or refused, by ingestion)."""
    for number, line in enumerate(stream, 1):
        if number == 1:
            line = line.removeprefix(_BOM)
        if line.strip():
            yield number, line


def read_csv(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    """(line number, event dict) for every CSV row, with `author_*` columns folded into `author`; a row
    on a line that is not UTF-8, or that the csv module cannot read, comes as `Unreadable`."""
    undecodable: dict[int, str] = {}
    reader = csv.DictReader(_text_lines(stream, undecodable))
    last = 1  # the header's line
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last += 1
            yield last, Unreadable(f"cannot read this CSV row ({exc})", "")
            continue
        spanned = [undecodable.pop(n) for n in range(last + 1, reader.line_num + 1) if n in undecodable]
        last = reader.line_num
        if spanned:
            yield last, Unreadable(spanned[0], "")
            continue
        yield last, _event(row)


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


def _event(row: dict[str | None, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        k.strip(): v for k, v in row.items() if k and isinstance(v, str) and v != ""
    }  # a row longer than the header puts its extra cells under None, as a list: left out
    author = {
        field: event.pop(f"author_{field}") for field in ("kind", "id", "name") if f"author_{field}" in event
    }
    if author:
        event["author"] = author
    return event


def read_events(stream: IO[bytes], name: str) -> Iterator[tuple[int, Any]]:
    """Payloads of a file: CSV when the name ends in .csv (or .csv.gz), NDJSON otherwise."""
    if name.lower().removesuffix(".gz").endswith(".csv"):
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
) -> IngestResult:
    """Ingests `items` in transactions of `batch` events; returns the summed outcome (added to `done`,
    when given, as each batch commits: what it holds stays true if a later batch fails)."""
    total = done if done is not None else IngestResult()
    for part in chunks(items, batch):
        total.add(ingestor.ingest(part, source=source))
        if progress is not None:
            progress(len(part))
    return total


def open_binary(path: str, stdin: IO[bytes]) -> IO[bytes]:
    """The file at `path` as bytes, decompressed when it ends in .gz (`-` is standard input)."""
    if path == "-":
        return stdin
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")
