"""Prometheus metrics of one running bot, on a registry of its own so several apps can live in one process."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Answers should take well under a second; the upper buckets catch a slow database.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Commands served (by command and outcome), answer latency, Slack events, ingested events, and
    whether the database is taking writes (what /healthz reports)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "kpibot_commands",
            "Slash commands answered, by command and outcome (answered, usage_error, error).",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kpibot_command_seconds",
            "Seconds from receiving a slash command to its answer being sent.",
            ["command"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.slack_events = Counter(
            "kpibot_slack_events",
            "Slack events handled (retries of an event already seen are not counted), by type.",
            ["type"],
            registry=self.registry,
        )
        self.events_ingested = Counter(
            "kpibot_events_ingested",
            "Support events stored by the ingestion core, by source (webhook, intake channel, import).",
            ["source"],
            registry=self.registry,
        )

        self.writes_failing = Gauge(
            "kpibot_database_writes_failing",
            "1 while the last attempt to store events failed (webhooks, intake), else 0.",
            registry=self.registry,
        )
        self.failing_since: float | None = None  # unix time of the first failure in a row
        self.failure: str | None = None

    def write_failed(self, reason: str) -> None:
        """Notes a failed attempt to store events (`reason`: the error's kind, never its data)."""
        if self.failing_since is None:
            self.failing_since = time.time()
        self.failure = reason
        self.writes_failing.set(1)

    def write_succeeded(self) -> None:
        """Notes that events were stored: writes work (again)."""
        self.failing_since = self.failure = None
        self.writes_failing.set(0)

    def command_served(self, command: str, outcome: str, seconds: float) -> None:
        """Counts one answered command and records how long the answer took."""
        self.commands.labels(command=command, outcome=outcome).inc()
        self.latency.labels(command=command).observe(seconds)

    def slack_event(self, event_type: str) -> None:
        """Counts one Slack event handled."""
        self.slack_events.labels(type=event_type).inc()

    def ingested(self, source: str, count: int) -> None:
        """Counts `count` support events stored from `source`."""
        if count:
            self.events_ingested.labels(source=source).inc(count)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text exposition format."""
        return generate_latest(self.registry)
