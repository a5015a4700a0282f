"""The Slack door refuses what it must: nothing unverified causes an outbound request, answers go only to
Slack's own hosts, only the installed workspace is answered, a failed event is handled again on retry.

A second stand-in plays the internal service an attacker would aim the bot at; it must see no call.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot.server import create_http_app
from storage.models import RawEvent
from tests.bot.running_bot import SECRET, bot_settings, running_bot
from tests.databases import refused_inserts
from tests.slack_standin import SlackStandIn, event_body, sign, slash_command_body

INTAKE = "C0TWITTER"


@pytest.fixture
def internal():
    """The service an attacker wants the bot to call (any URL on the bot's network)."""
    with SlackStandIn() as target:
        yield target


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api, intake_channels={INTAKE: "twitter"}) as running:
        yield running


def command_aimed_at(internal: SlackStandIn, **fields) -> str:
    return slash_command_body("/kpi", "frt", response_url=f"{internal.base_url}/response/internal", **fields)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=x"},
        {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=x"},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": "v0=x"},
        {"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=x"},
        {"X-Slack-Request-Timestamp": "1" * 5000, "X-Slack-Signature": "v0=x"},
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {},
    ],
    ids=["letters", "exponent", "empty", "superscript-digit", "5000-digits", "no-timestamp", "unsigned"],
)
def test_unverified_command_gets_401_and_the_bot_calls_nothing(bot, internal, headers):
    body = command_aimed_at(internal)
    # as bytes: HTTP header values are Latin-1 on the wire, which is how Starlette reads them back
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    headers = {name: value.encode("latin-1") for name, value in headers.items()}

    refused = bot.http.post("/slack/events", content=body, headers=headers)
    time.sleep(0.3)  # an apology, had one been sent, goes out right after the answer

    assert refused.status_code == 401
    assert internal.calls == [] and bot.slack.calls == []


def test_signature_with_a_non_ascii_character_is_401_not_an_error(bot, internal):
    body = command_aimed_at(internal)
    headers = {**sign(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    headers["X-Slack-Signature"] = (headers["X-Slack-Signature"][:-1] + "é").encode("latin-1")

    refused = bot.http.post("/slack/events", content=body.encode(), headers=headers)

    assert refused.status_code == 401 and internal.calls == []


def test_unsigned_body_that_is_not_json_gets_401_and_no_call(bot, internal):
    body = '{"response_url": "' + internal.base_url + '/response/x", "type": '
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": "abc"}

    refused = bot.http.post("/slack/events", content=body, headers=headers)

    assert refused.status_code == 401 and internal.calls == []


def test_body_over_a_megabyte_is_413_before_anything_is_read(bot, internal):
    body = command_aimed_at(internal) + "&pad=" + "x" * (1024 * 1024)

    refused = bot.command(body)

    assert refused.status_code == 413 and internal.calls == []


def test_signed_command_whose_response_url_is_not_slacks_is_refused_and_never_answered(bot, internal):
    refused = bot.command(command_aimed_at(internal))
    time.sleep(0.3)

    assert refused.status_code == 400
    assert internal.calls == [] and bot.slack.responses == []


def test_failure_answering_a_command_apologises_only_on_slacks_host(bot, internal):
    # The allowed host gets the apology (tests/bot/test_app_commands.py); a failing request aimed
    # elsewhere gets nothing: the guard refuses it before any listener runs.
    with bot.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE conversation CASCADE" if _pg(bot) else "DROP TABLE conversation")

    refused = bot.command(command_aimed_at(internal))
    time.sleep(0.3)

    assert refused.status_code == 400 and internal.calls == []


def test_signed_command_from_another_workspace_is_turned_down_in_the_ack(bot):
    body = slash_command_body("/kpi", "help", response_url=bot.slack.new_response_url(), team_id="T999")

    ack = bot.command(body)
    time.sleep(0.3)

    assert (ack.status_code, ack.text) == (200, "kpibot answers only the workspace it is installed in.")
    assert bot.slack.responses == []
    # the installed workspace (T123, from auth.test) is answered as usual
    assert bot.command(slash_command_body("/kpi", "help", response_url=bot.slack.new_response_url()))
    assert "kpibot" in bot.slack.wait_for_response()[1]["text"]


def test_event_whose_handling_failed_is_stored_when_slack_retries_it(bot):
    mention = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0MENTIONS",
        "text": "@parcelo my parcel is two weeks late",
        "ts": "1795165200.000100",
        "channel": INTAKE,
        "event_ts": "1795165200.000100",
    }
    body = event_body(mention, event_id="Ev42")

    with refused_inserts(bot.engine, "raw_event"):
        failed = bot.event(body)
    retried = bot.event(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})

    assert failed.status_code == 500
    assert retried.status_code == 200 and "x-slack-no-retry" not in retried.headers
    with bot.engine.connect() as conn:
        stored = conn.execute(RawEvent.__table__.select()).all()
    assert [row.external_id for row in stored] == [f"slack-{INTAKE}-1795165200.000100"]
    # a retry of the event now handled is acknowledged and dropped
    again = bot.event(body, **{"X-Slack-Retry-Num": "2"})
    assert again.headers.get("x-slack-no-retry") == "1"


def test_socket_mode_serves_no_slack_route(server, database_url, engine, slack_api, internal):
    target, url = server  # served without a lifespan: the socket itself is not opened here
    settings = bot_settings(database_url, slack_api, slack_app_token="xapp-test")
    target.app = create_http_app(settings, engine=engine)
    body = command_aimed_at(internal)

    response = httpx.post(f"{url}/slack/events", content=body, headers=sign(body, SECRET))

    assert response.status_code == 404 and internal.calls == []


def test_refused_requests_leave_no_body_in_the_logs(bot, internal, caplog):
    secret_text = "my-parcel-is-late-PRIVATE"
    body = urlencode({"command": "/kpi", "text": secret_text, "response_url": f"{internal.base_url}/r"})
    forged = {**sign(body, "wrong-secret"), "Content-Type": "application/x-www-form-urlencoded"}
    event = json.dumps({"type": "event_callback", "event": {"text": secret_text}})

    with caplog.at_level(logging.DEBUG):
        bot.http.post("/slack/events", content=body, headers=forged)
        bot.http.post("/slack/events", content=event, headers={"Content-Type": "application/json"})

    assert secret_text not in caplog.text and internal.base_url not in caplog.text


def _pg(bot) -> bool:
    return bot.engine.dialect.name == "postgresql"
