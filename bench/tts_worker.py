"""Benchmark the isolated Kokoro TTS worker, per engine, on this machine.

    uv run python bench/tts_worker.py [--engines onnx,mlx] [--runs 3] [--json]

Prints, per engine: cold init (spawn → ready, model + voice + G2P + one tiny synthesis),
warm time to first audio for a 10-word sentence, real-time factor on a ~40-word
paragraph (synthesis wall time / audio duration), and the worker's peak RSS. Medians of
``--runs`` runs; each run starts a fresh worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import psutil

from voicebot.tts.worker_client import KokoroWorkerProcess

SENTENCE = "Thanks for calling, we are open until ten tonight."  # 10 words
PARAGRAPH = (
    "Tonight our chef is serving fresh salmon with lemon butter, a warm mushroom risotto, "
    "and a chocolate tart for dessert. We still have a few tables free after eight, and we "
    "can seat groups of up to ten people if you call ahead."
)  # 41 words


class PeakRSS:
    """Samples a process's resident memory every 50 ms and keeps the peak."""

    def __init__(self, pid: int):
        self._process = psutil.Process(pid)
        self.peak_bytes = 0
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            try:
                self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            except psutil.Error:
                return
            await asyncio.sleep(0.05)

    def stop(self) -> float:
        self._task.cancel()
        return self.peak_bytes / 1e6


async def measure(engine: str) -> dict[str, float]:
    worker = KokoroWorkerProcess(engine=engine, init_timeout_s=1800, request_timeout_s=1800)
    started = time.monotonic()
    start_task = asyncio.create_task(worker.start())
    while worker.pid is None and not start_task.done():
        await asyncio.sleep(0.01)
    rss = PeakRSS(worker.pid)
    await start_task
    cold_init = time.monotonic() - started
    try:
        started = time.monotonic()
        first_audio = None
        async for _ in worker.synthesize(SENTENCE):
            first_audio = first_audio or time.monotonic() - started
        started = time.monotonic()
        samples = 0
        async for piece in worker.synthesize(PARAGRAPH):
            samples += len(piece.pcm) // 2
        rtf = (time.monotonic() - started) / (samples / worker.info.sample_rate)
    finally:
        peak = rss.stop()
        await worker.stop()
    return {"cold_init_s": cold_init, "warm_first_audio_s": first_audio, "rtf": rtf, "peak_rss_mb": peak}


async def run(engines: list[str], runs: int) -> dict[str, dict[str, float]]:
    results: dict[str, list[dict[str, float]]] = {e: [] for e in engines}
    for _ in range(runs):
        for engine in engines:  # interleaved, so machine noise hits every engine alike
            results[engine].append(await measure(engine))
    return {
        engine: {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        for engine, rows in results.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="onnx,mlx")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    summary = asyncio.run(run(args.engines.split(","), args.runs))
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"Kokoro TTS worker, median of {args.runs} run(s), {psutil.cpu_count()} CPUs")
    print(f"{'engine':<8}{'cold init':>12}{'warm 1st audio':>16}{'RTF':>8}{'peak RSS':>11}")
    for engine, m in summary.items():
        print(f"{engine:<8}{m['cold_init_s']:>11.2f}s{m['warm_first_audio_s']:>15.2f}s"
              f"{m['rtf']:>8.2f}{m['peak_rss_mb']:>9.0f}MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
