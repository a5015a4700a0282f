"""Sentiment scoring of inbound messages with the real TextBlob pattern lexicon, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textblob import TextBlob

from storage.language import detect_language
from storage.sentiment import score_text, sentiment_class
from tests.offline import PRELUDE

REPO = Path(__file__).resolve().parents[2]


def test_thanks_for_great_support_is_positive_english():
    # lexicon: thanks 0.2, much 0.2, "great!" 0.8 boosted by "!" x1.25 = 1.0 -> (0.2 + 0.2 + 1.0) / 3
    score, lang = score_text("Thanks so much, the support was great!")
    assert lang == "en"
    assert score == pytest.approx(1.4 / 3)
    assert sentiment_class(score) == "positive"


def test_late_parcel_called_awful_is_negative():
    # late -0.3, awful -1.0 -> -0.65
    score, lang = score_text("My parcel is two weeks late, this is awful")
    assert (score, lang) == (pytest.approx(-0.65), "en")
    assert sentiment_class(score) == "negative"


def test_plain_statement_of_fact_is_neutral():
    # no word of "I ordered on Monday" is in the lexicon -> 0.0
    assert score_text("I ordered on Monday") == (0.0, "en")
    assert sentiment_class(0.0) == "neutral"


def test_emoji_only_anger_is_negative_with_undetermined_language():
    # TextBlob alone scores 0.0; each 😡 is a word of polarity -0.9 -> mean -0.9
    assert TextBlob("😡😡").sentiment.polarity == 0.0
    score, lang = score_text("😡😡")
    assert (score, lang) == (pytest.approx(-0.9), "und")
    assert sentiment_class(score) == "negative"


def test_emoji_glued_to_a_word_counts_alongside_it():
    # "great!" 1.0 and 😍 0.9 -> 0.95; unsplit, TextBlob sees one unknown token "great!😍"
    assert score_text("great!😍")[0] == pytest.approx(0.95)


def test_thumbs_up_with_skin_tone_is_positive():
    # 👍🏽 is 👍 (0.5) followed by a skin-tone modifier
    score, _ = score_text("👍🏽")
    assert sentiment_class(score) == "positive"
    assert score == pytest.approx(0.5)


def test_thx_with_smiley_is_positive():
    # thx 0.3, fixed 0.1, ":)" 0.5 (already TextBlob's) -> 0.3
    score, lang = score_text("thx, that fixed it :)")
    assert (score, lang) == (pytest.approx(0.3), "en")
    assert sentiment_class(score) == "positive"


def test_smh_makes_missing_refund_negative():
    # TextBlob knows none of these words (0.0); smh -0.4
    assert TextBlob("smh still no refund").sentiment.polarity == 0.0
    score, _ = score_text("smh still no refund")
    assert score == pytest.approx(-0.4)
    assert sentiment_class(score) == "negative"


def test_lol_alone_is_neutral_not_delighted():
    # TextBlob's lexicon has lol at +0.8; we count it +0.1, not past the positive threshold
    assert TextBlob("lol").sentiment.polarity == pytest.approx(0.8)
    assert sentiment_class(score_text("lol")[0]) == "neutral"


def test_negated_thumbs_up_is_negative():
    # TextBlob's negation rule applies to our cues too: not 👍 -> 0.5 * -0.5 = -0.25
    assert score_text("not 👍")[0] == pytest.approx(-0.25)


def test_shorthand_anger_outweighs_mild_praise():
    # ffs -0.6, fml -0.6, good 0.7 -> -0.5 / 3 = -0.167
    score, _ = score_text("ffs fml, the app is good")
    assert score == pytest.approx(-0.5 / 3)
    assert sentiment_class(score) == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "I don't like it, the courier was rude and the box was damaged.",
        "Not bad at all!! Very quick delivery",
        "This is very, very good (!) but the app is slow",
        "It's really not good.\n\nTerrible service, honestly the worst :(",
        "Where is my order? It was due on Monday",
    ],
)
def test_text_without_our_cues_scores_exactly_as_textblob(text):
    assert score_text(text)[0] == TextBlob(text).sentiment.polarity


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Bonjour, mon colis est en retard depuis une semaine, c'est nul", "fr"),
        ("Dzień dobry, gdzie jest moja paczka? Czekam już tydzień", "pl"),
        ("Hola, mi pedido no ha llegado todavía y es muy tarde", "es"),
        ("Hallo, ich habe meine Bestellung noch nicht erhalten", "de"),
        ("Ciao, il mio ordine non è ancora arrivato", "it"),
        ("Olá, minha encomenda ainda não chegou", "pt"),
        ("Hoi, mijn bestelling is nog niet aangekomen", "nl"),
    ],
)
def test_text_in_another_language_is_unscored(text, lang):
    assert score_text(text) == (None, lang)
    assert sentiment_class(None) is None


def test_english_with_a_foreign_greeting_is_still_english():
    # en: my, is, this -> 3 hits; fr: merci -> 1
    assert detect_language("Merci! My parcel is late, this is bad") == "en"


def test_single_unknown_word_is_undetermined_but_scored():
    # "awful" alone: no stop word of any language -> "und", scored -1.0
    assert score_text("awful") == (-1.0, "und")


@pytest.mark.parametrize("text", ["", "   \n"])
def test_blank_text_is_unscored(text):
    assert score_text(text) == (None, "und")


def test_non_text_is_rejected():
    with pytest.raises(AttributeError):
        score_text(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.1, "neutral"), (0.1001, "positive"), (-0.1, "neutral"), (-0.1001, "negative"), (0.0, "neutral")],
)
def test_class_thresholds_are_exclusive(score, expected):
    assert sentiment_class(score) == expected


SCRIPT = (
    PRELUDE
    + """
import json
from storage.sentiment import score_text
texts = ["Thanks so much, the support was great!", "My parcel is two weeks late, this is awful",
         "smh still no refund", "😡😡", "Bonjour, mon colis est en retard"]
print(json.dumps([score_text(t) for t in texts]))
"""
)


def test_scores_with_no_nltk_data_and_no_network(tmp_path):
    # A fresh interpreter whose NLTK search path is an empty directory, with downloads and sockets
    # forbidden: any corpus lookup or download would raise or exit non-zero.
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    env = {"NLTK_DATA": str(empty), "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(empty)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    scores = json.loads(run.stdout)
    assert [sentiment_class(s) for s, _ in scores] == ["positive", "negative", "negative", "negative", None]
    assert [lang for _, lang in scores] == ["en", "en", "en", "und", "fr"]
    assert list(empty.iterdir()) == []
