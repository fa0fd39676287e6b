"""Call order for benchmarks that compare servers side by side.

Measured 2026-12-02 (bench/voice_to_voice.py, the same code on both servers' side of the
comparison swapped): whichever server was called first in each round was ~1.3 s slower
(median voice-to-voice 10.10 vs 8.77 s, then 7.67 vs 7.32 s with the two swapped). Rotating
who goes first each round spreads that over every variant alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def round_order(names: Sequence[T], round_index: int) -> list[T]:
    """``names`` rotated by ``round_index``: each goes first in turn."""
    if not names:
        return []
    shift = round_index % len(names)
    return list(names[shift:]) + list(names[:shift])
