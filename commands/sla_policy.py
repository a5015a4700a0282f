"""The service-level policy grammar: `/kpi sla set|list|reset …` (admins change, anyone lists).

- `sla set <channel|default> [first 1h] [next 4h] [resolve 24h] [bh]`: the targets named replace that
  channel's policy (a target left out is no target; `bh` counts them in business hours).
- `sla reset <channel|default>`: back to the YAML's policy, else the benchmarks.
- `sla list`: every channel's policy and where it comes from.

`/kpi sla` with anything else is the KPI (commands/kpis/service.py).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from commands.errors import UsageError
from commands.format import format_duration
from storage.service_levels import DEFAULT, TARGET_NAMES, TARGETS, Policies, Policy
from storage.settings import Settings, parse_duration

ACTIONS = ("set", "list", "reset")
TERMINAL_USER = "terminal"  # who the terminal is, as it sets things (bot.settings_commands.TERMINAL)
_WORDS = {"first": "first", "next": "next", "resolve": "resolve", "resolution": "resolve"}
_EXAMPLE = "`/kpi sla set twitter first 1h next 4h resolve 24h`"


@dataclass(frozen=True)
class SlaRequest:
    """A parsed `sla` settings command: `channel` is DEFAULT for the default policy."""

    action: str
    channel: str = DEFAULT
    policy: Policy | None = None


def is_sla_setting(words: list[str]) -> bool:
    """True for `sla set|list|reset …` (as opposed to the `sla` KPI)."""
    return len(words) >= 2 and words[0].lower() == "sla" and words[1].lower() in ACTIONS


def parse_sla(text: str, settings: Settings) -> SlaRequest:
    """The policy change or listing `text` asks for; raises UsageError naming what it cannot read."""
    _, action, *words = text.split()
    action = action.lower()
    if action == "list":
        if words:
            raise UsageError(f"`/kpi sla list` takes nothing more (got `{' '.join(words)}`)")
        return SlaRequest("list")
    if not words:
        raise UsageError(f"name a channel or `default`, like {_EXAMPLE}")
    channel = _channel(words[0], settings)
    if action == "reset":
        if len(words) > 1:
            raise UsageError(f"`/kpi sla reset {words[0]}` takes nothing more")
        return SlaRequest("reset", channel)
    targets: dict[str, float] = {}
    business = False
    rest = iter(words[1:])
    for word in rest:
        key = word.lower()
        if key in ("bh", "business-hours"):
            business = True
        elif key in _WORDS:
            amount = next(rest, None)
            if amount is None:
                raise UsageError(f"`{word}` needs a duration after it, like `{word} 1h`")
            try:
                targets[_WORDS[key]] = parse_duration(amount)
            except ValueError:
                raise UsageError(
                    f"`{amount}` is not a duration: use a number and m, h or d, like 30m, 4h, 2d"
                ) from None
        else:
            close = difflib.get_close_matches(key, [*_WORDS, "bh"], n=1)
            hint = f" — did you mean `{close[0]}`?" if close else ""
            raise UsageError(f"unknown word `{word}` in `/kpi sla set`{hint}; for example {_EXAMPLE}")
    if not targets:
        raise UsageError(f"give at least one target (first, next or resolve), like {_EXAMPLE}")
    policy = Policy(targets.get("first"), targets.get("next"), targets.get("resolve"), business, "admin")
    return SlaRequest("set", channel, policy)


def describe_policy(policy: Policy) -> str:
    """ "first response 1h · next response 4h · resolution 1d, in business hours"."""
    parts = [
        f"{TARGET_NAMES[name].lower()} {format_duration(seconds)}" for name, seconds in policy.targets.items()
    ]
    text = " · ".join(parts) or "no targets"
    return text + (", in business hours" if policy.business_hours else "")


def policy_listing(known: Policies, settings: Settings) -> list[str]:
    """One line per channel with a policy of its own, and the default's, saying where each comes from."""
    lines = [f"default: {describe_policy(known.default)} ({_origin(known.default)})"]
    for channel in sorted(set(settings.channels) | set(known.channels)):
        policy = known.of(channel)
        if channel in known.channels or policy != known.default:
            lines.append(f"{channel}: {describe_policy(policy)} ({_origin(policy)})")
    return lines


def _origin(policy: Policy) -> str:
    if policy.source == "admin":
        return "set from the terminal" if policy.set_by == TERMINAL_USER else f"set by <@{policy.set_by}>"
    return "from the configuration" if policy.source == "config" else "from the benchmarks"


def _channel(word: str, settings: Settings) -> str:
    if word.lower() == "default":
        return DEFAULT
    words = settings.channel_words()
    if word.lower() in words:
        return words[word.lower()]
    close = difflib.get_close_matches(word.lower(), [*words, "default"], n=1)
    hint = f" — did you mean `{close[0]}`?" if close else ""
    raise UsageError(f"unknown channel `{word}`{hint}; name a support channel or `default`")


__all__ = ["ACTIONS", "TARGETS", "SlaRequest", "describe_policy", "is_sla_setting", "parse_sla"]
