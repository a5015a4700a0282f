"""The one Settings object: environment variables, `.env`, and an optional YAML file.

Precedence, highest first: keyword arguments, environment, `.env`, the YAML file named by
`KPIBOT_CONFIG`, defaults. Nothing else in the code reads `os.environ`.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CHANNELS = [
    "twitter",
    "facebook",
    "instagram",
    "viber",
    "whatsapp",
    "telegram",
    "linkedin",
    "tiktok",
    "youtube",
    "email",
    "chat",
    "phone",
    "portal",
    "slack",
]
DEFAULT_ALIASES = {
    "x": "twitter",
    "fb": "facebook",
    "messenger": "facebook",
    "ig": "instagram",
    "wa": "whatsapp",
}

# Defaults from docs/metrics.md "Benchmarks": metric key -> values key -> number (seconds, fractions, NPS
# points). CES has none: a mean effort means something only on the scale it was asked on (`ces_scale`), so
# its benchmark is configured on that scale or not shown (the source article's "10" states no scale).
DEFAULT_BENCHMARKS: dict[str, dict[str, Any]] = {
    "frt": {"mean": 7200.0},
    "bands": {"within_4h": 0.5, "within_24h": 0.9},
    "art": {"first_mean": 86400.0, "full_mean": 172800.0},
    "aht": {"mean": 300.0},
    "volume": {"per_day": 10.0},
    "reply-rate": {"rate": 0.34},
    "transfers": {"rate": 0.005},
    "escalations": {"rate": 0.10},
    "mix": {"shares": {"facebook": 0.60, "twitter": 0.25, "instagram": 0.10, "viber": 0.05}},
    "cost": {"per_contact": 3.0},
    "leads": {"per_day": 5.0, "conversion_rate": 0.01},
    "csat": {"score": 0.70},
    "nps": {"score": 20.0},
}
# Per-channel overrides, merged over DEFAULT_BENCHMARKS when one channel is asked for.
DEFAULT_CHANNEL_BENCHMARKS: dict[str, dict[str, dict[str, Any]]] = {
    "twitter": {"frt": {"mean": 10800.0}},
    "facebook": {"frt": {"mean": 10800.0}},
    "instagram": {"frt": {"mean": 14400.0}},
    "viber": {"frt": {"mean": 43200.0}},
    "phone": {"frt": {"mean": 180.0}},
    "chat": {"frt": {"mean": 105.0}},
    "email": {"frt": {"mean": 86400.0}},
}


class BusinessHours(BaseModel):
    """Weekly opening hours: `{"mon": ["09:00-18:00"], ...}`, a time zone and holidays."""

    timezone: str | None = None
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")  # a Slack user id: U0123ABCD (W… on Enterprise Grid)


def parse_duration(value: Any) -> float | None:
    """Seconds from a number of seconds or a text such as "90s", "30m", "1h", "2d" (None stays None)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip().lower())):
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration: use seconds, or a text like 30m, 4h, 2d")
    if seconds is not None and seconds <= 0:
        raise ValueError(f"{value!r}: a target must be longer than 0")
    return None if seconds is None else float(seconds)


class SlaTargets(BaseModel):
    """One channel's service-level targets in the YAML: durations ("1h", or seconds), each optional, in
    calendar time unless `business_hours` is true (docs/metrics.md, "Service levels")."""

    model_config = {"extra": "forbid"}

    first: float | None = None
    next: float | None = None
    resolve: float | None = None
    business_hours: bool = False

    @field_validator("first", "next", "resolve", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)


