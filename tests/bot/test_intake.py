"""Slack intake channels (bot/listeners/intake.py) through the real bot: signed Events API requests over HTTP.

Times (UTC, 2026-11-20), as Slack ts: 09:00 = 1795165200, 09:05 = 1795165500, 09:42 = 1795167720,
11:00 = 1795172400, 11:30 = 1795174200. The mention is posted at 09:00:00.000100.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from bot.listeners import intake
from bot.metrics import Metrics
from bot.server import create_http_app
from commands.errors import UsageError
from commands.intake import intake_command
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.models import Conversation, Message, RawEvent, RejectedEvent
from storage.replay import replay_rejected
from storage.settings import DEFAULT_CHANNELS, Settings
from tests.slack_standin import event_body, sign

SIGNING_SECRET = "intake-signing-secret"
TWITTER_INTAKE = "C0TWITTER"
TOP = "1795165200.000100"
CONVERSATION = f"slack-{TWITTER_INTAKE}-{TOP}"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Bot:
    http: httpx.Client
    engine: object
    settings: Settings
    metrics: Metrics

    def send(self, event: dict, event_id: str, **headers) -> httpx.Response:
        """POSTs `event` in a signed event_callback envelope, as Slack does; the 200 must come back."""
        body = event_body(event, event_id=event_id)
        signed = {**sign(body, SIGNING_SECRET), "Content-Type": "application/json", **headers}
        response = self.http.post("/slack/events", content=body, headers=signed)
        assert response.status_code == 200, response.text
        return response

    def conversation(self):
        with self.engine.connect() as conn:
            return conn.execute(select(Conversation).where(Conversation.external_id == CONVERSATION)).one()


@contextmanager
def running(server, database_url, slack_api, **overrides) -> Iterator[Bot]:
    """The real HTTP app (Bolt inside) with the intake listeners, on the database at `database_url`."""
    settings = Settings(
        database_url=database_url,
        pseudonym_key="test-key",
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.api_url,
        slack_response_origins=[slack_api.base_url],
        **{"intake_channels": {TWITTER_INTAKE: "twitter"}, **overrides},
    )
    engine = make_engine(settings.database_url)
    app = create_http_app(settings, engine=engine)
    # until create_app registers the intake listeners itself (then this adds a second, identical set)
    ingestor = Ingestor(engine, settings)
    intake.register(
        app.state.bolt, engine=engine, settings=settings, ingestor=ingestor, metrics=app.state.metrics
    )
    target, url = server
    target.app = app
    with httpx.Client(base_url=url, timeout=10) as http:
        yield Bot(http, engine, settings, app.state.metrics)
    engine.dispose()


@pytest.fixture
def bot(server, database_url, slack_api) -> Iterator[Bot]:
    with running(server, database_url, slack_api) as served:
        yield served


def mention(channel: str = TWITTER_INTAKE, ts: str = TOP) -> dict:
    """What a Twitter-mentions integration posts: a bot_message at the top level."""
    return {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0MENTIONS",
        "username": "@ana_ships on X",
        "text": "@parcelo my parcel is two weeks late",
        "ts": ts,
        "channel": channel,
        "channel_type": "channel",
        "event_ts": ts,
    }


def reply(ts: str, *, user: str | None = "U0AGENT", bot_id: str | None = None, thread: str = TOP) -> dict:
    event = {"type": "message", "text": "Sorry Ana, checking now", "ts": ts, "thread_ts": thread}
    event.update(channel=TWITTER_INTAKE, channel_type="channel", event_ts=ts)
    if user:
        event["user"] = user
    if bot_id:
        event.update(bot_id=bot_id, subtype="bot_message")
    return event


def reaction(kind: str, ts: str, name: str = "white_check_mark", item_ts: str = TOP) -> dict:
    return {
        "type": kind,
        "user": "U0AGENT",
        "reaction": name,
        "item_user": "U0OTHER",
        "item": {"type": "message", "channel": TWITTER_INTAKE, "ts": item_ts},
        "event_ts": ts,
    }


def messages(bot: Bot) -> list[tuple]:
    with bot.engine.connect() as conn:
        query = select(Message.direction, Message.author_kind, Message.author_id).order_by(Message.at)
        return [tuple(row) for row in conn.execute(query)]


def raw_ids(bot: Bot) -> list[str]:
    with bot.engine.connect() as conn:
        return list(conn.execute(select(RawEvent.external_id).order_by(RawEvent.id)).scalars())


def test_top_level_message_opens_an_inbound_twitter_conversation(bot):
    bot.send(mention(), "Ev1")  # stored before the 200: nothing to wait for
    row = bot.conversation()
    assert (row.source, row.channel, row.status) == ("slack", "twitter", "open")
    assert row.opened_at == datetime(2026, 11, 20, 9, 0, 0, 100, tzinfo=UTC)
    [(direction, kind, author)] = messages(bot)
    assert (direction, kind) == ("inbound", "customer")
    assert author != "@ana_ships on X"  # customer handles are pseudonymised
    assert 'kpibot_events_total{door="intake",result="stored"} 1.0' in bot.metrics.exposition().decode()


def test_member_reply_in_the_thread_is_the_first_response(bot):
    bot.send(mention(), "Ev1")
    bot.send(reply("1795167720.000100"), "Ev2")
    # 09:42:00.000100 - 09:00:00.000100 = 2520 s
    assert bot.conversation().frt_seconds == 2520.0
    assert messages(bot)[1] == ("outbound", "agent", "U0AGENT")


def test_bot_reply_in_the_thread_does_not_count_as_first_response(bot):
    bot.send(mention(), "Ev1")
    bot.send(reply("1795165500.000100", user=None, bot_id="B0AUTO"), "Ev2")
    assert messages(bot)[1] == ("outbound", "bot", "B0AUTO")
    assert bot.conversation().frt_seconds is None


def test_reaction_resolves_and_removing_it_reopens(bot):
    bot.send(mention(), "Ev1")
    bot.send(reaction("reaction_added", "1795172400.000100"), "Ev2")
    resolved = bot.conversation()
    # resolved 11:00:00.000100 - opened 09:00:00.000100 = 7200 s
    assert (resolved.status, resolved.resolved, resolved.first_resolution_seconds) == (
        "resolved",
        True,
        7200.0,
    )
    bot.send(reaction("reaction_removed", "1795174200.000100"), "Ev3")
    reopened = bot.conversation()
    assert (reopened.status, reopened.resolved, reopened.reopen_count) == ("open", False, 1)


def test_other_reactions_and_reactions_on_replies_change_nothing(bot):
    bot.send(mention(), "Ev1")
    bot.send(reply("1795167720.000100"), "Ev2")
    bot.send(reaction("reaction_added", "1795172400.000100", name="eyes"), "Ev3")
    bot.send(reaction("reaction_added", "1795172400.000200", item_ts="1795167720.000100"), "Ev4")
    assert bot.conversation().status == "open"
    with bot.engine.connect() as conn:
        assert conn.execute(select(Conversation.external_id)).scalars().all() == [CONVERSATION]


def test_redelivery_after_a_restart_is_a_duplicate(server, database_url, slack_api):
    # The app drops retries of events it has seen; after a restart only the stored ids can tell.
    with running(server, database_url, slack_api) as first:
        first.send(mention(), "Ev1")
        first.send(reaction("reaction_added", "1795172400.000100"), "Ev2")
    with running(server, database_url, slack_api) as second:
        second.send(mention(), "Ev1", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
        second.send(reaction("reaction_added", "1795172400.000100"), "Ev2", **{"X-Slack-Retry-Num": "2"})
        assert raw_ids(second) == [f"slack-{TWITTER_INTAKE}-{TOP}", "slack-Ev2"]


def test_edits_are_ignored(bot):
    bot.send(mention(), "Ev1")
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": TWITTER_INTAKE,
        "ts": "1795167000.000100",
        "message": {**mention(), "text": "edited"},
        "previous_message": mention(),
        "event_ts": "1795167000.000100",
    }
    bot.send(edit, "Ev2")
    assert raw_ids(bot) == [f"slack-{TWITTER_INTAKE}-{TOP}"]


def deletion(deleted_ts: str, previous: dict) -> dict:
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": TWITTER_INTAKE,
        "ts": "1795174200.000100",
        "deleted_ts": deleted_ts,
        "previous_message": previous,
        "event_ts": "1795174200.000100",
    }


def test_deleting_the_mention_closes_the_conversation_and_deleting_a_reply_does_not(bot):
    bot.send(mention(), "Ev1")
    bot.send(reply("1795167720.000100"), "Ev2")
    bot.send(deletion("1795167720.000100", reply("1795167720.000100")), "Ev3")
    assert (bot.conversation().status, bot.conversation().frt_seconds) == ("open", 2520.0)
    bot.send(deletion(TOP, mention()), "Ev4")
    closed = bot.conversation()
    # closed at 11:30:00.000100, 2 h 30 min after it opened
    assert (closed.status, closed.first_resolution_seconds) == ("closed", 9000.0)


def test_messages_outside_intake_channels_are_not_stored(bot):
    bot.send(mention(channel="C0RANDOM"), "Ev1")
    assert raw_ids(bot) == []


def test_admin_command_adds_an_intake_channel_that_is_then_watched(bot):
    reply_text = intake_command(
        "intake here fb",
        user_id="U0ADMIN",
        channel_id="C0FACEBOOK",
        settings=bot.settings,
        engine=bot.engine,
        now=NOW,
        is_admin=lambda: True,
    )
    assert reply_text.startswith("Done: messages in <#C0FACEBOOK> are now *facebook* conversations.")
    bot.send(mention(channel="C0FACEBOOK"), "Ev1")
    with bot.engine.connect() as conn:
        assert conn.execute(select(Conversation.channel)).scalar_one() == "facebook"
    listing = intake_command("intake list", user_id="U1", channel_id="C1", settings=bot.settings,
                             engine=bot.engine, now=NOW, is_admin=lambda: False)  # fmt: skip
    assert listing == "*Intake channels*\n• <#C0FACEBOOK> → facebook\n• <#C0TWITTER> → twitter"


def test_intake_command_refuses_non_admins_and_unknown_channels(bot):
    kwargs = {
        "user_id": "U1",
        "channel_id": "C0X",
        "settings": bot.settings,
        "engine": bot.engine,
        "now": NOW,
    }
    refused = intake_command("intake here twitter", is_admin=lambda: False, **kwargs)
    assert refused.startswith("Only workspace admins can change intake channels")
    with pytest.raises(UsageError, match="unknown channel `myspace`"):
        intake_command("intake here myspace", is_admin=lambda: True, **kwargs)
    assert intake_command("intake list", is_admin=lambda: False, **kwargs).endswith("<#C0TWITTER> → twitter")


def test_intake_off_stops_watching_the_channel(bot):
    kwargs = {
        "user_id": "U1",
        "channel_id": "C0FB",
        "settings": bot.settings,
        "engine": bot.engine,
        "now": NOW,
    }
    intake_command("intake here facebook", is_admin=lambda: True, **kwargs)
    off = intake_command("intake off", is_admin=lambda: True, **kwargs)
    assert off.startswith("<#C0FB> is no longer an intake channel")
    bot.send(mention(channel="C0FB"), "Ev1")
    assert raw_ids(bot) == []


def test_intake_on_an_unknown_channel_is_rejected_then_replayed_after_the_fix(
    server, database_url, slack_api
):
    with running(server, database_url, slack_api, intake_channels={TWITTER_INTAKE: "mastodon"}) as bot:
        bot.send(mention(), "Ev1")
        with bot.engine.connect() as conn:
            row = conn.execute(select(RejectedEvent.source, RejectedEvent.reason)).one()
        assert row.source == "slack" and row.reason.startswith(
            "\"channel\" 'mastodon' is not a known channel"
        )
        fixed = bot.settings.model_copy(update={"channels": [*DEFAULT_CHANNELS, "mastodon"]})
        result = replay_rejected(bot.engine, Ingestor(bot.engine, fixed), now=NOW)
        assert (result.stored, result.still_rejected) == (1, [])
        assert bot.conversation().channel == "mastodon"


def test_a_message_whose_ts_is_no_time_is_rejected_with_its_reason_not_a_500(bot):
    odd = {**mention(ts="99999999999999999999.000100"), "event_ts": "99999999999999999999.000100"}

    bot.send(odd, "EvOdd")

    with bot.engine.connect() as conn:
        reasons = conn.execute(select(RejectedEvent.reason)).scalars().all()
    assert reasons == ['"at" is not an ISO-8601 time']
