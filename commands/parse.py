"""The command grammar shared by Slack and the CLI: `[metric] [channel…] [period] [by …] [bh] [public]`.

Words are case-insensitive and, after the metric, may come in any order. A text that starts with a
channel or a period gets the default metric (the scorecard for `/kpi`, sentiment for `/sentiment`);
a metric named later is accepted too, as long as only one metric is asked for. Channel names and
aliases come from the settings; `all` (every channel) wins over named channels.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from commands.errors import UsageError
from commands.kpis import KPIS, NAMES, SYNONYMS
from commands.periods import DEFAULT_PERIOD, NAMED_PERIODS, Period, is_period_word, resolve_period
from commands.slack_text import inline
from storage.business_hours import BusinessClock
from storage.settings import Settings

METRICS = tuple(KPIS)
# Names of docs/metrics.md: help text, Block Kit headers and terminal titles all use these.
METRIC_NAMES: dict[str, str] = NAMES
# Only words people plainly mean as one metric (the registry's synonyms); `sla` is left out: it could
# mean frt or bands.
METRIC_SYNONYMS = SYNONYMS
DIMENSIONS = ("agent", "team", "channel", "topic", "day", "hour", "weekday")
MODIFIERS = ("all", "bh", "by", "public", "help", "more")
MORE = ("more", "extended")  # the extended scorecard
VIEWS = ("heatmap", "me", "export")  # answers of their own, routed by the edges before this grammar
WHY = "why"  # `why METRIC …`: the change of a mean KPI split into its causes (commands.why)
EXPLAINED = ("frt", "wait", "art", "reply-rate", "resolution-rate", "csat")  # commands.why_items.WHY


@dataclass(frozen=True)
class KpiRequest:
    """One parsed question: which KPI, on which channels (() = all), over which period, how shown."""

    metric: str
    channels: tuple[str, ...]
    period: Period
    period_word: str
    by: str | None = None
    business_hours: bool = False
    public: bool = False
    extended: bool = False  # the scorecard's extended view (`more`)
    explain: bool = False  # `why`: the change vs the previous period split into its causes


def parse_command(
    text: str, settings: Settings, now: datetime, *, default_metric: str = "scorecard"
) -> KpiRequest:
    """The request a command line asks for; raises UsageError (with suggestions) for words it cannot read."""
    if default_metric not in METRIC_NAMES:
        raise ValueError(f"unknown default metric {default_metric!r}")
    channel_words = settings.channel_words()
    words = iter(word for word in re.split(r"[\s,]+", text.strip()) if word)
    metric: str | None = None
    channels: list[str] = []
    every = bh = public = extended = explain = False
    period_word: str | None = None
    by: str | None = None
    for position, raw in enumerate(words):
        word = raw.lower()
        if word == "help":
            return KpiRequest("help", (), resolve_period(DEFAULT_PERIOD, now, settings.zone), DEFAULT_PERIOD)
        if position == 0 and word == WHY:
            explain = True
        elif position == 0 and _metric_key(word):
            metric = _metric_key(word)
        elif word == WHY:
            raise UsageError(f"`why` comes first: `why {metric or 'frt'} …`")
        elif word == "by":
            dimension = _dimension(next(words, None))
            if by not in (None, dimension):
                raise UsageError(f"two breakdowns `by {by}` and `by {dimension}` — pick one")
            by = dimension
        elif word == "bh":
            bh = True
        elif word == "public":
            public = True
        elif word in MORE:
            extended = True
        elif word == "all":
            every = True
        elif is_period_word(word):
            if period_word not in (None, word):
                raise UsageError(f"two periods `{period_word}` and `{word}` — pick one", [period_word, word])
            period_word = word
        elif word in channel_words:
            if channel_words[word] not in channels:
                channels.append(channel_words[word])
        elif key := _metric_key(word):
            if metric not in (None, key):
                raise UsageError(f"two metrics `{metric}` and `{key}` — ask for one at a time")
            metric = key
        else:
            raise _unknown_word(raw, channel_words)
    if bh:
        _check_business_hours(settings)
    period_word = period_word or DEFAULT_PERIOD
    if extended and (metric or default_metric) != "scorecard":
        raise UsageError("`more` extends the scorecard: ask for `more` without a metric")
    if explain:
        _check_explained(metric, by, bh)
    return KpiRequest(
        metric=metric or default_metric,
        channels=() if every else tuple(channels),
        period=resolve_period(period_word, now, settings.zone),
        period_word=period_word,
        by=by,
        business_hours=bh,
        public=public,
        extended=extended,
        explain=explain,
    )


def help_text(settings: Settings, *, terminal: bool = False) -> str:
    """The short help: grammar, examples, periods, modifiers, metrics with their names, and channels;
    in Slack's syntax (`/kpi …`), or the terminal's (`kpibot kpi …`) when `terminal`."""
    kpi, sentiment, topics = (
        ("kpibot kpi", "kpibot sentiment", "kpibot topics") if terminal else ("/kpi", "/sentiment", "/topics")
    )
    bh_note = (
        "durations in business hours"
        if settings.business_hours is not None
        else "business hours (not configured)"
    )
    aliases: dict[str, list[str]] = {}
    for alias, channel in settings.channel_aliases.items():
        aliases.setdefault(channel.lower(), []).append(alias.lower())
    channels = inline(  # names from the settings: inert in Slack
        ", ".join(
            f"{channel} ({', '.join(aliases[channel])})" if channel in aliases else channel
            for channel in (name.lower() for name in settings.channels)
        )
    )
    metrics = "\n".join(f"`{key}` {METRIC_NAMES[key]}" for key in METRICS)
    where = (
        "`--json` the answer as data · `--at TIME` as of another moment · `--list` the conversations "
        "behind the number"
        if terminal
        else "`public` post in the channel · *Show conversations* under an answer lists those behind it"
    )
    views = (
        "`kpibot kpi more` · `kpibot kpi heatmap [volume|frt] [channel…] [period] [--out heatmap.png]` · "
        "`kpibot me --agent ID [channel…] [period]` · "
        "`kpibot export conversations [channel…] PERIOD --out file.csv|.xlsx` · "
        f"`kpibot kpi why METRIC [channel…] [period]` what moved {', '.join(EXPLAINED)}"
        if terminal
        else "`/kpi more` · `/kpi heatmap [volume|frt] [channel…] [period]` (image by DM) · "
        "`/kpi me [channel…] [period]` your numbers beside the team's · "
        "`/kpi export PERIOD [channel…]` one row per conversation, CSV by DM · "
        f"`/kpi why METRIC [channel…] [period]` what moved {', '.join(EXPLAINED)}"
    )
    setup = (
        "`kpibot digest list|add|off` · "
        "`kpibot alert list|add|off|sla-add|sla-off|anomalies-add|anomalies-off` · "
        "`kpibot alert sla|anomalies --preview` · `kpibot intake list|add|off` · `kpibot sla list|set|reset`"
        if terminal
        else "`/kpi digest here 09:00 Europe/Paris` (or `weekly mon 09:00`, `monthly 1 09:00`) · "
        "`/kpi alert backlog 5 4h here` · "
        "`/kpi alert sla here lead 30m` · `/kpi alert anomalies here` · `/kpi intake here twitter` · "
        "`/kpi sla set twitter first 1h next 4h resolve 24h` (admins; `list` shows them, `off` stops them) "
        "· `/kpi digest me weekly`: yours by DM (anyone)"
    )
    return (
        "*kpibot* — support KPIs where the team works\n"
        f"`{kpi} [metric] [channel…] [period] [by agent|team|channel|topic|day|hour|weekday] [bh]"
        f"{'' if terminal else ' [public]'}`\n"
        f"Words after the metric may come in any order. `{kpi}` alone shows the scorecard "
        "(all channels, 7 days, vs previous period and benchmark); `more` adds reopens, repeat contacts, "
        "bands, handle time, transfers and escalations.\n"
        f"*Views*: {views}\n"
        f"*Examples*: `{kpi} frt twitter` · `{kpi} backlog` · `{kpi} csat 30d by channel` · "
        f"`{kpi} wait ig last-week bh` · `{sentiment} instagram 30d` · `{topics}`\n"
        "*Periods*: `today` `yesterday` `7d` (default) `30d` `90d` `Nd` `Nh` `this-week` `last-week` "
        "`this-month` `last-month` `2026-11-01..2026-11-15`\n"
        f"*Modifiers*: `by …` breakdown (below) · `bh` {bh_note} · {where}\n"
        f"*Metrics*:\n{metrics}\n"
        f"*Breakdowns* (`by hour` and `by weekday` in the workspace time zone):\n{breakdown_help()}\n"
        f"*Channels*: {channels}; `all` (default)\n"
        f"*Digests, alerts, intake channels, service levels*: {setup}"
    )


def breakdown_help() -> str:
    """Which metrics each breakdown is for, one line per group of breakdowns that go together."""
    lines = []
    for names in (("channel", "day"), ("agent",), ("team", "topic"), ("hour", "weekday")):
        having = [key for key in METRICS if all(name in KPIS[key].breakdowns for name in names)]
        lacking = [key for key in METRICS if key not in having]
        shown = "all but " + ", ".join(lacking) if len(lacking) < len(having) else ", ".join(having)
        lines.append(f"{' '.join(f'`by {name}`' for name in names)}: {shown}")
    return "\n".join(lines)


def metrics_with(dimension: str) -> list[str]:
    """The metrics that have the breakdown `by dimension`."""
    return [key for key in METRICS if dimension in KPIS[key].breakdowns]


def _metric_key(word: str) -> str | None:
    if word in METRIC_NAMES:
        return word
    return METRIC_SYNONYMS.get(word)


def _dimension(raw: str | None) -> str:
    usage = "use `by " + "|".join(DIMENSIONS) + "`"
    if raw is None:
        raise UsageError(f"`by` needs a breakdown: {usage}", [f"by {name}" for name in DIMENSIONS])
    word = raw.lower()
    singular = word[:-1] if word.endswith("s") else word
    if singular in DIMENSIONS:
        return singular
    close = difflib.get_close_matches(word, DIMENSIONS, n=1)
    hint = f" — did you mean `by {close[0]}`?" if close else ""
    raise UsageError(f"unknown breakdown `by {raw}`{hint} ({usage})", [f"by {name}" for name in close])


def _check_explained(metric: str | None, by: str | None, bh: bool) -> None:
    """`why` needs one of the mean KPIs it explains, and splits the change its own way."""
    which = " · ".join(f"`why {key}`" for key in EXPLAINED)
    if metric is None:
        raise UsageError(f"`why` needs a metric: {which}", [f"why {key}" for key in EXPLAINED])
    if metric not in EXPLAINED:
        raise UsageError(f"`why` explains the change of a mean or a rate, not `{metric}`: {which}")
    if by is not None:
        raise UsageError("`why` splits the change its own way (channels, hours, agents, topics): drop `by`")
    if bh:
        raise UsageError("`why` explains calendar-time figures: ask again without `bh`")


def _check_business_hours(settings: Settings) -> None:
    if settings.business_hours is None:
        raise UsageError(
            "business hours are not configured — an admin can set `business_hours` "
            "(opening hours, time zone, holidays) in the kpibot config file; ask again without `bh`"
        )
    try:
        BusinessClock(settings.business_hours, settings.tz)
    except ValueError as exc:
        raise UsageError(f"business hours are misconfigured ({exc}); ask again without `bh`") from None


def _unknown_word(raw: str, channel_words: dict[str, str]) -> UsageError:
    """The error for a word that means nothing here, with the closest known words as suggestions."""
    kinds: dict[str, str] = {}
    for word in channel_words:
        kinds.setdefault(word, "channel")
    for word in (*METRIC_NAMES, *METRIC_SYNONYMS):
        kinds.setdefault(word, "metric")
    for word in (*NAMED_PERIODS, "24h", *MODIFIERS, *VIEWS, WHY):
        kinds.setdefault(word, "word")
    close = difflib.get_close_matches(raw.lower(), list(kinds), n=3)
    if not close:
        return UsageError(f"unknown word `{raw}`")
    return UsageError(f"unknown {kinds[close[0]]} `{raw}` — did you mean `{close[0]}`?", close)
