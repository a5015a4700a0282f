"""The conversation export (docs/export.md): `/kpi export [channel…] PERIOD` and `kpibot export
conversations`, one row per conversation opened in the period, as CSV or XLSX.

Both doors parse the same words (the `/kpi` grammar, channels and a period only), and write through
`export_conversations`: rows streamed from `storage.export`, cells made safe for spreadsheets, written to
a temporary file beside the target that is renamed over it once complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from commands.errors import UsageError
from commands.export_files import WRITERS, Cell
from commands.parse import parse_command
from commands.periods import Period
from storage.export import ExportRow, conversation_rows, export_scope, several_sources
from storage.settings import Settings

COLUMNS = (
    "id", "channel", "opened", "first response", "FRT seconds", "waits", "resolved", "resolution seconds",
    "agent", "team", "CSAT", "NPS", "sentiment mean", "topics", "reopened", "link",
)  # fmt: skip
# What a spreadsheet may run as a formula when a cell starts with it (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 10_000  # rows between two progress reports
DECIMALS = 3  # seconds to the millisecond; a mean score to a thousandth
KNOWN_MINUTES = 20_000  # local minutes remembered while writing times (a few MB)
_SECONDS = [f":{second:02d}" for second in range(60)]
_FIXED = f"%.{DECIMALS}f"
WORD = "export"  # `/kpi export …`


@dataclass(frozen=True)
class ExportRequest:
    """An export asked for: the conversations opened in `period` on `channels` (() = every channel)."""

    channels: tuple[str, ...]
    period: Period
    period_word: str
    metric: str = "export"  # what the slash-command metrics count it as


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: `rows` of the `matched` conversations asked for (fewer when it stopped at
    its limit: `capped`)."""

    rows: int
    matched: int
    capped: bool


def is_export(text: str) -> bool:
    """True when a `/kpi` command's first word asks for an export."""
    words = text.split()
    return bool(words) and words[0].lower() == WORD


def parse_export(text: str, settings: Settings, now: datetime, *, usage: str) -> ExportRequest | None:
    """The export `text` asks for (`[channel…] [period]`, the words after `export`: `all` or no channel
    for every channel, 7 days by default), read by the `/kpi` grammar, so an unknown word gets its "did
    you mean"; None when it asks for help. Raises UsageError for anything but channels and a period;
    `usage` is how the door writes the command, for that message."""
    request = parse_command(text, settings, now)
    if request.metric == "help":
        return None
    if request.metric != "scorecard" or request.by or request.business_hours or request.public:
        raise UsageError(f"an export takes channels and a period only: {usage}")
    return ExportRequest(request.channels, request.period, request.period_word)


def export_help(usage: str) -> str:
    """What an export is, in two lines, with how the door writes it."""
    return (
        f"{usage}: one row per conversation opened in the period (7 days by default; `all` or no channel "
        "for every channel), with its first response, waits, resolution, agent, team, CSAT, NPS, sentiment, "
        "topics and link. Times are in the workspace time zone."
    )


def export_format(path: Path) -> str:
    """The file format `path`'s suffix asks for ("csv" or "xlsx"); UsageError for any other."""
    kind = path.suffix.lower().lstrip(".")
    if kind not in WRITERS:
        raise UsageError(
            f"unknown export format `{path.suffix or path.name}`: the file must end in .csv or .xlsx"
        )
    return kind


def file_name(request: ExportRequest, suffix: str = "csv") -> str:
    """`kpibot-conversations-<first day>-<last day>.<suffix>`, the period's local dates."""
    first = request.period.start.astimezone(request.period.tz).date()
    last = (request.period.end - timedelta(microseconds=1)).astimezone(request.period.tz).date()
    return f"kpibot-conversations-{first.isoformat()}-{max(first, last).isoformat()}.{suffix}"


