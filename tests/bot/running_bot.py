"""A kpibot HTTP app on a temp database, the Slack stand-in and a fixed clock; signed-request helpers.

The real Starlette app (Bolt, signature checks, lazy answers) runs on a real uvicorn server on a free
127.0.0.1 port in a thread; tests send it HTTP requests as Slack does. Answers arrive at the
stand-in's response_url, so tests wait for them with a deadline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy.engine import Engine

from bot.server import create_http_app
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.slack_standin import SlackStandIn, sign, wait_for

SECRET = "test-signing-secret"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class RunningBot:
    """The app under test and what tests need around it."""

    http: httpx.Client
    settings: Settings
    engine: Engine
    slack: SlackStandIn

    def post(
        self, body: str, *, content_type: str, secret: str = SECRET, timestamp: int | None = None, **headers
    ):
        """POSTs `body` to /slack/events signed with `secret` (now, or at `timestamp`)."""
        signed = sign(body, secret, timestamp)
        return self.http.post(
            "/slack/events", content=body, headers={**signed, "Content-Type": content_type, **headers}
        )

    def command(self, body: str, **kwargs):
        """POSTs a form-encoded slash command body (see `slash_command_body`)."""
        return self.post(body, content_type="application/x-www-form-urlencoded", **kwargs)

    def event(self, body: str, **kwargs):
        """POSTs a JSON Events API body (see `event_body`)."""
        return self.post(body, content_type="application/json", **kwargs)


def bot_settings(database_url: str, slack: SlackStandIn, **overrides) -> Settings:
    """Settings for a bot on `database_url` talking to the stand-in."""
    return Settings(
        database_url=database_url,
        pseudonym_key="test-key",
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_response_origins=[slack.base_url],
        **overrides,
    )


@contextmanager
def running_bot(
    database_url: str, slack: SlackStandIn, *, now: datetime = NOW, engine=None, **overrides
) -> Iterator[RunningBot]:
    """A served app on the database at `database_url` (or `engine`); on exit, stops it as SIGTERM would."""
    settings = bot_settings(database_url, slack, **overrides)
    engine = engine or make_engine(settings.database_url)
    app = create_http_app(settings, engine=engine, clock=lambda: now)
    try:
        with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
            yield RunningBot(http, settings, engine, slack)
    finally:  # a failing test must not leave connections open for the next one to be blamed for
        engine.dispose()


@contextmanager
def serving(app) -> Iterator[str]:
    """Serves the ASGI app with uvicorn on a free port in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=10, message="uvicorn to start")
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def ingest(engine, settings: Settings, events: list[dict]) -> None:
    """Stores docs/events.md dicts through the real ingestion core; every one must be accepted."""
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
    assert not result.rejected, result.rejected


def message(eid: str, at: datetime, conv: str, channel: str, direction: str) -> dict:
    """An inbound customer message or an outbound agent reply at `at`."""
    author = {"kind": "customer", "id": "@ana"} if direction == "inbound" else {"kind": "agent", "id": "U7"}
    return {
        "id": eid,
        "type": "message",
        "at": at.isoformat(),
        "conversation_id": conv,
        "channel": channel,
        "direction": direction,
        "author": author,
        "text": "where is my parcel?" if direction == "inbound" else "checking now",
    }


def twitter_week(now: datetime = NOW) -> list[dict]:
    """Twitter first responses of 1 h and 2 h this week, 3 h the week before, one still waiting 1 h.

    Facebook has one 10-minute response this week, which twitter figures must not include.
    """
    hours = timedelta(hours=1)
    return [
        message("a1", now - timedelta(days=2), "tw-1", "twitter", "inbound"),
        message("a2", now - timedelta(days=2) + hours, "tw-1", "twitter", "outbound"),
        message("b1", now - timedelta(days=3), "tw-2", "twitter", "inbound"),
        message("b2", now - timedelta(days=3) + 2 * hours, "tw-2", "twitter", "outbound"),
        message("c1", now - hours, "tw-3", "twitter", "inbound"),
        message("d1", now - timedelta(days=10), "tw-0", "twitter", "inbound"),
        message("d2", now - timedelta(days=10) + 3 * hours, "tw-0", "twitter", "outbound"),
        message("e1", now - timedelta(days=1), "fb-1", "facebook", "inbound"),
        message("e2", now - timedelta(days=1, minutes=-10), "fb-1", "facebook", "outbound"),
    ]


def kpibot_serve(directory: Path, env: dict[str, str], name: str = "serve") -> tuple[subprocess.Popen, Path]:
    """Starts `kpibot serve --port 0` with only `env` (plus PATH) in `directory`; logs go to `name`.log."""
    script = shutil.which("kpibot", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-c", "from bot.cli import main; main()"]
    log = directory / f"{name}.log"
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [*command, "serve", "--port", "0"],
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).parents[2]), **env},
            cwd=directory,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    return process, log


def served_url(process: subprocess.Popen, log: Path) -> str:
    """The base URL a `kpibot_serve` process listens on, once it says so in its log."""
    wait_for(lambda: "Uvicorn running" in log.read_text() or process.poll() is not None, timeout=20)
    started = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
    assert started, log.read_text()
    return started.group(1)
