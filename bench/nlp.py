"""Sentiment, topics and language detection measured on the hand-labelled set bench/data/nlp_messages.jsonl.

    python bench/nlp.py [--split dev|test|both] [--lang en,fr,de,es,pl] [--batch N] [--json] [--errors N]

--batch N measures only the messages of batch N (1-8, bench/data/README.md; German, Spanish and Polish
are all in batch 1); the timing still runs over the whole set.

Every figure is given per language (and "all" over the languages asked for) and per split. Rows of fewer
than 20 messages are marked "~": read them as anecdotes (bench/data/README.md, "Thin cells").

Sentiment, per system:
  product   storage.analysis.text_analyser (the path ingestion takes), class by storage.sentiment's
            sentiment_class; a None score is "unscored" (another language than English).
  textblob  raw TextBlob(text).sentiment.polarity on every message, at the product's thresholds.
  vader     vaderSentiment's compound on every message, at VADER's standard +-0.05.
  n         labelled messages; scored = share that got a class.
  acc       share classed right; unscored counts as wrong.
  F1        macro-F1 over negative/neutral/positive (unscored is a miss for the true class; a class absent
            from both truth and predictions is left out of the mean).
  err       class-share error: max over classes of |reported share - true share|, where the reported share
            is among the SCORED messages (what /sentiment shows) and the true share among all messages.
  reported / true   the negative/neutral/positive shares themselves, in %.

Topics (top-level topics: the part of each "topic/subtopic" label before "/"), per system:
  product   the same analyser with the default taxonomy (settings' topics are set to None).
  keywords  baseline: DEFAULT_TAXONOMY's keywords (all languages) as lowercase substrings of the text.
  prec / rec        micro precision and recall over (message, topic) pairs.
  tagged            share of messages given at least one topic, predicted / true.
  err, worst        max over the eight topics of |predicted share - true share| of messages with that
                    topic, and the topic where it is reached.

Language: accuracy of storage.language.detect_language against the labelled language, on messages of 3
or more words (whitespace-separated tokens holding a letter), and the confusions (true -> detected).

Timing: messages/s of the product analyser over the whole set (all languages and splits, whatever
--split and --lang say), the fastest of 5 passes, after a warm-up call that loads TextBlob's lexicon.

--errors N prints up to N DEV messages the product gets wrong (sentiment class or topic set), to help
tuning; it measures dev only and refuses --split test or both (exit 2). The test split is never used for
tuning: it is only measured, rarely, and reported as held out. Runs offline; no NLTK data is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import nlp_metrics as m  # noqa: E402
from storage.analysis import text_analyser  # noqa: E402
from storage.language import detect_language  # noqa: E402
from storage.sentiment import NEGATIVE_BELOW, POSITIVE_ABOVE, sentiment_class  # noqa: E402
from storage.settings import Settings  # noqa: E402
from storage.topics import DEFAULT_TAXONOMY  # noqa: E402

DATA = ROOT / "bench" / "data" / "nlp_messages.jsonl"
LANGS = ("en", "fr", "de", "es", "pl")
SPLITS = ("dev", "test")
SENTIMENT_SYSTEMS = ("product", "textblob", "vader")
TOPIC_SYSTEMS = ("product", "keywords")
TOPICS = tuple(DEFAULT_TAXONOMY)
THIN = 20  # rows with fewer messages are marked "~"
# the first id number of each batch, per language (bench/data/README.md); a language not listed is all batch 1
BATCH_STARTS = {"en": (1, 276, 476, 676, 916, 1290), "fr": (1, 76, 136, 176, 216, 289, 335, 425)}
MIN_WORDS = 3  # language detection is measured on messages of at least this many words
VADER_THRESHOLD = 0.05
TIMING_PASSES = 5  # the product analyser's speed is the fastest of this many passes over the set

Message = dict[str, Any]


# --- data -------------------------------------------------------------------------------------------


def load_messages(path: Path = DATA) -> list[Message]:
    """The labelled messages, in file order."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def batch_of(msg: Message) -> int:
    """The batch (1-8) a message was written in, from its id."""
    number = int(msg["id"].rpartition("-")[2])
    return sum(number >= start for start in BATCH_STARTS.get(msg["lang"], (1,)))


