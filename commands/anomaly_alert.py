"""The anomaly alert: which findings (commands.anomaly_read) are posted when, and what the posts say.

Each signal of each scope has its own episodes. A signal that becomes anomalous starts one ("fire");
while it lasts it is not posted again within COOLDOWN unless it gets clearly worse ("worse": at least
WORSE times as far from usual, on the same side, as at its last post); after COOLDOWN a still-anomalous
signal is said again ("repeat"); once it has settled (commands.anomaly) one all-clear ends the episode.
The signals of one scope due at one check go out as one message, their all-clears as another; each
message's outbox key names its signals' episodes and post numbers, so two processes checking at once
post it once (bot/jobs/anomaly.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from commands.anomaly import WEEKS, Window, baseline_windows, hour_label
from commands.anomaly_read import ALL, Finding, history_start
from commands.errors import UsageError
from commands.format import format_duration
from commands.kpis.nlp import topics
from commands.query import Query
from commands.slack_text import inline
from storage.models import AnomalyPost
from storage.settings import Settings

COOLDOWN = timedelta(hours=1)
WORSE = 1.5
VOICE_ACTION = "anomaly_voice"
_MAX_WINDOW = timedelta(hours=2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STALE_BUTTON = "This button is no longer valid: ask `/kpi voice` for the customers' words."


@dataclass(frozen=True)
class SignalState:
    """Where one signal of one scope stands: inside an episode (`active`) or not, its episode and post
    numbers, and what its last post said."""

    active: bool = False
    episode: int = 0
    post: int = 0
    value: float | None = None
    usual: float | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """One signal's part of a post: "fire", "worse", "repeat" or "clear", in `episode` (post number
    `post`; 0 for the all-clear)."""

    finding: Finding
    kind: str
    episode: int
    post: int

    @property
    def tag(self) -> str:
        return f"{self.finding.signal}/e{self.episode}/" + (
            "clear" if self.kind == "clear" else f"p{self.post}"
        )


@dataclass(frozen=True)
class Post:
    """One message: the steps of one scope (`channel`, see commands.anomaly_read.Finding), all
    all-clears or none."""

    channel: str
    clear: bool
    steps: tuple[Step, ...]

    @property
    def key(self) -> str:
        """The outbox key: the scope and each signal's episode and post."""
        return f"{self.channel or 'all'}|" + ";".join(step.tag for step in self.steps)


def decide(states: dict[tuple[str, str], SignalState], findings: list[Finding], now: datetime) -> list[Post]:
    """The posts due at `now` given each signal's state (keyed by (channel, signal)): the anomalies of a
    scope in one post, its all-clears in another; none when nothing is due."""
    steps: dict[tuple[str, bool], list[Step]] = defaultdict(list)
    for finding in findings:
        state = states.get((finding.channel, finding.signal), SignalState())
        step = _step(state, finding, now)
        if step is not None:
            steps[finding.channel, step.kind == "clear"].append(step)
    return [Post(channel, clear, tuple(found)) for (channel, clear), found in sorted(steps.items())]


def _step(state: SignalState, finding: Finding, now: datetime) -> Step | None:
    verdict = finding.verdict
    if not state.active:
        return Step(finding, "fire", state.episode + 1, 1) if verdict.anomalous else None
    if verdict.settled:
        return Step(finding, "clear", state.episode, 0)
    if not verdict.anomalous:
        return None
    before = (state.value or 0.0) - (state.usual or 0.0)
    if before and verdict.distance * before > 0 and abs(verdict.distance) >= WORSE * abs(before):
        return Step(finding, "worse", state.episode, state.post + 1)
    if state.posted_at is None or now - state.posted_at >= COOLDOWN:
        return Step(finding, "repeat", state.episode, state.post + 1)
    return None


def scope_name(channel: str) -> str:
    """How a post names a finding's scope: "Instagram", "twitter + instagram", "All channels"."""
    if channel == ALL:
        return "All channels"
    named = scope_channels(channel)
    return " + ".join(named) if len(named) > 1 else channel[:1].upper() + channel[1:]


def scope_channels(channel: str) -> tuple[str, ...]:
    """The support channels a finding's scope covers (() = every one)."""
    return tuple(name for name in channel.split(",") if name)


def finding_line(finding: Finding, tz: ZoneInfo) -> str:
    """What one finding says, mrkdwn with every name escaped: the value, how far from usual, and for
    volume what drives it."""
    v, when, signal = finding.verdict, hour_label(finding.window, tz), finding.signal
    shown = _shown(signal)
    versus = (
        f"{v.ratio:.1f}× the usual for {when} ({shown(v.usual)})"
        if v.ratio is not None
        else f"usually {shown(v.usual)} for {when}"
    )
    if signal == "volume":
        text = f"{_count(v.value)} messages in the last hour, {versus}"
        for driver in finding.drivers:
            label = inline(driver.label.replace("/", " / "))
            text += f"; {_pct(driver.share)} about {label} (usual {_pct(driver.usual)})"
        if finding.net is not None:
            text += f"; net sentiment {_signed(finding.net[0])} (usual {_signed(finding.net[1])})"
        return text
    if signal == "frt":
        return f"median first response {format_duration(v.value)} over {v.items} replies, {versus}"
    if signal == "negative":
        return f"{_pct(v.value)} of {v.items} scored messages negative, usual {_pct(v.usual)} for {when}"
    return f"{_count(v.value)} messages about {inline(signal.partition(':')[2])}, {versus}"


