"""Sentiment scoring of inbound messages with the real TextBlob pattern lexicon, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textblob import TextBlob

from storage.language import detect_language
from storage.sentiment import _french_polarity as french_polarity
from storage.sentiment import polarity, score_text, sentiment_class
from tests.offline import PRELUDE

REPO = Path(__file__).resolve().parents[2]


# The English lexicon: TextBlob's pattern analyser with emoji and shorthand (storage.sentiment.polarity).


def test_the_lexicon_reads_thanks_and_great_as_textblob_does():
    # thanks 0.2, much 0.2, "great!" 0.8 boosted by "!" x1.25 = 1.0 -> (0.2 + 0.2 + 1.0) / 3
    assert polarity("Thanks so much, the support was great!") == pytest.approx(1.4 / 3)


def test_the_lexicon_reads_each_emoji_as_a_word():
    # TextBlob alone scores 0.0; each 😡 is a word of polarity -0.9 -> mean -0.9
    assert TextBlob("😡😡").sentiment.polarity == 0.0
    assert polarity("😡😡") == pytest.approx(-0.9)
    # "great!" 1.0 and 😍 0.9 -> 0.95; unsplit, TextBlob sees one unknown token "great!😍"
    assert polarity("great!😍") == pytest.approx(0.95)
    # 👍🏽 is 👍 (0.5) followed by a skin-tone modifier
    assert polarity("👍🏽") == pytest.approx(0.5)
    # TextBlob's negation rule applies to our cues too: not 👍 -> 0.5 * -0.5 = -0.25
    assert polarity("not 👍") == pytest.approx(-0.25)


def test_the_lexicon_reads_shorthand_and_leaves_ok_and_lol_near_zero():
    # ffs -0.6, fml -0.6, good 0.7 -> -0.5 / 3
    assert polarity("ffs fml, the app is good") == pytest.approx(-0.5 / 3)
    # TextBlob has lol at +0.8 and ok at +0.5; in support traffic they are a shrug and an acknowledgement
    assert (TextBlob("lol").sentiment.polarity, TextBlob("ok").sentiment.polarity) == (0.8, 0.5)
    assert (polarity("lol"), polarity("ok")) == (pytest.approx(0.1), 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "I don't like it, the courier was rude and the box was damaged.",
        "This is very, very good (!) but the app is slow",
        "It's really not good.\n\nTerrible service, honestly the worst :(",
    ],
)
def test_the_lexicon_without_our_cues_scores_exactly_as_textblob(text):
    assert polarity(text) == TextBlob(text).sentiment.polarity


# The support reading (storage.sentiment.support_score): cue weights from storage.support_cues, summed,
# the lexicon's polarity x0.6, clamped to -1..+1.


def test_a_complaint_without_a_sentiment_word_is_negative():
    # TextBlob finds no opinion at all; the cues: "still no" -0.8, "still" -0.4, "no refund" -0.7
    text = "still no refund after 3 weeks"
    assert TextBlob(text).sentiment.polarity == 0.0
    assert score_text(text) == (-1.0, "en")  # -1.9, clamped
    # "late" -0.7 (TextBlob: -0.3), "weeks late" -0.6, "nobody answers" -0.8
    assert score_text("order 2 weeks late and nobody answers") == (-1.0, "en")


def test_a_plain_question_is_neutral_even_when_it_chases():
    # "where is my" -0.5; a question whose cues are weaker than 0.55 counts x0.15 -> -0.075
    assert score_text("Where is my order?")[0] == pytest.approx(-0.075)
    assert sentiment_class(score_text("Where is my order?")[0]) == "neutral"
    # "??" is exasperation (-0.5), and no longer a plain question: -0.5 - 0.5
    assert score_text("Where is my order??")[0] == pytest.approx(-1.0)
    assert score_text("do you ship to Canada?") == (0.0, "en")


def test_praise_beside_a_complaint_counts_a_quarter_and_half_before_a_contrast():
    # "great" 0.6 x0.25 (beside a complaint) x0.5 (before "but") = 0.075; "late" -0.7; the lexicon's
    # polarity is positive (great 0.8, late -0.3) and a complaint's positive words do not count
    score, _ = score_text("Great product but the delivery was late")
    assert score == pytest.approx(0.075 - 0.7)
    assert sentiment_class(score) == "negative"


def test_sarcasm_reads_as_the_complaint_it_is():
    # "great" 0.6 x0.25 = 0.15; "another week" -0.6; "waiting" -0.5 -> -0.95
    assert score_text("great, another week of waiting")[0] == pytest.approx(-0.95)


def test_a_problem_solved_is_positive_and_its_complaint_counts_a_quarter():
    # "broken" -0.7 x0.25; "now it works" (solved) 0.7; "thanks" 0.7; the lexicon counts: solved
    text = "it was broken, now it works, thanks!"
    expected = -0.7 * 0.25 + 0.7 + 0.7 + 0.6 * polarity(text)
    assert score_text(text)[0] == pytest.approx(min(1.0, expected))
    assert sentiment_class(score_text(text)[0]) == "positive"


def test_thanks_ahead_of_a_problem_still_there_is_negative():
    # thanks 0.7 x0.25 x0.5 = 0.0875; "still" -0.4, "doesn't work" -0.8, "doesn't work" as a negated
    # verb -0.4 -> -1.5125, clamped
    assert score_text("Thanks, but it still doesn't work")[0] == -1.0


def test_emoji_only_anger_is_negative_with_undetermined_language():
    # two 😡 marks -0.5 each; the lexicon -0.9 x0.6 -> -1.54, clamped
    assert score_text("😡😡") == (-1.0, "und")


def test_french_is_read_with_its_own_lexicon_and_cues():
    # "toujours pas" -0.6, "depuis 3" -0.5; textblob-fr's lexicon finds nothing here
    text = "Toujours pas de remboursement depuis 3 semaines"
    assert french_polarity(text) == 0.0
    assert score_text(text) == (-1.0, "fr")  # -1.1, clamped
    # merci 0.7, "bien recu" solved 0.7 twice (also "colis bien recu"), plus the lexicon: over 1
    assert score_text("Merci beaucoup, colis bien reçu !") == (1.0, "fr")
    # a plain French question: no cue, the lexicon neutral
    assert sentiment_class(score_text("Est-ce que vous livrez en Belgique ?")[0]) == "neutral"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
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
    # "awful" alone: no stop word of any language -> "und", read as English: -1.0 (cue) - 0.6 (lexicon)
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
    assert [sentiment_class(s) for s, _ in scores] == [
        "positive",
        "negative",
        "negative",
        "negative",
        "negative",
    ]
    assert [lang for _, lang in scores] == ["en", "en", "en", "und", "fr"]
    assert list(empty.iterdir()) == []


def test_the_plain_tokenizer_agrees_with_textblob_on_every_labelled_and_demo_message():
    # storage.sentiment.plain_tokens stands in for TextBlob's tokenizer on texts it only splits; wherever
    # it answers, its tokens must be TextBlob's.
    from bot.demo.texts import CUSTOMER_LINES, FOLLOW_UPS
    from storage.sentiment import _lexicon, plain_tokens

    data = REPO / "bench" / "data" / "nlp_messages.jsonl"
    texts = [json.loads(line)["text"] for line in data.read_text(encoding="utf-8").splitlines()]
    texts += [line for tones in CUSTOMER_LINES.values() for tone in tones.values() for line in tone]
    texts += [line for tone in FOLLOW_UPS.values() for line in tone]
    texts += ["!!wow!! -great- @you #tag +1 $5 & co", "not good!!!", "?? what", "a - b"]
    tokenize = _lexicon().tokenizer
    answered = [(text, plain_tokens(text)) for text in texts]
    compared = [(text, tokens) for text, tokens in answered if tokens is not None]
    assert len(compared) > 250  # most support messages are plain
    assert [tokens for _, tokens in compared] == [" ".join(tokenize(text)).split() for text, _ in compared]
    assert plain_tokens("e.g. this") is None and plain_tokens("it's") is None and plain_tokens(":)") is None
    # ... and where no word of a plain text has a polarity, skipping TextBlob's rules changes nothing
    from storage.sentiment import assessed_polarity

    for text, tokens in compared:
        if text.isascii():  # (polarity first splits emoji off other text)
            assert polarity(text) == assessed_polarity([token.lower() for token in tokens]), text


def test_a_plain_statement_to_the_company_reports_a_fault_but_a_request_does_not():
    # no cue, no polar word: told to "you", or of 4 words or more, a statement of fact is a complaint
    # (-0.2, since 2026-12-06 also without "you"); a short one, one that informs or announces ("ref",
    # "I'll", "sent"), or one asked ("I'd like to know", "je voudrais savoir") stays neutral
    assert score_text("the pickup point you chose is 25 km from my house") == (-0.2, "en")
    assert score_text("the pickup point is 25 km from my house") == (-0.2, "en")
    assert score_text("Delivery slot 8-10am. It's 2pm.") == (-0.2, "en")
    assert sentiment_class(score_text("arrived in grey")[0]) == "neutral"  # 3 words of letters
    for informs in ("order ref 55-71930 in case you need it", "I'll send the serial number tonight",
                    "meter reading for this month: 03418", "return posted today, tracking ref RT-44810",
                    "réservation HTL-55120, on arrivera vers minuit"):  # fmt: skip
        assert sentiment_class(score_text(informs)[0]) == "neutral", informs
    assert sentiment_class(score_text("I'd like to know if you ship to Canada")[0]) == "neutral"
    assert sentiment_class(score_text("je voudrais savoir si vous livrez en Belgique")[0]) == "neutral"


def test_two_sums_side_by_side_and_a_quoted_status_read_as_complaints():
    # no cue word at all: two amounts set against each other -0.5
    assert score_text("The refund was £38.50. The order was £54.50.") == (-0.5, "en")
    # the status quoted back ('pending' as scare quotes) -0.5, "since Friday" -0.5
    assert score_text('payment to my landlord has said "pending" since Friday') == (-1.0, "en")
    # one amount is a fact, not a comparison
    assert score_text("The order was £54.50.") == (0.0, "en")


# Rules of 2026-12-06 (docs/metrics.md, "sentiment"): each changes the class of the message shown.


def test_time_elapsed_quantities_and_why_make_a_calm_message_a_complaint():
    # "3 weeks" -0.4; "no money" -0.6; "yet" ending a clause -0.4 (TextBlob: "confirmed" is no opinion)
    assert (
        sentiment_class(score_text("3 weeks since you confirmed the return. no money yet")[0]) == "negative"
    )
    # "only 2" -0.5 and "2 of 3"-style counts of what came
    assert score_text("my order was split into 3 boxes and only 2 arrived") == (-0.5, "en")
    assert score_text("the box came with one of the two chairs") == (-0.5, "en")
    # "why" -0.6 is strong enough to count in a question: a problem asked about
    assert score_text("why do I have two invoices for the same month?") == (-0.6, "en")
    # ... but "in 2 days" is speed, not waiting, and a question about days is asked, not complained
    assert sentiment_class(score_text("replacement card came in 2 days, brilliant")[0]) == "positive"
    assert sentiment_class(score_text("what's the fee if I leave 3 months early?")[0]) == "neutral"


def test_a_defect_told_by_what_it_does_is_a_complaint():
    for text in (
        "the heel came off my boots on the second day",
        "the new update drains the battery in 3 hours",
        "the bike's gears keep slipping after 50 km",
        "the replacement phone has the same battery problem as the first one",
        "another price rise. third this year",
        "members price disappears at checkout",
    ):
        assert sentiment_class(score_text(text)[0]) == "negative", text


def test_a_cue_inside_a_longer_cue_of_the_other_sign_is_dropped():
    # "no more crashes" (solved, +0.7) holds "crashes" (-0.7): only the longer reading counts
    assert (
        sentiment_class(score_text("game's been brilliant since the patch, no more crashes")[0]) == "positive"
    )
    # "can't fault" +1.0 holds "can't …" -0.4; "would order again" +0.8 holds "order again" -0.5
    assert score_text("can't fault the installation team")[0] > 0.1
    assert score_text("10/10 would order again")[0] > 0.1
    # "thanks for nothing" -1.0 holds "thanks" +0.7
    assert score_text("thanks for nothing") == (-1.0, "en")
    # "so much for" -1.0 is sarcasm, but not inside "thank you so much for"
    assert sentiment_class(score_text("so much for 24h delivery")[0]) == "negative"
    assert sentiment_class(score_text("thank you so much for your help")[0]) == "positive"


def test_a_negated_solution_is_no_solution():
    # "got it" would say it is solved; "haven't got it" does not (and "still" -0.4, "10 days" -0.4)
    text = "my refund was approved 10 days ago and I still haven't got it"
    assert sentiment_class(score_text(text)[0]) == "negative"


def test_the_customers_own_mistake_asks_for_a_change_it_does_not_complain():
    # "wrong" -0.7 and "too many times" -0.6 drop beside "by mistake"/"myself"; strong words stay
    assert sentiment_class(
        score_text("I'd like to cancel order 88213, I ordered the wrong size by mistake")[0]
    ) == ("neutral")
    assert sentiment_class(
        score_text("I locked myself out by typing the wrong PIN too many times, help?")[0]
    ) == ("neutral")
    assert sentiment_class(
        score_text("je voudrais annuler ma commande, je me suis trompée de taille")[0]
    ) == ("neutral")
    assert sentiment_class(score_text("I ordered the wrong size by mistake and you charged me twice")[0]) == (
        "negative"
    )


def test_a_you_told_to_is_no_complaint_and_a_greeting_does_not_hide_a_question():
    # "sent you", "let you know", "check your": the customer acts, nothing is reported (was TOLD_YOU -0.2)
    for text in (
        "just sent you a DM",
        "I'll try that tonight and let you know",
        "check your inbox, details there",
    ):
        assert score_text(text) == (0.0, "en"), text
    assert score_text("you put my parcel on a van to Scotland") == (-0.2, "en")
    # "hi, where's my parcel? order 90126": a question after a greeting, "where's my" -0.5 x0.15
    assert score_text("hi, where's my parcel? order 90126")[0] == pytest.approx(-0.075)


def test_courtesy_thanks_in_advance_is_no_thanks():
    # "thanks in advance" is no thanks cue, and is left out before the lexicon reads
    assert score_text("thanks in advance, I need to change the email on my account") == (0.0, "en")
    assert sentiment_class(score_text("thanks in advance")[0]) == "neutral"
    assert sentiment_class(score_text("merci d'avance")[0]) == "neutral"


def test_a_cue_whose_first_word_is_whole_is_tried_only_at_that_word():
    from storage.support_cues import _first_words, compiled

    assert _first_words("i was (in|home) all") == {("i", True)}
    assert _first_words("refus\\w+") == {("refus", False)}
    assert _first_words("(doesn't|dont) (work\\w*)") == {("doesn't", True), ("dont", True)}
    assert _first_words("late(?! (checkout|fee))") == {("late", True)}
    assert _first_words("i'?m done") == {("i", False)}  # "i" may go on ("im", "i'm")
    assert _first_words("(?<!in )(\\d+|two) days") == {(d, False) for d in "0123456789"} | {("two", True)}
    cues = compiled("en")
    whole_i = set(cues.by_word["i"])
    assert whole_i and whole_i.isdisjoint(cues._remember("it")) and whole_i <= set(cues._remember("i"))
    # found the same as by scanning: a cue led by a number is found at the number
    assert [cue.weight for cue in cues.find("it's been 3 weeks")][-1] == -0.4
