"""What inbound messages are about: a topic taxonomy matched at ingestion, key phrases for the rest."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from storage.language import STOP_WORDS, strip_accents

# topic -> subtopic -> keywords and phrases; inflections need not be listed ("late" matches "later"
# only if stems agree, "charged twice" matches "charges twice", "double charged" "double-charged").
DEFAULT_TAXONOMY: dict[str, dict[str, list[str]]] = {
    "delivery": {
        "status": ["delivery", "shipping", "shipment", "dispatched", "in transit", "eta"],
        "late": ["late", "delay", "overdue", "not arrived", "hasn't arrived", "not delivered",
                 "still waiting", "where is my order", "where is my parcel", "where is my package"],
        "lost": ["lost", "missing", "never arrived", "never received", "not received", "stolen"],
        "tracking": ["tracking", "track", "tracking number", "tracking link"],
        "damaged": ["damaged", "crushed", "dented", "smashed", "arrived broken"],
        "address": ["delivery address", "shipping address", "wrong address", "change address"],
        "courier": ["courier", "driver", "postman", "carrier"],
    },
    "refund": {
        "request": ["refund", "money back", "reimburse", "reimbursement"],
        "return": ["return", "send back", "return label"],
    },
    "billing": {
        "double charge": ["double charged", "charged twice", "duplicate charge", "two charges",
                          "charged two times"],
        "wrong charge": ["overcharged", "wrong charge", "wrong amount", "unexpected charge",
                         "incorrect charge"],
        "invoice": ["invoice", "receipt", "bill", "vat"],
        "payment": ["payment", "paid", "card declined", "credit card", "paypal"],
    },
    "account": {
        "login": ["login", "log in", "sign in", "signin", "logged out"],
        "password": ["password", "passcode"],
        "locked": ["locked out", "account locked", "blocked", "suspended", "banned"],
        "2fa": ["2fa", "two factor", "verification code", "login code", "otp", "authentication code"],
    },
    "defect": {
        "broken": ["broken", "broke", "cracked", "faulty", "defective"],
        "not working": ["not working", "stopped working", "doesn't work", "does not work", "won't turn on",
                        "dead"],
        "bug": ["bug", "glitch", "error", "crash", "freeze", "frozen"],
    },
    "praise": {
        "thanks": ["thank", "thanks", "thx", "appreciate", "grateful"],
        "compliment": ["great", "excellent", "amazing", "awesome", "love", "best", "wonderful", "fantastic",
                       "brilliant", "helpful", "well done"],
    },
    "pricing": {
        "price": ["price", "expensive", "cost", "overpriced", "too much"],
        "discount": ["discount", "coupon", "promo code", "voucher", "discount code"],
        "shipping cost": ["shipping cost", "delivery cost", "shipping fee", "delivery fee", "postage"],
    },
    "cancellation": {
        "order": ["cancel order", "cancel the order"],
        "subscription": ["cancel subscription", "unsubscribe", "cancel membership", "close account",
                         "delete account"],
    },
}  # fmt: skip

# A phrase still matches with this many extra words between two of its words ("charged me twice").
PHRASE_GAP = 1
_APOSTROPHE = re.compile("['\u2019]")
_NON_WORD = re.compile(r"[\W_]+")
# Longest first; each strips once, so "deliveries", "delivered", "delivery" all become "deliver".
_SUFFIXES = (
    "ations",
    "ation",
    "ments",
    "ment",
    "ings",
    "ing",
    "ies",
    "ied",
    "es",
    "ed",
    "al",
    "ly",
    "s",
    "y",
    "e",
)
_DOUBLES = frozenset("bdfglmnprstz")


def words(text: str) -> list[str]:
    """The words of `text` lowercased, accents and apostrophes dropped, punctuation as word breaks:
    "I was double-charged, can't log in!" -> ["i", "was", "double", "charged", "cant", "log", "in"]."""
    return _NON_WORD.sub(" ", _APOSTROPHE.sub("", strip_accents(text.lower()))).split()


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The light stem of a lowercased word, shared by its plural and inflected forms: "parcels" ->
    "parcel"; "delivered", "delivery", "delivering" -> "deliver"; "charge", "charged" -> "charg"."""
    if not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word[-2] in "siu":  # "address", "status", "analysis" are not plurals
                break
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] in _DOUBLES:  # "cancelled", "shipping"
        word = word[:-1]
    return word