class Settings(BaseSettings):
    """Everything configurable about one kpibot workspace."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        "sqlite:///kpibot.db", validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    tz: str = Field("UTC", validation_alias=AliasChoices("KPIBOT_TZ", "tz"))
    channels: list[str] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    channel_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ALIASES))
    backlog_threshold_seconds: float = Field(
        86400.0, validation_alias=AliasChoices("KPIBOT_BACKLOG_THRESHOLD", "backlog_threshold_seconds")
    )
    backlog_thresholds: dict[str, float] = Field(default_factory=dict)  # resolution targets (older name)
    # Service-level policies by channel, and "default" (storage.service_levels)
    sla: dict[str, SlaTargets] = Field(default_factory=dict)
    # The queue ahead of a waiting customer, for SLA-risk alerts: the waits of its channel, or of all
    sla_queue: Literal["channel", "all"] = "channel"
    benchmarks: dict[str, dict[str, Any]] = Field(default_factory=lambda: dict(DEFAULT_BENCHMARKS))
    channel_benchmarks: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=lambda: dict(DEFAULT_CHANNEL_BENCHMARKS)
    )
    business_hours: BusinessHours | None = None
    pseudonym_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KPIBOT_PSEUDONYM_KEY", "pseudonym_key")
    )
    # The plausible window of event times: earlier, or further ahead of the bot's clock, is rejected (a
    # year-1 time would make every per-day question walk 740,000 days).
    event_time_min: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    event_time_max_ahead_seconds: float = Field(86400.0, ge=0)
    text_retention_days: int = Field(
        90, validation_alias=AliasChoices("KPIBOT_TEXT_RETENTION_DAYS", "text_retention_days")
    )
    support_cost_per_day: float | None = None
    hourly_agent_cost: float | None = None
    ces_scale: tuple[int, int] = (1, 7)
    topics: dict[str, dict[str, list[str]]] | None = None

    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token")
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url")
    )
    # Where answers to a slash command or button may be posted: Slack's own response-URL hosts. A test
    # points this at its stand-in; a request never can (bot.slack_requests). Comma-separated in the env.
    slack_response_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["https://hooks.slack.com", "https://hooks.slack-gov.com"],
        validation_alias=AliasChoices("SLACK_RESPONSE_ORIGINS", "slack_response_origins"),
    )
    admin_user_ids: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KPIBOT_WEBHOOK_SECRET", "webhook_secret")
    )
    webhook_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KPIBOT_WEBHOOK_TOKEN", "webhook_token")
    )
    # Webhook requests waiting for the database at once; more are answered 503 with Retry-After.
    webhook_max_pending: int = Field(
        64, ge=1, validation_alias=AliasChoices("KPIBOT_WEBHOOK_MAX_PENDING", "webhook_max_pending")
    )
    intake_channels: dict[str, str] = Field(default_factory=dict)
    # Who each Slack user is among the events' agents, for `/kpi me` (Slack user id -> agent id)
    agents: dict[str, str] = Field(default_factory=dict)
    intake_reaction: str = "white_check_mark"
    # Several `kpibot serve` on one PostgreSQL database: how often a standby asks for the scheduler.
    leader_retry_seconds: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("KPIBOT_LEADER_RETRY_SECONDS", "leader_retry_seconds")
    )

    @field_validator("slack_response_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return (
            [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        )

    @field_validator("sla", mode="after")
    @classmethod
    def _default_key(cls, value: dict[str, SlaTargets]) -> dict[str, SlaTargets]:
        """The YAML's `default` policy is kept under "" (storage.service_levels.DEFAULT)."""
        return {
            ("" if key.strip().lower() == "default" else key.strip().lower()): v for key, v in value.items()
        }

    @field_validator("agents", mode="before")
    @classmethod
    def _numeric_agent_ids(cls, value: Any) -> Any:
        """An agent id written as a YAML number (`agents: {U0123ABCD: 42}`) is the id "42" events carry."""
        if isinstance(value, dict):
            return {
                k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()
            }
        return value

    @field_validator("agents", mode="after")
    @classmethod
    def _slack_users(cls, value: dict[str, str]) -> dict[str, str]:
        """`agents:` maps Slack user ids (U…/W…) to agent ids as the events name them: a key that is not a
        user id, or an empty or over-long agent id, is a typo that would leave someone unmatched."""
        mapped = {}
        for user, agent in value.items():
            user, agent = user.strip(), agent.strip()
            if not _SLACK_USER.fullmatch(user):
                raise ValueError(f"agents: {user!r} is not a Slack user id (U0123ABCD)")
            if not agent or len(agent) > 256:
                raise ValueError(f"agents: {user}'s agent id must be 1-256 characters")
            mapped[user] = agent
        return mapped

    @field_validator("event_time_min")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from exc
        return value

    @model_validator(mode="after")
    def _ces_benchmarks_on_scale(self) -> Settings:
        """A CES scale runs low to high, and a CES benchmark is a number on it: 10 on 1-7 would be always
        met, so it is refused at load rather than shown."""
        low, high = self.ces_scale
        if low >= high:
            raise ValueError(f"ces_scale must go from low to high, e.g. [1, 7], not [{low}, {high}]")
        found = [("benchmarks", self.benchmarks.get("ces"))]
        found += [(f"channel_benchmarks.{c}", b.get("ces")) for c, b in self.channel_benchmarks.items()]
        for where, benchmark in found:
            for key, value in (benchmark or {}).items():
                on_scale = (
                    isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
                )
                if not on_scale:
                    raise ValueError(
                        f"{where}.ces.{key} is {value!r}, not a number on the CES scale {low}-{high} "
                        "(ces_scale): set it on that scale, or leave CES without a benchmark"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, _YamlSource(settings_cls)

    @property
    def zone(self) -> ZoneInfo:
        """The workspace time zone."""
        return ZoneInfo(self.tz)

    def benchmark(self, metric: str, channels: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Benchmark values for a metric; a single channel's overrides win over the defaults."""
        merged = dict(self.benchmarks.get(metric, {}))
        if len(channels) == 1:
            merged.update(self.channel_benchmarks.get(channels[0], {}).get(metric, {}))
        return merged

    def channel_words(self) -> dict[str, str]:
        """Every word naming a support channel — its name or an alias, lower-case — and the channel it
        names. A channel's own name wins over an alias spelled the same; an alias of a channel that is
        not in `channels` names nothing."""
        names = {name.strip().lower() for name in self.channels}
        words = {
            alias.strip().lower(): target.strip().lower() for alias, target in self.channel_aliases.items()
        }
        words = {alias: target for alias, target in words.items() if target in names}
        words.update((name, name) for name in names)
        return words

    def backlog_threshold(self, channel: str | None = None) -> float:
        """Seconds a conversation may stay open before it counts as backlog."""
        if channel is not None and channel in self.backlog_thresholds:
            return self.backlog_thresholds[channel]
        return self.backlog_threshold_seconds


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by `KPIBOT_CONFIG`, if any."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused, __call__ does the work
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("KPIBOT_CONFIG")
        if not path:
            return {}
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"KPIBOT_CONFIG points to {path}, which is not a file")
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a YAML mapping of settings")
        return data
