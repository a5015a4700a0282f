"""File import: NDJSON and CSV exports read into the ingestion core in batched transactions.

CSV columns (header row required; empty cells are left out): the event fields of EVENTS.md by name
(`id,type,at,conversation_id,channel,direction,text,quick_reply,handle_seconds,private,status,agent,team,
to_channel,kind,score,comment,value,converted,customer_id,change,revenue,link,source`), with the message
author flattened into `author_kind,author_id,author_name`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from storage.ingest import Ingestor, IngestResult
from storage.rebuild import chunks

BATCH = 5000


def read_ndjson(stream: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, line) for every non-blank line."""
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line


def read_csv(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, event dict) for every CSV row, with `author_*` columns folded into `author`."""
    reader = csv.DictReader(stream)
    for row in reader:
        event: dict[str, Any] = {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
        author = {
            field: event.pop(f"author_{field}")
            for field in ("kind", "id", "name")
            if f"author_{field}" in event
        }
        if author:
            event["author"] = author
        yield reader.line_num, event


def read_events(stream: IO[str], name: str) -> Iterator[tuple[int, Any]]:
    """Payloads of a file: CSV when the name ends in .csv, NDJSON (or one JSON array per line) otherwise."""
    if name.lower().endswith(".csv"):
        return read_csv(stream)
    return read_ndjson(stream)


def import_items(
    ingestor: Ingestor,
    items: Iterable[tuple[int, Any]],
    *,
    source: str = "kpibot",
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Ingests `items` in transactions of `batch` events; returns the summed outcome."""
    total = IngestResult()
    for part in chunks(items, batch):
        total.add(ingestor.ingest(part, source=source))
        if progress is not None:
            progress(len(part))
    return total


def open_text(path: str, stdin: IO[str]) -> IO[str]:
    """The file at `path` as text (`-` is standard input)."""
    if path == "-":
        return stdin
    return open(path, encoding="utf-8", newline="")
