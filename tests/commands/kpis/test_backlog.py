"""The backlog (commands/kpis/backlog.py): what is open at the end of the period, against each channel's
threshold, now or as of a past moment."""

from __future__ import annotations

from sqlalchemy import event as sql_event

from commands.kpis import backlog
from commands.query import Query
from tests.commands.kpis.events import DAY, NOW, t
from tests.storage.builders import inbound, status


def test_backlog_uses_each_channels_threshold_and_lists_oldest_first(feed, ask):
    feed(
        inbound("a", 0, conv="tw-old"),
        inbound("b", NOW - 120, conv="tw-new"),
        inbound("c", NOW - 150, conv="vb-1", channel="viber"),
        inbound("d", 10, conv="fb-done", channel="facebook"),
        status("e", 20, "resolved", conv="fb-done", channel="facebook"),
        inbound("f", 100, conv="fb-late", channel="facebook"),
        status("g", 2000, "resolved", conv="fb-late", channel="facebook"),
    )
    values = ask(backlog.backlog, start=DAY, end=NOW, backlog_thresholds={"viber": 3600.0})
    # open at 2880: tw-old (48 h > 24 h: over), vb-1 (2.5 h > viber's 1 h: over), tw-new (2 h < 24 h)
    assert values == {
        "over_threshold": 2,
        "open": 3,
        "oldest_age": 172800.0,
        "threshold": 86400.0,
        "oldest": [
            {"conversation_id": "tw-old", "channel": "twitter", "age": 172800.0},
            {"conversation_id": "vb-1", "channel": "viber", "age": 9000.0},
            {"conversation_id": "tw-new", "channel": "twitter", "age": 7200.0},
        ],
    }
    viber = ask(backlog.backlog, start=DAY, end=NOW, channels=["viber"], backlog_thresholds={"viber": 3600.0})
    assert (viber["open"], viber["over_threshold"], viber["threshold"]) == (1, 1, 3600.0)


def test_backlog_of_a_past_period_is_the_snapshot_at_its_end(feed, ask):
    feed(
        inbound("a", 0, conv="tw-old"),
        inbound("d", 10, conv="fb-done", channel="facebook"),
        status("e", 20, "resolved", conv="fb-done", channel="facebook"),
        inbound("f", 100, conv="fb-late", channel="facebook"),
        status("g", 2000, "resolved", conv="fb-late", channel="facebook"),
    )
    values = ask(backlog.backlog, start=0, end=DAY)
    # at 1440: tw-old open 24 h exactly (not over 24 h), fb-late open 22 h 20 min (resolved only later)
    assert (values["open"], values["over_threshold"], values["oldest_age"]) == (2, 0, 86400.0)
    assert [row["conversation_id"] for row in values["oldest"]] == ["tw-old", "fb-late"]
    # asked later, the instant is nearer the first conversation than now: those resolved since are found
    # from the openings before it rather than the resolutions after it, the same snapshot
    assert ask(backlog.backlog, start=0, end=DAY, now=3 * DAY) == values
    # at 2880 fb-late is resolved and tw-old is 48 h old
    now = ask(backlog.backlog, start=DAY, end=NOW)
    assert (now["open"], now["over_threshold"]) == (1, 1)


def test_a_past_backlog_applies_each_channels_threshold_to_those_resolved_since(feed, ask):
    feed(
        inbound("a", DAY - 120, conv="vb-1", channel="viber"),
        status("b", DAY + 60, "resolved", conv="vb-1", channel="viber"),
        inbound("c", DAY - 120, conv="tw-1"),
        status("d", DAY + 60, "resolved", conv="tw-1"),
    )
    values = ask(backlog.backlog, start=0, end=DAY, backlog_thresholds={"viber": 3600.0})
    # at 1440 both had been open 2 h (resolved an hour later): over viber's 1 h, within twitter's 24 h
    assert (values["open"], values["over_threshold"], values["oldest_age"]) == (2, 1, 7200.0)
    assert sorted((row["conversation_id"], row["age"]) for row in values["oldest"]) == [
        ("tw-1", 7200.0),
        ("vb-1", 7200.0),
    ]


def test_backlog_lists_only_the_ten_oldest_and_is_zero_not_none_when_nothing_is_open(feed, ask):
    assert ask(backlog.backlog)["open"] == 0
    assert ask(backlog.backlog)["over_threshold"] == 0
    assert ask(backlog.backlog)["oldest_age"] is None
    feed(*[inbound(f"m{n}", n, conv=f"tw-{n}") for n in range(12)])
    values = ask(backlog.backlog)
    assert values["open"] == 12
    assert [row["conversation_id"] for row in values["oldest"]] == [f"tw-{n}" for n in range(10)]


def test_the_backlog_threshold_is_the_channel_s_resolution_target_from_any_source(
    feed, ask, engine, settings
):
    from datetime import UTC, datetime

    from storage.service_levels import Policy, save_policy

    feed(inbound("a", 0, conv="tw-old"), inbound("c", NOW - 150, conv="vb-1", channel="viber"))
    # the YAML's sla: viber resolved within 1 h; twitter's admin policy (below) within 72 h
    save_policy(engine, settings, "twitter", Policy(None, None, 259200.0), set_by="U1", now=datetime.now(UTC))
    values = ask(backlog.backlog, start=DAY, end=NOW, sla={"viber": {"resolve": "1h"}})
    # tw-old is 48 h old (< 72 h: not over), vb-1 2.5 h (> 1 h: over)
    assert (values["open"], values["over_threshold"]) == (2, 1)
    twitter = ask(backlog.backlog, start=DAY, end=NOW, channels=["twitter"])
    assert twitter["threshold"] == 259200.0


def test_a_topics_backlog_lists_as_many_as_are_open_and_walks_none_for_a_topic_with_none_open(
    feed, engine, settings, source
):
    # The list walks the open conversations in opening order until it has as many as the cache counts
    # open (at most ten): a topic none of whose conversations is open walks none (at 1M conversations it
    # went through all 148,000 open ones to find nothing).
    feed(
        inbound("a", 0, conv="tw-untagged"),
        inbound("b", 60, conv="tw-parcel-1", text="Where is my parcel? It was due on Monday"),
        inbound("c", 90, conv="tw-refund", text="I want a refund, the product is broken"),
        status("d", 100, "resolved", conv="tw-refund"),
        inbound("e", 120, conv="tw-parcel-2", text="my parcel never arrived"),
    )
    statements: list[str] = []
    sql_event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def topic_backlog(topic: str) -> dict:
        statements.clear()
        query = Query(t(DAY), t(NOW), (), t(NOW), settings, topic=topic, source=source)
        with engine.connect() as conn:
            return backlog.backlog(conn, query)

    delivery = topic_backlog("delivery")
    # at 2880 both parcels' conversations have been open over 24 h: 47 h and 46 h
    assert (delivery["open"], delivery["over_threshold"], delivery["oldest_age"]) == (2, 2, 2820 * 60.0)
    assert [row["conversation_id"] for row in delivery["oldest"]] == ["tw-parcel-1", "tw-parcel-2"]
    refund = topic_backlog("refund")  # resolved: none open
    assert (refund["open"], refund["over_threshold"], refund["oldest_age"], refund["oldest"]) == (
        0,
        0,
        None,
        [],
    )
    if source == "auto":  # counted by the cache: the open conversations were not walked
        assert not [sql for sql in statements if "conversation.external_id" in sql]
