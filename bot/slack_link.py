"""Reaching Slack: which mode the settings ask for, the tokens checked at start, and the Socket Mode
connection opened with one clear line per failure.

Three modes: Socket Mode (`SLACK_APP_TOKEN`), HTTP (`SLACK_SIGNING_SECRET`), or none (no Slack setting
at all: webhooks, Chatwoot, health, metrics and the KPI cache still run). At start `check_tokens` asks
Slack whether it takes the tokens: a refusal stops the bot with a clear message, while a Slack that
cannot be reached is only logged (webhooks keep working; Socket Mode keeps trying).

slack_sdk's Socket Mode client logs each failed connection attempt over several lines and retries on its
own, and its `connect()` returns without an error when the WebSocket did not open. `SocketModeLink`
opens the connection itself: it keeps the client's lines to itself until the socket is open, logs one
line per failed attempt, retries with a growing pause, and says "connected" only once the socket is open;
from then on the client's own reconnection takes over.
"""

from __future__ import annotations

import logging
import threading
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from storage.settings import Settings

SOCKET = "Socket Mode"
HTTP = "HTTP (POST /slack/events)"
CHECK_TIMEOUT = 10
_log = logging.getLogger("kpibot.slack")


class SlackRefused(Exception):
    """Slack answered and turned a token down: the settings must change before the bot can work."""


class SlackUnreachable(Exception):
    """Slack could not be asked (network, timeout, Slack's own error): worth trying again later."""


def slack_mode(settings: Settings) -> str | None:
    """How Slack's requests reach this bot: SOCKET, HTTP, or None when Slack is not configured."""
    if settings.slack_app_token is not None:
        return SOCKET
    if settings.slack_signing_secret is not None:
        return HTTP
    return None


def missing_settings(settings: Settings) -> list[str]:
    """The Slack settings still missing for the mode asked for ([] when complete, or when none is set)."""
    has_bot = settings.slack_bot_token is not None
    if slack_mode(settings) is None:
        return (
            []
            if not has_bot
            else ["SLACK_SIGNING_SECRET (Basic Information > Signing Secret), or SLACK_APP_TOKEN"]
        )
    return [] if has_bot else ["SLACK_BOT_TOKEN (OAuth & Permissions > Bot User OAuth Token, xoxb-…)"]


def check_tokens(settings: Settings) -> str:
    """Who the bot is in which workspace ("@kpibot in Acme"), once Slack took the bot token (auth.test)
    and, in Socket Mode, the app token (apps.connections.open); else SlackRefused or SlackUnreachable."""
    client = WebClient(base_url=settings.slack_api_url, timeout=CHECK_TIMEOUT)
    identity = _ask(
        "SLACK_BOT_TOKEN",
        lambda: client.auth_test(token=settings.slack_bot_token.get_secret_value()),
        "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions, after installing the app",
    )
    if settings.slack_app_token is not None:
        _ask(
            "SLACK_APP_TOKEN",
            lambda: client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value()),
            "generate an app-level token (xapp-…) with connections:write under Basic Information, "
            "and turn Socket Mode on",
        )
    return f"@{identity.get('user') or 'kpibot'} in {identity.get('team') or identity.get('team_id')}"


def _ask(setting: str, call, remedy: str) -> dict:
    try:
        return call().data
    except SlackApiError as exc:
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if status == 200 and error:  # Slack answered: ok=false is a verdict on the token
            raise SlackRefused(f"Slack refused {setting} ({error}): {remedy}") from None
        raise SlackUnreachable(f"Slack answered HTTP {status} when checking {setting}") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SlackUnreachable(f"cannot reach Slack when checking {setting}: {reason}") from None


class SocketModeLink:
    """The Socket Mode connection of one Bolt app, opened in the background by `start()`."""

    def __init__(self, bolt: App, app_token: str, *, retry_seconds: float = 10.0, max_retry_seconds=300.0):
        self._held = _HeldLines()
        sdk_logger = logging.getLogger("kpibot.slack.socket")
        sdk_logger.addFilter(self._held)
        self.handler = SocketModeHandler(bolt, app_token, logger=sdk_logger)
        self.connected = threading.Event()
        self._retry = (retry_seconds, max_retry_seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpibot-socket-mode", daemon=True)

    def start(self) -> None:
        """Starts opening the connection; returns at once."""
        self._thread.start()

    def close(self) -> None:
        """Stops trying and closes the connection."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.handler.close()

    def _run(self) -> None:
        pause, longest = self._retry
        while not self._stop.is_set():
            problem = self._attempt()
            if problem is None:
                self._held.holding = False
                self.connected.set()
                _log.info("connected to Slack over Socket Mode")
                return
            _log.warning("Socket Mode: %s; trying again in %s s", problem, f"{pause:g}")
            self._stop.wait(pause)
            pause = min(pause * 2, longest)

    def _attempt(self) -> str | None:
        """None once the socket is open; else what failed, in one line."""
        client = self.handler.client
        try:
            url = client.web_client.apps_connections_open(app_token=client.app_token).get("url")
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            return (
                f"Slack refused SLACK_APP_TOKEN ({error})"
                if error
                else f"Slack answered HTTP {exc.response.status_code}"
            )
        except (URLError, OSError) as exc:
            return f"cannot reach Slack: {getattr(exc, 'reason', None) or exc}"
        if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
            return "Slack's apps.connections.open gave no WebSocket URL"
        with client.connect_operation_lock:
            self._held.last = None
            client.wss_uri = url
            client.connect()
            if client.is_connected():
                return None
            client.auto_reconnect_enabled = False  # this loop retries, one line per attempt
        return f"the WebSocket did not open ({self._held.last or 'no reason given'})"


class _HeldLines(logging.Filter):
    """Keeps the Socket Mode client's log lines back while the connection is being opened, remembering
    the last one (the reason an attempt failed); lets them through once it is open."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = True
        self.last: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.holding:
            return True
        if record.levelno >= logging.WARNING:
            self.last = record.getMessage().splitlines()[0][:200]
        return False
