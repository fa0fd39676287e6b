"""Simultaneous callers: how many calls this machine serves well, and what happens beyond.

    uv run python bench/load.py [--callers 1,2,3,4] [--json] [-- SERVER FLAGS...]

Starts the server as the README does (company #2), then for each N places N calls at
the same instant with the call probe (real WebRTC peers); each caller waits for the
greeting and asks one question. Per N it reports the calls that succeeded (greeting and
answer heard), the calls refused at signalling ("all lines are busy", HTTP 503), median
and max connect → first audio and voice-to-voice, the server's peak RSS (the server
process, and with its TTS workers), the number of TTS workers, and other errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

from voicebot.launcher import LocalServer
from voicebot.probe import CallProbe, CallResult
from voicebot.tts.speak import speak_all_to_wav

QUESTIONS = ["What time do you close tonight?", "How much is the dragon roll?", "Where are you located?",
             "Do you do takeout?", "What's your phone number?", "Do you have miso soup?"]


class PeakMemory:
    """Samples the server's RSS, alone and with its children, every 200 ms."""

    def __init__(self, pid: int):
        self._process = psutil.Process(pid)
        self.server_mb = self.tree_mb = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                children = self._process.children(recursive=True)
                own = self._process.memory_info().rss
                tree = own + sum(c.memory_info().rss for c in children if c.is_running())
            except psutil.Error:
                await asyncio.sleep(0.2)
                continue
            self.server_mb = max(self.server_mb, own / 2**20)
            self.tree_mb = max(self.tree_mb, tree / 2**20)
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        self._task.cancel()


def stats(values: list[float | None]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    return (round(statistics.median(values), 2), round(max(values), 2)) if values else (None, None)


def refused(result: CallResult) -> bool:
    return any("503" in e or "429" in e for e in result.errors)


async def wave(server: LocalServer, n: int, wavs: list[Path]) -> dict:
    memory = PeakMemory(server.process.pid)
    try:
        results = await asyncio.gather(*(CallProbe(server.url).call(say=wavs[i % len(wavs)], timeout=120)
                                         for i in range(n)))
    finally:
        memory.stop()
    ok = [r for r in results if r.connect_to_first_audio_s is not None and r.voice_to_voice_s is not None]
    first = stats([r.connect_to_first_audio_s for r in results if not refused(r)])
    v2v = stats([r.voice_to_voice_s for r in results if not refused(r)])
    return {
        "callers": n,
        "ok": len(ok),
        "refused_busy": sum(refused(r) for r in results),
        "first_audio_median_s": first[0], "first_audio_max_s": first[1],
        "voice_to_voice_median_s": v2v[0], "voice_to_voice_max_s": v2v[1],
        "server_rss_peak_mb": round(memory.server_mb), "tree_rss_peak_mb": round(memory.tree_mb),
        "tts_workers": len(server.health()["tts_worker_pids"]),
        "errors": [e for r in results if not refused(r) for e in r.errors],
    }


async def bench(callers: list[int], workdir: Path, server_args: list[str], log) -> dict[str, dict]:
    wavs = await speak_all_to_wav([(q, workdir / f"q{i}.wav") for i, q in enumerate(QUESTIONS)])
    log(f"Starting the server (company #2 {' '.join(server_args)}) ...")
    # Every simulated caller comes from 127.0.0.1: lift the per-address cap on unconnected
    # offers, so that capacity (503 "all lines are busy") is what turns callers away.
    server = LocalServer.start(workdir / "server", "2", *server_args, env={"VOICEBOT_MAX_PENDING_PER_CLIENT": "100"})
    out: dict[str, dict] = {}
    try:
        for n in callers:
            row = await wave(server, n, wavs)
            out[str(n)] = row
            log(json.dumps(row))
            await asyncio.sleep(3.0)  # the calls end and their workers return to the pool
    finally:
        server.stop()
    return out


def print_table(rows: dict[str, dict]) -> None:
    print(f"{'callers':>7} {'ok':>4} {'busy':>5} {'1st audio med/max':>18} {'v2v med/max':>14} "
          f"{'server RSS':>10} {'+workers':>9} {'workers':>8}  errors")
    for n, r in rows.items():
        print(f"{n:>7} {r['ok']:>4} {r['refused_busy']:>5} {r['first_audio_median_s']!s:>8} / {r['first_audio_max_s']!s:<7}"
              f" {r['voice_to_voice_median_s']!s:>6} / {r['voice_to_voice_max_s']!s:<5} {r['server_rss_peak_mb']:>7} MB"
              f" {r['tree_rss_peak_mb']:>6} MB {r['tts_workers']:>8}  {len(r['errors'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", default="1,2,3,4")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        rows = asyncio.run(bench([int(n) for n in args.callers.split(",")], Path(tmp), args.server_args, log))
    if args.json:
        print(json.dumps(rows))
    else:
        print()
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
