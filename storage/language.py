"""Which language an inbound message is written in, guessed offline from its common words and letters."""

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
        "about after again an than then very please thanks thank hi hello hey yes get got as always "
        "never ever anything nothing everything all since now yet also too because only into over "
        "im dont didnt cant isnt wasnt havent wont ive"
    ),
    "fr": _words(
        "le la les un une des du de et est je tu il elle nous vous ils mon ma mes ton ta votre vos pas ne "
        "que qui pour dans sur avec ce cette ces au aux ai suis sont toujours encore merci bonjour salut "
        "depuis mais tres beaucoup ou quand comment pourquoi deja rien plus en on sous chez moi me mais "
        "comme aussi avoir fait etre etait ete peut puis veux voudrais svp stp mrc bcp jamais "
        "aucun aucune alors donc car ca cest qu jai lui leur leurs ici"
    ),
    "es": _words(
        "el la los las un una y es de que en por para con mi mis tu su sus no pero muy esta este estoy "
        "tengo hola gracias todavia donde cuando como porque se lo le al del ya hace nada mas me te "
        "nos os ni yo esto eso hay ha han he fue son estan desde sin sobre tambien otra otro vez "
        "quiero puedo puede llevo tenéis teneis habeis vuestro vuestra q"
    ),
    "pt": _words(
        "o os as um uma e de do da dos das que em no na nos nas por para com meu minha seu sua nao mas "
        "muito ainda obrigado obrigada ola esta estou voce ate quando onde porque ja nada"
    ),
    "it": _words(
        "il lo la gli le un una e di del della dei che in per con mio mia miei non ma molto ancora grazie "
        "ciao sono ho hai ha questo questa dove quando perche gia niente"
    ),
    "de": _words(
        "der die das den dem des ein eine einen und ist ich du er sie wir ihr mein meine nicht mit fur auf "
        "aber noch schon danke hallo bitte wo wann warum wie habe hat sind bei von zu kein keine seit "
        "nach nur jetzt zum zur mal mir mich euch ihnen haben wieder immer auch schon war wird kann "
        "muss man da dass ist es im am vom uns gar nichts sehr echt heute gestern"
    ),
    "pl": _words(
        "i w z na do nie jest sie ze to jak ale moja moj moje gdzie kiedy juz jeszcze dzien dobry dziekuje "
        "prosze czy tak bardzo mam przez po od dla za co mnie mi ten ta tego byl byla bylo jestem "
        "mozna moge chyba tylko bo wiec juz ktory ktora wam was nikt nic wcale serio"
    ),
    "nl": _words(
        "de het een en is ik je jij niet van mijn op met voor maar nog al wat waar wanneer bedankt hallo "
        "dank geen wel zijn heb heeft"
    ),
}
# Support words that are not stop words (key phrases keep them) but say which language a message is in.
_CUES: dict[str, frozenset[str]] = {
    "en": _words(
        "order parcel package arrived delivery refund money account password charged great service "
        "thx ty pls cheers mate day days week weeks month help reply"
    ),
    "fr": _words(
        "commande colis livraison remboursement compte client service top jours semaine semaines "
        "recu probleme appli retour suivi mot passe super"
    ),
    "es": _words("pedido paquete envio reembolso cuenta factura contraseña dias semanas hora"),
    "pt": _words("encomenda pedido"),
    "it": _words("ordine pacco"),
    "de": _words("bestellung paket lieferung konto rechnung geld passwort tagen wochen monaten danke euch"),
    "pl": _words(
        "paczka paczki zamowienie zamowienia haslo konto zwrot dzieki kurier dostawa wysylka "
        "dni tygodnie godzine"
    ),
    "nl": _words("bestelling pakket"),
}
# Letters some candidate languages write and English does not: each language with one of its letters
# present gets one more hit.
_MARKS = {
    "es": "ñ¿¡áéíóú",
    "pt": "ãõçáâéêôí",
    "it": "àèéìòù",
    "de": "ßäöü",
    "pl": "ąęłśźżćńó",
    "fr": "œçéèêàùâîôûëï",
}
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _table in (STOP_WORDS, _CUES):
    for _lang, _set in _table.items():
        for _word in _set:
            if _lang not in _LANGS_OF.get(_word, ()):
                _LANGS_OF[_word] = (*_LANGS_OF.get(_word, ()), _lang)
# Runs of letters and digits; those with a digit are no word ("1Z99X04" holds no Polish "z").
_WORD = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def strip_accents(text: str) -> str:
    """`text` with diacritics removed ("Dziękuję, très" -> "Dziekuje, tres"); letters like "ł" stay."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in ("en", "fr", "es", "pt", "it", "de", "pl",
    "nl"), or "und" when it shows too little evidence (emoji only, a word or two of no known language).

    Every word counts one hit for each language listing it among its stop words or support words, and
    each language whose distinctive letters appear gets one more. A language other than English needs
    at least two hits and strictly more than English: support traffic is mostly English, so ties and
    near-empty texts go to English or "und", which both get scored.
    """
    lowered = text.lower()
    hits: dict[str, int] = {}
    for word in _WORD.findall(strip_accents(lowered).replace("ł", "l")):
        if not word.isalpha():
            continue
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
