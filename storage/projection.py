"""Derive a conversation's KPI fields from its events, in event-time order.

Pure: the same set of events gives the same projection whatever order they arrived in, which is what
makes late and out-of-order delivery harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

RESOLVED_STATUSES = frozenset({"resolved", "closed"})

# Tie-break for events at the same instant: a customer's message opens before anything answers it,
# and a resolution comes after the reply it follows.
_RANK = {
    "inbound": 0,
    "open": 1,
    "pending": 1,
    "outbound": 2,
    "assignment": 3,
    "escalation": 4,
    "resolved": 5,
    "closed": 5,
}


@dataclass(frozen=True)
class Step:
    """One event of a conversation's timeline, as the projection needs it."""

    at: datetime
    kind: str  # message / status / assignment / escalation
    direction: str | None = None
    author_kind: str | None = None
    author_id: str | None = None
    private: bool = False
    status: str | None = None
    agent: str | None = None
    team: str | None = None
    to_channel: str | None = None
    handle_seconds: float | None = None

    @property
    def is_human_reply(self) -> bool:
        """True for a human agent's outbound message that the customer sees (not bots, not notes)."""
        return (
            self.kind == "message"
            and self.direction == "outbound"
            and self.author_kind == "agent"
            and not self.private
        )

    @property
    def is_customer_message(self) -> bool:
        """True for an inbound message written by the customer."""
        return self.kind == "message" and self.direction == "inbound" and not self.private

    def sort_key(self) -> tuple:
        rank_word = self.direction if self.kind == "message" else (self.status or self.kind)
        return (
            self.at,
            _RANK.get(rank_word, 6),
            self.agent or "",
            self.team or "",
            self.status or "",
            self.author_id or "",
        )


@dataclass(frozen=True)
class WaitSpan:
    """A customer's wait for a human reply, or a resolution clock (opened or reopened -> resolved, no
    agent); `end` is None while it runs. A wait `stopped` by a resolution before any reply ended there
    without a reply: it has no length as a reply wait (`seconds` None)."""

    start: datetime
    end: datetime | None
    agent: str | None
    stopped: bool = False
    reopened_from: datetime | None = None  # a resolution clock a reopening started: when it was resolved

    @property
    def reopen_gap(self) -> float | None:
        """Seconds from the resolution a reopening undid to the reopening (None for other clocks)."""
        return None if self.reopened_from is None else (self.start - self.reopened_from).total_seconds()

    @property
    def seconds(self) -> float | None:
        return None if self.end is None or self.stopped else (self.end - self.start).total_seconds()


@dataclass
class Projection:
    """The derived fields of one conversation (column names of `conversation`) and its waits."""

    customer: str | None = None
    opened_at: datetime | None = None
    first_inbound_at: datetime | None = None
    first_response_at: datetime | None = None
    first_responder: str | None = None
    frt_seconds: float | None = None
    last_message_at: datetime | None = None
    status: str = "new"
    resolved: bool = False
    first_resolved_at: datetime | None = None
    last_resolved_at: datetime | None = None
    first_resolution_seconds: float | None = None
    full_resolution_seconds: float | None = None
    reopen_count: int = 0
    agent: str | None = None
    team: str | None = None
    transfer_count: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = None
    handle_seconds: float | None = None
    waits: list[WaitSpan] = field(default_factory=list)  # the first is the first response's wait
    # Resolution clocks: from opening, and from each reopening, to the resolution that follows.
    resolutions: list[WaitSpan] = field(default_factory=list)

    def columns(self) -> dict:
        """The fields as a dict of conversation column values (waits and clocks excluded)."""
        values = dict(self.__dict__)
        values.pop("waits")
        values.pop("resolutions")
        return values


