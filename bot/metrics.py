"""Prometheus metrics of one running bot, on a registry of its own so several apps can live in one process.

Every label takes a bounded set of values (command names, KPI keys, doors, job kinds, operations), never
text a user typed or an id that grows with use. docs/architecture.md "Metrics" lists them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from storage.ingest import IngestResult

# Answers should take well under a second; the upper buckets catch a slow database.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs run from milliseconds (an alert with nothing to say) to minutes (warming 100 days of cache).
_JOB_BUCKETS = (0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_JOB_RESULTS = {EVENT_JOB_EXECUTED: "ok", EVENT_JOB_ERROR: "error", EVENT_JOB_MISSED: "missed"}
UNKNOWN = "unknown"  # the metric label of a command whose text could not be read


class Metrics:
    """Slash commands (by command, metric and outcome) and their latency, Slack events, support events by
    door and result, scheduler job runs, database errors, and whether the database is taking writes
    (what /healthz reports)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "kpibot_commands_total",
            "Slash commands served, by command, metric asked (a KPI key, scorecard, help, digest, alert, "
            "intake, or unknown when the text could not be read) and outcome (answered, usage_error, error).",
            ["command", "metric", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kpibot_command_seconds",
            "Seconds from receiving a slash command to its answer being sent, by command and metric.",
            ["command", "metric"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.slack_events = Counter(
            "kpibot_slack_events_total",
            "Slack events handled (retries of an event already seen are not counted), by type.",
            ["type"],
            registry=self.registry,
        )
        self.events = Counter(
            "kpibot_events_total",
            "Support events received, by door (webhook, chatwoot, intake) and result (stored, duplicate, "
            "rejected). Requests refused whole (401, 413, 503…) are not counted.",
            ["door", "result"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "kpibot_scheduler_job_runs_total",
            "Scheduler job runs, by job (digest, alert, maintenance, warm, other) and result (ok, error, "
            "missed: too late to run).",
            ["job", "result"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "kpibot_scheduler_job_seconds",
            "Seconds from a job's scheduled time to the end of its run (the run, plus any wait for a "
            "thread), by job.",
            ["job"],
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.database_errors = Counter(
            "kpibot_database_errors_total",
            "Database failures the bot caught, by operation (webhook_write, intake_write, answer, "
            "home_tab, scheduler_job, health_check).",
            ["operation"],
            registry=self.registry,
        )

        self.writes_failing = Gauge(
            "kpibot_database_writes_failing",
            "1 while the last attempt to store events failed (webhooks, intake), else 0.",
            registry=self.registry,
        )
        self.failing_since: float | None = None  # unix time of the first failure in a row

    def write_failed(self, operation: str) -> None:
        """Notes a failed attempt to store events during `operation` (/healthz asks the database why)."""
        if self.failing_since is None:
            self.failing_since = time.time()
        self.writes_failing.set(1)
        self.database_error(operation)

    def write_succeeded(self) -> None:
        """Notes that events were stored: writes work (again)."""
        self.failing_since = None
        self.writes_failing.set(0)

    def database_error(self, operation: str) -> None:
        """Counts one database failure during `operation`."""
        self.database_errors.labels(operation=operation).inc()

    def failed(self, operation: str, error: BaseException) -> None:
        """Counts `error`, caught during `operation`, as a database error when the database raised it."""
        if isinstance(error, SQLAlchemyError):
            self.database_error(operation)

    def command_served(self, command: str, metric: str, outcome: str, seconds: float) -> None:
        """Counts one served command and records how long the answer took."""
        self.commands.labels(command=command, metric=metric, outcome=outcome).inc()
        self.latency.labels(command=command, metric=metric).observe(seconds)

    def slack_event(self, event_type: str) -> None:
        """Counts one Slack event handled."""
        self.slack_events.labels(type=event_type).inc()

    def ingested(self, door: str, result: IngestResult) -> None:
        """Counts the events one request (or Slack event) brought through `door`, by what became of them."""
        for outcome, count in (
            ("stored", result.stored),
            ("duplicate", result.duplicates),
            ("rejected", len(result.rejected)),
        ):
            if count:
                self.events.labels(door=door, result=outcome).inc(count)

    def watch_scheduler(self, scheduler: BaseScheduler, job_kind: Callable[[str], str]) -> None:
        """Counts the runs of `scheduler`'s jobs from now on; `job_kind` names a job id's kind (a bounded
        label: one per kind of job, never one per subscription)."""

        def job_ran(event: JobExecutionEvent) -> None:  # on the executor's thread, just after the run
            job, result = job_kind(event.job_id), _JOB_RESULTS[event.code]
            self.job_runs.labels(job=job, result=result).inc()
            if result != "missed":
                self.job_seconds.labels(job=job).observe(
                    max(0.0, (datetime.now(UTC) - event.scheduled_run_time).total_seconds())
                )
            if event.exception is not None:
                self.failed("scheduler_job", event.exception)

        scheduler.add_listener(job_ran, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text exposition format."""
        return generate_latest(self.registry)
