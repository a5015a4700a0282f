"""Service-level policies (docs/metrics.md, "Service levels"): per support channel, with a default, up to
three targets — first response, next response, resolution — in calendar time or business hours.

Where a channel's policy comes from, first found wins: an admin's `/kpi sla set` (table `sla_policy`),
the YAML's `sla`, else the benchmarks (first and next response = the channel's FRT benchmark, resolution
= the backlog threshold, 24 h unless configured). The YAML's older `backlog_thresholds` are resolution
targets: one notion, which the backlog KPI and the backlog alert read from here too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from storage.models import SlaPolicyRow
from storage.settings import Settings, SlaTargets

TARGETS = ("first", "next", "resolve")
# What each target is called in the JSON and the answers.
TARGET_KEYS = {"first": "first_response", "next": "next_response", "resolve": "resolution"}
TARGET_NAMES = {"first": "First response", "next": "Next response", "resolve": "Resolution"}
DEFAULT = ""  # the channel key of the default policy


@dataclass(frozen=True)
class Policy:
    """Targets in seconds (None: no target) and whether they count business hours; `source` says where
    the policy came from: "admin" (who set it is `set_by`), "config" or "benchmarks"."""

    first: float | None
    next: float | None
    resolve: float | None
    business_hours: bool = False
    source: str = "benchmarks"
    set_by: str | None = None

    def target(self, name: str) -> float | None:
        return getattr(self, name)

    @property
    def targets(self) -> dict[str, float]:
        """The targets the policy sets, by name (first, next, resolve)."""
        return {name: value for name in TARGETS if (value := self.target(name)) is not None}


@dataclass(frozen=True)
class Policies:
    """Every channel's policy: `channels` those set for a channel, `default` the rest's."""

    default: Policy
    channels: dict[str, Policy]
    settings: Settings

    def of(self, channel: str) -> Policy:
        """The policy of one support channel."""
        if channel in self.channels:
            return self.channels[channel]
        return _from_benchmarks(self.settings, channel, self.default)

    def groups(self, name: str, channels: tuple[str, ...]) -> dict[tuple[float, bool], tuple[str, ...]]:
        """The channels asked (() = every channel) grouped by their `name` target and its clock:
        {(seconds, business hours): channels}; channels without that target are left out."""
        grouped: dict[tuple[float, bool], list[str]] = {}
        for channel in channels or tuple(self.settings.channels):
            policy = self.of(channel)
            if (seconds := policy.target(name)) is not None:
                grouped.setdefault((seconds, policy.business_hours), []).append(channel)
        return {key: tuple(names) for key, names in grouped.items()}

    def resolve_threshold(self, channel: str | None = None) -> float:
        """The resolution target in seconds, as the backlog counts it (calendar age): the channel's, or
        the default's; without one, the backlog threshold."""
        policy = self.default if channel is None else self.of(channel)
        return policy.resolve if policy.resolve is not None else self.settings.backlog_threshold_seconds


def policies(conn: Connection | None, settings: Settings) -> Policies:
    """The policies in force: admins' (when `conn` is given), over the YAML's, over the benchmarks."""
    configured = {
        DEFAULT if key == "default" else key: _from_config(value) for key, value in settings.sla.items()
    }
    for channel, seconds in settings.backlog_thresholds.items():
        base = configured.get(channel) or _from_benchmarks(settings, channel, configured.get(DEFAULT))
        if base.resolve is None or channel not in settings.sla:
            configured[channel] = replace(base, resolve=seconds, source="config")
    if conn is not None:
        for row in conn.execute(select(SlaPolicyRow.__table__)).mappings():
            configured[row["channel"]] = Policy(
                row["first_seconds"],
                row["next_seconds"],
                row["resolve_seconds"],
                bool(row["business_hours"]),
                "admin",
                row["set_by"],
            )
    default = configured.pop(DEFAULT, None) or _from_benchmarks(settings, None, None)
    return Policies(default, configured, settings)


def save_policy(engine: Engine, channel: str, policy: Policy, *, set_by: str, now: datetime) -> None:
    """Stores an admin's policy for `channel` (DEFAULT for the default), replacing the one there."""
    table = SlaPolicyRow.__table__
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.channel == channel))
        conn.execute(
            table.insert().values(
                channel=channel,
                first_seconds=policy.first,
                next_seconds=policy.next,
                resolve_seconds=policy.resolve,
                business_hours=policy.business_hours,
                set_by=set_by,
                set_at=now,
            )
        )


def remove_policy(engine: Engine, channel: str) -> bool:
    """Drops an admin's policy for `channel`; True if there was one."""
    table = SlaPolicyRow.__table__
    with engine.begin() as conn:
        return conn.execute(delete(table).where(table.c.channel == channel)).rowcount > 0


def _from_config(value: SlaTargets | dict) -> Policy:
    targets = value if isinstance(value, SlaTargets) else SlaTargets.model_validate(value)
    return Policy(targets.first, targets.next, targets.resolve, targets.business_hours, "config")


def _from_benchmarks(settings: Settings, channel: str | None, default: Policy | None) -> Policy:
    """A channel's policy without one of its own: the configured default, else the benchmarks (first and
    next response = the channel's FRT benchmark, resolution = the backlog threshold)."""
    if default is not None and default.source != "benchmarks":
        return default
    frt = settings.benchmark("frt", (channel,) if channel else ()).get("mean")
    return Policy(frt, frt, settings.backlog_threshold_seconds)
