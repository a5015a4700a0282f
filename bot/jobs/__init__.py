"""The scheduler's jobs: module-level functions the persistent job store refers to as "bot.jobs:run_digest"
"bot.jobs:run_alert", "bot.jobs:run_sla_alert" and "bot.jobs:run_anomaly_alert", with a subscription id
as their only argument, and "bot.jobs:warm_kpi_days".

A job reads what it needs from the database when it runs. The settings, engine, Web API client and the
scheduler itself come from the process's `Runtime`, which bot.scheduler sets when it builds the
scheduler, so a job does not build an engine per run; a process that never built one reads the
environment once. It is the one piece of process-level state in kpibot, and it has to be: APScheduler's
persistent job store names jobs by module path, so what a job runs with cannot travel with it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.jobs.alert import check_alert
from bot.jobs.anomaly import check_anomalies
from bot.jobs.digest import KIND, due_digest, post_digest, subscription_zone
from bot.jobs.sla_alert import check_sla_alert
from bot.slack_client import web_client
from storage import kpi_cache, outbox
from storage.db import make_engine, session
from storage.models import Subscription
from storage.settings import Settings
from storage.subscriptions import DIGEST_KINDS

__all__ = [
    "check_alert",
    "check_anomalies",
    "check_sla_alert",
    "configure",
    "post_digest",
    "retry_unsent",
    "run_alert",
    "run_anomaly_alert",
    "run_digest",
    "run_sla_alert",
    "running_scheduler",
    "runtime",
    "warm_kpi_days",
]
_log = logging.getLogger("kpibot.jobs")


@dataclass(frozen=True)
class Runtime:
    """What jobs in this process post with, and the scheduler running them (None: a process without one,
    such as the CLI)."""

    settings: Settings
    engine: Engine
    client: WebClient
    scheduler: BaseScheduler | None = None


_lock = threading.Lock()
_runtime: list[Runtime] = []  # zero or one: set by configure(), or built from the environment once


def configure(
    settings: Settings, engine: Engine, client: WebClient, scheduler: BaseScheduler | None = None
) -> Runtime:
    """Makes jobs in this process use these settings, engine and client (run by `scheduler`); returns the
    runtime."""
    with _lock:
        _runtime[:] = [Runtime(settings, engine, client, scheduler)]
        return _runtime[0]


def running_scheduler() -> BaseScheduler | None:
    """This process's scheduler, if it built one and it is running (never builds anything)."""
    with _lock:
        scheduler = _runtime[0].scheduler if _runtime else None
    return scheduler if scheduler is not None and scheduler.running else None


def runtime() -> Runtime:
    """The process's runtime, built from the environment the first time when none was configured."""
    with _lock:
        if not _runtime:
            settings = Settings()
            engine = make_engine(settings.database_url)
            _runtime.append(Runtime(settings, engine, web_client(settings)))
        return _runtime[0]


def run_digest(subscription_id: int, now: datetime | None = None) -> str:
    """Job: posts the subscription's digest due at `now` (default: the current time); what became of it."""
    return _run(post_digest, subscription_id, now)


def run_alert(subscription_id: int, now: datetime | None = None) -> str:
    """Job: checks the subscription's backlog alert at `now` (default: the current time); what it did."""
    return _run(check_alert, subscription_id, now)


def run_sla_alert(subscription_id: int, now: datetime | None = None) -> str:
    """Job: checks the subscription's SLA-risk alert at `now` (default: the current time); what it did."""
    return _run(check_sla_alert, subscription_id, now)


def run_anomaly_alert(subscription_id: int, now: datetime | None = None) -> str:
    """Job: checks the subscription's anomaly alert at `now` (default: the current time); what it did."""
    return _run(check_anomalies, subscription_id, now)


def _run(job, subscription_id: int, now: datetime | None) -> str:
    """Runs `job(engine, client, settings, subscription, now)` for a subscription still there."""
    rt = runtime()
    subscription = _subscription(rt.engine, subscription_id)
    if subscription is None:
        return "skipped: the subscription was turned off"
    return job(rt.engine, rt.client, rt.settings, subscription, now or datetime.now(UTC))


def retry_unsent(now: datetime | None = None) -> list[str]:
    """Job: posts again the digests due (less than their LATE_LIMITS ago) that failed for a reason worth
    retrying, or whose process died between claim and post; returns what became of each."""
    rt = runtime()
    now = now or datetime.now(UTC)
    results = []
    for subscription_id, key in outbox.retryable(rt.engine, kind=KIND, now=now):
        subscription = _subscription(rt.engine, subscription_id)
        if subscription is None or subscription.kind not in DIGEST_KINDS:
            continue
        # Only the digest still due, and not too late: yesterday's is not posted this morning as news.
        due = due_digest(subscription, subscription_zone(subscription, rt.settings), now)
        if due.key == key and now - due.at <= due.late_limit:
            results.append(post_digest(rt.engine, rt.client, rt.settings, subscription, now))
    return results


def warm_kpi_days() -> str:
    """Job: fills the KPI cache (`storage.kpi_cache.warm`) for the days and hours that closed or changed,
    newest first; it stops between two slices once this process's scheduler shuts down, so SIGTERM does
    not wait minutes for a cold warm-up (the next run goes on with the rest). (Its name is what persisted
    job stores refer to: kept.)"""
    rt = runtime()
    scheduler = rt.scheduler
    running = scheduler is not None and scheduler.running  # run by it, not called by hand
    stop = (lambda: not scheduler.running) if running else None
    computed = kpi_cache.warm(rt.engine, datetime.now(UTC), stop=stop)
    return f"kpi cache: {computed} slots computed"


def _subscription(engine: Engine, subscription_id: int) -> Subscription | None:
    with session(engine) as db:
        subscription = db.get(Subscription, subscription_id)
    if subscription is None:
        _log.info("subscription %s is gone; its job will be removed at the next sync", subscription_id)
    return subscription
