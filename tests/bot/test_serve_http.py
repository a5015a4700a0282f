"""The HTTP server: health, metrics, extra routes, and `kpibot serve` as a real process stopped by SIGTERM."""

from __future__ import annotations

import hmac
import json
import signal
import time
from datetime import UTC, datetime

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.server import create_http_app
from storage.db import make_engine
from tests.bot.running_bot import (
    SECRET,
    bot_settings,
    ingest,
    kpibot_serve,
    running_bot,
    served_url,
    serving,
    twitter_week,
)
from tests.databases import refused_inserts
from tests.slack_standin import sign, slash_command_body, wait_for


def test_healthz_is_ok_when_the_database_answers(database_url, slack_api):
    with running_bot(database_url, slack_api) as bot:
        response = bot.http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path, database_url, slack_api):
    unreachable = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'kpibot.db'}", create=False)

    with running_bot(database_url, slack_api, engine=unreachable) as bot:
        response = bot.http.get("/healthz")
        exposition = bot.http.get("/metrics").text

    assert (response.status_code, response.json()) == (503, {"ok": False})
    assert 'kpibot_database_errors_total{operation="health_check"} 1.0' in exposition


def test_metrics_count_commands_by_metric_and_outcome_with_their_latency(database_url, slack_api):
    with running_bot(database_url, slack_api) as bot:
        for n, text in enumerate(["help", "frt twiter"], 1):
            bot.command(slash_command_body("/kpi", text, response_url=slack_api.new_response_url()))
            slack_api.wait_for_response(count=n)

        def counted() -> str | None:  # the counters are updated just after the answer is sent
            text = bot.http.get("/metrics").text
            return text if 'outcome="usage_error"' in text else None

        exposition = wait_for(counted, message="metrics of the second command")

    assert 'kpibot_commands_total{command="/kpi",metric="help",outcome="answered"} 1.0' in exposition
    assert 'kpibot_commands_total{command="/kpi",metric="unknown",outcome="usage_error"} 1.0' in exposition
    assert 'kpibot_command_seconds_count{command="/kpi",metric="help"} 1.0' in exposition
    assert "# TYPE kpibot_events_total counter" in exposition


def test_two_apps_in_one_process_keep_separate_metrics(database_url, engine, slack_api):
    settings = bot_settings(database_url, slack_api)
    first, second = create_http_app(settings, engine=engine), create_http_app(settings, engine=engine)

    first.state.metrics.command_served("/kpi", "frt", "answered", 0.01)

    assert 'outcome="answered"} 1.0' in first.state.metrics.exposition().decode()
    assert 'outcome="answered"' not in second.state.metrics.exposition().decode()


def test_extra_routes_are_served_beside_slack_and_see_the_app_state(database_url, engine, slack_api):
    async def ping(request):
        return PlainTextResponse(f"pong {request.app.state.settings.slack_api_url}")

    settings = bot_settings(database_url, slack_api)
    app = create_http_app(settings, engine=engine, routes=[Route("/ping", ping)])
    with serving(app) as base_url:
        response = httpx.get(f"{base_url}/ping")

    assert response.text == f"pong {slack_api.api_url}"


def test_with_an_app_token_the_server_serves_at_once_and_opens_socket_mode_in_the_background(
    database_url, engine, slack_api
):
    settings = bot_settings(database_url, slack_api, slack_app_token="xapp-test")
    app = create_http_app(settings, engine=engine)
    with serving(app) as base_url:
        health = httpx.get(f"{base_url}/healthz")
        connected = app.state.socket_mode.connected.wait(10)
        slack_route = httpx.post(f"{base_url}/slack/events", content=b"{}")

    assert health.status_code == 200 and connected
    assert slack_api.calls_to("apps.connections.open")[0].headers["authorization"] == "Bearer xapp-test"
    assert slack_route.status_code == 404  # Slack's requests arrive over the socket only


