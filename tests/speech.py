"""Test helpers that judge speech objectively: transcribe it and count word errors."""

from __future__ import annotations

import re

import numpy as np

from voicebot.config import WhisperConfig
from voicebot.probe import resample
from voicebot.stt import WhisperModels

_MODELS = WhisperModels()  # the judge's models, loaded once for the whole test run
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words; "p.m." and "PM." both become "pm", "11" becomes "eleven"."""
    from num2words import num2words

    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'").replace(".", "")):
        out.extend(_WORD.findall(num2words(int(word)).replace("-", " ")) if word.isdigit() else [word])
    return out


def missed_word_rate(reference: str, hypothesis: str, ignore: set[str] = frozenset()) -> float:
    """Share of the reference's words (less ``ignore``) that the hypothesis does not contain.

    Unlike WER it does not count insertions, so a proper noun heard as two odd words
    ("Trattoria" → "Strodovia") costs nothing once the proper noun itself is ignored.
    """
    remaining = words(hypothesis)
    ref = [w for w in words(reference) if w not in ignore]
    missed = 0
    for word in ref:
        if word in remaining:
            remaining.remove(word)
        else:
            missed += 1
    return missed / max(len(ref), 1)


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def transcribe(audio: np.ndarray, sample_rate: int, model: str = "base") -> str:
    """What the project's speech-to-text hears in ``audio`` (float32 mono)."""
    whisper = _MODELS.load(WhisperConfig(engine="faster-whisper", model=model))
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    audio16k = resample(pcm, sample_rate, 16000).astype(np.float32) / 32768
    segments, _ = whisper.transcribe(audio16k, language="en", beam_size=5)
    return " ".join(s.text.strip() for s in segments)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio)))) if len(audio) else 0.0
