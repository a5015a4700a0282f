"""Topic labels from the taxonomy and key phrases for what it misses."""

from __future__ import annotations

import pytest
import yaml

from storage.topics import DEFAULT_TAXONOMY, compile_taxonomy, key_phrases, words

SHIPPING = {
    "shipping": {"delivery": ["delivery"], "parcel": ["parcel"]},
    "money": {"refund": ["refund"], "double": ["charged twice"]},
}


@pytest.fixture(scope="module")
def default():
    return compile_taxonomy(None)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Two parcels are missing", ["shipping/parcel"]),
        ("It was delivered to my neighbour", ["shipping/delivery"]),
        ("Are you delivering on Sundays?", ["shipping/delivery"]),
        ("Both deliveries failed", ["shipping/delivery"]),
        ("I got refunded at last", ["money/refund"]),
        ("Refunds take forever", ["money/refund"]),
        ("They charge twice every month", ["money/double"]),
        ("You charged me twice", ["money/double"]),
        ("Parcel delivery went fine but no refund", ["shipping/delivery", "shipping/parcel", "money/refund"]),
    ],
)
def test_plural_and_inflected_forms_match_their_keyword(text, labels):
    assert compile_taxonomy(SHIPPING).match(text) == labels


@pytest.mark.parametrize(
    "text",
    [
        "Twice charged, apparently",  # words out of order
        "They charged my card twice",  # two words between "charged" and "twice", one is allowed
        "I ordered on Monday",
        "",
    ],
)
def test_text_without_the_keywords_matches_nothing(text):
    assert compile_taxonomy(SHIPPING).match(text) == []


def test_hyphenated_form_matches_a_multi_word_phrase(default):
    # "double-charged" -> "double charged" -> stems "double", "charg" = the phrase "double charged"
    assert default.match("I was double-charged!!") == ["billing/double charge"]


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("My parcel is 2 weeks late, this is awful 😡", ["delivery/late"]),
        ("Where is my order #12345?", ["delivery/late"]),
        ("Can't log in, the app locked me out", ["account/login", "account/locked"]),
        ("My 2FA code doesn't come through", ["account/2fa"]),
        ("The coffee maker stopped working after 3 days", ["defect/not working"]),
        ("How do I cancel my subscription?", ["cancellation/subscription"]),
        ("Any discount codes for the desk lamp?", ["pricing/discount"]),
        ("Refund received, thanks so much!", ["refund/request", "praise/thanks"]),
    ],
)
def test_default_taxonomy_labels_support_messages(default, text, labels):
    assert default.match(text) == labels


def test_labels_come_once_each_in_taxonomy_order(default):
    # refund twice and late after it in the text; delivery is listed before refund in the taxonomy
    assert default.match("refund, refund, the refund is late") == ["delivery/late", "refund/request"]


def test_custom_taxonomy_from_yaml_matches_accents_and_case():
    # as it comes from the YAML config: topic -> subtopic -> keywords, accents and capitals in places
    taxonomy = yaml.safe_load(
        """
        livraison:
          retard: [colis retardé, en retard]
        produit:
          écran: [Écran cassé]
        """
    )
    compiled = compile_taxonomy(taxonomy)
    assert compiled.labels == ("livraison/retard", "produit/écran")
    # "retardés" -> "retardes" -> stem "retard" = stem of "retardé"; "ecrans casses" likewise
    assert compiled.match("COLIS RETARDÉS depuis lundi") == ["livraison/retard"]
    assert compiled.match("deux ecrans casses") == ["produit/écran"]
    assert compiled.match("Mon colis est arrivé") == []
    assert "delivery" in DEFAULT_TAXONOMY and compile_taxonomy(None).match("colis retardé") == []


@pytest.mark.parametrize(
    ("taxonomy", "message"),
    [
        (["delivery"], "expected a mapping"),
        ({"billing": ["invoice"]}, "'billing' must map subtopics"),
        ({"billing": {"invoice": "invoice"}}, "'billing/invoice' must be a list"),
        ({"billing": {"invoice": ["invoice", 3]}}, "'billing/invoice' must be a list"),
        ({"billing": {"invoice": ["--!"]}}, "keyword '--!' in 'billing/invoice' has no letters"),
        ({"billing": {"invoice, receipt": ["invoice"]}}, "'invoice, receipt' must be a name without"),
        ({"billing/money": {"invoice": ["invoice"]}}, "'billing/money' must be a name without"),
        ({2024: {"invoice": ["invoice"]}}, "2024 must be a name"),
        ({"billing": {" ": ["invoice"]}}, "' ' must be a name"),
    ],
)
def test_malformed_taxonomy_is_refused_naming_the_entry(taxonomy, message):
    with pytest.raises(ValueError, match=message):
        compile_taxonomy(taxonomy)


def test_words_are_lowercased_without_accents_apostrophes_or_punctuation():
    assert words("I was double-charged, can't log in! Écran") == [
        "i",
        "was",
        "double",
        "charged",
        "cant",
        "log",
        "in",
        "ecran",
    ]


def test_near_duplicate_key_phrases_merge_into_one_group():
    texts = [
        "My screen flickers all the time",
        "screen flickering since the update",
        "The flickering screen is annoying",
        "Screen flickering again",
        "battery drains fast",
        "Battery drain overnight",
        "battery drain is bad",
        "the manual is missing",
    ]
    # {screen, flicker} is in texts 1-4 (wordings: "screen flickering" twice, the others once); it covers
    # "screen" and "flicker" alone (4 of 4). {battery, drain} is in texts 5-7 ("battery drain" twice) and
    # covers "battery" and "drain". "manual", "fast", "time", ... are in one text each.
    assert key_phrases(texts) == [("screen flickering", 4), ("battery drain", 3)]


def test_key_phrases_count_messages_not_occurrences():
    # "refund" three times in the first text still counts one; "please" is filler
    assert key_phrases(["refund refund refund", "refund please"]) == [("refund", 2)]


def test_phrase_in_a_single_message_is_not_a_key_phrase():
    assert key_phrases(["The screen flickers", "Battery drains"]) == []


def test_word_mostly_seen_alone_stays_beside_its_longer_phrase():
    # screen: 5 texts; "screen flickers": 2 (< half of 5, so "screen" stays); "flickers": 2 (covered)
    texts = ["Screen flickers", "screen flickers", "broken screen", "screen cracked", "screen"]
    assert key_phrases(texts) == [("screen", 5), ("screen flickers", 2)]


def test_top_limits_the_number_of_phrases_and_ties_prefer_longer():
    texts = ["screen flickers", "screen flickers", "battery", "battery"]
    # both groups are in 2 texts; the two-word one ranks first
    assert key_phrases(texts, top=1) == [("screen flickers", 2)]
    assert key_phrases([], top=5) == []
