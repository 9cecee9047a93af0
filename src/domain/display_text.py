"""Text people read as a name or an id: no control characters or bidi overrides, which could disguise it."""

import re
from typing import Final

# C0 and C1 controls (with DEL), the bidirectional marks, embeddings, overrides and isolates, line and
# paragraph separators, and invisible spaces and joiners that join nothing in any script (zero width space,
# word joiner, byte order mark): in a terminal, a log or a page they can clear the screen, recolour text,
# reverse it or hide in it, so a name could pose as another. The zero width (non-)joiners stay: Persian and
# Indic names need them.
_HIDDEN: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)


def hidden_character(text: str) -> str | None:
    """The first control character or bidi override in `text`, as `U+XXXX`, or None when there is none."""
    found = _HIDDEN.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def hidden_character_problem(what: str, text: object) -> str | None:
    """Why `text` cannot be `what` (e.g. "The journey's name"), or None; non-strings are judged elsewhere."""
    if not isinstance(text, str) or (character := hidden_character(text)) is None:
        return None
    return f"{what} cannot contain control characters or bidirectional overrides (found {character})."


def made_visible(text: str) -> str:
    """`text` with each hidden character written out as `[U+XXXX]`, tabs and line breaks aside (a page lays
    them out as spaces): for pages showing text saved before such characters were refused, such as a
    journey's name or a node id, so that it cannot pose as another there."""
    return _HIDDEN.sub(_written_out, text)


def _written_out(found: re.Match[str]) -> str:
    character = found.group()
    return character if character in "\t\n\r" else f"[U+{ord(character):04X}]"
