"""Which Kokoro voice Whisper understands best on our English sentences.

    uv run python bench/voices.py [--voices af_heart,am_michael,bf_emma,jf_alpha] [--stt tiny.en]

Speaks each sentence with each voice (one onnx worker) and prints the share of the
sentence's words Whisper missed (proper nouns ignored), per voice: an objective proxy for
how intelligible the bot is to a caller.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from speech import missed_word_rate, pcm16_to_float, transcribe  # noqa: E402
from voicebot.tts.worker_client import KokoroWorkerProcess  # noqa: E402

SENTENCES = [
    "Hello, thanks for calling Tomodachi Sushi! How can I help you today?",
    "We are open every day from noon to nine in the evening.",
    "The dragon roll costs fifteen dollars and comes with eel, cucumber and avocado.",
    "I can take a message for the manager and she will call you back tomorrow morning.",
    "Our address is forty eight Harbor Street in Portland, near the ferry terminal.",
]
PROPER_NOUNS = {"tomodachi", "sushi"}


async def measure(voices: list[str], stt: str) -> dict[str, float]:
    worker = KokoroWorkerProcess(engine="onnx", fork=False)
    await worker.start()
    missed: dict[str, float] = {}
    try:
        for voice in voices:
            rates = []
            for sentence in SENTENCES:
                pcm = b"".join([p.pcm async for p in worker.synthesize(sentence, voice=voice)])
                heard = transcribe(pcm16_to_float(pcm), worker.info.sample_rate, model=stt)
                rates.append(missed_word_rate(sentence, heard, ignore=PROPER_NOUNS))
            missed[voice] = statistics.mean(rates)
            print(f"{voice:<12} missed {missed[voice]:6.1%}  per sentence {np.round(rates, 2).tolist()}", flush=True)
    finally:
        await worker.stop()
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default="af_heart,af_bella,af_sarah,am_michael,am_adam,bf_emma,bm_george,"
                                            "jf_alpha,jm_kumo")
    parser.add_argument("--stt", default="tiny.en", help="Whisper model that listens (tiny.en, base)")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    asyncio.run(measure(args.voices.split(","), args.stt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
