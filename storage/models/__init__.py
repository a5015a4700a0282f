"""Every table, in one package: kpibot's whole schema (migrated by storage/migrations).

Raw events are the truth; every other table of `conversations` and `outcomes` is a projection rebuilt from
them; `cache` holds the per-day KPI cache; `workspace` the bot's own state. All times are timezone-aware
UTC in Python and naive UTC in the database (`UTCDateTime`).
"""

from storage.models.cache import KpiChangeNote, KpiSlot
from storage.models.conversations import Conversation, ConversationEvent, Message, SlaClock
from storage.models.events import RawEvent, RejectedEvent
from storage.models.outcomes import Conversion, CustomerChange, Lead, Survey
from storage.models.types import UTCDateTime, time_field
from storage.models.workspace import (
    AlertState,
    AnomalyPost,
    AppSecret,
    IntakeChannel,
    OutboxEntry,
    SlackDelivery,
    SlaClaim,
    SlaPolicyRow,
    Subscription,
)

__all__ = [
    "AlertState", "AnomalyPost", "AppSecret", "Conversation", "ConversationEvent", "Conversion",
    "CustomerChange", "IntakeChannel", "KpiChangeNote", "KpiSlot", "Lead", "Message", "OutboxEntry",
    "RawEvent", "RejectedEvent", "SlaClaim", "SlaClock", "SlaPolicyRow", "SlackDelivery", "Subscription",
    "Survey", "UTCDateTime", "time_field",
]  # fmt: skip
