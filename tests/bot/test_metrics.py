"""GET /metrics after real traffic: slash commands by metric and outcome with their latency, support events
by door and result, scheduler job runs, database errors — read back with Prometheus' own parser.

Everything goes through the real app behind a real HTTP server (signed Slack requests, webhooks with a
token, a real BackgroundScheduler on the database's job store); database errors are real ones.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot import jobs
from bot.metrics import Metrics
from bot.scheduler import job_kind, start_cache_warmer, start_scheduler
from bot.server import create_http_app
from bot.slack_client import web_client
from storage.db import make_engine
from storage.settings import Settings
from tests.bot.running_bot import bot_settings, ingest, running_bot, serving, twitter_week
from tests.databases import refused_inserts
from tests.slack_standin import slash_command_body, wait_for

TOKEN = "tok-metrics"
CHATWOOT_CSAT = Path(__file__).parents[1] / "fixtures" / "chatwoot" / "message_updated_csat.json"


def samples(exposition: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called `name` in the exposition, keyed by its labels (sorted (name, value) pairs)."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    }


def value(exposition: str, name: str, **labels: str) -> float | None:
    """The sample `name` with exactly these labels, or None when there is none."""
    return samples(exposition, name).get(tuple(sorted(labels.items())))


def scrape(http: httpx.Client) -> str:
    response = http.get("/metrics")
    assert response.status_code == 200
    return response.text


def scrape_when(http: httpx.Client, done, *, message: str, timeout: float = 5.0) -> str:
    """GET /metrics until `done(exposition)` holds (counters move just after an answer, a job's end)."""

    def ready() -> str | None:
        page = scrape(http)
        return page if done(page) else None

    return wait_for(ready, timeout, message=message)


def total(exposition: str, name: str) -> float:
    return sum(samples(exposition, name).values())


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """No job runtime (nor its scheduler) left over from another test, none left behind."""
    monkeypatch.setattr(jobs, "_runtime", [])


# --- slash commands -----------------------------------------------------------------------------------


def test_commands_are_counted_by_command_metric_and_outcome_with_their_latency(database_url, slack_api):
    with running_bot(database_url, slack_api) as bot:
        ingest(bot.engine, bot.settings, twitter_week())
        for n, words in enumerate(["frt twitter 7d", "frt twiter", "digest list", "heatmap 7d", "me"], 1):
            bot.command(slash_command_body("/kpi", words, response_url=slack_api.new_response_url()))
            slack_api.wait_for_response(count=n)
        exposition = scrape_when(
            bot.http, lambda page: total(page, "kpibot_commands_total") == 5, message="five commands counted"
        )

    assert samples(exposition, "kpibot_commands_total") == {
        (("command", "/kpi"), ("metric", "frt"), ("outcome", "answered")): 1.0,
        (
            ("command", "/kpi"),
            ("metric", "unknown"),
            ("outcome", "usage_error"),
        ): 1.0,  # never the words typed
        (("command", "/kpi"), ("metric", "digest"), ("outcome", "answered")): 1.0,
        # views by their own name (a heatmap of inbound volume is not the volume KPI)
        (("command", "/kpi"), ("metric", "heatmap"), ("outcome", "answered")): 1.0,
        (("command", "/kpi"), ("metric", "me"), ("outcome", "answered")): 1.0,
    }
    assert value(exposition, "kpibot_command_seconds_count", command="/kpi", metric="frt") == 1.0
    assert value(exposition, "kpibot_command_seconds_count", command="/kpi", metric="unknown") == 1.0
    assert 0 < value(exposition, "kpibot_command_seconds_sum", command="/kpi", metric="frt") < 10


def test_an_answer_the_database_fails_is_an_error_and_a_database_error(tmp_path, database_url, slack_api):
    unreachable = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'kpibot.db'}", create=False)

    with running_bot(database_url, slack_api, engine=unreachable) as bot:
        bot.command(slash_command_body("/sentiment", "7d", response_url=slack_api.new_response_url()))
        slack_api.wait_for_response()  # the apology
        exposition = scrape_when(
            bot.http, lambda page: total(page, "kpibot_commands_total") == 1, message="the command counted"
        )

    assert samples(exposition, "kpibot_commands_total") == {
        (("command", "/sentiment"), ("metric", "sentiment"), ("outcome", "error")): 1.0
    }
    assert samples(exposition, "kpibot_database_errors_total") == {(("operation", "answer"),): 1.0}


# --- support events -----------------------------------------------------------------------------------


def event(event_id: str, **changes) -> dict:
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    message = {
        "id": event_id,
        "type": "message",
        "at": at,
        "conversation_id": "tw-1",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": "@ana"},
        "text": "where is my parcel?",
    }
    return {**message, **changes}


def post(http: httpx.Client, path: str, payload) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return http.post(path, content=json.dumps(payload).encode(), headers=headers)