def stems(text: str) -> list[str]:
    """The stems of the words of `text`, in order."""
    return [stem(word) for word in words(text)]


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A compiled taxonomy: labels in taxonomy order and, per first stem, the phrases starting with it."""

    labels: tuple[str, ...]
    # first stem -> [(remaining stems, label index)]
    phrases: dict[str, list[tuple[tuple[str, ...], int]]]

    def match(self, text: str) -> list[str]:
        """The "topic/subtopic" labels whose keywords or phrases occur in `text`, in taxonomy order;
        [] when none does."""
        tokens = stems(text)
        found: set[int] = set()
        phrases = self.phrases
        for i, token in enumerate(tokens):
            for rest, label in phrases.get(token, ()):
                if label not in found and _follows(tokens, i, rest):
                    found.add(label)
        return [self.labels[label] for label in sorted(found)]


def _follows(tokens: list[str], at: int, rest: tuple[str, ...]) -> bool:
    for word in rest:
        window = tokens[at + 1 : at + 2 + PHRASE_GAP]
        if word not in window:
            return False
        at += 1 + window.index(word)
    return True


def compile_taxonomy(taxonomy: dict | None) -> Taxonomy:
    """`taxonomy` (topic -> subtopic -> keywords, as read from YAML; None for DEFAULT_TAXONOMY) compiled
    for `Taxonomy.match`. Raises ValueError naming the entry when the shape is wrong, a name is empty or
    holds "," or "/", or a keyword has no letters or digits."""
    taxonomy = DEFAULT_TAXONOMY if taxonomy is None else taxonomy
    if not isinstance(taxonomy, dict):
        raise ValueError("topics: expected a mapping of topic -> subtopic -> keywords")
    labels: list[str] = []
    phrases: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for topic, subtopics in taxonomy.items():
        if not isinstance(subtopics, dict):
            raise ValueError(f"topics: {topic!r} must map subtopics to keyword lists")
        for subtopic, keywords in subtopics.items():
            for name in (topic, subtopic):
                # Labels are stored comma-separated and split on "/" into topic and subtopic.
                if not isinstance(name, str) or not name.strip() or "," in name or "/" in name:
                    raise ValueError(f"topics: {name!r} must be a name without ',' or '/'")
            label = f"{topic}/{subtopic}"
            if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
                raise ValueError(f"topics: {label!r} must be a list of keywords")
            labels.append(label)
            for keyword in keywords:
                tokens = stems(keyword)
                if not tokens:
                    raise ValueError(f"topics: keyword {keyword!r} in {label!r} has no letters or digits")
                phrases.setdefault(tokens[0], []).append((tuple(tokens[1:]), len(labels) - 1))
    return Taxonomy(labels=tuple(labels), phrases=phrases)


# Words that say nothing about a support problem, on top of English stop words.
_FILLER = STOP_WORDS["en"] | frozenset(
    words(
        "a all also am as back been being both cant dont did didnt doesnt each even ever every guys hasnt "
        "havent help hii im isnt ive know like lol many more most much need new now off ok okay one only "
        "other out over pls plz really same say see since sorry such sure team tell thank thx too two "
        "ty up update via want wasnt way week weeks day days month months well went were will wont yet "
        "you your youre yours order orders"
    )
)


def key_phrases(texts: Iterable[str], top: int = 10, *, min_count: int = 2) -> list[tuple[str, int]]:
    """The `top` phrases (one to three words) recurring across `texts`, as (phrase, number of texts
    containing it), most frequent first; phrases in fewer than `min_count` texts are left out.

    Near-duplicates are one group: word order and inflection do not count, so "screen flicker",
    "screen flickering" and "flickering screen" are one phrase, shown in its most common wording. A
    phrase is dropped when a longer one containing it covers at least half of its texts ("screen"
    inside "screen flicker"). Meant for the messages the taxonomy did not match.
    """
    texts_with: Counter[frozenset[str]] = Counter()
    wordings: dict[frozenset[str], Counter[str]] = {}
    for text in texts:
        seen: set[frozenset[str]] = set()
        for run in _content_runs(words(text)):
            for n in range(1, min(3, len(run)) + 1):
                for start in range(len(run) - n + 1):
                    gram = run[start : start + n]
                    key = frozenset(stem(word) for word in gram)
                    if len(key) == n and key not in seen:
                        seen.add(key)
                        wordings.setdefault(key, Counter())[" ".join(gram)] += 1
        texts_with.update(seen)
    kept = {key: count for key, count in texts_with.items() if count >= min_count}
    covered: set[frozenset[str]] = set()
    for key, count in kept.items():
        for size in range(1, len(key)):
            for part in combinations(key, size):
                part_key = frozenset(part)
                if part_key in kept and count * 2 >= kept[part_key]:
                    covered.add(part_key)
    ranked = sorted(
        (key for key in kept if key not in covered),
        key=lambda key: (-kept[key], -len(key), wordings[key].most_common(1)[0][0]),
    )
    return [(wordings[key].most_common(1)[0][0], kept[key]) for key in ranked[:top]]


def _content_runs(tokens: list[str]) -> list[list[str]]:
    """Maximal runs of content words: stop words, numbers and one-letter words break a run."""
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token in _FILLER or len(token) < 2 or not token.isalpha():
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(token)
    return [run for run in runs if run]
