"""Strings from events or settings, made inert before they go into Slack mrkdwn.

Slack reads `<…>` as a mention, a channel or a link (`<!channel>`, `<https://…|text>`), `&` as the start
of an escape, and three backticks as the edge of a code block. An agent name, a quick-reply id, a
conversation id, a topic, a phrase, a channel name or a link comes from events or settings, so every
rendering passes it through here: `inline` for a name or a table cell, `block` for a customer's message
(which keeps its line breaks), `link` for a URL. Our own markup (`*bold*`, `<@U123>`) is added around
the result, never inside it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# A modifier-letter grave accent looks like a backtick and opens no code span or block.
_INLINE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "ˋ"})
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def inline(value: object) -> str:
    """`value` as text for a line of mrkdwn or a table cell: `& < >` escaped, backticks neutralised,
    line breaks and control characters as one space each run."""
    return _BREAKS.sub(" ", str(value)).translate(_INLINE)


def block(value: object) -> str:
    """A customer's message for a quote: escaped like `inline`, its line breaks kept, each line quoted."""
    lines = str(value).replace("\r\n", "\n").split("\n")
    return "\n> ".join(inline(line) for line in lines)


def link(url: object, label: str) -> str:
    """A Slack link to `url` reading `label` when `url` is an http(s) URL; else the label alone. The URL's
    `| < >` and spaces are percent-encoded so it cannot end the link early or add one."""
    text = str(url or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https") or _BREAKS.search(text):
        return inline(label)
    safe = quote(text, safe=":/?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")
    return f"<{safe}|{inline(label)}>"
