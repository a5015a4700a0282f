"""The admin settings grammar: `/kpi digest …` and `/kpi alert …` (admins only: README "Put it in Slack").

(`/kpi intake …` is a settings command too: commands/intake.py reads it.)

- `digest [here|#channel] [weekly DAY|monthly N] HH:MM [Area/City] [channel…|all]`, `digest off [weekly|
  monthly] [here|#channel]`, `digest list`: without a cadence a digest is daily, and `digest off` turns off
  the daily one only (a weekly or monthly digest is turned off by name; commands/cadence.py)
- `digest me weekly [DAY] [HH:MM] [Area/City]`, `digest me off`: anyone's own weekly numbers (`/kpi me`
  for the week before) in a direct message, Mondays 09:00 unless told; its `slack_channel` is left empty
  here: it is the asker's user id (bot/settings_commands.py)
- `alert [backlog] [N] [age] [here|#channel] [channel…|all]`, `alert off [here|#channel]`, `alert list`
- `alert sla [here|#channel] [lead 30m] [channel…|all]`, `alert sla off [here|#channel]`: the SLA-risk
  alert (commands/sla_risk.py), checked every minute
- `alert anomalies [here|#channel] [channel…|all]`, `alert anomalies off [here|#channel]`: the anomaly
  alert (commands/anomaly.py), checked every minute

The Slack channel defaults to the one the command was typed in. A digest's time zone is None when not
typed (the bot then uses the asking admin's). An alert fires when at least N (default 1) open
conversations have waited longer than `age` (`30m`, `4h`, `2d`; default: the configured backlog threshold).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commands.cadence import CADENCES, LAST_MONTH_DAY, WEEKDAYS
from commands.errors import UsageError
from commands.sla_policy import is_sla_setting
from commands.sla_risk import DEFAULT_LEAD
from storage.settings import Settings
from storage.subscriptions import DIGEST_KINDS, MY_DIGEST

SETTINGS_WORDS = ("digest", "alert", "intake")
_ACTIONS = ("off", "list")
_ANOMALIES = ("anomalies", "anomaly")
_ALERT_WORDS = ("backlog", "sla", "lead", "anomalies")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII: "²".isdigit() is true, yet int("²") fails
_AGE = re.compile(r"(\d{1,5})([mhd])")
_AGE_SECONDS = {"m": 60, "h": 3600, "d": 86400}
# With "escape channels" on, Slack sends `#support` as `<#C0123|support>` (the name may be missing).
_MENTION = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SettingsRequest:
    """One parsed settings command: `action` is "set", "off" or "list" for a `kind` of storage.subscriptions
    ("digest", "digest-weekly", "digest-monthly", "alert", "sla", "anomaly"); `day` is a weekly digest's
    weekday (0 = Monday) or a monthly one's day of the month."""

    kind: str
    action: str
    slack_channel: str
    time: str | None = None
    timezone: str | None = None
    channels: tuple[str, ...] = ()
    threshold: int | None = None
    max_age_seconds: float | None = None
    day: int | None = None


_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DIGEST_KIND = {cadence: kind for kind, cadence in DIGEST_KINDS.items() if kind != MY_DIGEST}


def is_settings_command(text: str) -> bool:
    """True when the text is a settings command (`digest …`, `alert …`, `intake …`, `sla set|list|reset
    …`), not a KPI question."""
    words = text.split()
    return bool(words) and (words[0].lower() in SETTINGS_WORDS or is_sla_setting(words))


def parse_settings(text: str, settings: Settings, *, here: str) -> SettingsRequest:
    """The settings change or listing the text asks for; raises UsageError for what it cannot read.

    `here` is the Slack channel the command was typed in.
    """
    kind, *words = text.split()
    kind = kind.lower()
    if kind not in ("digest", "alert"):
        raise ValueError(f"not a digest or alert command: {text!r}")
    if kind == "alert" and words and words[0].lower() == "sla":
        kind, words = "sla", words[1:]
    elif kind == "alert" and words and words[0].lower() in _ANOMALIES:
        kind, words = "anomaly", words[1:]
    if words and words[0].lower() in _ACTIONS:
        action, rest = words[0].lower(), words[1:]
        target, named = here, kind
        for word in rest:
            if kind == "digest" and action == "off" and word.lower() in CADENCES:
                named = _DIGEST_KIND[word.lower()]
            else:
                target = _target(word, here) or _fail(word, [], kind)
        return SettingsRequest(named, action, target if action == "off" else here)
    if kind == "digest" and words and words[0].lower() == "me":
        return _my_digest(words[1:])
    if kind == "digest":
        return _digest(words, settings, here)
    if kind == "sla":
        return _sla_alert(words, settings, here)
    if kind == "anomaly":
        return _anomaly_alert(words, settings, here)
    return _alert(words, settings, here)


