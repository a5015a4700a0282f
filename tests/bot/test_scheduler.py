"""The scheduler: one job per subscription in the database's job store, local times across clock changes,
restarts that neither lose nor repeat a job, and the real BackgroundScheduler running a job."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from bot import jobs
from bot.scheduler import (
    MAINTENANCE,
    build_scheduler,
    job_kind,
    job_trigger,
    maintain,
    schedule_note,
    start_scheduler,
    subscriptions_changed,
    sync_jobs,
)
from bot.slack_client import web_client
from storage.db import make_engine, session
from storage.models import Subscription
from storage.settings import Settings
from storage.subscriptions import add_subscription, remove_subscriptions
from tests.slack_standin import wait_for


@pytest.fixture
def settings(slack_settings) -> Settings:
    return slack_settings


@pytest.fixture
def client(settings):
    return web_client(settings)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """No job runtime (nor its scheduler) left over from another test, none left behind."""
    monkeypatch.setattr(jobs, "_runtime", [])


def subscribe(
    engine, kind="digest", channel="C1", time="09:00", zone="Europe/Paris", **extra
) -> Subscription:
    with session(engine) as db:
        return add_subscription(
            db,
            Subscription(
                kind=kind,
                slack_channel=channel,
                time=time if kind.startswith("digest") else None,
                timezone=zone if kind.startswith("digest") else None,
                created_by="U1",
                created_at=datetime(2026, 11, 1, 8, 2, tzinfo=UTC),
                **extra,
            ),
        )


@contextmanager
def paused(settings, engine, client):
    """A scheduler on the database's job store, started but not running jobs: one bot process."""
    scheduler = build_scheduler(settings, engine, client=client)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown()


def test_sync_makes_one_job_per_subscription(settings, engine, client):
    digest = subscribe(engine)
    alert = subscribe(engine, kind="alert", channel="C2", threshold=5, max_age_seconds=3600.0)
    with paused(settings, engine, client) as scheduler:
        assert sync_jobs(scheduler, engine, settings) == [f"alert-{alert.id}", f"digest-{digest.id}"]
        daily = scheduler.get_job(f"digest-{digest.id}")
        assert (daily.func_ref, daily.args, daily.coalesce) == ("bot.jobs:run_digest", (digest.id,), True)
        assert daily.misfire_grace_time == 3 * 3600
        assert repr(daily.trigger) == "<CronTrigger (hour='9', minute='0', timezone='Europe/Paris')>"
        check = scheduler.get_job(f"alert-{alert.id}")
        assert (check.func_ref, check.args) == ("bot.jobs:run_alert", (alert.id,))
        assert check.trigger.interval == timedelta(minutes=5)


def test_sync_drops_jobs_of_subscriptions_turned_off_and_follows_changes(settings, engine, client):
    digest = subscribe(engine)
    alert = subscribe(engine, kind="alert", channel="C2", threshold=5)
    with paused(settings, engine, client) as scheduler:
        sync_jobs(scheduler, engine, settings)
        with session(engine) as db:
            remove_subscriptions(db, kind="alert", slack_channel="C2")
        subscribe(engine, time="08:30", zone="America/New_York")  # the same channel: replaces the digest
        assert sync_jobs(scheduler, engine, settings) == [f"digest-{digest.id}"]
        assert scheduler.get_job(f"alert-{alert.id}") is None
        trigger = scheduler.get_job(f"digest-{digest.id}").trigger
        assert repr(trigger) == "<CronTrigger (hour='8', minute='30', timezone='America/New_York')>"


def test_sync_leaves_an_unchanged_job_and_its_next_run_alone(settings, engine, client):
    digest = subscribe(engine)
    with paused(settings, engine, client) as scheduler:
        sync_jobs(scheduler, engine, settings)
        soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=7)
        scheduler.modify_job(f"digest-{digest.id}", next_run_time=soon)
        sync_jobs(scheduler, engine, settings)
        assert scheduler.get_job(f"digest-{digest.id}").next_run_time == soon


def fire_times(trigger, start: datetime, count: int) -> list[datetime]:
    times, previous, now = [], None, start
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        times.append(previous.astimezone(UTC))
        now = previous + timedelta(seconds=1)
    return times


