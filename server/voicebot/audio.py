"""Mono int16 audio helpers shared by the call probe, the TTS tools, the tests and benchmarks.

PyAV (libswresample) and numpy only, no WebRTC stack: importing this stays cheap, and
resampling takes the same code path WebRTC audio takes.
"""

from __future__ import annotations

import fractions
import wave
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48000
"""WebRTC's Opus rate: what we send and what we record the bot at."""


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 (or float in [-1, 1]) samples in dBFS; -inf for digital silence."""
    if samples.size == 0:
        return float("-inf")
    x = samples.astype(np.float64)
    if samples.dtype == np.int16:
        x /= 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def to_mono_int16(frame: av.AudioFrame) -> np.ndarray:
    """Mono int16 samples of a decoded frame (aiortc decodes Opus to packed s16 stereo)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.mean(axis=0) if channels > 1 else data[0]
    else:
        mono = data.reshape(-1, channels).mean(axis=1) if channels > 1 else data.reshape(-1)
    if frame.format.name.startswith("flt") or frame.format.name.startswith("dbl"):
        mono = np.clip(mono, -1.0, 1.0) * 32767.0
    return np.asarray(np.round(mono), dtype=np.int16) if mono.dtype != np.int16 else mono


def resample_frames(frames, rate: int) -> np.ndarray:
    """Push av.AudioFrames through libswresample to mono int16 at ``rate``."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    for frame in list(frames) + [None]:  # None flushes the resampler's tail
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono int16 samples (libswresample, the same code path WebRTC audio takes)."""
    samples = np.ascontiguousarray(samples, dtype=np.int16)
    if from_rate == to_rate:
        return samples.copy()
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = from_rate
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, from_rate)
    return resample_frames([frame], to_rate)


def load_audio(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any audio file FFmpeg reads (WAV of any width/rate/channels) to mono int16."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return resample_frames(container.decode(stream), rate)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Mono 16-bit PCM WAV: what ``load_audio``, ``call-probe --say`` and listeners read."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