def groups(
    messages: Sequence[Message], langs: Sequence[str], splits: Sequence[str], batch: int | None = None
) -> list[tuple]:
    """(lang, split, indices of its messages) per language then "all" (when more than one language is
    asked for), each for every split asked for; indices point into `messages`; only batch `batch`'s
    messages when it is given."""
    names = [*langs, "all"] if len(langs) > 1 else list(langs)
    out = []
    for lang in names:
        for split in splits:
            members = [
                i
                for i, msg in enumerate(messages)
                if msg["split"] == split
                and (msg["lang"] == lang or (lang == "all" and msg["lang"] in langs))
                and (batch is None or batch_of(msg) == batch)
            ]
            out.append((lang, split, members))
    return out


# --- systems ----------------------------------------------------------------------------------------


def threshold_class(score: float, above: float, below: float, *, inclusive: bool = False) -> str:
    """ "positive" above `above`, "negative" below `below`, "neutral" between (bounds included in the
    outer classes when `inclusive`)."""
    if score > above or (inclusive and score == above):
        return "positive"
    if score < below or (inclusive and score == below):
        return "negative"
    return "neutral"


def run_product(texts: Sequence[str], passes: int = TIMING_PASSES) -> tuple[list[tuple], dict[str, float]]:
    """The product analyser's (score, lang, labels) per text, and its timings: the warm-up call, and the
    fastest of `passes` timed passes over `texts` (wall clock, and CPU time of that pass)."""
    analyse = text_analyser(Settings(database_url="sqlite://", pseudonym_key="k", topics=None))
    started = time.perf_counter()
    analyse("warm up: loads the lexicon")
    warm_up = time.perf_counter() - started
    best = None
    for _ in range(passes):
        started, cpu_started = time.perf_counter(), time.process_time()
        results = [analyse(text) for text in texts]
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if best is None or wall < best[0]:
            best = (wall, cpu)
    wall, cpu = best
    return results, {
        "warm_up_s": warm_up,
        "messages": len(texts),
        "passes": passes,
        "wall_s": wall,
        "messages_per_s": len(texts) / wall if wall else None,
        "cpu_messages_per_s": len(texts) / cpu if cpu else None,
    }


def textblob_classes(texts: Sequence[str]) -> list[str]:
    """Raw TextBlob polarity (English analyser) per text, classed at the product's thresholds."""
    from textblob import TextBlob

    return [threshold_class(TextBlob(t).sentiment.polarity, POSITIVE_ABOVE, NEGATIVE_BELOW) for t in texts]


