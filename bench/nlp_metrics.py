"""The figures bench/nlp.py reports, as pure functions of labels and predictions (no scorer, no I/O).

Sentiment classes are "negative", "neutral" and "positive"; a prediction of None is an unscored message.
Topics are sets of top-level topic names per message. Every share is a fraction 0-1; a figure whose base
is empty is None rather than 0, so "nothing to measure" never reads as a perfect or a failed score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

CLASSES = ("negative", "neutral", "positive")


def accuracy(truth: Sequence[str], predicted: Sequence[str | None]) -> float | None:
    """Share of items whose prediction equals the truth; an unscored (None) prediction is wrong."""
    if not truth:
        return None
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def scored_share(predicted: Sequence[str | None]) -> float | None:
    """Share of items that got a prediction (not None)."""
    if not predicted:
        return None
    return sum(p is not None for p in predicted) / len(predicted)


def f1_per_class(
    truth: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str] = CLASSES
) -> dict[str, float | None]:
    """class -> F1 = 2·TP / (2·TP + FP + FN). An unscored prediction is a false negative for the true
    class and a false positive for none. None for a class absent from both truth and predictions."""
    pairs = list(zip(truth, predicted, strict=True))
    scores: dict[str, float | None] = {}
    for cls in classes:
        tp = sum(t == cls and p == cls for t, p in pairs)
        fp = sum(p == cls and t != cls for t, p in pairs)
        fn = sum(t == cls and p != cls for t, p in pairs)
        scores[cls] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return scores


def macro_f1(
    truth: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str] = CLASSES
) -> float | None:
    """Unweighted mean of the per-class F1 (see `f1_per_class`) over the classes that occur in the truth
    or the predictions; None when there is no item."""
    present = [f1 for f1 in f1_per_class(truth, predicted, classes).values() if f1 is not None]
    return sum(present) / len(present) if present else None


def class_shares(
    truth: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str] = CLASSES
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """(reported, true) class shares. Reported = the class's count among the SCORED items, which is what
    /sentiment shows (None for every class when nothing was scored); true = its count among all items."""
    scored = [p for p in predicted if p is not None]
    got, want = Counter(scored), Counter(truth)
    reported = {c: got[c] / len(scored) if scored else None for c in classes}
    true = {c: want[c] / len(truth) if truth else None for c in classes}
    return reported, true


def class_share_error(
    truth: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str] = CLASSES
) -> float | None:
    """max over classes of |reported share - true share| (see `class_shares`); None when nothing was
    scored or there is no item."""
    reported, true = class_shares(truth, predicted, classes)
    gaps = [abs(reported[c] - true[c]) for c in classes if reported[c] is not None and true[c] is not None]
    return max(gaps) if gaps else None


def topic_precision_recall(
    truth: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]]
) -> tuple[float | None, float | None]:
    """Micro (precision, recall) over (message, topic) pairs: correct pairs / predicted pairs and correct
    pairs / true pairs; each None when its base is empty."""
    correct = predicted_pairs = true_pairs = 0
    for t, p in zip(truth, predicted, strict=True):
        t, p = set(t), set(p)
        correct += len(t & p)
        predicted_pairs += len(p)
        true_pairs += len(t)
    return (
        correct / predicted_pairs if predicted_pairs else None,
        correct / true_pairs if true_pairs else None,
    )


def tagged_share(topic_sets: Sequence[Iterable[str]]) -> float | None:
    """Share of messages with at least one topic."""
    if not topic_sets:
        return None
    return sum(bool(set(topics)) for topics in topic_sets) / len(topic_sets)


def topic_shares(topic_sets: Sequence[Iterable[str]], topics: Sequence[str]) -> dict[str, float]:
    """topic -> share of the messages tagged with it (a message counts once per topic)."""
    counts = Counter(topic for topic_set in topic_sets for topic in set(topic_set))
    return {topic: counts[topic] / len(topic_sets) if topic_sets else 0.0 for topic in topics}


def topic_share_error(
    truth: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]], topics: Sequence[str]
) -> tuple[float | None, str | None]:
    """(max over `topics` of |predicted share - true share|, the topic where it is reached; the first in
    `topics` order on a tie), (None, None) when there is no message."""
    if not truth:
        return None, None
    want, got = topic_shares(truth, topics), topic_shares(predicted, topics)
    worst = max(topics, key=lambda topic: abs(got[topic] - want[topic]))
    return abs(got[worst] - want[worst]), worst


def word_count(text: str) -> int:
    """Number of words: whitespace-separated tokens holding at least one letter ("order #123 pls 🙏" -> 2)."""
    return sum(any(ch.isalpha() for ch in token) for token in text.split())


def confusions(truth: Sequence[str], predicted: Sequence[str]) -> list[tuple[str, str, int]]:
    """(true, predicted, count) for every pair that differs, most frequent first, then alphabetical."""
    pairs = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    return [(t, p, n) for (t, p), n in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))]
