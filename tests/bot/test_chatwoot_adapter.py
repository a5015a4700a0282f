"""Chatwoot webhook payloads -> kpibot events (bot/adapters/chatwoot.py).

Fixtures in tests/fixtures/chatwoot are hand-written in the shape of Chatwoot's Message#webhook_data and
Conversations::EventDataPresenter. Epochs used below (UTC, 2026-11-20):
09:00 = 1795165200, 09:01 = 1795165260, 09:30 = 1795167000, 09:42 = 1795167720, 11:00 = 1795172400.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.adapters.chatwoot import chatwoot_to_events
from storage.events import parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chatwoot"
TWITTER = {"conversation_id": "cw-3-1042", "channel": "twitter", "source": "chatwoot"}


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"])


# --- messages -------------------------------------------------------------------------------------


def test_incoming_message_is_an_inbound_customer_message_keyed_by_twitter_handle():
    assert chatwoot_to_events(load("message_created_incoming.json")) == [
        {
            "id": "msg-88001",
            "type": "message",
            "at": "2026-11-20T09:00:00Z",
            **TWITTER,
            "direction": "inbound",
            "author": {"kind": "customer", "id": "@ana_ships"},
            "text": "@parcelo my parcel PX-4471 is two weeks late, this is awful",
        }
    ]


def test_outgoing_message_by_a_user_is_an_outbound_agent_message():
    assert chatwoot_to_events(load("message_created_outgoing_agent.json")) == [
        {
            "id": "msg-88005",
            "type": "message",
            "at": "2026-11-20T09:42:00Z",
            **TWITTER,
            "direction": "outbound",
            "author": {"kind": "agent", "id": "chatwoot-user:12", "name": "Bo Lindqvist"},
            "text": "Sorry Ana, that is far too long. Checking with the courier now.",
        }
    ]


def test_agent_bot_reply_is_an_outbound_bot_message():
    [event] = chatwoot_to_events(load("message_created_agent_bot.json"))
    assert event["direction"] == "outbound"
    assert event["author"] == {"kind": "bot", "id": "chatwoot-agent_bot:2", "name": "Parcelo Assistant"}
    assert (event["id"], event["at"]) == ("msg-88002", "2026-11-20T09:01:00Z")


def test_automation_rule_reply_without_sender_is_a_bot_message_on_whatsapp():
    assert chatwoot_to_events(load("message_created_automation.json")) == [
        {
            "id": "msg-90455",
            "type": "message",
            "at": "2026-11-21T21:30:04Z",
            "conversation_id": "cw-3-1090",
            "channel": "whatsapp",
            "source": "chatwoot",
            "direction": "outbound",
            "author": {"kind": "bot", "id": "chatwoot-automation:9"},
            "text": "Thanks for your message! Our team is online 8am-8pm CET.",
        }
    ]


@pytest.mark.parametrize(
    ("field", "value", "bot_id"),
    [
        ("content_attributes", {"automation_rule_id": 9}, "chatwoot-automation:9"),
        ("additional_attributes", {"campaign_id": 5}, "chatwoot-campaign:5"),
    ],
)
def test_automation_or_campaign_message_sent_as_a_user_is_a_bot_message(field, value, bot_id):
    payload = load("message_created_outgoing_agent.json")
    payload[field] = value
    [event] = chatwoot_to_events(payload)
    assert event["author"] == {"kind": "bot", "id": bot_id}


def test_outgoing_message_without_sender_is_a_system_bot_message():
    payload = load("message_created_outgoing_agent.json")
    payload["sender"] = None
    [event] = chatwoot_to_events(payload)
    assert event["author"] == {"kind": "bot", "id": "chatwoot-system"}


@pytest.mark.parametrize("name", ["message_created_private_note.json", "message_created_activity.json"])
def test_private_notes_and_activity_messages_are_ignored(name):
    assert chatwoot_to_events(load(name)) == []


def test_activity_message_given_as_number_is_ignored():
    payload = load("message_created_incoming.json")
    payload["message_type"] = 2
    assert chatwoot_to_events(payload) == []


@pytest.mark.parametrize(
    ("name", "number"), [("message_created_incoming.json", 0), ("message_created_outgoing_agent.json", 1)]
)
def test_numeric_message_types_map_like_their_names(name, number):
    payload = load(name)
    expected = chatwoot_to_events(payload)
    payload["message_type"] = number
    assert chatwoot_to_events(payload) == expected


def test_instagram_dm_through_a_facebook_page_is_instagram_and_customer_falls_back_to_contact_id():
    [event] = chatwoot_to_events(load("message_created_instagram.json"))
    assert (event["channel"], event["conversation_id"]) == ("instagram", "cw-3-1077")
    # no screen_name and no identifier on the contact, so the Chatwoot contact id stands in
    assert event["author"] == {"kind": "customer", "id": "contact:6120"}


def test_customer_missing_from_the_message_is_taken_from_the_conversation_snapshot():
    payload = load("message_created_incoming.json")
    payload["sender"] = None
    assert chatwoot_to_events(payload)[0]["author"] == {"kind": "customer", "id": "@ana_ships"}


def test_customer_identifier_is_used_when_there_is_no_handle():
    payload = load("message_created_incoming.json")
    payload["sender"]["additional_attributes"] = {}
    payload["sender"]["identifier"] = "crm-77812"
    assert chatwoot_to_events(payload)[0]["author"] == {"kind": "customer", "id": "crm-77812"}


@pytest.mark.parametrize(
    ("channel_type", "attributes", "source_id", "expected"),
    [
        ("Channel::TwitterProfile", {}, "1", "twitter"),
        ("Channel::FacebookPage", {}, "1", "facebook"),
        ("Channel::FacebookPage", {"type": "instagram_direct_message"}, "1", "instagram"),
        ("Channel::Instagram", {}, "1", "instagram"),
        ("Channel::Whatsapp", {}, "1", "whatsapp"),
        ("Channel::Telegram", {}, "1", "telegram"),
        ("Channel::Line", {}, "1", "chat"),
        ("Channel::Email", {}, "1", "email"),
        ("Channel::WebWidget", {}, "1", "chat"),
        ("Channel::Sms", {}, "+4915212345678", "phone"),
        ("Channel::TwilioSms", {}, "+4915212345678", "phone"),
        ("Channel::TwilioSms", {}, "whatsapp:+4915212345678", "whatsapp"),
        ("Channel::Api", {}, "1", "chat"),
        ("Channel::Api", {"channel": "Viber"}, "1", "viber"),
        ("Channel::Api", {"channel": "carrier-pigeon"}, "1", "chat"),
    ],
)
def test_inbox_channel_type_maps_to_kpibot_channel(channel_type, attributes, source_id, expected):
    payload = load("message_created_incoming.json")
    payload["conversation"].update(channel=channel_type, additional_attributes=attributes)
    payload["conversation"]["contact_inbox"]["source_id"] = source_id
    assert chatwoot_to_events(payload)[0]["channel"] == expected


def test_unknown_channel_type_is_an_error_not_a_guess():
    payload = load("message_created_incoming.json")
    payload["conversation"]["channel"] = "Channel::Carrier"
    with pytest.raises(
        ValueError, match=r"\"conversation.channel\" 'Channel::Carrier' is not a Chatwoot channel"
    ):
        chatwoot_to_events(payload)


@pytest.mark.parametrize(
    "created_at",
    [
        "2026-11-20T09:00:00.000Z",
        "2026-11-20 09:00:00 UTC",
        "2026-11-20T10:00:00+01:00",
        1795165200,
        1795165200.7,
    ],
)
def test_epoch_and_iso_times_map_to_the_same_utc_instant(created_at):
    # 1795165200 = 2026-11-20T09:00:00Z; 10:00+01:00 is the same instant; fractions are cut to seconds
    payload = load("message_created_incoming.json")
    payload["created_at"] = created_at
    assert chatwoot_to_events(payload)[0]["at"] == "2026-11-20T09:00:00Z"


def test_message_updated_maps_to_the_same_event_as_message_created():
    created = load("message_created_incoming.json")
    updated = copy.deepcopy(created)
    updated["event"] = "message_updated"
    assert chatwoot_to_events(updated) == chatwoot_to_events(created)


def test_update_that_deletes_a_message_is_ignored():
    payload = load("message_created_incoming.json")
    payload.update(event="message_updated", content="This message was deleted")
    payload["content_attributes"] = {"deleted": True}
    assert chatwoot_to_events(payload) == []


def test_answered_csat_survey_yields_a_survey_timed_by_the_conversation_update():
    # the survey message went out at 11:00; the rating touched the conversation at 11:07:00.73 -> 11:07:00
    message, survey = chatwoot_to_events(load("message_updated_csat.json"))
    assert message["id"] == "msg-88009" and message["author"] == {"kind": "bot", "id": "chatwoot-system"}
    assert survey == {
        "id": "csat-88009",
        "type": "survey",
        "at": "2026-11-20T11:07:00Z",
        **TWITTER,
        "kind": "csat",
        "score": 5,
        "comment": "Quick and kind, thank you",
    }


# --- conversations --------------------------------------------------------------------------------


def test_conversation_created_is_a_status_at_creation_time():
    # the inbox has an active agent bot, so Chatwoot opens the conversation as pending
    assert chatwoot_to_events(load("conversation_created.json")) == [
        {
            "id": "status-cw-3-1042-pending-1795165200",
            "type": "status",
            "at": "2026-11-20T09:00:00Z",
            **TWITTER,
            "status": "pending",
        }
    ]


def test_conversation_created_without_created_at_is_timed_by_its_timestamp():
    # older Chatwoot sends only timestamp, which at creation is the creation time (09:00 = 1795165200)
    payload = load("conversation_created.json")
    del payload["created_at"]
    payload["timestamp"] = 1795165200
    assert chatwoot_to_events(payload)[0]["id"] == "status-cw-3-1042-pending-1795165200"


def test_conversation_created_with_an_assignee_also_reports_the_assignment():
    payload = load("conversation_created.json")
    payload["meta"]["assignee"] = {"id": 12, "name": "Bo Lindqvist", "type": "user"}
    events = chatwoot_to_events(payload)
    assert events[1] == {
        "id": "assign-cw-3-1042-12-none-1795165200",
        "type": "assignment",
        "at": "2026-11-20T09:00:00Z",
        **TWITTER,
        "agent": "chatwoot-user:12",
    }


def test_status_changed_to_resolved_is_a_resolved_status_at_the_update_time():
    # updated_at 1795172400.418213 -> 11:00:00 (whole seconds)
    assert chatwoot_to_events(load("conversation_status_changed.json")) == [
        {
            "id": "status-cw-3-1042-resolved-1795172400",
            "type": "status",
            "at": "2026-11-20T11:00:00Z",
            **TWITTER,
            "status": "resolved",
        }
    ]


@pytest.mark.parametrize(
    ("chatwoot", "kpibot"), [("snoozed", "pending"), ("pending", "pending"), ("open", "open")]
)
def test_chatwoot_statuses_map_onto_kpibot_statuses(chatwoot, kpibot):
    payload = load("conversation_status_changed.json")
    payload["status"] = chatwoot
    payload["changed_attributes"] = [{"status": {"previous_value": "resolved", "current_value": chatwoot}}]
    [event] = chatwoot_to_events(payload)
    assert (event["status"], event["id"]) == (kpibot, f"status-cw-3-1042-{kpibot}-1795172400")


def test_status_change_is_timed_by_changed_updated_at_or_else_by_timestamp():
    payload = load("conversation_status_changed.json")
    del payload["updated_at"]
    payload["changed_attributes"].append(
        {"updated_at": {"previous_value": None, "current_value": "2026-11-20T11:00:00.418Z"}}
    )
    assert chatwoot_to_events(payload)[0]["at"] == "2026-11-20T11:00:00Z"
    payload["changed_attributes"].pop()
    payload["timestamp"] = 1795172400  # last activity, all older Chatwoot versions send
    assert chatwoot_to_events(payload)[0]["at"] == "2026-11-20T11:00:00Z"


def test_conversation_updated_with_new_assignee_and_team_is_an_assignment():
    assert chatwoot_to_events(load("conversation_updated_assignment.json")) == [
        {
            "id": "assign-cw-3-1042-12-4-1795167000",
            "type": "assignment",
            "at": "2026-11-20T09:30:00Z",
            **TWITTER,
            "agent": "chatwoot-user:12",
            "team": "chatwoot-team:4",
        }
    ]


def test_reassignment_keeps_the_unchanged_team_from_the_snapshot():
    payload = load("conversation_updated_assignment.json")
    payload["changed_attributes"] = [{"assignee_id": {"previous_value": 12, "current_value": 15}}]
    [event] = chatwoot_to_events(payload)
    assert (event["agent"], event["team"]) == ("chatwoot-user:15", "chatwoot-team:4")


def test_unassigning_everyone_reports_nothing():
    payload = load("conversation_updated_assignment.json")
    payload["changed_attributes"] = [
        {"assignee_id": {"previous_value": 12, "current_value": None}},
        {"team_id": {"previous_value": 4, "current_value": None}},
    ]
    assert chatwoot_to_events(payload) == []


def test_conversation_updated_for_labels_only_reports_nothing():
    payload = load("conversation_updated_assignment.json")
    payload["changed_attributes"] = [
        {"label_list": {"previous_value": [], "current_value": ["late-delivery"]}}
    ]
    assert chatwoot_to_events(payload) == []


def test_conversation_updated_without_changed_attributes_reports_current_assignment():
    payload = load("conversation_updated_assignment.json")
    del payload["changed_attributes"]
    [event] = chatwoot_to_events(payload)
    assert (event["id"], event["agent"], event["team"]) == (
        "assign-cw-3-1042-12-4-1795167000",
        "chatwoot-user:12",
        "chatwoot-team:4",
    )


def test_status_change_reported_by_conversation_updated_is_the_same_event_as_status_changed():
    status_changed = load("conversation_status_changed.json")
    updated = copy.deepcopy(status_changed)
    updated["event"] = "conversation_updated"
    assert chatwoot_to_events(updated) == chatwoot_to_events(status_changed)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # older Chatwoot: no account object (taken from messages[].account_id), no updated_at (timestamp)
        (
            "conversation_resolved.json",
            ("status-cw-1-310-resolved-1795191600", "2026-11-20T16:20:00Z", "resolved"),
        ),
        ("conversation_opened.json", ("status-cw-1-310-open-1795248207", "2026-11-21T08:03:27Z", "open")),
    ],
)
def test_deprecated_opened_and_resolved_webhooks_are_status_events(name, expected):
    [event] = chatwoot_to_events(load(name))
    assert (event["id"], event["at"], event["status"]) == expected
    assert (event["conversation_id"], event["channel"]) == ("cw-1-310", "chat")


@pytest.mark.parametrize("name", ["webwidget_triggered.json", "contact_created.json"])
def test_events_kpibot_does_not_measure_map_to_nothing(name):
    assert chatwoot_to_events(load(name)) == []


def test_typing_events_map_to_nothing():
    assert (
        chatwoot_to_events({"event": "conversation_typing_on", "user": {"id": 12}, "is_private": False}) == []
    )


# --- idempotency and errors -----------------------------------------------------------------------


def test_redelivered_webhooks_map_to_identical_events():
    for payload in load("conversation_full.json"):
        assert chatwoot_to_events(copy.deepcopy(payload)) == chatwoot_to_events(payload)


def _drop(*paths: str):
    def mutate(payload: dict) -> None:
        for path in paths:
            *parents, last = path.split(".")
            target = payload
            for key in parents:
                target = target[key]
            del target[last]

    return mutate


def _set(path: str, value):
    def mutate(payload: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            payload = payload[key]
        payload[last] = value

    return mutate


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("message_created_incoming.json", _drop("conversation.id"), '"conversation.id" is missing'),
        ("message_created_incoming.json", _drop("conversation"), '"conversation" is missing'),
        (
            "message_created_incoming.json",
            _set("conversation", "1042"),
            '"conversation" must be a JSON object',
        ),
        ("message_created_incoming.json", _drop("id"), '"id" is missing'),
        ("message_created_incoming.json", _drop("created_at"), '"created_at" is missing'),
        ("message_created_incoming.json", _set("created_at", "yesterday"), '"created_at" is not a time'),
        ("message_created_incoming.json", _drop("conversation.channel"), '"conversation.channel" is missing'),
        ("message_created_incoming.json", _drop("event"), '"event" is missing'),
        (
            "message_created_incoming.json",
            _set("message_type", "broadcast"),
            '"message_type" must be incoming',
        ),
        ("message_created_outgoing_agent.json", _drop("sender.id"), '"sender.id" is missing'),
        (
            "message_created_instagram.json",
            _drop("sender", "conversation.meta.sender"),
            '"sender.id" is missing',
        ),
        ("conversation_created.json", _drop("id"), '"id" is missing'),
        ("conversation_created.json", _drop("account"), '"account.id" is missing'),
        (
            "conversation_status_changed.json",
            _set("changed_attributes", [{"status": {"previous_value": "open", "current_value": "archived"}}]),
            '"status" must be open, pending, snoozed or resolved',
        ),
        ("conversation_resolved.json", _drop("timestamp"), '"updated_at" is missing'),
    ],
)
def test_unmappable_payload_raises_value_error_naming_the_field(name, mutate, message):
    payload = load(name)
    mutate(payload)
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        chatwoot_to_events(payload)


def test_status_changed_without_changed_attributes_takes_the_status_from_the_snapshot():
    payload = load("conversation_status_changed.json")
    del payload["changed_attributes"]
    assert chatwoot_to_events(payload)[0]["status"] == "resolved"


def test_payload_that_is_not_an_object_is_rejected():
    with pytest.raises(ValueError, match="must be a JSON object, not list"):
        chatwoot_to_events([{"event": "message_created"}])


# --- the whole conversation -----------------------------------------------------------------------


def test_full_twitter_conversation_gives_frt_42_minutes_and_resolution_2_hours():
    # Ana's mention 09:00 (conversation created pending 09:00), agent-bot reply 09:01 and handoff to open,
    # private note 09:05, assigned to Bo 09:30, Bo replies 09:42, Ana 10:00, Bo 10:30, resolved 11:00,
    # CSAT sent 11:00 and answered 11:07.
    # FRT = first human outbound - first inbound = 09:42 - 09:00 = 42 min = 2520 s
    #   (the 09:01 bot reply would give 60 s, the 09:05 note 300 s: neither counts)
    # resolution = first resolved - first inbound = 11:00 - 09:00 = 2 h = 7200 s
    events = [event for payload in load("conversation_full.json") for event in chatwoot_to_events(payload)]
    assert {event["conversation_id"] for event in events} == {"cw-3-1042"}
    messages = [event for event in events if event["type"] == "message"]
    assert [event["id"] for event in messages] == [
        "msg-88001", "msg-88002", "msg-88005", "msg-88006", "msg-88007", "msg-88009", "msg-88009",
    ]  # fmt: skip
    first_inbound = min(at(event) for event in messages if event["direction"] == "inbound")
    first_human_reply = min(at(event) for event in messages if event["author"]["kind"] == "agent")
    first_resolved = min(at(event) for event in events if event.get("status") == "resolved")
    assert (first_human_reply - first_inbound).total_seconds() == 2520
    assert (first_resolved - first_inbound).total_seconds() == 7200
    statuses = [(event["at"][11:16], event["status"]) for event in events if event["type"] == "status"]
    assert statuses == [("09:00", "pending"), ("09:01", "open"), ("11:00", "resolved")]
    assert [event["score"] for event in events if event["type"] == "survey"] == [5]


def test_every_fixture_event_is_accepted_by_kpibot_event_format():
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        for payload in data if isinstance(data, list) else [data]:
            for event in chatwoot_to_events(payload):
                parse_event(event)


@pytest.mark.parametrize("answer", [1, "5", None, [5]])
def test_a_csat_answer_that_is_not_an_object_maps_the_message_alone(answer):
    # found by the fuzz test (tests/bot/test_fuzz_doors.py): `csat_survey_response: 1` raised AttributeError
    payload = load("message_updated_csat.json")
    payload["content_attributes"]["submitted_values"]["csat_survey_response"] = answer
    (message,) = chatwoot_to_events(payload)
    assert message["id"] == "msg-88009" and message["type"] == "message"
