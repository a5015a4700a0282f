"""Three `kpibot serve` processes on one PostgreSQL database take a burst of webhooks spread over them
(bench/processes.py's load, small): no event lost or stored twice, a retried delivery counted as a
duplicate by whichever process it lands on, and the digest due meanwhile posted exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bench.processes import (
    add_digest,
    deliver,
    digests_posted,
    events,
    serve_env,
    start_processes,
    stop_processes,
    stored_counts,
)
from bot.scheduler import build_scheduler, job_id, sync_jobs
from storage.db import make_engine
from tests.bot.running_bot import bot_settings
from tests.slack_standin import wait_for

pytestmark = pytest.mark.postgresql_only("several processes share one database on PostgreSQL")

PROCESSES, EVENTS, BATCH = 3, 1_200, 20


def schedule_due_digest(database_url: str, slack_api) -> None:
    """A daily digest whose run is due 5 s ago in the shared job store, as when a digest comes due while
    the processes start: the leader's scheduler runs it at once (within its 3 h of grace)."""
    now = datetime.now(UTC)
    subscription = add_digest(database_url, now)
    settings = bot_settings(database_url, slack_api)
    engine = make_engine(database_url)
    scheduler = build_scheduler(settings, engine, client=WebClient(base_url=slack_api.api_url))
    scheduler.start(paused=True)
    try:
        sync_jobs(scheduler, engine, settings)
        scheduler.modify_job(job_id(subscription), next_run_time=now - timedelta(seconds=5))
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()


def test_three_processes_take_a_burst_with_retries_and_post_the_due_digest_once(
    tmp_path, database_url, slack_api
):
    schedule_due_digest(database_url, slack_api)
    sent = events(EVENTS, "t")
    batches = [sent[k : k + BATCH] for k in range(0, EVENTS, BATCH)]
    servers = start_processes(tmp_path, serve_env(database_url, slack_api), PROCESSES)
    try:
        delivered, _ = deliver(
            [port for *_, port in servers], batches, rate=100_000, retried=0.25, clients=6, seed=7
        )
        wait_for(lambda: digests_posted(slack_api), timeout=30, message="the digest")
        logs = [log for _, log, _ in servers]
        wait_for(lambda: any("(leader)" in log.read_text() for log in logs), timeout=10)
    finally:
        codes = stop_processes(servers)
    leaders = [log for log in logs if "this process runs the scheduler (leader)" in log.read_text()]

    assert codes == [0] * PROCESSES
    assert (delivered.stored, delivered.rejected, delivered.busy) == (EVENTS, 0, 0)
    retried = delivered.requests - len(batches)
    assert retried > 0 and delivered.duplicates == retried * BATCH  # each retry stored nothing again
    assert stored_counts(database_url) == {
        "raw events": EVENTS,
        "messages": EVENTS,
        "conversations": EVENTS // 5,
    }
    assert len(leaders) == 1
    assert digests_posted(slack_api) == 1  # once, though every process could have run it
