"""Reaching Slack: the tokens checked at start, and the Socket Mode connection opened against the stand-in's
real WebSocket handshake, with one line per failed attempt and "connected" only once the socket is open."""

from __future__ import annotations

import gc
import logging

import pytest

from bot.app import create_app
from bot.slack_link import (
    HTTP,
    SOCKET,
    SlackRefused,
    SlackUnreachable,
    SocketModeLink,
    check_tokens,
    missing_settings,
    slack_mode,
)
from storage.settings import Settings
from tests.bot.running_bot import bot_settings
from tests.slack_standin import wait_for


class Lines(logging.Handler):
    """Every record logged under `kpibot.slack` (the link's own lines and the held client's)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, logger: str = "kpibot.slack") -> list[str]:
        return [r.getMessage() for r in self.records if r.name == logger]


@pytest.fixture
def lines():
    handler, logger = Lines(), logging.getLogger("kpibot.slack")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.DEBUG
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def link_for(database_url, engine, slack_api):
    links = []

    def build(**timing) -> SocketModeLink:
        settings = bot_settings(database_url, slack_api, slack_app_token="xapp-test")
        link = SocketModeLink(create_app(settings, engine=engine), "xapp-test", **timing)
        links.append(link)
        return link

    yield build
    for link in links:
        link.close()


def test_socket_mode_says_connected_once_the_websocket_is_open(link_for, slack_api, lines):
    link = link_for()
    link.start()

    assert link.connected.wait(10)
    assert link.handler.client.is_connected()
    assert lines.messages() == ["connected to Slack over Socket Mode"]
    assert slack_api.wait_for_call("apps.connections.open").headers["authorization"] == "Bearer xapp-test"
    assert slack_api.socket_attempts == 1


# slack_sdk leaves the socket of a refused handshake open (builtin Connection.connect); collected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_refused_websocket_is_one_line_per_attempt_and_never_connected(link_for, slack_api, lines):
    slack_api.sockets_accepted = False
    link = link_for(retry_seconds=0.1, max_retry_seconds=0.2)
    link.start()
    wait_for(lambda: len(lines.messages()) >= 3, timeout=10, message="three failed attempts")
    link.close()
    gc.collect()

    said = lines.messages()
    assert not link.connected.is_set() and slack_api.socket_attempts >= 3
    assert all("\n" not in line for line in said)
    assert said[0] == (
        "Socket Mode: the WebSocket did not open (Received an unexpected response for handshake "
        "(status: 403, response: HTTP/1.0 403 Forbidden); trying again in 0.1 s"
    )
    assert said[1].endswith("trying again in 0.2 s") and said[2].endswith("trying again in 0.2 s")
    assert not any("connected" in line for line in said)
    # the client's own lines (one error and several infos per attempt) were held back
    assert lines.messages("kpibot.slack.socket") == []


def test_a_refused_app_token_while_running_is_one_line_and_the_link_keeps_trying(link_for, slack_api, lines):
    slack_api.fail_next("apps.connections.open", error="invalid_auth")
    link = link_for(retry_seconds=0.1)
    link.start()

    assert link.connected.wait(10)
    assert lines.messages() == [
        "Socket Mode: Slack refused SLACK_APP_TOKEN (invalid_auth); trying again in 0.1 s",
        "connected to Slack over Socket Mode",
    ]


def test_an_app_token_without_a_websocket_url_is_said_in_one_line(link_for, slack_api, lines, monkeypatch):
    monkeypatch.setattr(type(slack_api), "_api_apps_connections_open", lambda self, p: {"ok": True})
    link = link_for(retry_seconds=30)
    link.start()
    wait_for(lambda: lines.messages(), timeout=10, message="the failed attempt")

    assert lines.messages() == [
        "Socket Mode: Slack's apps.connections.open gave no WebSocket URL; trying again in 30 s"
    ]


def test_check_tokens_names_the_bot_and_workspace(database_url, slack_api):
    settings = bot_settings(database_url, slack_api, slack_app_token="xapp-test")

    assert check_tokens(settings) == "@kpibot in kpibot test"
    assert slack_api.calls_to("auth.test")[0].headers["authorization"] == "Bearer xoxb-test"
    assert slack_api.calls_to("apps.connections.open")[0].headers["authorization"] == "Bearer xapp-test"


@pytest.mark.parametrize(
    ("method", "setting"), [("auth.test", "SLACK_BOT_TOKEN"), ("apps.connections.open", "SLACK_APP_TOKEN")]
)
def test_check_tokens_says_which_token_slack_refused(database_url, slack_api, method, setting):
    slack_api.fail_next(method, error="invalid_auth")
    settings = bot_settings(database_url, slack_api, slack_app_token="xapp-test")

    with pytest.raises(SlackRefused) as refused:
        check_tokens(settings)

    assert str(refused.value).startswith(f"Slack refused {setting} (invalid_auth): ")


def test_check_tokens_tells_an_unreachable_slack_from_a_refusal(database_url, slack_api):
    slack_api.fail_next("auth.test", status=503)
    settings = bot_settings(database_url, slack_api)
    with pytest.raises(SlackUnreachable, match="Slack answered HTTP 503 when checking SLACK_BOT_TOKEN"):
        check_tokens(settings)

    closed = bot_settings(database_url, slack_api).model_copy(
        update={"slack_api_url": "http://127.0.0.1:9/api/"}
    )
    with pytest.raises(SlackUnreachable, match="cannot reach Slack when checking SLACK_BOT_TOKEN: "):
        check_tokens(closed)


@pytest.mark.parametrize(
    ("tokens", "mode", "missing"),
    [
        ({}, None, []),
        ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}, HTTP, []),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}, SOCKET, []),
        ({"slack_bot_token": "xoxb-1"}, None, ["SLACK_SIGNING_SECRET"]),
        ({"slack_app_token": "xapp-1"}, SOCKET, ["SLACK_BOT_TOKEN"]),
        ({"slack_signing_secret": "s"}, HTTP, ["SLACK_BOT_TOKEN"]),
    ],
)
def test_the_slack_mode_and_what_it_still_lacks(tokens, mode, missing):
    settings = Settings(database_url="sqlite://", **tokens)

    assert slack_mode(settings) == mode
    assert [line.split(" ")[0] for line in missing_settings(settings)] == missing