def vader_classes(texts: Sequence[str]) -> list[str]:
    """VADER's compound score per text, classed at its standard thresholds (>= +0.05, <= -0.05)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    compound = SentimentIntensityAnalyzer().polarity_scores
    return [
        threshold_class(compound(t)["compound"], VADER_THRESHOLD, -VADER_THRESHOLD, inclusive=True)
        for t in texts
    ]


def keyword_matcher(taxonomy: dict[str, dict[str, Any]] = DEFAULT_TAXONOMY) -> Callable:
    """text -> set of topics whose keywords (in any of the taxonomy's languages) occur as lowercase
    substrings of the lowercased text."""
    keywords = [
        (topic, kw.lower())
        for topic, subs in taxonomy.items()
        for by_language in subs.values()
        for kws in (by_language.values() if isinstance(by_language, dict) else [by_language])
        for kw in kws
    ]

    def match(text: str) -> set[str]:
        lowered = text.lower()
        return {topic for topic, kw in keywords if kw in lowered}

    return match


def top_level(labels: str | None) -> set[str]:
    """{"delivery", "refund"} from "delivery/late,refund/request,delivery/lost"; empty for None."""
    return {label.partition("/")[0] for label in labels.split(",")} if labels else set()


def predict(messages: Sequence[Message]) -> tuple[dict[str, list], dict[str, float]]:
    """Every system's predictions, aligned with `messages`, and the product's timings."""
    texts = [msg["text"] for msg in messages]
    product, timing = run_product(texts)
    keywords = keyword_matcher()
    return {
        "product_score": [score for score, _, _ in product],
        "sentiment:product": [sentiment_class(score) for score, _, _ in product],
        "sentiment:textblob": textblob_classes(texts),
        "sentiment:vader": vader_classes(texts),
        "topics:product": [top_level(labels) for _, _, labels in product],
        "topics:keywords": [keywords(t) for t in texts],
        "language": [detect_language(t) for t in texts],
    }, timing


# --- figures ----------------------------------------------------------------------------------------


def sentiment_rows(messages, predictions, grouping) -> list[dict]:
    """One row of sentiment figures per (lang, split, system)."""
    rows = []
    for lang, split, members in grouping:
        truth = [messages[i]["sentiment"] for i in members]
        for system in SENTIMENT_SYSTEMS:
            predicted = [predictions[f"sentiment:{system}"][i] for i in members]
            reported, true = m.class_shares(truth, predicted)
            rows.append(
                {
                    "lang": lang,
                    "split": split,
                    "system": system,
                    "n": len(members),
                    "scored": m.scored_share(predicted),
                    "accuracy": m.accuracy(truth, predicted),
                    "macro_f1": m.macro_f1(truth, predicted),
                    "f1": m.f1_per_class(truth, predicted),
                    "share_error": m.class_share_error(truth, predicted),
                    "reported": reported,
                    "true": true,
                }
            )
    return rows


def topic_rows(messages, predictions, grouping) -> list[dict]:
    """One row of topic figures per (lang, split, system)."""
    rows = []
    for lang, split, members in grouping:
        truth = [set(messages[i]["topics"]) for i in members]
        for system in TOPIC_SYSTEMS:
            predicted = [predictions[f"topics:{system}"][i] for i in members]
            precision, recall = m.topic_precision_recall(truth, predicted)
            error, worst = m.topic_share_error(truth, predicted, TOPICS)
            rows.append(
                {
                    "lang": lang,
                    "split": split,
                    "system": system,
                    "n": len(members),
                    "precision": precision,
                    "recall": recall,
                    "tagged": m.tagged_share(predicted),
                    "tagged_true": m.tagged_share(truth),
                    "share_error": error,
                    "worst": worst,
                }
            )
    return rows


def language_figures(messages, predictions, grouping) -> dict[str, Any]:
    """Detection accuracy per (lang, split) on messages of MIN_WORDS+ words, and the confusions per split
    over the languages asked for."""
    rows, confused = [], {}
    for lang, split, members in grouping:
        long = [i for i in members if m.word_count(messages[i]["text"]) >= MIN_WORDS]
        truth = [messages[i]["lang"] for i in long]
        detected = [predictions["language"][i] for i in long]
        rows.append({"lang": lang, "split": split, "n": len(long), "accuracy": m.accuracy(truth, detected)})
        if lang == "all" or len({g[0] for g in grouping}) == 1:
            confused[split] = [
                {"true": t, "detected": d, "count": n} for t, d, n in m.confusions(truth, detected)
            ]
    return {"rows": rows, "confusions": confused}


def product_errors(
    messages, predictions, langs: Sequence[str], limit: int, batch: int | None = None
) -> tuple[list[dict], int]:
    """Up to `limit` DEV messages (of `langs`, and of batch `batch` when given) whose product sentiment
    class or topic set is wrong, in id order, and how many there are in all."""
    wrong = []
    for i, msg in enumerate(messages):
        in_batch = batch is None or batch_of(msg) == batch
        if msg["split"] != "dev" or msg["lang"] not in langs or not in_batch:
            continue
        cls, topics = predictions["sentiment:product"][i], predictions["topics:product"][i]
        if cls != msg["sentiment"] or topics != set(msg["topics"]):
            wrong.append(
                {
                    "id": msg["id"],
                    "text": msg["text"],
                    "sentiment": msg["sentiment"],
                    "predicted": cls,
                    "score": predictions["product_score"][i],
                    "topics": [t for t in TOPICS if t in msg["topics"]],
                    "predicted_topics": [t for t in TOPICS if t in topics],
                }
            )
    return wrong[:limit], len(wrong)


# --- text output ------------------------------------------------------------------------------------


def pct(value: float | None, decimals: int = 0) -> str:
    """A 0-1 fraction as a percentage, "-" for None."""
    return "-" if value is None else f"{value * 100:.{decimals}f}%"


def num(value: float | None) -> str:
    """A number to 2 decimals, "-" for None."""
    return "-" if value is None else f"{value:.2f}"


def shares(values: dict[str, float | None]) -> str:
    """negative/neutral/positive shares as "51/29/20" (whole percents)."""
    return "/".join("-" if values[c] is None else f"{values[c] * 100:.0f}" for c in m.CLASSES)


def n_cell(n: int) -> str:
    """A message count, marked "~" when the row is thin."""
    return f"{n}~" if n < THIN else f"{n} "


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], breaks: Sequence[int] = (), left: int = 3
) -> str:
    """Columns aligned: the first `left` to the left, the rest to the right; a blank line before each row
    index in `breaks`."""
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            str(v).ljust(w) if c < left else str(v).rjust(w)
            for c, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    out = [line(header)]
    for r, row in enumerate(rows):
        if r in breaks:
            out.append("")
        out.append(line(row))
    return "\n".join(out)


def group_breaks(rows: Sequence[dict]) -> list[int]:
    """Row indices where a new (lang, split) group starts, the first excepted."""
    return [
        r
        for r in range(1, len(rows))
        if (rows[r]["lang"], rows[r]["split"]) != (rows[r - 1]["lang"], rows[r - 1]["split"])
    ]


def format_sentiment(rows: Sequence[dict]) -> str:
    """The sentiment section."""
    legend = (
        "Sentiment: acc and F1 (macro) count unscored as wrong; err = max |reported - true| class share, "
        "reported among scored messages; shares neg/neu/pos in %; ~ fewer than 20 messages"
    )
    header = ("lang", "split", "system", "n", "scored", "acc", "F1", "err", "reported", "true")
    body = [
        (
            r["lang"],
            r["split"],
            r["system"],
            n_cell(r["n"]),
            pct(r["scored"]),
            pct(r["accuracy"], 1),
            num(r["macro_f1"]),
            pct(r["share_error"], 1),
            shares(r["reported"]),
            shares(r["true"]),
        )
        for r in rows
    ]
    return legend + "\n" + table(header, body, group_breaks(rows))


def format_topics(rows: Sequence[dict]) -> str:
    """The topics section."""
    legend = (
        "Topics (top level): prec/rec micro over (message, topic) pairs; tagged = share with a topic, "
        "predicted/true; err = max |predicted - true| topic share, at topic worst"
    )
    header = ("lang", "split", "system", "n", "prec", "rec", "tagged", "err", "worst")
    body = [
        (
            r["lang"],
            r["split"],
            r["system"],
            n_cell(r["n"]),
            pct(r["precision"], 1),
            pct(r["recall"], 1),
            f"{pct(r['tagged'])}/{pct(r['tagged_true'])}",
            pct(r["share_error"], 1),
            r["worst"] or "-",
        )
        for r in rows
    ]
    return legend + "\n" + table(header, body, group_breaks(rows))


def format_language(figures: dict[str, Any], splits: Sequence[str]) -> str:
    """The language section: one row per language with n and accuracy per split, then the confusions."""
    legend = (
        f"Language: detect_language accuracy on messages of {MIN_WORDS}+ words; confusions true -> detected"
    )
    cells = {(r["lang"], r["split"]): r for r in figures["rows"]}
    langs = list(dict.fromkeys(r["lang"] for r in figures["rows"]))
    header = ["lang"] + [f"{label} {split}" for split in splits for label in ("n", "acc")]
    body = [
        [lang]
        + [
            v
            for split in splits
            for v in (n_cell(cells[lang, split]["n"]), pct(cells[lang, split]["accuracy"], 1))
        ]
        for lang in langs
    ]
    out = [legend, table(header, body, left=1)]
    for split, pairs in figures["confusions"].items():
        listed = ", ".join(f"{p['true']} -> {p['detected']}: {p['count']}" for p in pairs) or "none"
        out.append(f"confusions {split}: {listed}")
    return "\n".join(out)


def format_timing(timing: dict[str, float]) -> str:
    """The timing line."""
    return (
        f"Timing: product analyser {timing['messages']} messages in {timing['wall_s']:.3f} s "
        f"(fastest of {timing['passes']} passes) = "
        f"{timing['messages_per_s']:,.0f} messages/s wall clock, {timing['cpu_messages_per_s']:,.0f} "
        f"messages/s of CPU time (warm-up call {timing['warm_up_s']:.2f} s)"
    )


def format_errors(errors: Sequence[dict], total: int) -> str:
    """The --errors listing: S marks a wrong sentiment class, T a wrong topic set."""
    out = [f"Product errors on dev, {len(errors)} of {total} (S wrong sentiment class, T wrong topics):"]
    for e in errors:
        score = "unscored" if e["score"] is None else f"{e['score']:+.2f}"
        flags = ("S" if e["predicted"] != e["sentiment"] else " ") + (
            "T" if e["predicted_topics"] != e["topics"] else " "
        )
        out.append(
            f"{e['id']}  {flags}  sentiment {e['sentiment']} -> {e['predicted'] or 'unscored'} ({score})  "
            f"topics {','.join(e['topics']) or '-'} -> {','.join(e['predicted_topics']) or '-'}"
        )
        out.append(f"        {e['text']}")
    return "\n".join(out)


# --- command line -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Options, checked: a known language list, and --errors only with the dev split."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "test", "both"), help="default both (dev with --errors)")
    parser.add_argument("--lang", default=",".join(LANGS), help=f"comma-separated, default {','.join(LANGS)}")
    parser.add_argument("--batch", type=int, choices=range(1, 9), metavar="N", help="only batch N (1-8)")
    parser.add_argument("--json", action="store_true", help="the same figures as JSON")
    parser.add_argument("--errors", type=int, metavar="N", help="print up to N misclassified dev messages")
    args = parser.parse_args(argv)
    args.langs = [lang for lang in LANGS if lang in args.lang.split(",")]
    unknown = set(args.lang.split(",")) - set(LANGS)
    if unknown or not args.langs:
        parser.error(f"--lang: unknown {', '.join(sorted(unknown)) or 'list'}; known: {', '.join(LANGS)}")
    if args.errors is not None:
        if args.split in ("test", "both"):
            parser.error("--errors shows dev messages only: the test split is only measured, never inspected")
        if args.errors < 0:
            parser.error("--errors N needs N >= 0")
        args.split = "dev"
    args.splits = SPLITS if args.split in (None, "both") else (args.split,)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    messages = load_messages()
    predictions, timing = predict(messages)
    grouping = groups(messages, args.langs, args.splits, args.batch)
    report: dict[str, Any] = {
        "data": str(DATA.relative_to(ROOT)),
        "langs": args.langs,
        "splits": list(args.splits),
        "batch": args.batch,
        "sentiment": sentiment_rows(messages, predictions, grouping),
        "topics": topic_rows(messages, predictions, grouping),
        "language": language_figures(messages, predictions, grouping),
        "timing": timing,
    }
    if args.errors is not None:
        report["errors"], report["error_count"] = product_errors(
            messages, predictions, args.langs, args.errors, args.batch
        )
    report["total_s"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    sections = [
        f"{report['data']}: {len(messages)} messages; languages {','.join(args.langs)}; "
        f"splits {','.join(args.splits)}"
        + ("" if args.batch is None else f"; batch {args.batch} only")
        + ("" if args.splits == ("dev",) else " (test is held out: measured, never tuned on)"),
        format_sentiment(report["sentiment"]),
        format_topics(report["topics"]),
        format_language(report["language"], args.splits),
        format_timing(timing) + f"; whole bench {report['total_s']:.2f} s",
    ]
    if args.errors is not None:
        sections.append(format_errors(report["errors"], report["error_count"]))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
