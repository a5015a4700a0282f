"""Sentiment of an inbound message, offline: TextBlob's pattern analyzer plus emoji and social shorthand."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from storage.language import detect_language
from storage.support_cues import GREETINGS, compiled, fold

# TextBlob (with NLTK and NumPy) is imported when the first message is scored, not with this module:
# the KPI code reads the class thresholds below, and a `kpibot kpi` answer must not pay for TextBlob.

POSITIVE_ABOVE = 0.1
NEGATIVE_BELOW = -0.1

# Cues TextBlob's English lexicon lacks or misjudges for support traffic, as polarity -1..+1.
# "lol" is +0.8 in the lexicon, but in complaints it is mostly a shrug ("lol still no refund").
SHORTHAND = {
    "thx": 0.3, "thanx": 0.3, "thnx": 0.3, "ty": 0.3, "tysm": 0.5, "thank": 0.2, "appreciate": 0.4,
    "helpful": 0.5, "lifesaver": 0.8, "kudos": 0.6, "yay": 0.6, "lol": 0.1, "ok": 0.0, "okay": 0.0,
    "smh": -0.4, "ffs": -0.6, "fml": -0.6, "meh": -0.2, "ugh": -0.4, "argh": -0.5, "wtf": -0.6,
    "scam": -0.8, "unacceptable": -0.8, "furious": -0.9, "nightmare": -0.8, "hopeless": -0.7,
    "rubbish": -0.7, "garbage": -0.7, "trash": -0.6,
}  # fmt: skip
EMOJI = {
    "😡": -0.9, "😠": -0.8, "🤬": -1.0, "😤": -0.6, "😢": -0.6, "😭": -0.7, "😞": -0.5, "😔": -0.4,
    "😩": -0.6, "😫": -0.6, "😒": -0.4, "🙄": -0.4, "🤦": -0.4, "💩": -0.6, "👎": -0.6, "💔": -0.6,
    "👍": 0.5, "👌": 0.5, "👏": 0.6, "🙏": 0.3, "❤": 0.8, "💙": 0.8, "💯": 0.5, "🎉": 0.6,
    "😀": 0.6, "😃": 0.6, "😄": 0.6, "😁": 0.6, "😊": 0.6, "🙂": 0.4, "😍": 0.9, "🥰": 0.9, "🤩": 0.8,
    "😂": 0.2, "🤣": 0.2, "🔥": 0.6, "😎": 0.5, "🥳": 0.7, "💪": 0.5, "🙌": 0.6, "🤗": 0.6,
    "😕": -0.3, "😣": -0.5, "😖": -0.5,
}  # fmt: skip
# Variation selectors and skin tones would glue to the emoji and hide it from the lexicon ("👍🏽").
_EMOJI_NOISE = re.compile("[\u200d\ufe0f\U0001f3fb-\U0001f3ff]")
# Emoji become words of their own so "great!😍" and "😡😡" are assessed emoji by emoji.
_EMOJI_CHAR = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f300-\U0001faff]")


@functools.cache
def _lexicon():
    """TextBlob's English pattern sentiment with plain dict lookups, loaded up front, cues added.

    The base class re-dispatches every lookup through its lazy loader; scoring is lexicon lookups, so
    binding dict's own methods after an eager load keeps the semantics and scores faster (docs/performance.md,
    "Import").
    """
    import textblob.en

    class PatternLexicon(textblob.en.Sentiment):
        __contains__ = dict.__contains__
        __getitem__ = dict.__getitem__

    base = textblob.en.sentiment  # the instance TextBlob's PatternAnalyzer scores with
    tokenize = base.tokenizer

    def fast_tokenize(text: str) -> list[str]:
        # The contraction rules all contain "'": skipping them otherwise gives identical tokens.
        return tokenize(text) if "'" in text else tokenize(text, replace={})

    lexicon = PatternLexicon(
        path=base.path,
        synset="wordnet_id",
        negations=base.negations,
        modifiers=base.modifiers,
        modifier=base.modifier,
        tokenizer=fast_tokenize,
        language="en",
    )
    lexicon.load()
    for cue, polarity in (SHORTHAND | EMOJI).items():
        lexicon.annotate(cue, None, polarity, 1.0)
    return lexicon


# Characters for which TextBlob's tokenizer does more than split on spaces and peel punctuation off a
# word's ends: periods (abbreviations), quotes and apostrophes, brackets and emoticon marks, line breaks.
_NOT_PLAIN = re.compile("[.'\"\u201c\u201d\u2018\u2019()\\[\\]{}`:;*=~|^_<>\n\r\t\\\\]")
_EDGE = ",!?@#$&+-"  # the rest of TextBlob's punctuation, peeled off a word's ends


def plain_tokens(text: str) -> list[str] | None:
    """TextBlob's tokens of a text its tokenizer only splits (no character of _NOT_PLAIN), found 10x faster
    than by `textblob._text.find_tokens`; None for any other text (then TextBlob tokenizes it).
    tests/storage/test_sentiment.py checks the two agree on every message of bench/data."""
    if _NOT_PLAIN.search(text):
        return None
    tokens: list[str] = []
    for token in text.split():
        tail = []
        while token and token[0] in _EDGE:
            tokens.append(token[0])
            token = token[1:]
        while token and token[-1] in _EDGE:
            tail.append(token[-1])
            token = token[:-1]
        if token:
            tokens.append(token)
        tokens.extend(reversed(tail))
    return tokens


def polarity(text: str) -> float:
    """Polarity of English `text`, -1 (angry) .. +1 (delighted), 0.0 when no word carries any.

    The rule is TextBlob's pattern analyzer (`TextBlob(text).sentiment.polarity`) with its lexicon
    extended: every emoji in EMOJI and shorthand word in SHORTHAND counts as one more assessed word, so
    the score is the mean of the per-word polarities of lexicon words, emoticons (":)" 0.5, ":(" -0.75,
    already in TextBlob), emoji and shorthand, clamped to -1..+1. TextBlob's rules still apply to the
    cues: "not" before a cue flips and halves it, "!" after one boosts it by 25 %, "very" intensifies.
    Text with no cue at all scores exactly as TextBlob does.
    """
    if not text.isascii():
        text = _EMOJI_CHAR.sub(r" \g<0> ", _EMOJI_NOISE.sub("", text))
    lexicon = _lexicon()
    # What Sentiment.__call__ does for a string, minus its dispatch and subjectivity bookkeeping.
    words = plain_tokens(text)
    if words is None:
        words = " ".join(lexicon.tokenizer(text)).split()
    elif _polar_words().isdisjoint(word.lower() for word in words):
        # A plain text (no emoticon) without a word of nonzero polarity scores 0.0 whatever the rules do
        # around its words: negation, intensity and "!" all multiply a polarity of 0.
        return 0.0
    return assessed_polarity([word.lower() for word in words])


def assessed_polarity(words: list[str]) -> float:
    """The mean polarity TextBlob's rules give the lowercased `words`, clamped; 0.0 when none is known."""
    assessed = _lexicon().assessments([(word, None) for word in words])
    if not assessed:
        return 0.0
    return max(-1.0, min(1.0, sum(p for _, p, _, _ in assessed) / len(assessed)))


