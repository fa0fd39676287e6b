"""The contract every Kokoro engine fulfils inside the TTS worker process."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

SAMPLE_RATE = 24000


class KokoroEngine(ABC):
    """Phonemes in, 24 kHz float32 mono audio out.

    Engines are created and used only inside the worker process. ``load`` does all the
    slow work (weights, voices, first-call compilation) so that ``synthesize`` pays none.
    """

    name: str = ""
    sample_rate: int = SAMPLE_RATE

    @abstractmethod
    def load(self) -> None:
        """Load weights and voices; blocking, may take seconds."""

    @abstractmethod
    def voices(self) -> list[str]:
        """Names of the voices this engine can speak with."""

    @abstractmethod
    def synthesize(self, phonemes: str, voice: str, speed: float = 1.0, all_cores: bool = False) -> np.ndarray:
        """Speak one piece (a sentence or clause, at most ~500 phonemes) as float32 audio; ``all_cores``: with
        every core of the machine, for a reply's first piece (engines that cannot, ignore it)."""

    def describe(self) -> str:
        """One line for the logs: engine, model and where its weights came from."""
        return self.name