def test_a_0900_paris_digest_runs_at_0800_utc_in_winter_and_0700_in_summer(settings, engine, client):
    digest = subscribe(engine)
    with paused(settings, engine, client) as scheduler:
        sync_jobs(scheduler, engine, settings)
        trigger = scheduler.get_job(f"digest-{digest.id}").trigger  # as stored and reloaded
    # clocks go forward on Sun 2026-03-29 and back on Sun 2026-10-25
    assert fire_times(trigger, datetime(2026, 3, 27, 12, tzinfo=UTC), 3) == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]
    assert fire_times(trigger, datetime(2026, 10, 23, 12, tzinfo=UTC), 3) == [
        datetime(2026, 10, 24, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 8, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
    ]


def test_a_restarted_scheduler_finds_every_job_with_its_next_run(settings, engine, client):
    digest = subscribe(engine)
    alert = subscribe(engine, kind="alert", channel="C2", threshold=5)
    with paused(settings, engine, client) as before:
        sync_jobs(before, engine, settings)
        planned = {job.id: (job.next_run_time, repr(job.trigger)) for job in before.get_jobs()}
    with paused(settings, make_engine(settings.database_url), client) as after:  # a new process
        found = {job.id: (job.next_run_time, repr(job.trigger)) for job in after.get_jobs()}
        assert found == planned and set(found) == {f"digest-{digest.id}", f"alert-{alert.id}"}
        sync_jobs(after, engine, settings)
        assert {job.id: job.next_run_time for job in after.get_jobs()} == {
            k: v[0] for k, v in planned.items()
        }


def test_a_digest_missed_while_the_bot_was_down_posts_once_when_it_is_back(
    settings, engine, client, slack_api
):
    # due 10 minutes ago; the store says it has not run for three days: coalesced into one run
    due = datetime.now(UTC) - timedelta(minutes=10)
    digest = subscribe(engine, time=f"{due:%H:%M}", zone="UTC")
    with paused(settings, engine, client) as down:
        sync_jobs(down, engine, settings)
        down.modify_job(f"digest-{digest.id}", next_run_time=due - timedelta(days=3))
    back = build_scheduler(settings, make_engine(settings.database_url), client=client)
    back.start()
    try:
        slack_api.wait_for_call("files.completeUploadExternal", timeout=20)
        next_run = back.get_job(f"digest-{digest.id}").next_run_time
        assert next_run > datetime.now(UTC) + timedelta(hours=23)
    finally:
        back.shutdown()
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    with paused(settings, engine, client) as again:  # a second restart runs nothing
        assert again.get_job(f"digest-{digest.id}").next_run_time == next_run
    assert len(slack_api.calls_to("chat.postMessage")) == 1


def test_the_real_scheduler_runs_a_job_due_in_a_second(settings, engine, client, slack_api):
    digest = subscribe(engine)
    scheduler = start_scheduler(settings, engine, client=client)
    try:
        assert scheduler.get_job(MAINTENANCE) is not None
        scheduler.modify_job(f"digest-{digest.id}", next_run_time=datetime.now(UTC) + timedelta(seconds=1))
        post = slack_api.wait_for_call("chat.postMessage", timeout=20)
        assert post.params["channel"] == "C1"
        slack_api.wait_for_call("files.completeUploadExternal", timeout=20)
    finally:
        scheduler.shutdown()


def test_a_subscription_added_here_is_scheduled_at_once_and_one_from_elsewhere_by_maintenance(
    settings, engine, client
):
    subscriptions_changed()  # no scheduler in this process yet: nothing to do, no error
    scheduler = start_scheduler(settings, engine, client=client)
    try:
        here = subscribe(engine)
        subscriptions_changed()
        assert scheduler.get_job(f"digest-{here.id}") is not None
        elsewhere = subscribe(engine, kind="alert", channel="C9", threshold=3)  # another process's command
        assert scheduler.get_job(f"alert-{elsewhere.id}") is None
        maintain()
        wait_for(lambda: scheduler.get_job(f"alert-{elsewhere.id}"), timeout=5)
    finally:
        scheduler.shutdown()


def test_schedule_note_says_when_the_job_runs_next_and_what_it_last_did(settings, engine):
    digest = subscribe(engine)
    now = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)  # 08:30 in Paris
    assert schedule_note(digest, settings, now) == "next Fri 20 Nov 09:00 CET · last: not run yet"
    alert = subscribe(engine, kind="alert", channel="C2", threshold=3)
    alert.last_result = "fire posted 2026-11-20 12:00 UTC (2 over 1h)"
    assert schedule_note(alert, settings, now) == (
        "checked every 5 min · last: fire posted 2026-11-20 12:00 UTC (2 over 1h)"
    )
    assert job_trigger(alert, settings).start_date == datetime(2026, 11, 1, 8, 2, tzinfo=UTC)


def test_weekly_and_monthly_digests_are_cron_jobs_on_their_day_beside_the_daily_one(settings, engine, client):
    daily = subscribe(engine)
    weekly = subscribe(engine, kind="digest-weekly", day=0)  # the same Slack channel, C1
    monthly = subscribe(engine, kind="digest-monthly", day=1, time="08:30")
    with paused(settings, engine, client) as scheduler:
        assert sync_jobs(scheduler, engine, settings) == sorted(
            [f"digest-{daily.id}", f"digest-weekly-{weekly.id}", f"digest-monthly-{monthly.id}"]
        )
        week = scheduler.get_job(f"digest-weekly-{weekly.id}")
        month = scheduler.get_job(f"digest-monthly-{monthly.id}")
    assert (week.func_ref, week.args, week.misfire_grace_time) == (
        "bot.jobs:run_digest",
        (weekly.id,),
        24 * 3600,
    )
    assert repr(week.trigger) == (
        "<CronTrigger (day_of_week='mon', hour='9', minute='0', timezone='Europe/Paris')>"
    )
    assert repr(month.trigger) == "<CronTrigger (day='1', hour='8', minute='30', timezone='Europe/Paris')>"
    # Monday 09:00 Paris: 07:00 UTC in summer time, 08:00 UTC once clocks went back on Sun 25 Oct
    assert fire_times(week.trigger, datetime(2026, 10, 14, 12, tzinfo=UTC), 3) == [
        datetime(2026, 10, 19, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
    ]
    assert fire_times(month.trigger, datetime(2026, 9, 15, tzinfo=UTC), 3) == [
        datetime(2026, 10, 1, 6, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
    ]
    assert job_kind(f"digest-weekly-{weekly.id}") == "digest"  # one metrics label for every digest


def test_schedule_note_of_a_weekly_digest_says_its_next_monday(settings, engine):
    weekly = subscribe(engine, kind="digest-weekly", day=0)
    now = datetime(2026, 12, 5, 21, 50, tzinfo=UTC)  # Saturday evening
    assert schedule_note(weekly, settings, now) == "next Mon 07 Dec 09:00 CET · last: not run yet"
