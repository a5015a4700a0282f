"""Slack intake channels added by admins (`/kpi intake here twitter`), beside those in the settings.

A Slack channel maps to one kpibot channel (the social network its messages come from). Adding a Slack
channel again replaces its mapping.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.models import Conversation, IntakeChannel


def add_intake(
    session: Session, slack_channel: str, channel: str, *, user: str, now: datetime
) -> IntakeChannel:
    """The stored intake: `slack_channel` now feeds `channel`, replacing an earlier mapping."""
    intake = session.get(IntakeChannel, slack_channel)
    if intake is None:
        intake = IntakeChannel(slack_channel=slack_channel, channel=channel, added_by=user, added_at=now)
    else:
        intake.channel, intake.added_by, intake.added_at = channel, user, now
    session.add(intake)
    session.commit()
    session.refresh(intake)
    return intake


def remove_intake(session: Session, slack_channel: str) -> bool:
    """Whether `slack_channel` was an intake channel (it no longer is)."""
    result = session.exec(delete(IntakeChannel).where(IntakeChannel.slack_channel == slack_channel))
    session.commit()
    return bool(result.rowcount)


def list_intakes(session: Session) -> list[IntakeChannel]:
    """Every intake channel added by an admin, by Slack channel id."""
    return list(session.exec(select(IntakeChannel).order_by(IntakeChannel.slack_channel)).all())


def intake_for(session: Session, slack_channel: str) -> str | None:
    """The kpibot channel an admin mapped `slack_channel` to, or None if it is not an intake channel."""
    intake = session.get(IntakeChannel, slack_channel)
    return intake.channel if intake is not None else None


def has_conversation(session: Session, *, source: str, external_id: str) -> bool:
    """Whether a conversation with this (source, id) has been stored."""
    query = select(Conversation.id).where(
        Conversation.source == source, Conversation.external_id == external_id
    )
    return session.exec(query).first() is not None
