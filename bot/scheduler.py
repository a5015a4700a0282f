"""The scheduler, built in one place: APScheduler 3 with its jobs in the bot's own database.

One job per subscription: a digest is a CronTrigger at its local time in its IANA time zone (so 09:00
Europe/Paris is 08:00 UTC in winter and 07:00 UTC in summer), every day, on its weekday (weekly) or on its
day of the month (monthly); a backlog alert an IntervalTrigger every ALERT_MINUTES minutes, an SLA-risk
alert every SLA_MINUTES. Jobs are stored by reference ("bot.jobs:run_digest", subscription id) in the
`apscheduler_jobs` table, so they survive a restart. `coalesce` and `misfire_grace_time` decide what a
restart does with missed runs: a digest missed by less than its cadence's LATE_LIMITS (3 h daily, 24 h
weekly or monthly) runs once, never as a burst; an alert check missed runs once at most. What is actually
posted is decided by the outbox, so two bot processes sharing the job store (or a job run twice) still
post once.

A maintenance job, every minute, brings the jobs in line with the subscription table (subscriptions
changed by another process) and retries digests that failed to post. Another, at start and hourly, fills
the per-day KPI cache (`storage.kpi_cache.warm`) so the first question of the day reads it ready.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot import jobs
from bot.jobs.digest import LATE_LIMITS, subscription_zone
from bot.metrics import Metrics
from bot.slack_client import web_client
from commands.cadence import WEEKDAYS, Cadence
from storage.db import session
from storage.models import Subscription
from storage.settings import Settings
from storage.subscriptions import DIGEST_KINDS, list_subscriptions

JOBSTORE_TABLE = "apscheduler_jobs"
ALERT_MINUTES = 5
SLA_MINUTES = 1
MAINTENANCE = "kpibot-maintenance"
KPI_DAYS = "kpibot-kpi-days"
_PREFIXES = ("digest-", "alert-", "sla-", "anomaly-")
_JOBS = {
    **dict.fromkeys(DIGEST_KINDS, "bot.jobs:run_digest"),
    "alert": "bot.jobs:run_alert",
    "sla": "bot.jobs:run_sla_alert",
    "anomaly": "bot.jobs:run_anomaly_alert",
}
_log = logging.getLogger("kpibot.scheduler")


class _Scheduler(BackgroundScheduler):
    """A BackgroundScheduler that runs no last round of due jobs once shut down.

    APScheduler 3 wakes its thread on shutdown and looks for due jobs once more: with the executors gone
    it cannot run them, yet it moves their next run time on (agronholm/apscheduler#285, #985), so a
    digest due at that moment would be lost for the next process too.
    """

    def _process_jobs(self):
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def build_scheduler(
    settings: Settings, engine: Engine, *, client: WebClient | None = None
) -> BackgroundScheduler:
    """A stopped BackgroundScheduler whose jobs live in `engine`'s database; jobs in this process will
    post with `client` (default: the bot token's client, retrying rate limits and server errors)."""
    if client is None:
        client = web_client(settings)
    scheduler = _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    jobs.configure(settings, engine, client, scheduler)  # what its jobs run with (see bot.jobs)
    return scheduler


def start_scheduler(
    settings: Settings, engine: Engine, *, client: WebClient | None = None, metrics: Metrics | None = None
) -> BackgroundScheduler:
    """The process's scheduler, running: jobs synced with the subscriptions, maintenance every minute;
    `metrics` counts its job runs (from the first, the cache warm-up at start)."""
    scheduler = build_scheduler(settings, engine, client=client)
    if metrics is not None:
        metrics.watch_scheduler(scheduler, job_kind)
    scheduler.start(paused=True)  # the job store must be open to compare jobs with subscriptions
    sync_jobs(scheduler, engine, settings)
    scheduler.add_job(
        "bot.scheduler:maintain",
        IntervalTrigger(minutes=1, timezone=UTC),
        id=MAINTENANCE,
        name="sync jobs with subscriptions, retry failed digests",
        replace_existing=True,
        misfire_grace_time=60,
    )
    scheduler.add_job(
        "bot.jobs:warm_kpi_days",
        IntervalTrigger(hours=1, timezone=UTC),
        id=KPI_DAYS,
        name="fill the KPI cache for the days and hours that closed or changed",
        replace_existing=True,
        misfire_grace_time=3600,
        next_run_time=datetime.now(UTC),  # at start too: after an upgrade or an import, before questions
    )
    scheduler.resume()
    return scheduler


def sync_jobs(
    scheduler: BackgroundScheduler, engine: Engine, settings: Settings, *, alert_minutes: int = ALERT_MINUTES
) -> list[str]:
    """The ids of the subscription jobs now scheduled: one per subscription, jobs of removed subscriptions
    removed, and a job replaced only when its subscription changed (so its next run stays put).

    The scheduler must be started (paused is fine): before that, its job store is not open.
    """
    with session(engine) as db:
        wanted = {
            job_id(sub): sub for sub in list_subscriptions(db) if sub.kind not in DIGEST_KINDS or sub.time
        }
    existing = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(_PREFIXES)}
    for stale in existing.keys() - wanted.keys():
        with suppress(JobLookupError):  # another process removed it first
            scheduler.remove_job(stale)
    for key, sub in wanted.items():
        trigger = job_trigger(sub, settings, alert_minutes=alert_minutes)
        job = existing.get(key)
        if job is not None and repr(job.trigger) == repr(trigger) and tuple(job.args) == (sub.id,):
            continue
        scheduler.add_job(
            _JOBS[sub.kind],
            trigger,
            args=[sub.id],
            id=key,
            name=f"{sub.kind} in {sub.slack_channel}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(LATE_LIMITS[DIGEST_KINDS[sub.kind]].total_seconds())
            if sub.kind in DIGEST_KINDS
            else _every(sub, alert_minutes) * 30,
        )
    return sorted(wanted)


def job_id(subscription: Subscription) -> str:
    """The scheduler job id of a subscription: "digest-12", "digest-weekly-13", "alert-3", "sla-4"."""
    return f"{subscription.kind}-{subscription.id}"


def job_kind(job_id: str) -> str:
    """What the metrics call a job: digest, alert, sla, anomaly, maintenance, warm, or other (one label per
    kind of job, never per subscription)."""
    if job_id == MAINTENANCE:
        return "maintenance"
    if job_id == KPI_DAYS:
        return "warm"
    return job_id.split("-")[0] if job_id.startswith(_PREFIXES) else "other"


def job_trigger(
    subscription: Subscription, settings: Settings, *, alert_minutes: int = ALERT_MINUTES
) -> CronTrigger | IntervalTrigger:
    """When the subscription's job runs: a digest at its local time every day, on its weekday or on its day
    of the month; an alert every `alert_minutes` minutes counted from its creation (so every process
    computes the same run times)."""
    if subscription.kind in DIGEST_KINDS:
        hour, minute = (int(part) for part in subscription.time.split(":"))
        zone = subscription_zone(subscription, settings)
        cadence = Cadence.of(subscription)
        if cadence.name == "weekly":
            return CronTrigger(day_of_week=WEEKDAYS[cadence.day], hour=hour, minute=minute, timezone=zone)
        if cadence.name == "monthly":
            return CronTrigger(day=cadence.day, hour=hour, minute=minute, timezone=zone)
        return CronTrigger(hour=hour, minute=minute, timezone=zone)
    every = _every(subscription, alert_minutes)
    return IntervalTrigger(minutes=every, start_date=subscription.created_at, timezone=UTC)


def _every(subscription: Subscription, alert_minutes: int) -> int:
    """Minutes between two checks of an alert: the SLA-risk alert every minute (a breach it warns of may be
    minutes away), the anomaly alert every minute (its volume is the last 60 minutes'), the backlog alert
    every `alert_minutes`."""
    return SLA_MINUTES if subscription.kind in ("sla", "anomaly") else alert_minutes


def schedule_note(subscription: Subscription, settings: Settings, now: datetime) -> str:
    """For `/kpi digest list` and `/kpi alert list`: when the job runs next, and what it last did."""
    if subscription.kind in DIGEST_KINDS and subscription.time:
        upcoming = job_trigger(subscription, settings).get_next_fire_time(None, now)
        when = f"next {upcoming:%a %d %b %H:%M %Z}"
    else:
        when = f"checked every {_every(subscription, ALERT_MINUTES)} min"
    return f"{when} · last: {subscription.last_result or 'not run yet'}"


def subscriptions_changed() -> None:
    """Hook for the settings commands: applies a subscription added or removed to this process's running
    scheduler at once (elsewhere, the maintenance job does within a minute)."""
    scheduler = jobs.running_scheduler()
    if scheduler is None:
        return
    runtime = jobs.runtime()
    try:
        sync_jobs(scheduler, runtime.engine, runtime.settings)
    except Exception:  # noqa: BLE001 - the subscription is saved; maintenance syncs again within a minute
        _log.exception("could not sync scheduler jobs after a subscription change")


def maintain(now: datetime | None = None) -> None:
    """Job: syncs this process's jobs with the subscriptions, then retries digests that failed to post."""
    runtime = jobs.runtime()
    scheduler = jobs.running_scheduler()
    if scheduler is not None:
        sync_jobs(scheduler, runtime.engine, runtime.settings)
    for result in jobs.retry_unsent(now):
        _log.info("digest retried: %s", result)


def start_cache_warmer(
    settings: Settings, engine: Engine, *, metrics: Metrics | None = None
) -> BackgroundScheduler:
    """The scheduler of a bot without Slack (webhooks only): the KPI cache job alone, at start and hourly,
    in memory. It leaves the shared job store (digests, alerts) to a bot that can post them. `metrics`
    counts its runs."""
    scheduler = _Scheduler(job_defaults={"coalesce": True, "max_instances": 1}, timezone=UTC)
    if metrics is not None:
        metrics.watch_scheduler(scheduler, job_kind)
    jobs.configure(settings, engine, web_client(settings), scheduler)
    scheduler.add_job(
        "bot.jobs:warm_kpi_days",
        IntervalTrigger(hours=1, timezone=UTC),
        id=KPI_DAYS,
        name="fill the KPI cache for the days and hours that closed or changed",
        misfire_grace_time=3600,
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    return scheduler
