"""The Slack stand-in, exercised through the real slack_sdk clients the app uses."""

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.slack_standin import (
    SlackStandIn,
    block_action_body,
    event_body,
    sign,
    slash_command_body,
    wait_for,
)

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*FRT* 42m"}}]


@pytest.fixture
def client(slack_api) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack_api.api_url)


def test_post_message_is_recorded_with_channel_text_and_decoded_blocks(slack_api, client):
    first = client.chat_postMessage(channel="C1", text="FRT 42m", blocks=BLOCKS)
    second = client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])

    # ts counts up by 100 microseconds per message, starting at 1700000000.000100
    assert (first["ts"], second["ts"]) == ("1700000000.000100", "1700000000.000200")
    assert first["channel"] == "C1" and first["message"]["blocks"] == BLOCKS
    call = slack_api.calls_to("chat.postMessage")[0]
    assert call.params["channel"] == "C1" and call.params["text"] == "FRT 42m"
    assert call.params["blocks"] == BLOCKS
    # chat.postMessage goes out as a JSON body, not a form
    assert call.headers["content-type"].startswith("application/json")
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert slack_api.calls_to("chat.postMessage")[1].params["thread_ts"] == "1700000000.000100"


def test_form_encoded_json_strings_are_decoded_in_params_and_kept_raw(slack_api, client):
    client.api_call("chat.postMessage", params={"channel": "C9", "blocks": json.dumps(BLOCKS)})

    call = slack_api.calls_to("chat.postMessage")[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params == {"channel": "C9", "blocks": BLOCKS}
    assert call.raw_params == {"channel": "C9", "blocks": json.dumps(BLOCKS)}


def test_users_info_reports_configured_admin_and_defaults_unknown_users_to_non_admin(slack_api, client):
    slack_api.set_user("U1", is_admin=True, tz="Europe/Paris")

    admin = client.users_info(user="U1")["user"]
    stranger = client.users_info(user="U404")["user"]

    assert (admin["id"], admin["is_admin"], admin["is_owner"], admin["tz"]) == (
        "U1",
        True,
        False,
        "Europe/Paris",
    )
    # Paris is UTC+1 in winter, UTC+2 in summer
    assert admin["tz_offset"] in (3600, 7200)
    assert (stranger["id"], stranger["is_admin"], stranger["tz"], stranger["tz_offset"]) == (
        "U404",
        False,
        "UTC",
        0,
    )


def test_conversations_info_reports_membership_until_the_bot_joins(slack_api, client):
    slack_api.set_channel("C1", is_member=False)

    assert client.conversations_info(channel="C1")["channel"]["is_member"] is False
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is True
    client.conversations_join(channel="C1")
    assert client.conversations_info(channel="C1")["channel"]["is_member"] is True


def test_default_payloads_name_the_bot_and_echo_the_request(slack_api, client):
    auth = client.auth_test()
    ephemeral = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    updated = client.chat_update(channel="C1", ts="1700000000.000100", text="new", blocks=BLOCKS)
    view = client.views_publish(user_id="U1", view={"type": "home", "blocks": BLOCKS})
    reaction = client.reactions_add(channel="C1", timestamp="1700000000.000100", name="eyes")

    assert (auth["team_id"], auth["user_id"], auth["bot_id"], auth["user"]) == (
        "T123",
        "UBOT",
        "B123",
        "kpibot",
    )
    assert ephemeral["message_ts"] == "1700000000.000100"
    assert (updated["ts"], updated["text"], updated["message"]["blocks"]) == (
        "1700000000.000100",
        "new",
        BLOCKS,
    )
    assert (view["view"]["type"], view["view"]["blocks"]) == ("home", BLOCKS)
    assert reaction["ok"] is True
    assert slack_api.calls_to("views.publish")[0].params["view"]["type"] == "home"


def test_unknown_method_answers_ok_and_is_recorded(slack_api, client):
    assert client.api_call("bookmarks.add", params={"channel_id": "C1"})["ok"] is True
    assert [(c.method, c.params) for c in slack_api.calls] == [("bookmarks.add", {"channel_id": "C1"})]


def test_rate_limited_call_is_retried_by_the_sdk_handler_then_succeeds(slack_api):
    client = WebClient(
        token="xoxb-test", base_url=slack_api.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    # Retry-After 0 keeps the handler's wait to its random jitter (< 1 s)
    slack_api.fail_next("chat.postMessage", status=429, retry_after=0)

    response = client.chat_postMessage(channel="C1", text="hi")

    assert response["ok"] is True
    calls = slack_api.calls_to("chat.postMessage")
    assert [c.injected_failure for c in calls] == [True, False]


def test_rate_limit_without_retry_handler_raises_with_retry_after_header(slack_api, client):
    slack_api.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


def test_error_payload_raises_slack_api_error_once_then_calls_succeed(slack_api, client):
    slack_api.fail_next("chat.postMessage", error="channel_not_found")

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C404", text="hi")
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True


def test_server_error_injection_answers_that_status_for_the_given_number_of_calls(slack_api, client):
    slack_api.fail_next("auth.test", status=503, times=2)

    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.auth_test()
        assert raised.value.response.status_code == 503
    assert client.auth_test()["ok"] is True
    assert [c.injected_failure for c in slack_api.calls_to("auth.test")] == [True, True, False]


def test_files_upload_v2_goes_through_the_three_steps_and_keeps_the_bytes(slack_api, client):
    response = client.files_upload_v2(
        channel="C1", content=b"png-bytes", filename="chart.png", thread_ts="1700000000.000100"
    )

    assert [c.method for c in slack_api.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    file_id = response["file"]["id"]
    assert slack_api.uploads == {file_id: b"png-bytes"}
    get_url = slack_api.calls_to("files.getUploadURLExternal")[0]
    # b"png-bytes" is 9 bytes long
    assert (get_url.params["filename"], get_url.params["length"]) == ("chart.png", "9")
    complete = slack_api.calls_to("files.completeUploadExternal")[0]
    assert (complete.params["channel_id"], complete.params["thread_ts"]) == ("C1", "1700000000.000100")
    assert complete.params["files"] == [{"id": file_id, "title": "chart.png"}]
    info = client.files_info(file=file_id)["file"]
    assert (info["name"], info["size"]) == ("chart.png", 9)


def test_response_url_receives_the_webhook_post(slack_api):
    reply = WebhookClient(slack_api.response_url).send(text="FRT 42m", response_type="ephemeral")

    assert (reply.status_code, reply.body) == (200, "ok")
    path, body = slack_api.wait_for_response()
    assert path == "/response/1"
    assert body == {"text": "FRT 42m", "response_type": "ephemeral"}


def test_new_response_urls_are_distinct_paths_on_the_same_server(slack_api):
    WebhookClient(slack_api.new_response_url()).send(text="first")
    WebhookClient(slack_api.new_response_url()).send(text="second")

    # /response/1 is the fixed `response_url`; fresh ones count on from 2
    assert slack_api.responses == [("/response/2", {"text": "first"}), ("/response/3", {"text": "second"})]


def test_wait_for_call_sees_a_call_made_later_from_another_thread(slack_api, client):
    worker = threading.Thread(target=lambda: (time.sleep(0.05), client.auth_test()))
    worker.start()

    call = slack_api.wait_for_call("auth.test", timeout=5)
    worker.join()

    assert call.method == "auth.test"


def test_wait_for_call_times_out_naming_what_was_seen(slack_api, client):
    client.auth_test()

    with pytest.raises(AssertionError, match=r"chat.postMessage; seen \['auth.test'\]"):
        slack_api.wait_for_call("chat.postMessage", timeout=0.1)


def test_wait_for_returns_the_truthy_value_and_fails_clearly_on_timeout():
    assert wait_for(lambda: [1, 2]) == [1, 2]
    with pytest.raises(AssertionError, match="timed out after 0.05s waiting for: queue drained"):
        wait_for(lambda: False, timeout=0.05, message="queue drained")


def test_stop_closes_the_listening_socket_and_is_idempotent():
    standin = SlackStandIn().start()
    url = standin.api_url + "auth.test"
    standin.stop()
    standin.stop()

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=1)


def test_signature_is_accepted_by_slack_sdk_verifier_for_its_secret_only():
    body = slash_command_body(response_url="http://127.0.0.1:1/response/1")

    headers = sign(body, "s3cret")

    timestamp, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert SignatureVerifier("s3cret").is_valid(body, timestamp, signature) is True
    assert SignatureVerifier("other").is_valid(body, timestamp, signature) is False


def test_signature_with_explicit_timestamp_is_hmac_of_v0_timestamp_body():
    headers = sign(b'{"a":1}', "s3cret", timestamp=1700000000)

    expected = hmac.new(b"s3cret", b'v0:1700000000:{"a":1}', hashlib.sha256).hexdigest()
    assert headers == {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": f"v0={expected}"}
    # 1700000000 is in 2023: far outside Slack's five-minute window, so the verifier refuses it
    assert (
        SignatureVerifier("s3cret").is_valid(b'{"a":1}', "1700000000", headers["X-Slack-Signature"]) is False
    )


def test_slash_command_body_carries_the_fields_slack_sends():
    form = {k: v[0] for k, v in parse_qs(slash_command_body(response_url="http://x/response/1")).items()}

    assert form["command"] == "/kpi" and form["text"] == "frt twitter"
    assert (form["user_id"], form["channel_id"], form["team_id"]) == ("U1", "C1", "T123")
    assert form["response_url"] == "http://x/response/1"
    assert {"token", "team_domain", "channel_name", "user_name", "api_app_id", "trigger_id"} <= form.keys()
    assert form["is_enterprise_install"] == "false"


def test_event_body_wraps_the_event_in_an_event_callback_envelope():
    event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> frt", "channel": "C1", "ts": "1.2"}

    envelope = json.loads(event_body(event, event_id="Ev42"))

    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == ("event_callback", "Ev42", "T123")
    assert envelope["event"] == event
    assert envelope["authorizations"][0]["user_id"] == "UBOT"


def test_block_action_body_is_a_payload_form_field_for_a_message_or_a_view():
    from_message = json.loads(
        parse_qs(block_action_body("kpi_refresh", "frt", response_url="http://x/r"))["payload"][0]
    )
    from_home = json.loads(parse_qs(block_action_body("kpi_refresh", view={"type": "home"}))["payload"][0])

    assert from_message["type"] == "block_actions"
    assert from_message["actions"][0]["action_id"] == "kpi_refresh"
    assert from_message["actions"][0]["value"] == "frt"
    assert from_message["container"]["type"] == "message"
    assert from_message["response_url"] == "http://x/r"
    assert (from_home["container"], from_home["view"]["type"]) == (
        {"type": "view", "view_id": "V123"},
        "home",
    )
    assert "response_url" not in from_home