def _digest(words: list[str], settings: Settings, here: str) -> SettingsRequest:
    target, time, zone, channels = here, None, None, _Channels(settings)
    cadence, day = "daily", None
    rest = iter(words)
    for word in rest:
        if word.lower() in CADENCES:
            cadence = word.lower()
            day = _day(cadence, next(rest, None)) if cadence != "daily" else None
        elif found := _target(word, here):
            target = found
        elif clock := _TIME.fullmatch(word):
            time = f"{int(clock.group(1)):02d}:{clock.group(2)}"
        elif ":" in word and word.replace(":", "").isdigit():
            raise UsageError(f"`{word}` is not a time of day: use HH:MM, from 00:00 to 23:59")
        elif "/" in word or word.upper() == "UTC":
            zone = _zone(word)
        elif not channels.take(word):
            _fail(word, channels.words, "digest")
    if time is None:
        example = {"daily": "", "weekly": "weekly mon ", "monthly": "monthly 1 "}[cadence] + "09:00"
        name = "a digest" if cadence == "daily" else f"a {cadence} digest"
        raise UsageError(
            f"{name} needs a time of day, like `/kpi digest here {example} Europe/Paris`",
            [f"digest here {example}"],
        )
    return SettingsRequest(
        _DIGEST_KIND[cadence], "set", target, time=time, timezone=zone, channels=channels.chosen(), day=day
    )


def _my_digest(words: list[str]) -> SettingsRequest:
    """`digest me weekly [DAY] [HH:MM] [zone]` or `digest me off`: the asker's own weekly digest."""
    if [word.lower() for word in words] == ["off"]:
        return SettingsRequest(MY_DIGEST, "off", "")
    if not words or words[0].lower() != "weekly":
        raise UsageError(
            "your own digest is weekly: `/kpi digest me weekly [mon 09:00] [Europe/Paris]`, "
            "or `/kpi digest me off`",
            ["digest me weekly"],
        )
    day, time, zone = 0, "09:00", None
    for word in words[1:]:
        if clock := _TIME.fullmatch(word):
            time = f"{int(clock.group(1)):02d}:{clock.group(2)}"
        elif "/" in word or word.upper() == "UTC":
            zone = _zone(word)
        elif (weekday := _weekday(word)) is not None:
            day = weekday
        else:
            raise UsageError(
                f"unknown word `{word}` in `/kpi digest me`: give a day, a time and a time zone, "
                "like `/kpi digest me weekly mon 09:00 Europe/Paris`"
            )
    return SettingsRequest(MY_DIGEST, "set", "", time=time, timezone=zone, day=day)


def _weekday(word: str) -> int | None:
    """The weekday (0 = Monday) `word` names: `mon`, `Monday`, `tues` (at least three letters)."""
    found = [n for n, name in enumerate(_WEEKDAY_NAMES) if len(word) >= 3 and name.startswith(word.lower())]
    return found[0] if found else None


def _day(cadence: str, word: str | None) -> int:
    """The weekday (0 = Monday) after `weekly`, or the day of the month (1-28) after `monthly`."""
    if cadence == "weekly":
        if word is None or _TIME.fullmatch(word):
            raise UsageError(
                "a weekly digest needs a day of the week, like `/kpi digest here weekly mon 09:00`"
            )
        found = _weekday(word)
        if found is None:
            raise UsageError(
                f"`{word}` is not a day of the week: use {', '.join(WEEKDAYS[:-1])} or {WEEKDAYS[-1]}, "
                "like `/kpi digest here weekly mon 09:00`"
            )
        return found
    if word is None or not _NUMBER.fullmatch(word):
        raise UsageError(
            f"a monthly digest needs a day of the month from 1 to {LAST_MONTH_DAY}, "
            "like `/kpi digest here monthly 1 09:00`"
        )
    day = int(word)
    if not 1 <= day <= LAST_MONTH_DAY:
        raise UsageError(
            f"`{word}`: a monthly digest runs on a day from 1 to {LAST_MONTH_DAY}, so that it comes every "
            "month (February has 28 days); `monthly 1` covers the month just ended"
        )
    return day


