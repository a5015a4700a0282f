"""Reading the anomaly signals (commands.anomaly) of one check: every signal, per channel and over the
whole scope, for the window judged and its baseline windows, from the KPI cache.

Signals: `volume` (customer messages, the `inbound` measure) over the last 60 minutes, checked every
minute; over the last whole local hour, `frt` (median first response of the replies sent in it, the
`frt` measure), `negative` (share of the scored customer messages that were negative, in percent: the
`sentiment` KPI) and `topic:<name>` (customer messages of each top-level topic of the taxonomy, or seen
in the messages: the `topics` tally). An hour's slots are kept by the KPI cache (docs/architecture.md,
"The KPI cache"), so a past hour is read as a few small rows; the window still open is read from the
tables through the same measures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from commands.anomaly import (
    MIN_ITEMS,
    Verdict,
    Window,
    baseline_windows,
    judge,
    last_60_minutes,
    last_hour,
)
from commands.engine import top_topics
from commands.kpis.nlp import sentiment, topic_tally
from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache import Scope
from storage.kpi_cache.measures import CUSTOMER_SAID
from storage.models import Message
from storage.settings import Settings

M = Message.__table__.c
ALL = ""  # the channel of a finding over every channel; several named ones together: "twitter,x"
DRIVERS = 2  # topics named as driving a volume anomaly


@dataclass(frozen=True)
class Figures:
    """One scope's figures over one window: customer messages, the first responses' median and count,
    the negative and net sentiment (percent) of the scored messages and their count, the messages per
    top-level topic and per label ("delivery/late"), and the messages read for topics."""

    inbound: int
    frt: float | None = None
    replies: int = 0
    negative: float | None = None
    net: float | None = None
    scored: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    read: int = 0


@dataclass(frozen=True)
class Driver:
    """A topic label whose share of the messages read in the window exceeds its baseline share most."""

    label: str
    share: float
    usual: float


@dataclass(frozen=True)
class Finding:
    """One signal of one scope (`channel`; several joined by commas, or ALL, together) judged over `window`
    against `basis` ("weeks" or "days"), with what explains it: for volume the topics gaining most share
    and the net sentiment (percent) against its usual."""

    channel: str
    signal: str
    window: Window
    verdict: Verdict
    basis: str
    drivers: tuple[Driver, ...] = ()
    net: tuple[float, float] | None = None


@dataclass
class _Reader:
    """Reads figures over windows for the check's scopes, each (window, scope) once."""

    conn: Connection
    settings: Settings
    now: datetime
    scopes: dict[str, tuple[str, ...]]  # finding channel -> the channels it covers (() = every one)
    topics: tuple[str, ...] = ()  # the taxonomy's top-level topics: each is judged, even when quiet
    _inbound: dict[Window, dict[str, int]] = field(default_factory=dict)
    _figures: dict[tuple[Window, str], Figures] = field(default_factory=dict)

    def inbound(self, window: Window, key: str) -> int:
        if window not in self._inbound:
            scope = Scope(*window, (), self.now)
            self._inbound[window] = kpi_cache.counts_by_channel(self.conn, "inbound", scope)
        counts, channels = self._inbound[window], self.scopes[key]
        return sum(counts.get(c, 0) for c in channels) if channels else sum(counts.values())

    def figures(self, window: Window, key: str) -> Figures:
        if (window, key) not in self._figures:
            query = Query(*window, self.scopes[key], self.now, self.settings)
            responses = kpi_cache.sample(self.conn, "frt", query.until_now().scope())
            mood = sentiment(self.conn, query)
            tally, read = topic_tally(self.conn, query.until_now())
            labels: dict[str, int] = defaultdict(int)
            for topic, (_, _, _, subtopics) in tally.items():
                for subtopic, count in subtopics.items():
                    labels[f"{topic}/{subtopic}" if subtopic else topic] += count
            self._figures[window, key] = Figures(
                self.inbound(window, key),
                responses.percentiles(0.5)[0],
                responses.count,
                _percent(mood["negative"]),
                _percent(mood["net"]),
                mood["count"],
                {topic: entry[0] for topic, entry in tally.items()},
                dict(labels),
                read,
            )
        return self._figures[window, key]