def test_events_are_counted_by_door_and_result(database_url, slack_api):
    with running_bot(database_url, slack_api, webhook_token=TOKEN) as bot:
        batch = [event("m1"), event("m2"), event("m2"), event("m3", direction="sideways")]
        answer = post(bot.http, "/events", batch).json()
        csat = json.loads(CHATWOOT_CSAT.read_text())  # a message and its survey
        stored = post(bot.http, f"/webhooks/chatwoot?token={TOKEN}", csat).json()
        unmappable = post(bot.http, f"/webhooks/chatwoot?token={TOKEN}", {"event": "message_created"}).json()
        exposition = scrape(bot.http)

    assert (answer["stored"], answer["duplicates"], len(answer["rejected"])) == (2, 1, 1)
    assert (stored["stored"], len(unmappable["rejected"])) == (2, 1)
    assert samples(exposition, "kpibot_events_total") == {
        (("door", "webhook"), ("result", "stored")): 2.0,
        (("door", "webhook"), ("result", "duplicate")): 1.0,
        (("door", "webhook"), ("result", "rejected")): 1.0,
        (("door", "chatwoot"), ("result", "stored")): 2.0,
        (("door", "chatwoot"), ("result", "rejected")): 1.0,
    }
    assert samples(exposition, "kpibot_database_errors_total") == {}


def test_a_webhook_the_database_refuses_is_a_database_error_and_no_event(database_url, engine, slack_api):
    with running_bot(database_url, slack_api, engine=engine, webhook_token=TOKEN) as bot:
        with refused_inserts(bot.engine, "raw_event"):
            refused = post(bot.http, "/events", [event("m1")])
        exposition = scrape(bot.http)

    assert refused.status_code == 503
    assert samples(exposition, "kpibot_database_errors_total") == {(("operation", "webhook_write"),): 1.0}
    assert value(exposition, "kpibot_database_writes_failing") == 1.0
    assert samples(exposition, "kpibot_events_total") == {}


# --- the scheduler ------------------------------------------------------------------------------------


def read_a_missing_table() -> None:
    """Job: fails on the database, as a job does when its table is gone."""
    with jobs.runtime().engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))


def fail() -> None:
    """Job: fails for a reason that is not the database."""
    raise RuntimeError("the job broke")


def test_scheduler_job_runs_are_counted_by_kind_and_result(database_url, engine, slack_api):
    settings = bot_settings(database_url, slack_api)
    app = create_http_app(settings, engine=engine)
    # what `kpibot serve` wires: the app's metrics watch the scheduler it starts
    scheduler = start_scheduler(settings, engine, client=web_client(settings), metrics=app.state.metrics)
    try:
        now = datetime.now(UTC)
        scheduler.add_job(
            "tests.bot.test_metrics:read_a_missing_table", id="test-database", next_run_time=now
        )
        scheduler.add_job("tests.bot.test_metrics:fail", id="test-fail", next_run_time=now)
        too_late = now - timedelta(minutes=10)
        scheduler.add_job(
            "tests.bot.test_metrics:fail", id="test-late", next_run_time=too_late, misfire_grace_time=1
        )
        with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
            exposition = scrape_when(
                http,
                lambda page: total(page, "kpibot_scheduler_job_runs_total") == 4,
                timeout=20,
                message="four job runs counted",
            )
    finally:
        scheduler.shutdown()

    assert samples(exposition, "kpibot_scheduler_job_runs_total") == {
        (("job", "warm"), ("result", "ok")): 1.0,  # the cache warm-up at start
        (("job", "other"), ("result", "error")): 2.0,
        (("job", "other"), ("result", "missed")): 1.0,
    }
    assert value(exposition, "kpibot_scheduler_job_seconds_count", job="warm") == 1.0
    assert value(exposition, "kpibot_scheduler_job_seconds_count", job="other") == 2.0  # missed runs: no time
    assert samples(exposition, "kpibot_database_errors_total") == {(("operation", "scheduler_job"),): 1.0}


def test_the_cache_warmer_of_a_bot_without_slack_is_counted_too(database_url, engine):
    metrics = Metrics()
    settings = Settings(database_url=database_url, pseudonym_key="test-key")  # webhooks only
    warmer = start_cache_warmer(settings, engine, metrics=metrics)
    try:
        wait_for(
            lambda: value(
                metrics.exposition().decode(), "kpibot_scheduler_job_runs_total", job="warm", result="ok"
            ),
            timeout=20,
            message="the warm-up counted",
        )
    finally:
        warmer.shutdown()


@pytest.mark.parametrize(
    ("job_id", "kind"),
    [
        ("digest-12", "digest"),
        ("alert-3", "alert"),
        ("kpibot-maintenance", "maintenance"),
        ("kpibot-kpi-days", "warm"),
        ("digest", "other"),
        ("something-else", "other"),
    ],
)
def test_a_job_is_labelled_by_its_kind_never_its_subscription(job_id, kind):
    assert job_kind(job_id) == kind


# --- naming -------------------------------------------------------------------------------------------


def test_every_metric_follows_prometheus_naming_and_says_what_it_counts():
    exposition = Metrics().exposition().decode()
    types = dict(line.split()[2:4] for line in exposition.splitlines() if line.startswith("# TYPE "))
    helps = {line.split()[2] for line in exposition.splitlines() if line.startswith("# HELP ")}

    assert set(types) == helps and all(name.startswith("kpibot_") for name in types)
    assert {name for name, kind in types.items() if kind == "counter"} == {
        "kpibot_commands_total",
        "kpibot_slack_events_total",
        "kpibot_events_total",
        "kpibot_scheduler_job_runs_total",
        "kpibot_database_errors_total",
    }
    assert {name for name, kind in types.items() if kind == "histogram"} == {
        "kpibot_command_seconds",
        "kpibot_scheduler_job_seconds",
    }
    assert {name for name, kind in types.items() if kind == "gauge"} == {"kpibot_database_writes_failing"}
