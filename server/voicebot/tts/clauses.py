"""Where a reply's first spoken piece ends: one rule for the text aggregator (which
releases it to the TTS early) and the worker (which synthesizes a request piece by
piece).

Kokoro synthesizes a piece at once, so a reply's first audio waits for its whole first
piece: the shorter, the sooner. But on a slow CPU the rest then takes seconds, heard as
a silence inside the reply (measured up to 4 s after a lone "Yes,"). So a first clause
goes alone only once it has ``min_words`` words (``VOICEBOT_TTS_FIRST_CLAUSE_MIN_WORDS``,
read once by each process that cuts text: the server's settings and the worker at start).
"""

from __future__ import annotations

import re

CLAUSE_BREAKS = ",;:—"
SENTENCE_ENDS = ".!?"
MIN_FIRST_CLAUSE_CHARS = 4
FIRST_CLAUSE_MIN_WORDS = 1  # the default: a first clause of one word ("Sure,") goes alone

_BREAK = re.compile(rf"[{re.escape(SENTENCE_ENDS + CLAUSE_BREAKS)}](\s+|$)")


def is_first_clause(text: str, min_words: int = FIRST_CLAUSE_MIN_WORDS) -> bool:
    """True if ``text`` (stripped) is a clause that may be spoken alone as the first piece."""
    return (text[-1:] in CLAUSE_BREAKS and len(text) >= MIN_FIRST_CLAUSE_CHARS
            and len(text.split()) >= min_words)


def first_piece(text: str, max_chars: int, min_words: int = FIRST_CLAUSE_MIN_WORDS) -> tuple[str, str]:
    """(first piece, rest): up to the first sentence end, or the first clause break with
    enough words before it; a first piece longer than ``max_chars`` is cut between words."""
    end = len(text)
    for match in _BREAK.finditer(text):
        head = text[:match.start() + 1].strip()
        if head[-1:] in SENTENCE_ENDS or is_first_clause(head, min_words):
            end = match.end()
            break
    if end > max_chars:
        cut = text.rfind(" ", 0, max_chars // 2 + 10)
        end = cut if cut > 0 else end
    return text[:end].strip(), text[end:].strip()