def clear_line(finding: Finding, tz: ZoneInfo) -> str:
    """An all-clear's line: the signal back near its usual."""
    v, when = finding.verdict, hour_label(finding.window, tz)
    shown = _shown(finding.signal)
    return (
        f"{_signal_name(finding.signal)} back to usual: {shown(v.value)} for {when} (usual {shown(v.usual)})"
    )


def digest_line(posted: AnomalyPost, tz: ZoneInfo, shown: Callable[[object], str] = inline) -> str:
    """A recorded anomaly as the digest lists it: "Instagram messages 142 (usual 46, 3.1×), Tue
    13:00–14:00"; `shown` escapes names (mrkdwn) or not (terminal)."""
    value = _shown(posted.signal)
    ratio = f", {posted.value / posted.usual:.1f}×" if posted.usual else ""
    where = shown(scope_name(posted.channel))
    name = _signal_name(posted.signal, shown)
    when = hour_label((posted.window_start, posted.window_end), tz)
    return f"{where} {name} {value(posted.value)} (usual {value(posted.usual)}{ratio}), {when}"


def _signal_name(signal: str, shown: Callable[[object], str] = inline) -> str:
    names = {"volume": "messages", "frt": "median first response", "negative": "negative share"}
    return names.get(signal) or f"messages about {shown(signal.partition(':')[2])}"


def _shown(signal: str) -> Callable[[float], str]:
    return {"frt": format_duration, "negative": _pct}.get(signal, _count)


def new_phrase(
    conn: Connection, settings: Settings, channels: tuple[str, ...], window: Window, now: datetime
) -> str | None:
    """The most recurring phrase of the window's messages no topic matched (the `topics` KPI's phrases)
    that recurred in none of its baseline windows; None when there is none. Read only for a post."""
    query = Query(*window, channels, now, settings)
    found = [p["phrase"] for p in topics(conn, query)["phrases"]]
    if not found:
        return None
    before, _ = baseline_windows(window, settings.zone, history_start(conn))
    known = {p["phrase"] for w in before for p in topics(conn, query.with_range(*w))["phrases"]}
    return next((phrase for phrase in found if phrase not in known), None)


def post_message(post: Post, settings: Settings, *, phrase: str | None = None) -> dict[str, Any]:
    """The post as a Slack message: what is unusual (or usual again), how far, what drives it, and a button
    opening the customers' own words of the window."""
    tz = settings.zone
    name = inline(scope_name(post.channel))
    if post.clear:
        lines = [clear_line(step.finding, tz) for step in post.steps]
        text = f":white_check_mark: *{name}*: " + "; ".join(lines)
        return {"text": text.replace("*", ""), "blocks": [_section(text)]}
    first = post.steps[0]
    lines = [finding_line(step.finding, tz) for step in post.steps]
    if phrase:
        lines.append(f"top new phrase: ‘{inline(phrase)}’")
    worse = any(step.kind == "worse" for step in post.steps)
    still = all(step.kind == "repeat" for step in post.steps)
    title = "still unusual" if still else "getting worse" if worse else "unusual activity"
    text = f"{':hourglass:' if still else ':rotating_light:'} *{name}* ({title}): " + "; ".join(lines)
    basis = first.finding.basis
    compared = (
        f"the same hour of the previous {WEEKS} weeks"
        if basis == "weeks"
        else "the same hour of the previous days"
    )
    blocks = [
        _section(text),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Show what customers said"},
                    "action_id": VOICE_ACTION,
                    "value": voice_value(first.finding.window, scope_channels(post.channel)),
                }
            ],
        },
        _context(
            f"{settings.tz} · compared with {compared} · next reminder in 1 h unless it gets clearly worse"
        ),
    ]
    return {"text": text.replace("*", ""), "blocks": blocks}


def preview_lines(findings: list[Finding], settings: Settings) -> list[str]:
    """What an alert with no episode open would post now, a line per scope (terminal `--preview`)."""
    posts = decide({}, findings, _EPOCH)  # no state: `now` is not read
    return [post_message(post, settings)["text"] for post in posts]


def voice_value(window: Window, channels: tuple[str, ...]) -> str:
    """The button's value: the window as two epoch seconds and the channels, "1795000000:1795003600:x,y"."""
    start, end = window
    return f"{int(start.timestamp())}:{int(end.timestamp())}:{','.join(channels)}"


def voice_request(value: str, settings: Settings) -> tuple[Window, tuple[str, ...]]:
    """The window and channels a button's value names; UsageError for anything else (a value is sent back
    by the client, so it is read as untrusted)."""
    parts = value.split(":")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 11 for p in parts[:2]):
        raise UsageError(_STALE_BUTTON)
    start, end = (_EPOCH + timedelta(seconds=int(p)) for p in parts[:2])
    channels = tuple(c for c in parts[2].split(",") if c)
    if not timedelta(0) < end - start <= _MAX_WINDOW or any(c not in settings.channels for c in channels):
        raise UsageError(_STALE_BUTTON)
    return (start, end), channels


def _count(value: float) -> str:
    return f"{round(value):,}"


def _pct(value: float) -> str:
    return f"{value:.0f} %"


def _signed(value: float) -> str:
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else "−" + str(-rounded) if rounded < 0 else "0"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": inline(text)}]}
