"""`/kpi export [channel…] [period]` in Slack: the conversations opened in the period as a CSV file, sent
to the asker in a direct message (docs/export.md).

A response_url message cannot carry a file: the CSV is written to a temporary folder (commands.export),
uploaded with files_upload_v2 into the direct message conversations.open gives (scope im:write), then
removed. The slash command is answered ephemerally with how many rows were sent, or why none were: an
empty period, or an upload Slack refused (in words; the details go to the log). A Slack export stops at
SLACK_ROW_LIMIT rows and says so; the terminal's `kpibot export conversations` has no limit.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.jobs.posting import slack_error
from commands.export import ExportRequest, ExportResult, export_conversations, file_name
from commands.render_blocks import notice_message
from commands.slack_text import inline
from storage.settings import Settings

# About 40 MB of CSV: quick to upload, and opened by any spreadsheet (Excel stops at 1,048,576 rows).
SLACK_ROW_LIMIT = 200_000
USAGE = "`/kpi export [channel…] [period]`"
_log = logging.getLogger("kpibot.slack")


def answer_export(
    request: ExportRequest, body: dict[str, Any], client: WebClient, settings: Settings, engine: Engine
) -> tuple[dict[str, Any], bool]:
    """The ephemeral answer to `/kpi export …`, after sending the CSV to the asker's direct messages;
    nothing is sent for a period without conversations."""
    scope = f"{request.period.label}, {_channels(request)}"
    with tempfile.TemporaryDirectory(prefix="kpibot-export-") as folder:
        path = Path(folder) / file_name(request)
        with engine.connect() as conn:
            result = export_conversations(conn, request, settings, path, limit=SLACK_ROW_LIMIT)
        if not result.rows:
            return notice_message(
                f"No conversations opened in {inline(scope)}: there is nothing to send."
            ), False
        comment = f"*{_count(result.rows)}* opened in {inline(scope)} · times in {inline(settings.tz)}"
        failure = _send(
            client, body["user_id"], path, f"Conversations, {scope}", f"{comment}{_capped(result)}"
        )
    if failure is not None:
        return notice_message(f":warning: The export could not be sent to you: {failure}"), False
    return notice_message(f"Sent {_count(result.rows)} to you in a direct message.{_capped(result)}"), False


def _send(client: WebClient, user: str, path: Path, title: str, comment: str) -> str | None:
    """Uploads the file at `path` into the direct message with `user`; None when done, else why not."""
    try:
        direct = client.conversations_open(users=user)["channel"]["id"]
        client.files_upload_v2(
            channel=direct,
            file=str(path),
            filename=path.name,
            title=title,
            initial_comment=comment,
        )
    except Exception as exc:  # noqa: BLE001 - the refusal is answered in words, its details logged
        return _reason(exc)
    return None


def _reason(exc: Exception) -> str:
    """A Slack refusal in words (with what to do, for the ones a person fixes); anything else as one
    line asking to try again, its details in the log only."""
    if isinstance(exc, SlackApiError):
        reason = slack_error(exc)[0]
        _log.warning("export not delivered: %s", reason)
        return reason
    _log.warning("export not delivered: %s", type(exc).__name__, exc_info=exc)
    return "Slack could not be reached; try again in a moment"


def _channels(request: ExportRequest) -> str:
    return ", ".join(request.channels) if request.channels else "all channels"


def _count(rows: int) -> str:
    return "1 conversation" if rows == 1 else f"{rows:,} conversations"


def _capped(result: ExportResult) -> str:
    if not result.capped:
        return ""
    return (
        f" That is the first {result.rows:,} of {result.matched:,} (a Slack export stops there): ask for a "
        "shorter period or fewer channels, or run `kpibot export conversations` in the terminal for all."
    )