def history_start(conn: Connection) -> datetime | None:
    """When the workspace's history starts: its first stored customer message (None: none yet)."""
    return conn.execute(select(func.min(M.at)).where(*CUSTOMER_SAID)).scalar()


def evaluate(
    conn: Connection, settings: Settings, channels: tuple[str, ...], now: datetime, *, hourly: bool = True
) -> list[Finding]:
    """Every signal that can be judged at `now` for `channels` (() = all): per channel and, with more
    than one channel, over them together. Volume over the last 60 minutes; with `hourly`, the other
    signals over the last whole local hour."""
    tz = settings.zone
    named = channels or tuple(settings.channels)
    scopes = {channel: (channel,) for channel in named}
    if len(named) > 1:
        scopes[",".join(channels)] = channels  # ALL when channels is ()
    reader = _Reader(conn, settings, now, scopes, tuple(top_topics(settings)))
    start = history_start(conn)
    found: list[Finding] = []
    rolling = last_60_minutes(now)
    before, basis = baseline_windows(rolling, tz, start)
    if before:
        for key in scopes:
            value = reader.inbound(rolling, key)
            verdict = judge(value, value, [reader.inbound(w, key) for w in before])
            if verdict is not None:
                found.append(Finding(key, "volume", rolling, verdict, basis))
    hour = last_hour(now, tz)
    before, basis = baseline_windows(hour, tz, start)
    if hourly and before:
        for key in scopes:
            found += _hourly(reader, key, hour, before, basis)
    return _explained(reader, found)


def _hourly(reader: _Reader, key: str, hour: Window, before: list[Window], basis: str) -> list[Finding]:
    """The first-response, negative-share and topic findings of one scope over the hour."""
    now, past = reader.figures(hour, key), [reader.figures(w, key) for w in before]
    judged = [
        ("frt", judge(now.frt, now.replies, [f.frt for f in past if f.replies >= MIN_ITEMS])),
        ("negative", judge(now.negative, now.scored, [f.negative for f in past if f.scored >= MIN_ITEMS])),
    ]
    for topic in sorted(set(reader.topics).union(now.topics, *(f.topics for f in past))):
        count = now.topics.get(topic, 0)
        judged.append((f"topic:{topic}", judge(count, count, [f.topics.get(topic, 0) for f in past])))
    return [Finding(key, signal, hour, verdict, basis) for signal, verdict in judged if verdict is not None]


def _explained(reader: _Reader, found: list[Finding]) -> list[Finding]:
    """The findings, an anomalous volume given its drivers (the labels whose share of the messages read
    grew most over their share in the baseline windows together) and its net sentiment against usual."""
    tz = reader.settings.zone
    start = None
    out = []
    for finding in found:
        if finding.signal != "volume" or not finding.verdict.anomalous:
            out.append(finding)
            continue
        if start is None:
            start = history_start(reader.conn)
        before, _ = baseline_windows(finding.window, tz, start)
        now = reader.figures(finding.window, finding.channel)
        past = [reader.figures(w, finding.channel) for w in before]
        read = sum(f.read for f in past)
        drivers = []
        if now.read and read:
            for label, count in now.labels.items():
                share, usual = 100 * count / now.read, 100 * sum(f.labels.get(label, 0) for f in past) / read
                if share > usual:
                    drivers.append(Driver(label, share, usual))
        drivers.sort(key=lambda d: (-(d.share - d.usual), d.label))
        best: dict[str, Driver] = {}  # one label per topic: its subtopic gaining most
        for driver in drivers:
            best.setdefault(driver.label.partition("/")[0], driver)
        drivers = list(best.values())
        scored = [f for f in past if f.net is not None]
        net = None
        if now.net is not None and scored:
            usual = sum(f.net * f.scored for f in scored) / sum(f.scored for f in scored)
            net = (now.net, usual)
        out.append(
            Finding(
                finding.channel,
                finding.signal,
                finding.window,
                finding.verdict,
                finding.basis,
                tuple(drivers[:DRIVERS]),
                net,
            )
        )
    return out


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share
