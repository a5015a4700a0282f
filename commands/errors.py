"""Errors a user can cause by what they type; the Slack and CLI edges turn them into help."""

from __future__ import annotations

from collections.abc import Iterable


class UsageError(Exception):
    """A mistake in a command line, with a message meant for the person who typed it.

    `suggestions` holds the words we think they meant (closest first), for "did you mean" buttons
    or hints. The bot shows the message as an ephemeral reply with help; the CLI exits with code 2.
    """

    def __init__(self, message: str, suggestions: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions)

    def __str__(self) -> str:
        return self.message
