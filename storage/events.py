"""The bot's own event format (docs/events.md) as pydantic models, and readable validation errors.

Beyond the format, every field is bounded so that no single event can fail the transaction it shares
with others: ids and names fit a database index (at most 256 characters), numbers are finite and
plausible, and times convert to UTC (a year-1 time with a +01:00 offset does not).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError


class EventError(ValueError):
    """An event that cannot be accepted; the message says what is wrong in the user's words."""


def _iso_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not-iso") from None
    else:
        raise ValueError("not-iso")
    if parsed.tzinfo is None:
        raise ValueError("no-offset")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("out-of-range") from None
    return parsed


MAX_NAME = 256  # characters of an id or a name: PostgreSQL's indexes refuse entries over ~2.7 KB
MAX_SECONDS = 7 * 86400.0  # a handle time above a week is a unit mistake, not a conversation
MAX_MONEY = 1e12
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
Money = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False)]


class Author(BaseModel):
    kind: Literal["customer", "agent", "bot"]
    id: Name | None = None
    name: Name | None = None


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: NonEmpty
    at: IsoTime
    conversation_id: NonEmpty | None = None
    channel: NonEmpty | None = None
    source: NonEmpty | None = None
    link: Annotated[str, Field(max_length=2048)] | None = None


class _InConversation(_Common):
    conversation_id: NonEmpty
    channel: NonEmpty


class MessageEvent(_InConversation):
    type: Literal["message"]
    direction: Literal["inbound", "outbound"]
    author: Author
    text: str | None = None
    quick_reply: Name | None = None
    handle_seconds: Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)] | None = None
    private: bool = False


class StatusEvent(_InConversation):
    type: Literal["status"]
    status: Literal["open", "pending", "resolved", "closed"]


class AssignmentEvent(_InConversation):
    type: Literal["assignment"]
    agent: Name | None = None
    team: Name | None = None


class EscalationEvent(_InConversation):
    type: Literal["escalation"]
    to_channel: NonEmpty


class SurveyEvent(_Common):
    type: Literal["survey"]
    kind: Literal["csat", "nps", "ces"]
    score: Annotated[float, Field(allow_inf_nan=False)]
    comment: str | None = None


class LeadEvent(_Common):
    type: Literal["lead"]
    value: Money | None = None
    converted: bool = False


class ConversionEvent(_Common):
    type: Literal["conversion"]
    value: Money | None = None


class CustomerEvent(_Common):
    type: Literal["customer"]
    customer_id: NonEmpty
    change: Literal["new", "lost", "active"]
    revenue: Money | None = None


Event = Annotated[
    MessageEvent
    | StatusEvent
    | AssignmentEvent
    | EscalationEvent
    | SurveyEvent
    | LeadEvent
    | ConversionEvent
    | CustomerEvent,
    Field(discriminator="type"),
]
EVENT_TYPES = ("message", "status", "assignment", "escalation", "survey", "lead", "conversion", "customer")
_ADAPTER: TypeAdapter = TypeAdapter(Event)


def parse_event(data: Any) -> Any:
    """The validated event model for one decoded JSON object, or EventError saying what is wrong."""
    if not isinstance(data, dict):
        raise EventError(f"an event must be a JSON object, not {type(data).__name__}")
    try:
        event = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EventError(_describe(exc.errors()[0])) from None
    if isinstance(event, AssignmentEvent) and event.agent is None and event.team is None:
        raise EventError('an assignment needs "agent" or "team"')
    return event


def _describe(error: dict) -> str:
    kind = error["type"]
    loc = [str(part) for part in error["loc"]]
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        if kind == "union_tag_not_found":
            return '"type" is missing'
        return f'"type" {error["ctx"]["tag"]!r} is not one of {", ".join(EVENT_TYPES)}'
    name = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc)
    message = str(error.get("msg", ""))
    if kind == "missing":
        return f'"{name}" is missing'
    if kind == "value_error" and "not-iso" in message:
        return f'"{name}" is not an ISO-8601 time'
    if kind == "value_error" and "no-offset" in message:
        return f'"{name}" has no time-zone offset (add Z or +01:00)'
    if kind == "value_error" and "out-of-range" in message:
        return f'"{name}" is outside the range of times (before year 1 or after 9999 in UTC)'
    if kind == "finite_number":
        return f'"{name}" must be a finite number, not {_shown(error["input"])}'
    if kind == "literal_error":
        return f'"{name}" must be {error["ctx"]["expected"]}, not {_shown(error["input"])}'
    if kind.startswith(("float_", "int_")):
        return f'"{name}" must be a number, not {_shown(error["input"])}'
    if kind.startswith("bool_"):
        return f'"{name}" must be true or false, not {_shown(error["input"])}'
    if kind == "string_too_short":
        return f'"{name}" is empty'
    if kind == "string_too_long":
        return f'"{name}" is longer than {error["ctx"]["max_length"]} characters'
    if kind == "greater_than_equal":
        return f'"{name}" must be ≥ {error["ctx"]["ge"]:g}'
    if kind == "less_than_equal":
        return f'"{name}" must be ≤ {error["ctx"]["le"]:g}'
    return f'"{name}": {message}'


def _shown(value: Any) -> str:
    """A value as quoted in a reason: its repr, cut to 60 characters (reasons are stored and answered)."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "…"
