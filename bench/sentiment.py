"""Sentiment scoring throughput on one core: realistic 10-30 word support messages through `score_text`.

    python bench/sentiment.py [--messages 20000] [--seed 7]

Messages are built deterministically from the demo traffic's customer lines (two or three lines joined,
emoji and shorthand included, 5 % in French or Polish). Prints messages/s scored, the mean message
length and the share that came out positive / neutral / negative / unscored. The first call, which
loads TextBlob's lexicon, is timed separately. CPU time is what one core would do on its own; wall
clock is lower when other processes share the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo.texts import CUSTOMER_LINES, FOLLOW_UPS, PRODUCTS  # noqa: E402
from storage.sentiment import score_text, sentiment_class  # noqa: E402

FOREIGN = (
    "Bonjour, mon colis est toujours en retard, je suis très déçu du service",
    "Dzień dobry, gdzie jest moja paczka? Czekam już dwa tygodnie na zamówienie",
)
SHORT_CUES = ("", "", " :)", " 😡", " smh", " thx", " 👍", " ffs", " 🙏")


def messages(n: int, seed: int) -> list[str]:
    """`n` inbound support messages of roughly 10-30 words, the same list for the same seed."""
    rng = Random(seed)
    lines = [line for tones in CUSTOMER_LINES.values() for tone in tones.values() for line in tone]
    lines += [line for tone in FOLLOW_UPS.values() for line in tone]
    out = []
    for _ in range(n):
        if rng.random() < 0.05:
            out.append(rng.choice(FOREIGN))
            continue
        parts = [rng.choice(lines) for _ in range(rng.choice((2, 2, 3)))]
        text = " ".join(parts) + rng.choice(SHORT_CUES)
        out.append(
            text.format(
                n=rng.randint(2, 5), order=f"#{rng.randint(10000, 99999)}", product=rng.choice(PRODUCTS)
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    texts = messages(args.messages, args.seed)
    started = time.perf_counter()
    score_text("warm up: loads the lexicon")
    print(f"first call (lexicon load) {time.perf_counter() - started:.2f} s")
    started, cpu_started = time.perf_counter(), time.process_time()
    scores = [score_text(text) for text in texts]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    words = sum(len(text.split()) for text in texts) / len(texts)
    classes = Counter(sentiment_class(score) or "unscored" for score, _ in scores)
    print(
        f"scored {len(texts):,} messages (mean {words:.1f} words) in {elapsed:.2f} s = "
        f"{len(texts) / elapsed:,.0f} messages/s wall clock, {len(texts) / cpu:,.0f} messages/s of CPU time"
    )
    print(
        "  ".join(
            f"{name} {classes[name] / len(texts):.0%}"
            for name in ("positive", "neutral", "negative", "unscored")
        )
    )


if __name__ == "__main__":
    main()