@functools.cache
def _polar_words() -> frozenset[str]:
    """The lexicon's words of nonzero polarity (in any part of speech)."""
    return frozenset(word for word, readings in _lexicon().items() if any(p for p, _, _ in readings.values()))


def score_text(text: str) -> tuple[float | None, str]:
    """(sentiment -1..+1, language code) of one inbound message; the score is None ("unscored") for text
    in a language kpibot has no lexicon for (German, Spanish, Polish, …) and for text with nothing in it.

    Language comes from `detect_language`. English and undetermined text ("und": emoji only, a word or
    two) are read with TextBlob's English lexicon (`polarity`), French with textblob-fr's; both with the
    support cues of `storage.support_cues` (`support_score`).
    """
    if not text.strip():
        return None, "und"
    lang = detect_language(text)
    reading = "en" if lang == "und" else lang
    lexicon = _LEXICONS.get(reading)
    if lexicon is None:
        return None, lang
    greetings = GREETINGS[reading]
    return support_score(text, reading, lambda: lexicon(greetings.sub(" ", text))), lang


def support_score(text: str, lang: str, lexicon_polarity: Callable[[], float]) -> float:
    """The sentiment of a support message in `lang`; `lexicon_polarity()` is its general-lexicon polarity
    (asked only when it can change the result).

    The support cues found (`storage.support_cues`) add their weights: problems, chasing and demands
    negative, thanks, praise and solved problems positive. Beside a complaint, thanks and praise count a
    quarter (politeness, or sarcasm: "great, another week of waiting") and the lexicon's positive words
    not at all, unless they come after the last complaint and say it is solved ("it was broken, now it
    works, thanks!"). A clause before a contrast word ("thanks, but …") counts half. The lexicon's
    polarity counts with weight LEXICON_WEIGHT; the sum is clamped to -1..+1.
    """
    cues = compiled(lang)
    folded = fold(text)
    found = cues.find(folded)
    own = any(cue.own for cue in found)
    if own:  # the customer's own mistake: a request; only strong words count
        found = [cue for cue in found if not cue.own and (cue.weight > 0 or cue.weight <= OWN_KEEPS)]
    clauses = cues.clause_starts(folded)
    last_clause = clauses[-1] if clauses else -1
    praised = any(cue.weight > 0 for cue in found)
    if praised:  # a mark beside praise is surprise ("next day. how?? amazing"), not a complaint
        found = [cue for cue in found if not cue.mark] or found
    complaint = any(cue.weight < 0 for cue in found)
    # the last clause after a contrast word, when it holds no complaint, has the last word
    last_word = last_clause >= 0 and not any(cue.weight < 0 and cue.at >= last_clause for cue in found)
    # A solved problem: something says so, and the message ends on a positive note.
    solved = any(cue.resolves for cue in found) and found[-1].weight > 0
    total = 0.0
    for cue in found:
        weight = cue.weight
        after = cue.at >= last_clause
        # beside a complaint, thanks and praise count a quarter; once it is solved, so does the complaint
        if (weight > 0 and complaint and not solved and not (last_word and after)) or (weight < 0 and solved):
            weight *= BESIDE_A_COMPLAINT
        total += weight * (1.0 if after else BEFORE_CONTRAST)
    # (A complaint already at -1 stays there: the lexicon could only add to it, and is not read.)
    if not complaint or solved or total > -1.0:
        general = lexicon_polarity()
        if not complaint or solved or general < 0:
            total += LEXICON_WEIGHT * general
    named = sum(cue.weight for cue in found if not cue.mark)  # marks do not make a question a complaint
    if abs(named) < STRONG and _asks(folded):
        total *= QUESTION  # a question without a strong cue asks, it does not complain or praise
    elif not found and not own and abs(total) <= 0.1 and _reports(folded):
        total = TOLD_YOU  # a plain statement ("you sent it to Scotland", "Delivery slot 8-10am. It's 2pm.")
    return max(-1.0, min(1.0, total))


