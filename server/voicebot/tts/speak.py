"""Speak text to a WAV file with the project's own Kokoro worker.

Makes callers' questions for ``call-probe --say``, the tests and the benchmarks::

    uv run python -m voicebot.tts.speak "What time do you close tonight?" question.wav
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

from voicebot.audio import resample, write_wav
from voicebot.config import TTS_ENGINES
from voicebot.tts.worker_client import KokoroWorkerProcess


async def speak_to_wav(text: str, path: Path, *, voice: str = "jm_kumo", engine: str = "onnx",
                       sample_rate: int = 48000) -> Path:
    """Synthesize ``text`` and write it as 16-bit mono PCM at ``sample_rate`` (48 kHz: WebRTC's)."""
    return (await speak_all_to_wav([(text, path)], voice=voice, engine=engine, sample_rate=sample_rate))[0]


async def speak_all_to_wav(items: list[tuple[str, Path]], *, voice: str = "jm_kumo", engine: str = "onnx",
                           sample_rate: int = 48000) -> list[Path]:
    """Several (text, path) pairs with one worker: a worker's start costs more than a sentence."""
    worker = KokoroWorkerProcess(engine=engine)
    info = await worker.start()
    try:
        for text, path in items:
            pcm = b"".join([piece.pcm async for piece in worker.synthesize(text, voice=voice)])
            audio = resample(np.frombuffer(pcm, dtype="<i2"), info.sample_rate, sample_rate)
            write_wav(path, audio, sample_rate)
    finally:
        await worker.stop()
    return [Path(path) for _, path in items]


def main() -> int:
    """``python -m voicebot.tts.speak TEXT OUT.wav [--voice V] [--engine E]``: write a 48 kHz WAV, print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("wav", type=Path)
    parser.add_argument("--voice", default="jm_kumo")
    parser.add_argument("--engine", default="onnx", choices=TTS_ENGINES)
    args = parser.parse_args()
    asyncio.run(speak_to_wav(args.text, args.wav, voice=args.voice, engine=args.engine))
    print(args.wav)
    return 0


if __name__ == "__main__":
    sys.exit(main())
