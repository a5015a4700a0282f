"""The anomaly definition (docs/anomalies.md) with hand-computed numbers: the baseline's median, MAD and
scale, the minimum count, the windows compared across a clock change, and the previous days when the
history is shorter than three weeks — read from a real database through the KPI cache and the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.anomaly import Verdict, baseline_windows, hour_label, judge, last_hour, shifted
from commands.anomaly_alert import SignalState, decide, finding_line, post_message, voice_request, voice_value
from commands.anomaly_read import Finding, evaluate
from commands.errors import UsageError
from storage.settings import Settings
from tests.fuzzing import FUZZ, odd_text

# Tuesday 17 November 2026, 14:00 UTC: the hour judged is Tue 13:00-14:00.
NOW = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
QUIET = "Is the shop open on Sunday"  # scored 0.0 (neutral), no topic
LATE = "my parcel is late again"  # scored -1.0, delivery/status and delivery/late


def messages(
    start: datetime, count: int, text: str = QUIET, channel: str = "instagram", tag: str = "", every: int = 0
) -> list:
    """`count` customer messages spread over the hour from `start` (or `every` seconds apart), each in a
    conversation of its own."""
    step = every or 3600 // max(count, 1)
    stamp = f"{start:%Y%m%d%H%M}{tag}"
    return [
        {
            "id": f"{channel}-{stamp}-{n}",
            "type": "message",
            "at": (start + timedelta(seconds=n * step)).isoformat(),
            "conversation_id": f"{channel}-{stamp}-{n}",
            "channel": channel,
            "direction": "inbound",
            "author": {"kind": "customer", "id": f"@c{n}"},
            "text": text,
        }
        for n in range(count)
    ]


def by_signal(findings, channel: str = "instagram") -> dict:
    return {f.signal: f for f in findings if f.channel == channel}


def test_the_baseline_is_the_median_with_the_mad_scaled_and_floored():
    # [44, 46, 46, 50]: m = 46; distances 2, 0, 0, 4 -> MAD = 1; s = max(1.4826, 4.6, 1) = 4.6
    spike = judge(142, 142, [44, 46, 46, 50])
    near = judge(60, 60, [44, 46, 46, 50])  # 14 <= 4 x 4.6 = 18.4: not anomalous, not settled (> 9.2)
    back = judge(50, 50, [44, 46, 46, 50])  # 4 <= 2 x 4.6: settled

    assert (spike.usual, spike.scale, spike.anomalous, spike.settled) == (46, pytest.approx(4.6), True, False)
    assert spike.ratio == pytest.approx(142 / 46)
    assert (near.anomalous, near.settled, back.anomalous, back.settled) == (False, False, False, True)
    # a wide spread: [10, 30, 50, 70] -> m = 40, MAD = 20, s = 29.652; 150 is 110 away: under 118.6
    assert judge(150, 150, [10, 30, 50, 70]).anomalous is False
    assert judge(160, 160, [10, 30, 50, 70]).anomalous is True


def test_a_count_under_twenty_never_fires_however_far_from_usual():
    # [0, 1, 0, 2]: m = 0.5, MAD = 0.5, s = max(0.74, 0.05, 1) = 1: 19 is 18.5 away, over 4, yet 19 < 20
    assert judge(19, 19, [0, 1, 0, 2]).anomalous is False
    assert judge(20, 20, [0, 1, 0, 2]).anomalous is True
    # a median from 19 replies does not fire either, whatever its value
    assert judge(7200.0, 19, [600.0, 660.0, 600.0, 540.0]).anomalous is False
    assert judge(None, 0, [1, 2, 3]) is None and judge(5, 5, [1, 2]) is None  # no value, too little history


def test_the_same_local_hour_of_the_week_across_a_clock_change():
    paris = Settings(database_url="sqlite://", tz="Europe/Paris").zone
    window = (datetime(2026, 11, 3, 13, tzinfo=UTC), datetime(2026, 11, 3, 14, tzinfo=UTC))  # Tue 14:00 CET

    weeks, basis = baseline_windows(window, paris, datetime(2026, 1, 1, tzinfo=UTC))

    # summer time ended on Sunday 25 October: the Tuesdays before it were 14:00 CEST, 12:00 UTC
    assert basis == "weeks"
    assert [w[0] for w in weeks] == [
        datetime(2026, 10, 27, 13, tzinfo=UTC),
        datetime(2026, 10, 20, 12, tzinfo=UTC),
        datetime(2026, 10, 13, 12, tzinfo=UTC),
        datetime(2026, 10, 6, 12, tzinfo=UTC),
    ]
    assert all(end - start == timedelta(hours=1) for start, end in weeks)
    assert hour_label(window, paris) == "Tue 14:00–15:00" == hour_label(weeks[1], paris)
    # the last whole local hour at 15:30 CET; and at the second 02:30 of the night the clocks went back
    # (01:30 UTC), the first 02:00-03:00 (00:00-01:00 UTC): an hour long, not two
    assert last_hour(datetime(2026, 11, 3, 14, 30, tzinfo=UTC), paris) == window
    assert last_hour(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), paris)[0] == datetime(
        2026, 10, 25, 0, tzinfo=UTC
    )


def test_a_daylight_saving_week_is_compared_with_the_same_local_hour(make_database):
    # Tuesdays 14:00-15:00 in Paris: 40, 44, 46, 50 messages, the two October ones at 12:00 UTC (CEST);
    # noise at 13:00 UTC on those days, which a UTC-hour comparison would read instead
    weeks = [(datetime(2026, 10, 27, 13, tzinfo=UTC), 46), (datetime(2026, 10, 20, 12, tzinfo=UTC), 40)]
    weeks += [(datetime(2026, 10, 13, 12, tzinfo=UTC), 44), (datetime(2026, 10, 6, 12, tzinfo=UTC), 50)]
    events = [m for start, count in weeks for m in messages(start, count)]
    events += messages(datetime(2026, 10, 20, 13, tzinfo=UTC), 5, tag="n")
    events += messages(datetime(2026, 10, 13, 13, tzinfo=UTC), 5, tag="n")
    events += messages(datetime(2026, 11, 3, 13, tzinfo=UTC), 120)  # Tue 14:00 CET
    now = datetime(2026, 11, 3, 14, tzinfo=UTC)
    settings, engine = make_database(events, now, tz="Europe/Paris", channels=["instagram"])

    with engine.connect() as conn:
        volume = by_signal(evaluate(conn, settings, ("instagram",), now))["volume"]

    # [40, 44, 46, 50]: m = 45, MAD = median(5, 1, 1, 5) = 3, s = max(4.45, 4.5, 1) = 4.5; 75 > 18
    assert (volume.verdict.usual, volume.verdict.scale, volume.basis) == (45, 4.5, "weeks")
    assert volume.verdict.anomalous and volume.window == (now - timedelta(hours=1), now)


def test_four_weeks_with_one_spike_find_each_signal_with_its_numbers(make_database):
    events = []
    for week, count in zip(range(1, 5), (44, 46, 46, 50), strict=True):
        events += messages(NOW - timedelta(days=7 * week, hours=1), count)
    events += messages(NOW - timedelta(hours=1), 88, LATE) + messages(NOW - timedelta(hours=1), 54, tag="q")
    settings, engine = make_database(events, NOW, channels=["instagram", "twitter"])

    with engine.connect() as conn:
        found = evaluate(conn, settings, ("instagram",), NOW)
        quiet = evaluate(conn, settings, ("instagram",), NOW - timedelta(days=7))
    signals = by_signal(found)

    assert {f.channel for f in found} == {"instagram"}  # one channel asked: no "all" besides it
    volume = signals["volume"]
    assert (volume.verdict.value, volume.verdict.usual, volume.verdict.anomalous) == (142, 46, True)
    # 88 of the 142 messages read are delivery/late (and delivery/status): 62 %, usually 0 %; net -62
    (driver,) = volume.drivers
    assert (driver.label, round(driver.share, 2), driver.usual) == ("delivery/late", 61.97, 0.0)
    assert (round(volume.net[0], 2), volume.net[1]) == (-61.97, 0.0)
    negative = signals["negative"]
    assert (round(negative.verdict.value, 2), negative.verdict.items, negative.verdict.usual) == (
        61.97,
        142,
        0,
    )
    assert negative.verdict.anomalous
    topic = signals["topic:delivery"]
    assert (topic.verdict.value, topic.verdict.usual, topic.verdict.anomalous) == (88, 0, True)
    assert "frt" not in signals  # no reply: no median to judge
    # a week earlier: 44 against the three weeks before it, [46, 46, 50] (s = 4.6): nothing unusual
    assert not any(f.verdict.anomalous for f in quiet)


def test_a_spike_under_twenty_messages_does_not_fire(make_database):
    events = []
    for week in range(1, 5):
        events += messages(NOW - timedelta(days=7 * week, hours=1), 1)
    events += messages(NOW - timedelta(hours=1), 19)
    settings, engine = make_database(events, NOW, channels=["instagram"])

    with engine.connect() as conn:
        volume = by_signal(evaluate(conn, settings, (), NOW))["volume"]

    # [1, 1, 1, 1]: m = 1, s = 1; 19 is 18 away, well over 4, but fewer than 20 messages
    assert (volume.verdict.value, volume.verdict.usual, volume.verdict.anomalous) == (19, 1, False)


def test_a_history_shorter_than_three_weeks_uses_the_same_hour_of_the_previous_seven_days(make_database):
    # history starts Sat 7 November: of the previous four Tuesdays only 10 November is in it
    daily = (30, 32, 28, 31, 29, 30, 35)  # Mon 16 back to Tue 10 November, 13:00-14:00 UTC
    events = messages(datetime(2026, 11, 7, 9, tzinfo=UTC), 1, tag="first")
    for day, count in enumerate(daily, 1):
        events += messages(NOW - timedelta(days=day, hours=1), count)
    events += messages(NOW - timedelta(hours=1), 50)
    settings, engine = make_database(events, NOW, channels=["instagram"])

    with engine.connect() as conn:
        volume = by_signal(evaluate(conn, settings, (), NOW))["volume"]

    # sorted 28 29 30 30 31 32 35: m = 30; distances 0 0 1 1 2 2 5: MAD = 1; s = max(1.48, 3, 1) = 3
    assert (volume.basis, volume.verdict.usual, volume.verdict.scale) == ("days", 30, 3)
    assert volume.verdict.anomalous and round(volume.verdict.ratio, 2) == 1.67


def test_a_history_of_two_days_has_no_baseline(make_database):
    events = messages(NOW - timedelta(days=2, hours=1), 30) + messages(NOW - timedelta(hours=1), 300)
    settings, engine = make_database(events, NOW, channels=["instagram"])

    with engine.connect() as conn:
        assert evaluate(conn, settings, (), NOW) == []


def test_the_voice_button_value_reads_back_and_anything_else_is_refused():
    settings = Settings(database_url="sqlite://", channels=["instagram", "twitter"])
    window = (NOW - timedelta(hours=1), NOW)

    assert voice_request(voice_value(window, ("instagram",)), settings) == (window, ("instagram",))
    assert voice_request(voice_value(window, ()), settings) == (window, ())
    for bad in ("", "1:2", "x:1:instagram", "1795000000:1795000000:", "1:99999:", "1:2:tiktok", "²:3:"):
        with pytest.raises(UsageError):
            voice_request(bad, settings)


@FUZZ
@given(st.one_of(odd_text, st.builds(lambda a, b, c: f"{a}:{b}:{c}", st.integers(), st.integers(), odd_text)))
def test_any_button_value_is_read_or_refused_with_a_usage_error(value):
    settings = Settings(database_url="sqlite://", channels=["instagram", "twitter"])
    try:
        (start, end), channels = voice_request(value, settings)
    except UsageError:
        return
    assert timedelta(0) < end - start <= timedelta(hours=2) and set(channels) <= {"instagram", "twitter"}


def test_shifting_keeps_the_length_and_the_local_time():
    paris = Settings(database_url="sqlite://", tz="Europe/Paris").zone
    window = (datetime(2026, 3, 31, 12, 25, tzinfo=UTC), datetime(2026, 3, 31, 13, 25, tzinfo=UTC))
    start, end = shifted(window, 7, paris)  # summer time began on 29 March: an hour later in UTC
    assert (start, end - start) == (datetime(2026, 3, 24, 13, 25, tzinfo=UTC), timedelta(hours=1))


def test_volume_is_checked_every_minute_over_the_last_60_minutes(make_database):
    # 20 messages an hour from 12:00 to 15:00, every three minutes, on the four Tuesdays before and on
    # this one, plus 20 more this Tuesday from 13:40, every 30 seconds
    events = []
    for week in range(5):
        for hour in (2, 1, 0):
            events += messages(NOW - timedelta(days=7 * week, hours=hour), 20, tag=f"w{week}")
    events += messages(NOW - timedelta(minutes=20), 20, tag="spike", every=30)
    settings, engine = make_database(events, NOW, channels=["instagram"])
    at = NOW - timedelta(minutes=10)  # 13:50

    with engine.connect() as conn:
        volume = by_signal(evaluate(conn, settings, (), at))["volume"]
        hourly = {f.window for f in evaluate(conn, settings, (), at) if f.signal != "volume"}

    # 12:50-13:50: 3 + 17 usual ones every week (m = 20, s = 2), this week 20 more: 40 > 20 + 8
    assert volume.window == (at - timedelta(hours=1), at)
    assert (volume.verdict.value, volume.verdict.usual, volume.verdict.scale) == (40, 20, 2)
    assert volume.verdict.anomalous
    assert hourly == {(NOW - timedelta(hours=2), NOW - timedelta(hours=1))}  # the last whole hour


def test_a_slow_hour_of_first_responses_is_judged_by_its_median(make_database):
    def answered(conv: str, asked: datetime, wait: int) -> list[dict]:
        (question,) = messages(asked, 1, tag=conv)
        reply = {**question, "id": f"{question['id']}-r", "direction": "outbound", "text": "on it"}
        reply |= {
            "at": (asked + timedelta(seconds=wait)).isoformat(),
            "author": {"kind": "agent", "id": "U1"},
        }
        return [question, reply]

    events = []
    for week in range(1, 5):  # 20 replies between 13:00 and 13:38, each 10 minutes after the question
        for n in range(20):
            events += answered(f"w{week}-{n}", NOW - timedelta(days=7 * week, minutes=70 - 2 * n), 600)
    for n in range(24):  # this Tuesday: 24 replies between 13:00 and 13:46, each an hour after
        events += answered(f"now-{n}", NOW - timedelta(minutes=120 - 2 * n), 3600)
    settings, engine = make_database(events, NOW, channels=["instagram"])

    with engine.connect() as conn:
        frt = by_signal(evaluate(conn, settings, (), NOW))["frt"]

    # [600, 600, 600, 600]: m = 600, MAD = 0, s = max(0, 60, 1) = 60; 3600 is 3000 away, over 240
    assert (frt.verdict.value, frt.verdict.items, frt.verdict.usual, frt.verdict.scale) == (3600, 24, 600, 60)
    assert frt.verdict.anomalous
    assert finding_line(frt, settings.zone) == (
        "median first response 1h over 24 replies, 6.0× the usual for Tue 13:00–14:00 (10m)"
    )


def _finding(value: float, minutes: int = 0) -> Finding:
    verdict = judge(value, value, [44, 46, 46, 50])  # m = 46, s = 4.6
    window = (NOW - timedelta(hours=1) + timedelta(minutes=minutes), NOW + timedelta(minutes=minutes))
    return Finding("instagram", "volume", window, verdict, "weeks")


def test_an_episode_repeats_after_an_hour_sooner_when_clearly_worse_and_clears_once():
    fired = SignalState(True, 3, 1, 142, 46, NOW)  # posted at NOW, 96 from usual
    key = ("instagram", "volume")

    def kinds(state: SignalState, value: float, minutes: int) -> list[str]:
        found = decide({key: state}, [_finding(value, minutes)], NOW + timedelta(minutes=minutes))
        return [step.kind for post in found for step in post.steps]

    assert kinds(SignalState(), 142, 0) == ["fire"]
    assert kinds(fired, 180, 30) == []  # 134 away: not 1.5 x 96 = 144
    assert kinds(fired, 190, 30) == ["worse"]  # 144 away
    assert kinds(fired, 150, 60) == ["repeat"]  # the cool-down is over
    assert kinds(fired, 60, 10) == []  # 14 away: no longer anomalous (18.4), not settled (9.2) either
    assert kinds(fired, 50, 10) == ["clear"]
    assert kinds(SignalState(False, 3, 0, 50, 46, NOW), 50, 10) == []  # cleared: nothing more to say
    (post,) = decide({key: fired}, [_finding(190, 30)], NOW)
    assert post.key == "instagram|volume/e3/p2"
    (first,) = decide({key: SignalState(False, 3, 0, 50, 46, NOW)}, [_finding(142)], NOW)
    assert first.key == "instagram|volume/e4/p1"  # a new episode


def test_a_verdict_says_how_far_and_how_many_times():
    verdict = Verdict(142.0, 46.0, 4.6, 142, True, False)
    assert (verdict.distance, round(verdict.ratio, 3)) == (96.0, 3.087)
    assert Verdict(5.0, 0.0, 1.0, 5, False, False).ratio is None


def test_a_repeat_says_still_unusual_and_a_worse_one_getting_worse():
    settings = Settings(database_url="sqlite://", channels=["instagram"])
    fired = SignalState(True, 3, 1, 142, 46, NOW)
    key = ("instagram", "volume")
    (repeat,) = decide({key: fired}, [_finding(150, 60)], NOW + timedelta(hours=1))
    (worse,) = decide({key: fired}, [_finding(190, 30)], NOW + timedelta(minutes=30))

    assert post_message(repeat, settings)["text"] == (
        ":hourglass: Instagram (still unusual): 150 messages in the last hour, 3.3× the usual for "
        "Tue 14:00–15:00 (46)"
    )
    assert post_message(worse, settings)["text"].startswith(
        ":rotating_light: Instagram (getting worse): 190 messages in the last hour, 4.1× the usual for "
        "Tue 13:30–14:30 (46)"
    )
