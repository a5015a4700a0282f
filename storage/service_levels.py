"""Service-level policies (docs/metrics.md, "Service levels"): per support channel, with a default, up to
three targets — first response, next response, resolution — in calendar time or business hours — and
the deadlines they give every clock.

Where a channel's policy comes from, first found wins: an admin's `/kpi sla set` (table `sla_policy`),
the YAML's `sla`, else the benchmarks (first and next response = the channel's FRT benchmark, resolution
= the backlog threshold, 24 h unless configured). The YAML's older `backlog_thresholds` are resolution
targets: one notion, which the backlog KPI and the backlog alert read from here too.

Each clock of `sla_clock` carries its deadline under the policy in force (`Deadlines`), stamped when
ingestion writes it, so a question counts met and breached targets from the KPI cache whatever the
channels' policies. What was stamped is recorded (`record`); a policy changed since — by an admin, or in
the YAML between two starts — has its channels' clocks stamped again (`restamp`, `ensure_stamped`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from storage import kpi_cache
from storage.bulk import bulk_update
from storage.business_hours import BusinessClock
from storage.models import AppSecret, SlaClock, SlaPolicyRow
from storage.settings import Settings, SlaTargets

TARGETS = ("first", "next", "resolve")
# What each target is called in the JSON and the answers.
TARGET_KEYS = {"first": "first_response", "next": "next_response", "resolve": "resolution"}
TARGET_NAMES = {"first": "First response", "next": "Next response", "resolve": "Resolution"}
KIND_TARGETS = {"first": "first", "next": "next", "resolution": "resolve"}  # sla_clock.kind -> target
STAMP = "sla_stamped"  # the app_secret row recording the policies the clocks were stamped with
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


class Deadlines:
    """The deadline of every clock under the policies `known`: start + the target of the clock's kind on
    its channel, counted in business hours where its policy says so (None without a target)."""

    def __init__(self, known: Policies) -> None:
        self.known = known
        self._policies: dict[str, Policy] = {}
        self._clock: BusinessClock | None = None

    @classmethod
    def load(cls, conn: Connection, settings: Settings) -> Deadlines:
        return cls(policies(conn, settings))

    def policy(self, channel: str) -> Policy:
        if channel not in self._policies:
            self._policies[channel] = self.known.of(channel)
        return self._policies[channel]

    def stamp(
        self, kind: str, channel: str, start: datetime, end: datetime | None
    ) -> tuple[datetime | None, float | None]:
        """(deadline, late): when the clock is due, and how many seconds after it it ended (None: in time,
        still running, or no target)."""
        policy = self.policy(channel)
        target = policy.target(KIND_TARGETS[kind])
        if target is None:
            return None, None
        if policy.business_hours and self.known.settings.business_hours is not None:
            if self._clock is None:
                self._clock = BusinessClock.from_settings(self.known.settings)
            deadline = self._clock.deadline(start, target)
        else:
            deadline = start + timedelta(seconds=target)
        late = (end - deadline).total_seconds() if end is not None and end > deadline else None
        return deadline, late

    def fingerprints(self) -> dict[str, list]:
        """Per channel, what its deadlines depend on (its policy, and the business hours it counts)."""
        hours = self.known.settings.business_hours
        hours = None if hours is None else hours.model_dump(mode="json")
        prints = {}
        for channel in self.known.settings.channels:
            policy = self.policy(channel)
            prints[channel] = [policy.first, policy.next, policy.resolve, policy.business_hours]
            if policy.business_hours:
                prints[channel].append([hours, self.known.settings.tz])
        return prints

    def record(self, conn: Connection) -> None:
        """Records the policies the clocks are now stamped with."""
        table = AppSecret.__table__
        conn.execute(delete(table).where(table.c.name == STAMP))
        conn.execute(table.insert().values(name=STAMP, value=json.dumps(self.fingerprints(), sort_keys=True)))

    def changed_channels(self, conn: Connection) -> tuple[list[str], bool]:
        """The channels whose policy differs from the one their clocks were stamped with (all of them when
        none was recorded), and whether one was."""
        table = AppSecret.__table__
        stored = conn.execute(select(table.c.value).where(table.c.name == STAMP)).scalar()
        before = json.loads(stored) if stored else {}
        return sorted(ch for ch, now in self.fingerprints().items() if before.get(ch) != now), bool(stored)


def restamp(conn: Connection, deadlines: Deadlines, channels: list[str], chunk: int = 5000) -> int:
    """Stamps the clocks of `channels` again with `deadlines`, noting the hours they move from and to for
    the KPI cache; returns how many changed."""
    table = SlaClock.__table__
    columns = (table.c.id, table.c.kind, table.c.channel, table.c.start_at, table.c.end_at)
    changed, last = 0, 0
    while True:
        page = conn.execute(
            select(*columns, table.c.deadline, table.c.late)
            .where(table.c.channel.in_(channels), table.c.id > last)
            .order_by(table.c.id)
            .limit(chunk)
        ).all()
        if not page:
            return changed
        updates, moved = [], []
        for row in page:
            deadline, late = deadlines.stamp(row.kind, row.channel, row.start_at, row.end_at)
            if (deadline, late) != (row.deadline, row.late):
                updates.append({"id": row.id, "deadline": deadline, "late": late})
                moved += [time for time in (row.deadline, deadline) if time is not None]
        bulk_update(conn, table, "id", updates)
        kpi_cache.note(conn, moved, datetime.now(UTC))  # breaches are dated by deadline: both hours change
        changed += len(updates)
        last = page[-1].id


def ensure_stamped(engine: Engine, settings: Settings) -> list[str]:
    """Stamps again the clocks of channels whose policy changed since they were stamped (the YAML edited
    between two starts, say); returns those channels (none the first time: nothing was recorded to
    change from, though every clock is stamped then)."""
    with engine.begin() as conn:
        deadlines = Deadlines.load(conn, settings)
        changed, recorded = deadlines.changed_channels(conn)
        if changed:
            restamp(conn, deadlines, changed)
            deadlines.record(conn)
    return changed if recorded else []


def save_policy(
    engine: Engine, settings: Settings, channel: str, policy: Policy, *, set_by: str, now: datetime
) -> None:
    """Stores an admin's policy for `channel` (DEFAULT for the default), replacing the one there, and
    stamps the clocks it changes."""
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
    ensure_stamped(engine, settings)


def remove_policy(engine: Engine, settings: Settings, channel: str) -> bool:
    """Drops an admin's policy for `channel`; True if there was one. Stamps the clocks it changes."""
    table = SlaPolicyRow.__table__
    with engine.begin() as conn:
        removed = conn.execute(delete(table).where(table.c.channel == channel)).rowcount > 0
    ensure_stamped(engine, settings)
    return removed


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
