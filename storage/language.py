"""Which language an inbound message is written in, guessed offline from its stop words."""

from __future__ import annotations

import re
import unicodedata


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words and greetings, accents stripped. A word may belong to several languages ("de", "no");
# it then counts for each of them and the distinctive words decide.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and is are was were am be been to of in on at for with from by my your our their it its this "
        "that these those you we they he she i me us them have has had do does did not no but or so if "
        "can could will would should what where when why how which who there here still just any some "
        "about after again an than then very please thanks thank hi hello hey yes get got"
    ),
    "fr": _words(
        "le la les un une des du de et est je tu il elle nous vous ils mon ma mes ton ta votre vos pas ne "
        "que qui pour dans sur avec ce cette ces au aux ai suis sont toujours encore merci bonjour salut "
        "depuis mais tres beaucoup ou quand comment pourquoi deja rien plus"
    ),
    "es": _words(
        "el la los las un una y es de que en por para con mi mis tu su sus no pero muy esta este estoy "
        "tengo hola gracias todavia donde cuando como porque se lo le al del ya hace nada mas pedido"
    ),
    "pt": _words(
        "o os as um uma e de do da dos das que em no na nos nas por para com meu minha seu sua nao mas "
        "muito ainda obrigado obrigada ola esta estou voce ate quando onde porque ja nada encomenda"
    ),
    "it": _words(
        "il lo la gli le un una e di del della dei che in per con mio mia miei non ma molto ancora grazie "
        "ciao sono ho hai ha questo questa dove quando perche gia niente ordine"
    ),
    "de": _words(
        "der die das den dem des ein eine einen und ist ich du er sie wir ihr mein meine nicht mit fur auf "
        "aber noch schon danke hallo bitte wo wann warum wie habe hat sind bei von zu kein keine seit"
    ),
    "pl": _words(
        "i w z na do nie jest sie ze to jak ale moja moj moje gdzie kiedy juz jeszcze dzien dobry dziekuje "
        "prosze czy tak bardzo mam przez po od dla paczka zamowienie"
    ),
    "nl": _words(
        "de het een en is ik je jij niet van mijn op met voor maar nog al wat waar wanneer bedankt hallo "
        "dank geen wel zijn heb heeft bestelling"
    ),
}
# Letters that only one of the candidate languages writes: each present one counts as a stop word.
_MARKS = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü", "pl": "ąęłśźżćń", "fr": "œ"}
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in STOP_WORDS.items():
    for _word in _words:
        _LANGS_OF[_word] = (*_LANGS_OF.get(_word, ()), _lang)
_WORD = re.compile(r"[^\W\d_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def strip_accents(text: str) -> str:
    """`text` with diacritics removed ("Dziękuję, très" -> "Dziekuje, tres"); letters like "ł" stay."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in ("en", "fr", "es", "pt", "it", "de", "pl",
    "nl"), or "und" when it shows too little evidence (emoji only, a word or two of no known language).

    A language other than English needs at least two stop-word hits (distinctive letters count as one)
    and strictly more than English: support traffic is mostly English, so ties and near-empty texts go
    to English or "und", which both get scored.
    """
    lowered = text.lower()
    hits: dict[str, int] = {}
    for word in _WORD.findall(strip_accents(lowered)):
        for lang in _LANGS_OF.get(word, ()):
            hits[lang] = hits.get(lang, 0) + 1
    if not lowered.isascii():
        for lang, marks in _MARKS.items():
            if any(mark in lowered for mark in marks):
                hits[lang] = hits.get(lang, 0) + 1
    english = hits.pop("en", 0)
    if hits:
        best = max(hits, key=hits.__getitem__)
        if hits[best] >= 2 and hits[best] > english:
            return best
    return "en" if english else "und"
