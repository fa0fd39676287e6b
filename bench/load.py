"""Simultaneous callers: how many calls this machine serves well, and what happens beyond.

    uv run python bench/load.py [--callers 1,2,3,4] [--rounds 3] [--json] [-- SERVER FLAGS...]

Starts the server as the README does (company #2), then for each N places N calls at
the same instant with the call probe (real WebRTC peers), ``--rounds`` times; each caller
waits for the greeting and asks one question. Per N it reports the calls that succeeded
(greeting and answer heard), the calls refused at signalling ("all lines are busy", HTTP
503), median, p90 and max connect → first audio and voice-to-voice of the admitted calls,
the server's peak RSS (the server process, and with its children: TTS workers and the LLM),
and other errors. By default N runs from 1 to the server's capacity + 1 (``/health``).

``--json`` prints one object: a key per N (``"1"``, ``"2"``, …) holding
``{"succeeded", "refused", "median_voice_to_voice_s", "p90_voice_to_voice_s", …}``, and
``"capacity"`` (the server's default).
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


def stats(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """(median, p90, max) of the values that are not None."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None, None, None
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return round(statistics.median(values), 2), round(p90, 2), round(values[-1], 2)


def refused(result: CallResult) -> bool:
    return any("503" in e or "429" in e for e in result.errors)


async def wave(server: LocalServer, n: int, wavs: list[Path], rounds: int) -> dict:
    memory = PeakMemory(server.process.pid)
    results: list[CallResult] = []
    try:
        for round_index in range(rounds):
            results += await asyncio.gather(*(
                CallProbe(server.url).call(say=wavs[(round_index + i) % len(wavs)], timeout=120) for i in range(n)))
            await asyncio.sleep(3.0)  # the calls end and their workers return to the pool
    finally:
        memory.stop()
    ok = [r for r in results if r.connect_to_first_audio_s is not None and r.voice_to_voice_s is not None]
    first = stats([r.connect_to_first_audio_s for r in results if not refused(r)])
    v2v = stats([r.voice_to_voice_s for r in results if not refused(r)])
    return {
        "callers": n,
        "calls": len(results),
        "succeeded": len(ok),
        "refused": sum(refused(r) for r in results),
        "median_first_audio_s": first[0], "p90_first_audio_s": first[1], "max_first_audio_s": first[2],
        "median_voice_to_voice_s": v2v[0], "p90_voice_to_voice_s": v2v[1], "max_voice_to_voice_s": v2v[2],
        "server_rss_peak_mb": round(memory.server_mb), "tree_rss_peak_mb": round(memory.tree_mb),
        "errors": [e for r in results if not refused(r) for e in r.errors],
    }


async def bench(callers: list[int] | None, rounds: int, workdir: Path, server_args: list[str], log) -> dict:
    wavs = await speak_all_to_wav([(q, workdir / f"q{i}.wav") for i, q in enumerate(QUESTIONS)], voice="am_michael")
    log(f"Starting the server (company #2 {' '.join(server_args)}) ...")
    # Every simulated caller comes from 127.0.0.1: lift the per-address cap on unconnected
    # offers, so that capacity (503 "all lines are busy") is what turns callers away.
    server = LocalServer.start(workdir / "server", "2", *server_args,
                               env={"VOICEBOT_MAX_PENDING_PER_CLIENT": "100", "VOICEBOT_CLOCK": "2026-12-02T15:00"},
                               ).wait_until_settled()
    capacity = server.health()["admission"]["capacity"]
    out: dict = {"capacity": capacity}
    try:
        for n in callers or range(1, capacity + 2):
            row = await wave(server, n, wavs, rounds)
            out[str(n)] = row
            log(json.dumps({k: v for k, v in row.items() if k != "errors"}) + f" errors: {len(row['errors'])}")
    finally:
        server.stop()
    return out


def print_table(rows: dict) -> None:
    print(f"capacity (the server's default): {rows['capacity']}")
    print(f"{'callers':>7} {'calls':>5} {'ok':>4} {'busy':>5} {'1st audio med/p90':>18} {'v2v med/p90/max':>18} "
          f"{'server RSS':>10} {'+children':>10}  errors")
    for n, r in rows.items():
        if n == "capacity":
            continue
        print(f"{n:>7} {r['calls']:>5} {r['succeeded']:>4} {r['refused']:>5} {r['median_first_audio_s']!s:>8} / "
              f"{r['p90_first_audio_s']!s:<7} {r['median_voice_to_voice_s']!s:>5} / {r['p90_voice_to_voice_s']!s:<5} / "
              f"{r['max_voice_to_voice_s']!s:<5} {r['server_rss_peak_mb']:>7} MB {r['tree_rss_peak_mb']:>7} MB  "
              f"{len(r['errors'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", default=None, help="comma-separated N (default: 1 to capacity + 1)")
    parser.add_argument("--rounds", type=int, default=3, help="waves of N simultaneous calls per N")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        callers = [int(n) for n in args.callers.split(",")] if args.callers else None
        rows = asyncio.run(bench(callers, args.rounds, Path(tmp), args.server_args, log))
    if args.json:
        print(json.dumps(rows))
    else:
        print()
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
