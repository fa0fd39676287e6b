"""Text aggregation tuned for time to first audio.

Pipecat's sentence aggregation waits for a whole sentence before the TTS starts. On a
small CPU the LLM writes "Hello, thanks for calling Tomodachi Sushi!" in a second or
more; speaking "Hello," as soon as it is written hides that second. So the first piece
of each reply ends at its first clause break (a comma, colon, semicolon or dash followed
by more text); everything after it is aggregated by sentence as usual.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pipecat.utils.text.base_text_aggregator import Aggregation, TextType

from voicebot.adapters.pipecat import PendingTextAggregator
from voicebot.tts.clauses import FIRST_CLAUSE_MIN_WORDS, is_first_clause

# Without a clause break, the first piece still goes once it has this many words (0: never, the
# default; VOICEBOT_TTS_FIRST_WORDS): Kokoro's time to first audio grows with the piece's length.
FIRST_PIECE_MAX_WORDS = 0


class FirstClauseTextAggregator(PendingTextAggregator):
    """Sentence aggregation, except that each reply's first clause is released at once."""

    def __init__(self, *, first_piece_max_words: int = FIRST_PIECE_MAX_WORDS,
                 first_clause_min_words: int = FIRST_CLAUSE_MIN_WORDS, **kwargs):
        super().__init__(**kwargs)
        self._released_in_reply = False
        self._first_piece_max_words = first_piece_max_words
        self._first_clause_min_words = first_clause_min_words

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        if self.aggregates_tokens:
            async for aggregation in super().aggregate(text):
                yield aggregation
            return
        for char in text:
            if not self._released_in_reply and self._at_clause_break(char):
                clause = self.take_pending_text()
                self._released_in_reply = True
                yield Aggregation(text=clause, type=TextType.SENTENCE)
            async for aggregation in super().aggregate(char):
                self._released_in_reply = True
                yield aggregation

    def _at_clause_break(self, char: str) -> bool:
        """True when ``char`` is the first character after "<clause><break> "."""
        if char.isspace() or not self.pending_text.endswith((" ", "\n")):
            return False
        body = self.pending_text.rstrip()
        if is_first_clause(body, self._first_clause_min_words):
            return True
        return self._long_enough(body, char)

    def _long_enough(self, body: str, next_char: str) -> bool:
        """The first piece has enough words to be spoken alone, at a break that is not
        inside a number or an amount ("at 9 | PM", "$15")."""
        if not self._first_piece_max_words:
            return False
        words = body.split()
        if len(words) < self._first_piece_max_words or not next_char.isalpha():
            return False
        return not any(c.isdigit() or c in "$€£" for c in words[-1])

    async def flush(self) -> Aggregation | None:
        self._released_in_reply = False
        return await super().flush()

    async def handle_interruption(self):
        self._released_in_reply = False
        await super().handle_interruption()

    async def reset(self):
        self._released_in_reply = False
        await super().reset()


async def spoken_pieces(text: str) -> list[str]:
    """The pieces the TTS service is given for ``text`` written as one reply (the first clause, then
    sentences): what to pre-synthesize for a fixed reply to be played from the phrase cache."""
    aggregator = FirstClauseTextAggregator()
    pieces = [a.text async for a in aggregator.aggregate(text)]
    last = await aggregator.flush()
    if last is not None and last.text.strip():
        pieces.append(last.text)
    return [" ".join(p.split()) for p in pieces if p.strip()]
