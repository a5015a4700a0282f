"""Language detection by a vote of common words and distinctive letters, offline."""

from __future__ import annotations

import pytest

from storage.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # fr: merci, beaucoup -> 2 hits, en 0
        ("Merci beaucoup !", "fr"),
        # de: danke, "schön" -> "schon" -> 2 hits, and "ö" -> 3
        ("Danke schön", "de"),
        # es: donde, esta and "¿", "ó", "á" -> 3; pt: esta and "á" -> 2
        ("¿Dónde está?", "es"),
        # pl: dziekuje, bardzo and "ę" -> 3
        ("Dziękuję bardzo", "pl"),
        # Polish without diacritics: haslo (a support word), nie -> 2
        ("haslo nie dziala", "pl"),
        # fr: vous, en -> 2 (the question mark and the country say nothing)
        ("vous livrez en Belgique ?", "fr"),
        # fr: on, on, un, en, est, sous, jours -> 7 and "à" -> 8; en: on, on -> 2
        ("on m'avait promis un remboursement sous 5 jours, on en est à 20", "fr"),
    ],
)
def test_short_and_accented_texts_get_their_language(text, lang):
    assert detect_language(text) == lang


def test_letters_inside_a_reference_are_no_words():
    # "1Z99W04" used to give Polish "z" and "w": with "i" that was pl 3 > en 2 (is, i). Now en: parcel,
    # is, i -> 3; pl: i -> 1.
    assert detect_language("parcel 1Z99W04 is late, i think") == "en"


@pytest.mark.parametrize("text", ["ok", "😡", "", "12345", "Grazie mille"])
def test_too_little_evidence_is_undetermined(text):
    # "Grazie mille": one Italian word only, one hit is not enough
    assert detect_language(text) == "und"


def test_english_support_words_decide_a_text_without_stop_words():
    # cheers, mate, parcel, arrived are English support words; no other language has any
    assert detect_language("cheers mate, parcel arrived") == "en"