def _alert(words: list[str], settings: Settings, here: str) -> SettingsRequest:
    target, count, age, channels = here, None, None, _Channels(settings)
    for word in words:
        if word.lower() == "backlog":
            continue
        if found := _target(word, here):
            target = found
        elif _NUMBER.fullmatch(word):
            count = int(word)
            if count < 1:
                raise UsageError(
                    "the backlog size to alert on must be at least 1, like `/kpi alert backlog 5`"
                )
        elif match := _AGE.fullmatch(word.lower()):
            age = int(match.group(1)) * _AGE_SECONDS[match.group(2)]
            if age == 0:
                raise UsageError("the waiting time to alert on must be more than 0, like `4h`")
        elif not channels.take(word):
            _fail(word, channels.words, "alert")
    return SettingsRequest(
        "alert",
        "set",
        target,
        channels=channels.chosen(),
        threshold=count or 1,
        max_age_seconds=float(age) if age is not None else settings.backlog_threshold(),
    )


def _sla_alert(words: list[str], settings: Settings, here: str) -> SettingsRequest:
    target, lead, channels = here, DEFAULT_LEAD, _Channels(settings)
    rest = iter(words)
    for word in rest:
        if found := _target(word, here):
            target = found
        elif word.lower() == "lead" or _AGE.fullmatch(word.lower()):
            amount = next(rest, "") if word.lower() == "lead" else word
            match = _AGE.fullmatch(amount.lower())
            if match is None or int(match.group(1)) == 0:
                raise UsageError(
                    "the lead time is a duration such as `30m` or `2h`, like `/kpi alert sla here lead 30m`"
                )
            lead = float(int(match.group(1)) * _AGE_SECONDS[match.group(2)])
        elif not channels.take(word):
            _fail(word, channels.words, "alert")
    return SettingsRequest("sla", "set", target, channels=channels.chosen(), max_age_seconds=lead)


def _anomaly_alert(words: list[str], settings: Settings, here: str) -> SettingsRequest:
    """`alert anomalies [here|#channel] [channel…|all]`: where to post, which support channels to watch."""
    target, channels = here, _Channels(settings)
    for word in words:
        if found := _target(word, here):
            target = found
        elif not channels.take(word):
            _fail(word, channels.words, "alert")
    return SettingsRequest("anomaly", "set", target, channels=channels.chosen())


class _Channels:
    """The support channels named so far (names or aliases); `all` clears them."""

    def __init__(self, settings: Settings) -> None:
        self.words = settings.channel_words()
        self._chosen: list[str] = []
        self._all = False

    def take(self, word: str) -> bool:
        word = word.lower()
        if word == "all":
            self._all = True
        elif word in self.words:
            if self.words[word] not in self._chosen:
                self._chosen.append(self.words[word])
        else:
            return False
        return True

    def chosen(self) -> tuple[str, ...]:
        return () if self._all else tuple(self._chosen)


def _target(word: str, here: str) -> str | None:
    if word.lower() == "here":
        return here
    mention = _MENTION.fullmatch(word)
    return mention.group(1) if mention else None


def _zone(word: str) -> str:
    try:
        ZoneInfo(word)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone `{word}` — use a name like `Europe/Paris` or `UTC`") from None
    return word


def _fail(word: str, channel_words, kind: str):
    if word.startswith("#"):
        raise UsageError(
            f"I can't read `{word}` as a Slack channel — type `here` in that channel, "
            f"or pick the channel from Slack's list after `#` so it becomes a link"
        )
    known = [
        *channel_words,
        "here",
        "all",
        "off",
        "list",
        *(_ALERT_WORDS if kind == "alert" else CADENCES if kind == "digest" else ()),
    ]
    close = difflib.get_close_matches(word.lower(), known, n=3)
    hint = f" — did you mean `{close[0]}`?" if close else ""
    raise UsageError(f"unknown word `{word}` in `/kpi {kind}`{hint}", close)