def _reports(folded: str) -> bool:
    """Whether a message without a cue is a plain statement of what happened, which support reads as a
    fault reported: no question mark, nothing that asks, informs or announces (`_INFORMS`: "I'd like",
    "please", "I'll", "sent", "ref", "ok"…), and either told to "you" or of REPORT_WORDS words or more."""
    if "?" in folded or _INFORMS.search(folded) or _QUESTION_WORD.match(folded):
        return False
    return bool(_ADDRESSED.search(folded)) or len(_LETTERS.findall(folded)) >= REPORT_WORDS


def _asks(folded: str) -> bool:
    """Whether a message is a plain question: it ends with one question mark, or opens with a question
    word and holds no "??" (exasperation)."""
    if "??" in folded:
        return False
    return bool(_QUESTION.search(folded) or _QUESTION_WORD.match(folded) or _ASKING.search(folded))


def _french_polarity(text: str) -> float:
    """Polarity of French `text` by textblob-fr's pattern lexicon (loaded with the first call)."""
    from textblob_fr.fr import sentiment

    return sentiment(text)[0]


# The general lexicon per language read; the support cues do the rest.
_LEXICONS = {"en": polarity, "fr": _french_polarity}
LEXICON_WEIGHT = 0.6
BESIDE_A_COMPLAINT = 0.25
BEFORE_CONTRAST = 0.5
QUESTION = 0.15
TOLD_YOU = -0.2
REPORT_WORDS = 4
_LETTERS = re.compile(r"[^\W\d_]+")
# What makes a plain statement a request, a piece of information, an announcement or an acknowledgement
# rather than a report of what went wrong (folded text: lowercase, no accents, straight apostrophes).
_INFORMS = re.compile(
    r"\b(i'?d like|i would like|i want to|i wanna|(i )?need|please|pls|plz|can you|could you|would you|"
    r"i'?ll|we'?ll|i will|we will|i'?m (moving|going|sending|away|off)|moving|question|wondering|"
    r"attached|attaching|sending|(i|i've|ive|we|just|have|already) sent|sent (you|it|them|the|my)|posted|"
    r"here is|here's|heres|ref|reference|number is|is the one|details|dm'?d?|inbox|ok|okay|done|will do|"
    r"updat\w*|chang\w*|new (phone|address|email|number|card)|in case|fyi|just checking|checking in|"
    r"any (update|news)|my name|(address|email|name|phone|postcode|number) is|looking (to|for)|interested|"
    r"thinking (of|about)|planning|hope|"
    r"je voudrais|j'aimerais|je souhaite|merci de|svp|s'il vous plait|voici|ci-joint|"
    r"je vous (envoie|ai envoye)|"
    r"j'ai envoye|j'ai depose|numero|voila|reservation|je (vais|serai|passerai)|d'accord|c'est note|besoin|"
    r"il me (faut|faudrait)|changer|modifier|on \w+era)\b|:\s*\d|n°"
)
OWN_KEEPS = -0.8  # beside the customer's own mistake, only negative cues this strong still count
# Polite requests that ask without a question mark first ("I'd like to know…", "je voudrais savoir…").
_ASKING = re.compile(
    r"\b(i'?d like to|i would like to|could you|can you|would you|please (update|change|send|check)|"
    r"je voudrais|j'aimerais|j'attends votre|dans l'attente de votre|"
    r"pourriez-vous|pouvez-vous|est-ce que)\b"
)
# "you" as the one who did something; not "sent you", "let you know", "check your inbox", "in case you need"
_ADDRESSED = re.compile(
    r"(?<!sent )(?<!send )(?<!dm'd )(?<!dmed )(?<!let )(?<!tell )(?<!check )(?<!case )(?<!thank )(?<!email )"
    r"\b(you|your|you've|you're|u|ur|yours|vous|votre|vos|tu|ton|ta|tes)\b"
)
STRONG = 0.55
_QUESTION = re.compile(r"(?<!\?)\?\s*$")  # ends with one question mark
_QUESTION_WORD = re.compile(  # after a greeting ("hi, where's my order? #40017")
    r"\s*((hi|hello|hey|hiya|morning|bonjour|salut)\b[,!.]?\s*)?(can|could|how|what|what's|whats|when|where|do|does|is|are|will|would|which|who|est-ce|pouvez|comment"
    r"|quand|quel|quelle|combien|ou|y a-t-il)\b"
)


def sentiment_class(score: float | None) -> str | None:
    """ "positive" above +0.1, "negative" below -0.1, "neutral" in between, None for an unscored message."""
    if score is None:
        return None
    if score > POSITIVE_ABOVE:
        return "positive"
    if score < NEGATIVE_BELOW:
        return "negative"
    return "neutral"
