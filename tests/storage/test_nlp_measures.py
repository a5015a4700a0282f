"""The measuring instrument of bench/nlp.py: its metric functions against numbers worked out by hand."""

from __future__ import annotations

import pytest

from bench.nlp_metrics import (
    accuracy,
    class_share_error,
    class_shares,
    confusions,
    f1_per_class,
    macro_f1,
    scored_share,
    tagged_share,
    topic_precision_recall,
    topic_share_error,
    topic_shares,
    word_count,
)

# Five messages: one unscored (None), one positive read as negative.
TRUTH = ["negative", "negative", "neutral", "positive", "positive"]
PREDICTED = ["negative", "neutral", "neutral", None, "negative"]

TOPICS = ("delivery", "refund", "billing", "praise")
TRUE_TOPICS = [{"delivery"}, {"refund", "billing"}, set(), {"praise"}, {"delivery", "praise"}]
PREDICTED_TOPICS = [{"delivery"}, {"refund"}, {"praise"}, set(), {"delivery"}]


def test_accuracy_counts_unscored_as_wrong():
    assert accuracy(TRUTH, PREDICTED) == pytest.approx(2 / 5)
    assert scored_share(PREDICTED) == pytest.approx(4 / 5)
    assert accuracy([], []) is None


def test_f1_per_class_and_macro():
    # negative: TP 1, FP 1 (the positive read as negative), FN 1 (read as neutral) -> 2/4
    # neutral: TP 1, FP 1, FN 0 -> 2/3; positive: TP 0, FN 2 (one unscored) -> 0
    assert f1_per_class(TRUTH, PREDICTED) == pytest.approx(
        {"negative": 0.5, "neutral": 2 / 3, "positive": 0.0}
    )
    assert macro_f1(TRUTH, PREDICTED) == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)


def test_macro_f1_leaves_out_a_class_absent_from_truth_and_predictions():
    truth, predicted = ["negative", "neutral", "neutral"], ["negative", "neutral", "negative"]
    # negative 2/3, neutral 2/3; positive appears nowhere and is not averaged in as 0
    assert f1_per_class(truth, predicted)["positive"] is None
    assert macro_f1(truth, predicted) == pytest.approx(2 / 3)
    # a class predicted but never true does count, as 0
    assert macro_f1(["neutral"], ["positive"]) == 0.0
    assert macro_f1([], []) is None


def test_class_shares_report_among_scored_and_truth_among_all():
    reported, true = class_shares(TRUTH, PREDICTED)
    # scored: negative, neutral, neutral, negative
    assert reported == pytest.approx({"negative": 0.5, "neutral": 0.5, "positive": 0.0})
    assert true == pytest.approx({"negative": 0.4, "neutral": 0.2, "positive": 0.4})
    # gaps 0.1, 0.3, 0.4
    assert class_share_error(TRUTH, PREDICTED) == pytest.approx(0.4)


def test_class_share_error_is_none_when_nothing_is_scored():
    assert class_share_error(["negative", "neutral"], [None, None]) is None
    reported, _ = class_shares(["negative"], [None])
    assert reported == {"negative": None, "neutral": None, "positive": None}


def test_topic_precision_recall_over_pairs():
    # correct pairs 1 + 1 + 0 + 0 + 1 = 3, predicted pairs 4, true pairs 6
    assert topic_precision_recall(TRUE_TOPICS, PREDICTED_TOPICS) == pytest.approx((0.75, 0.5))
    assert topic_precision_recall([{"refund"}], [set()]) == (None, 0.0)
    assert topic_precision_recall([set()], [set()]) == (None, None)


def test_tagged_share_and_topic_shares():
    assert tagged_share(TRUE_TOPICS) == pytest.approx(0.8)
    assert tagged_share(PREDICTED_TOPICS) == pytest.approx(0.8)
    assert tagged_share([]) is None
    assert topic_shares(TRUE_TOPICS, TOPICS) == pytest.approx(
        {"delivery": 0.4, "refund": 0.2, "billing": 0.2, "praise": 0.4}
    )


def test_topic_share_error_names_the_worst_topic_first_on_a_tie():
    # predicted delivery 0.4, refund 0.2, billing 0.0, praise 0.2: gaps 0, 0, 0.2, 0.2
    error, worst = topic_share_error(TRUE_TOPICS, PREDICTED_TOPICS, TOPICS)
    assert error == pytest.approx(0.2)
    assert worst == "billing"
    assert topic_share_error([], [], TOPICS) == (None, None)


def test_word_count_counts_tokens_with_a_letter():
    assert word_count("order #123 pls 🙏") == 2
    assert word_count("😡😡 !!!") == 0
    assert word_count("ça va, merci") == 3
    assert word_count("wyślij 2x") == 2


def test_confusions_most_frequent_first():
    truth = ["en", "fr", "fr", "de", "fr"]
    detected = ["en", "und", "und", "it", "en"]
    assert confusions(truth, detected) == [("fr", "und", 2), ("de", "it", 1), ("fr", "en", 1)]


def test_batches_are_read_from_the_ids_and_select_the_groups():
    from bench.nlp import batch_of, groups, load_messages

    assert [
        batch_of({"id": i, "lang": i[:2]}) for i in ("en-275", "en-276", "en-915", "en-916", "en-1289")
    ] == [
        1,
        2,
        4,
        5,
        5,
    ]
    assert [batch_of({"id": i, "lang": i[:2]}) for i in ("fr-215", "fr-216", "de-040", "pl-001")] == [
        4,
        5,
        1,
        1,
    ]
    messages = load_messages()
    assert {batch_of(msg) for msg in messages} == {1, 2, 3, 4, 5, 6, 7, 8}
    assert [batch_of({"id": i, "lang": i[:2]}) for i in ("en-1290", "fr-288", "fr-289")] == [6, 5, 6]
    assert [batch_of({"id": i, "lang": i[:2]}) for i in ("fr-334", "fr-335", "en-1558")] == [6, 7, 6]
    assert [batch_of({"id": i, "lang": i[:2]}) for i in ("fr-424", "fr-425", "fr-554")] == [7, 8, 8]
    # batch 8: 130 French messages, 26 of them held out
    assert [len(groups(messages, ["fr"], [split], batch=8)[0][2]) for split in ("dev", "test")] == [104, 26]
    # batch 5: 374 English and 73 French messages, every fifth id held out
    (_, _, en_dev), (_, _, en_test) = groups(messages, ["en"], ["dev", "test"], batch=5)
    assert (len(en_dev), len(en_test)) == (300, 74)
    assert all(int(messages[i]["id"][3:]) % 5 == 0 for i in en_test)
    assert (
        len(groups(messages, ["fr"], ["dev"], batch=5)[0][2])
        + len(groups(messages, ["fr"], ["test"], batch=5)[0][2])
        == 73
    )
