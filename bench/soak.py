"""Soak: many short calls in a row, some callers vanishing; does anything grow?

    uv run python bench/soak.py [--calls 100] [--vanish-every 10] [--env VAR=VALUE] [--json]

Starts the server as the README does (company #2), makes one full call to warm up, then
``--calls`` short calls: connect, hear the greeting start, hang up. Every
``--vanish-every``-th caller is a separate process killed mid-call (no goodbye: the
server must notice by itself, and the next caller waits until it has: how long the
vanished caller held the line is reported). Reports, at the start and every 25 calls and at the end:
the server's RSS and threads, its own and its children's RSS, processes under it, open
file descriptors; the RSS slope over the second half of the calls (MB per call, a fitted
line); then the error lines logged and whether a final full call (greeting, question,
answer) works.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from voicebot.launcher import LocalServer
from voicebot.probe import CallProbe, ProbeConfig, write_wav
from voicebot.tts.speak import speak_to_wav


def snapshot(server: LocalServer, calls: int) -> dict:
    process = psutil.Process(server.process.pid)
    children = process.children(recursive=True)
    return {
        "calls": calls,
        "server_rss_mb": round(process.memory_info().rss / 2**20),
        "tree_rss_mb": round((process.memory_info().rss + sum(c.memory_info().rss for c in children)) / 2**20),
        "threads": process.num_threads(),
        "processes": len(children),
        "fds": process.num_fds(),
        "active_calls": server.health()["active_calls"],
    }


def vanish(url: str, silence: Path) -> float:
    """A caller in its own process, killed 6 s into the call: no DTLS close, no hang-up.
    Returns the monotonic time of the kill."""
    caller = subprocess.Popen([sys.executable, "-m", "voicebot.probe", "--url", url, "--say", str(silence),
                               "--timeout", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(6)
    caller.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    caller.wait(10)
    return killed_at


async def settle(server: LocalServer, timeout: float = 90) -> None:
    """Wait until no call is in progress (a vanished caller is noticed ~10 s after it is gone)."""
    deadline = time.monotonic() + timeout
    while server.health()["active_calls"] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def soak(calls: int, vanish_every: int, workdir: Path, env: dict[str, str], log) -> dict:
    question = await speak_to_wav("What time do you close tonight?", workdir / "question.wav")
    silence = workdir / "silence.wav"
    write_wav(silence, np.zeros(48000 * 30, np.int16), 48000)
    server = LocalServer.start(workdir / "server", "2", env=env)
    short = ProbeConfig(greeting_timeout_s=20)
    samples, failures, line_held_s = [], [], []
    try:
        warm = await CallProbe(server.url).call(say=question, timeout=120)
        log(f"warm-up call: first audio {warm.connect_to_first_audio_s}s, v2v {warm.voice_to_voice_s}s")
        await settle(server)
        samples.append(snapshot(server, 0))
        log(json.dumps(samples[-1]))
        for n in range(1, calls + 1):
            killed_at = None
            if vanish_every and n % vanish_every == 0:
                killed_at = await asyncio.to_thread(vanish, server.url, silence)
            else:
                result = await CallProbe(server.url, short).call(timeout=30)
                if result.connect_to_first_audio_s is None:
                    failures.append(f"call {n}: {result.errors or result.ended_by}")
            # Callers one after another: the next one needs the line back (one line on 2 cores).
            await settle(server)
            if killed_at is not None:
                line_held_s.append(round(time.monotonic() - killed_at, 1))
            if n % 25 == 0 or n == calls:
                samples.append(snapshot(server, n))
                log(json.dumps(samples[-1]))
        final = await CallProbe(server.url).call(say=question, timeout=120)
        errors = [line for line in server.error_log.read_text(errors="replace").splitlines()
                  if "| ERROR" in line or "| CRITICAL" in line or "Traceback" in line]
    finally:
        server.stop()
    first, last = samples[0], samples[-1]
    return {
        "calls": calls,
        "samples": samples,
        "server_rss_growth_pct": round(
            100 * (last["server_rss_mb"] - first["server_rss_mb"]) / first["server_rss_mb"], 1),
        # Least-squares slope of the server's RSS (and with its children) over the second half of the calls.
        "server_rss_mb_per_call_late": rss_slope(samples, "server_rss_mb", calls // 2),
        "tree_rss_mb_per_call_late": rss_slope(samples, "tree_rss_mb", calls // 2),
        "process_growth": last["processes"] - first["processes"],
        "fd_growth": last["fds"] - first["fds"],
        "failed_calls": failures,
        "vanished_caller_held_line_s": {"median": float(np.median(line_held_s)) if line_held_s else None,
                                        "max": max(line_held_s, default=None)},
        "error_lines": errors[:20],
        "error_line_count": len(errors),
        "final_call_ok": final.connect_to_first_audio_s is not None and final.voice_to_voice_s is not None,
        "final_call": {"first_audio_s": final.connect_to_first_audio_s, "voice_to_voice_s": final.voice_to_voice_s},
    }


def rss_slope(samples: list[dict], key: str, after_calls: int) -> float | None:
    """MB per call over the samples taken after ``after_calls`` calls (a fitted line: one sample is noise)."""
    late = [(s["calls"], s[key]) for s in samples if s["calls"] >= after_calls]
    if len(late) < 2:
        return None
    slope = np.polyfit([c for c, _ in late], [m for _, m in late], 1)[0]
    return round(float(slope), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--vanish-every", type=int, default=10)
    parser.add_argument("--env", action="append", default=[], help="VAR=VALUE for the server (repeatable)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="CRITICAL")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        report = asyncio.run(soak(args.calls, args.vanish_every, Path(tmp), env, log))
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