def export_conversations(
    conn: Connection,
    request: ExportRequest,
    settings: Settings,
    path: Path,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Writes the export to `path` (its suffix names the format) and returns how many rows it holds: all
    the conversations asked for, or the first `limit` (`capped` then says more were left out).

    The file appears whole or not at all: written beside `path` under a temporary name, renamed over it
    at the end, removed on any failure. `progress(done, total)` is called every PROGRESS_EVERY rows."""
    kind = export_format(path)
    scope = export_scope(conn, request.period.start, request.period.end, request.channels)
    total = scope.count if limit is None else min(scope.count, limit)
    make_cells = row_cells(settings.zone, qualified=bool(scope.count) and several_sources(conn), kind=kind)
    rows = conversation_rows(conn, scope, limit=total)
    tally = _Tally(total, progress)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        WRITERS[kind](temporary, COLUMNS, tally.count(map(make_cells, rows)))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        rows.close()
    return ExportResult(tally.done, scope.count, limit is not None and scope.count > limit)


def row_cells(
    zone: ZoneInfo, *, qualified: bool = False, kind: str = "xlsx"
) -> Callable[[ExportRow], list[Cell]]:
    """What makes one export row's cells, in COLUMNS order: text neutralised (`neutralise`); times ISO
    8601 in `zone`, to the second, with their offset; durations in seconds, scores and the sentiment mean
    rounded to DECIMALS; counts as integers; None for an empty cell. The id is the conversation's id at
    its source, `source:id` when `qualified` (the database holds several sources).

    Numbers are numbers for XLSX; for CSV (`kind`), their text without a needless ".0" (4, not 4.0)."""
    time = _local_times(zone)
    number = _decimal_text if kind == "csv" else _rounded

    def cells(row: ExportRow) -> list[Cell]:
        return [
            neutralise(f"{row.source}:{row.external_id}" if qualified else row.external_id),
            neutralise(row.channel),
            time(row.opened_at),
            time(row.first_response_at),
            None if row.frt_seconds is None else number(row.frt_seconds),
            row.waits,
            time(row.resolved_at),
            None if row.resolution_seconds is None else number(row.resolution_seconds),
            neutralise(row.agent) if row.agent else None,
            neutralise(row.team) if row.team else None,
            None if row.csat is None else number(row.csat),
            None if row.nps is None else number(row.nps),
            None if row.sentiment is None else number(row.sentiment),
            neutralise(";".join(row.topics)) if row.topics else None,
            row.reopen_count,
            neutralise(row.link) if row.link else None,
        ]

    return cells


def neutralise(text: str) -> str:
    """`text` with a leading `'` when it starts like a formula (= + - @ tab CR), so that a spreadsheet
    shows it as text instead of running it; any other text unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _local_times(zone: ZoneInfo) -> Callable[[datetime | None], str | None]:
    """ISO 8601 text, to the second, of aware times in `zone`. Each minute's local wording and offset is
    worked out once (a zone's offset changes on a whole minute) and kept while the rows, in id order, stay
    in nearby minutes: three times a row made the plain conversion a fifth of a CSV export's time."""
    known: dict[tuple[int, int, int, int, int], tuple[str, str]] = {}

    def text(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        key = (moment.year, moment.month, moment.day, moment.hour, moment.minute)
        found = known.get(key)
        if found is None:
            if len(known) >= KNOWN_MINUTES:
                known.clear()
            local = moment.astimezone(zone).isoformat(timespec="seconds")
            found = known[key] = (local[:16], local[19:])  # "2026-11-20T10:07", "+01:00"
        return found[0] + _SECONDS[moment.second] + found[1]

    return text


def _rounded(value: float) -> float:
    return round(value, DECIMALS)


def _decimal_text(value: float) -> str:
    text = (_FIXED % value).rstrip("0").rstrip(".")  # twice as fast as round() then str()
    return "0" if text == "-0" else text


class _Tally:
    """Counts the rows written, and reports every PROGRESS_EVERY of them and the end to `progress`."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.done = 0
        self._total = total
        self._progress = progress

    def count(self, table: Iterator[list]) -> Iterator[list]:
        """`table`'s rows, counted as they are taken."""
        report = self._progress
        if report is not None:
            report(0, self._total)
        for self.done, row in enumerate(table, 1):  # noqa: B007 - read after the loop and by the caller
            yield row
            if report is not None and self.done % PROGRESS_EVERY == 0:
                report(self.done, self._total)
        if report is not None:
            report(self.done, self._total)