def test_kpibot_serve_answers_a_signed_command_and_exits_0_on_sigterm_after_finishing_it(
    tmp_path, database_url, slack_api
):
    settings = bot_settings(database_url, slack_api)
    engine = make_engine(database_url)
    ingest(engine, settings, twitter_week(datetime.now(UTC)))
    engine.dispose()
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api.api_url,
        "SLACK_RESPONSE_ORIGINS": slack_api.base_url,
    }
    process, log = kpibot_serve(tmp_path, env)
    try:
        base_url = served_url(process, log)
        body = slash_command_body("/kpi", "frt twitter 7d", response_url=slack_api.response_url)
        headers = {**sign(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
        ack = httpx.post(f"{base_url}/slack/events", content=body, headers=headers)
        answer = slack_api.wait_for_response()[1]
        # users.info is rate limited once (Retry-After: 1 s), so this answer is still in flight at SIGTERM.
        slack_api.set_user("U1", is_admin=True)
        slack_api.fail_next("users.info", status=429, retry_after=1)
        body = slash_command_body("/kpi", "digest here 09:00", response_url=slack_api.new_response_url())
        httpx.post(f"{base_url}/slack/events", content=body, headers={**headers, **sign(body, SECRET)})
        slack_api.wait_for_call("users.info")
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()

    assert (ack.status_code, ack.text) == (200, "")
    # 1 h and 2 h first responses on twitter in the last 7 days: mean 1h 30m
    assert answer["text"].startswith("First response time: 1h 30m") and answer["response_type"] == "ephemeral"
    assert exit_code == 0, log.read_text()
    # the rate-limited users.info was retried and the answer sent before the process exited
    assert len(slack_api.calls_to("users.info")) == 2
    assert slack_api.responses[-1][1]["text"].startswith("Done: daily digest in <#C1> at 09:00")


def test_kpibot_serve_without_slack_settings_serves_webhooks_health_and_metrics(tmp_path, database_url):
    webhook_secret = "w" * 32
    env = {"DATABASE_URL": database_url, "KPIBOT_WEBHOOK_SECRET": webhook_secret}
    process, log = kpibot_serve(tmp_path, env)
    try:
        base_url = served_url(process, log)
        body = json.dumps(twitter_week(datetime.now(UTC))[0]).encode()
        timestamp = str(int(time.time()))
        signature = hmac.new(webhook_secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()
        stored = httpx.post(
            f"{base_url}/events",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Kpibot-Timestamp": timestamp,
                "X-Kpibot-Signature": f"sha256={signature}",
            },
        )
        health = httpx.get(f"{base_url}/healthz")
        slack_route = httpx.post(f"{base_url}/slack/events", content=b"{}")
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()

    said = log.read_text()
    assert (stored.status_code, stored.json()) == (200, {"stored": 1, "duplicates": 0, "rejected": []})
    assert health.json() == {"ok": True} and slack_route.status_code == 404
    assert said.count("Slack is not configured (no SLACK_BOT_TOKEN): serving webhooks, /healthz and") == 1
    assert "holds no events yet" in said  # said once, at start, before the webhook stored one
    assert exit_code == 0 and "Traceback" not in said


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"SLACK_SIGNING_SECRET": SECRET}, "auth.test"),
        ({"SLACK_APP_TOKEN": "xapp-bogus"}, "apps.connections.open"),
    ],
)
def test_kpibot_serve_exits_2_in_one_line_when_slack_refuses_a_token(
    tmp_path, database_url, slack_api, monkeypatch, env, refused
):
    monkeypatch.chdir(tmp_path)
    slack_api.fail_next(refused, error="invalid_auth")
    for name, value in {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-bogus",
        "SLACK_API_URL": slack_api.api_url,
        **env,
    }.items():
        monkeypatch.setenv(name, value)

    outcome = CliRunner().invoke(cli, ["serve", "--port", "0"])

    token = "SLACK_BOT_TOKEN" if refused == "auth.test" else "SLACK_APP_TOKEN"
    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert outcome.output.startswith(f"error: Slack refused {token} (invalid_auth): ")
    assert len(outcome.output.strip().splitlines()) == 1


def test_kpibot_serve_starts_when_slack_cannot_be_reached_and_says_so_in_one_line(tmp_path, database_url):
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    process, log = kpibot_serve(tmp_path, env)
    try:
        health = httpx.get(f"{served_url(process, log)}/healthz")
    finally:
        process.kill()
        process.wait(timeout=20)

    said = log.read_text()
    assert health.status_code == 200 and "Traceback" not in said
    assert said.count("cannot reach Slack when checking SLACK_BOT_TOKEN: ") == 1
    assert "starting anyway: Slack's requests work once it is reachable" in said


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SLACK_SIGNING_SECRET": SECRET}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_SIGNING_SECRET"),
    ],
)
def test_kpibot_serve_without_slack_credentials_exits_2_naming_what_is_missing(
    tmp_path, database_url, monkeypatch, env, missing
):
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for name, value in {"DATABASE_URL": database_url, **env}.items():
        monkeypatch.setenv(name, value)

    outcome = CliRunner().invoke(cli, ["serve", "--port", "0"])

    assert outcome.exit_code == 2
    assert f"error: missing {missing}" in outcome.output


def test_kpibot_serve_on_a_missing_database_folder_says_so_in_one_line_and_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/no-such-folder/kpibot.db", "SLACK_BOT_TOKEN": "xoxb-test"}
    for name, value in {**env, "SLACK_SIGNING_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)

    outcome = CliRunner().invoke(cli, ["serve", "--port", "0"])

    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert outcome.output.startswith(
        f"error: cannot open database sqlite:///{tmp_path}/no-such-folder/kpibot.db"
    )
    assert "unable to open database file" in outcome.output


def test_kpibot_serve_on_a_database_that_refuses_writes_exits_2(tmp_path, database_url, engine, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "x",
        "SLACK_SIGNING_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)

    with refused_inserts(engine, "raw_event"):
        outcome = CliRunner().invoke(cli, ["serve", "--port", "0"])

    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert "does not take writes" in outcome.output and "injected failure" in outcome.output