def project(steps: list[Step]) -> Projection:
    """The conversation's state after all `steps`, replayed in event-time order."""
    p = Projection()
    waiting_since: datetime | None = None
    for step in sorted(steps, key=Step.sort_key):
        if step.kind == "message":
            waiting_since = _apply_message(p, step, waiting_since)
        elif step.kind == "status":
            _apply_status(p, step)
        elif step.kind == "assignment":
            _apply_assignment(p, step)
        elif step.kind == "escalation" and p.escalated_to is None:
            p.escalated_to, p.escalated_at = step.to_channel, step.at
    if waiting_since is not None:
        p.waits.append(WaitSpan(waiting_since, None, None))
    if p.opened_at is not None:
        if p.first_resolved_at is not None:
            p.first_resolution_seconds = (p.first_resolved_at - p.opened_at).total_seconds()
        if p.last_resolved_at is not None:
            p.full_resolution_seconds = (p.last_resolved_at - p.opened_at).total_seconds()
    return p


def service_clocks(p: Projection) -> list[tuple[str, WaitSpan]]:
    """The conversation's service-level clocks, as (kind, span): its first wait ("first"), later waits
    ("next") and its resolution clocks ("resolution"). A wait still unanswered when the conversation was
    resolved (a customer's "thanks", then closed) ends at that resolution."""
    clocks = []
    for i, wait in enumerate(p.waits):
        if wait.end is None and p.resolved and p.last_resolved_at is not None:
            wait = WaitSpan(wait.start, max(wait.start, p.last_resolved_at), None, stopped=True)
        clocks.append(("first" if i == 0 else "next", wait))
    return clocks + [("resolution", clock) for clock in p.resolutions]


def _apply_message(p: Projection, step: Step, waiting_since: datetime | None) -> datetime | None:
    if step.private:
        return waiting_since  # notes count as neither inbound nor outbound
    p.last_message_at = step.at
    if step.handle_seconds is not None and step.author_kind == "agent":
        p.handle_seconds = (p.handle_seconds or 0.0) + step.handle_seconds
    if step.is_customer_message:
        if p.opened_at is None:
            p.opened_at = p.first_inbound_at = step.at
            p.customer = step.author_id
            p.status = "open"
            p.resolutions.append(WaitSpan(step.at, None, None))
        elif p.resolved:
            _reopen(p, step.at)
        return waiting_since if waiting_since is not None else step.at
    if step.is_human_reply and p.opened_at is not None:
        if p.first_response_at is None:
            p.first_response_at = step.at
            p.first_responder = step.author_id
            p.frt_seconds = (step.at - p.opened_at).total_seconds()
        if waiting_since is not None:
            p.waits.append(WaitSpan(waiting_since, step.at, step.author_id))
        return None
    return waiting_since


def _apply_status(p: Projection, step: Step) -> None:
    if p.opened_at is None:
        return  # a status before the customer wrote has nothing to resolve yet
    if step.status in RESOLVED_STATUSES:
        if p.first_resolved_at is None:
            p.first_resolved_at = step.at
        p.last_resolved_at = step.at
        p.resolved = True
        clock = p.resolutions[-1]
        if clock.end is None:
            p.resolutions[-1] = replace(clock, end=step.at)
    elif step.status == "open" and p.resolved:
        _reopen(p, step.at)
    p.status = step.status or p.status


def _reopen(p: Projection, at: datetime) -> None:
    # a new resolution clock starts at the reopening, and remembers the resolution it undid
    resolved_at = p.resolutions[-1].end if p.resolutions else None
    p.resolutions.append(WaitSpan(at, None, None, reopened_from=resolved_at))
    p.resolved = False
    p.status = "open"
    p.reopen_count += 1


def _apply_assignment(p: Projection, step: Step) -> None:
    changed_agent = step.agent is not None and p.agent is not None and step.agent != p.agent
    changed_team = step.team is not None and p.team is not None and step.team != p.team
    if (changed_agent or changed_team) and not p.resolved:
        p.transfer_count += 1
    if step.agent is not None:
        p.agent = step.agent
    if step.team is not None:
        p.team = step.team
