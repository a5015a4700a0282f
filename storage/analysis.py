"""What ingestion learns from an inbound message's text: sentiment, language and taxonomy topics."""

from __future__ import annotations

from storage.rows import Analyser
from storage.sentiment import score_text
from storage.settings import Settings
from storage.topics import compile_taxonomy


def text_analyser(settings: Settings) -> Analyser:
    """text -> (sentiment −1…+1, None when unscored; language; comma-joined topic labels or None)."""
    taxonomy = compile_taxonomy(settings.topics)

    def analyse(text: str) -> tuple[float | None, str | None, str | None]:
        score, lang = score_text(text)
        labels = taxonomy.match(text, lang)
        return score, lang, ",".join(labels) or None

    return analyse
