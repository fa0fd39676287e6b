"""Voice-to-voice: from the end of a caller's question to the bot's first audio, stage by stage.

    uv run python bench/voice_to_voice.py [--runs 10] [--json] [-- SERVER FLAGS...]
    uv run python bench/voice_to_voice.py --runs 8 --variant poll0=VOICEBOT_LLM_POLL=0   # A/B, rotated each round

Starts the server exactly as the README does (company #2, default flags, plus any given
after ``--``), then places ``--runs`` calls with the call probe (a real WebRTC peer). In
each call the caller waits for the greeting and asks one of the questions below, spoken
by our TTS in a voice the bot does not use. Voice-to-voice is measured by the probe from
the last voiced sample of the question to the first voiced sample of the answer. The
server reports each turn's stages (seconds after the caller's voice ended, see
``voicebot.timeline``); the benchmark prints their medians, the longest silence inside a
reply, and whether each answer held the expected fact.

``--variant NAME=VAR=VALUE[,VAR=VALUE...]`` (repeatable) starts one more server per
variant with those environment variables, beside the default one, and calls them in
turn so that the machine's noise falls on all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

from interleave import round_order

from voicebot.launcher import LocalServer
from voicebot.probe import CallProbe
from voicebot.timeline import TURN_STAGES
from voicebot.tts.speak import speak_all_to_wav

# (question, pattern the answer must match): short and long, varied wording, company #2's facts.
QUESTIONS = [
    ("What time do you close tonight?", r"\b(9|nine)\b"),
    ("Where are you located?", r"harbou?r"),
    ("How much is the dragon roll?", r"\b(15|fifteen)\b"),
    ("Hi there, I was wondering, do you do takeout or delivery, or is it dine-in only?", r"take ?out|deliver"),
    ("What's your phone number?", r"555|0142|oh one four two"),
    ("Do you have miso soup, and how much is it?", r"\b(4|four)\b"),
    ("Are you open on Sundays?", r"every day|\byes\b|open"),
    ("My wife is vegetarian. Is there anything on the menu she could eat?", r"vegetable|vegetarian|tempura"),
    ("How much for two pieces of salmon nigiri?", r"\b(6|six)\b"),
    ("Can I reserve a table for four people tomorrow evening?", r"reserv|book|table|\byes\b|sure"),
]


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 3)


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


async def call_once(url: str, wav: Path, index: int) -> dict:
    question, expected = QUESTIONS[index]
    result = await CallProbe(url).call(say=wav, timeout=120)
    stages = result.turn_stages_s[-1] if result.turn_stages_s else {}
    answer = " ".join(e.text for e in result.transcript if e.role == "bot"
                      and result.said_start_s is not None and e.t > result.said_start_s)
    return {
        "question": question,
        "voice_to_voice_s": result.voice_to_voice_s,
        "connect_to_first_audio_s": result.connect_to_first_audio_s,
        "stages": stages,
        "longest_reply_gap_s": result.longest_reply_gap_s,
        # The services' own TTFB metrics for this turn (the last one each reported).
        "ttfb_s": {kind: (values[-1] if values else None) for kind, values in result.ttfb_by_kind.items()},
        "heard": result.user_text(),
        "answer": answer,
        "correct": bool(re.search(expected, answer, re.IGNORECASE)),
        "errors": result.errors,
    }


def summarize(calls: list[dict], server_args: list[str], env: dict[str, str]) -> dict:
    v2v = [c["voice_to_voice_s"] for c in calls]
    return {
        "median_s": median(v2v),
        "p90_s": percentile(v2v, 0.9),
        "stages": {s: median(c["stages"].get(s) for c in calls) for s in TURN_STAGES},
        "ttfb_s": {k: median(c["ttfb_s"].get(k) for c in calls) for k in ("stt", "llm", "tts")},
        "longest_reply_gap_s": max((c["longest_reply_gap_s"] or 0.0) for c in calls) if calls else None,
        "median_reply_gap_s": median(c["longest_reply_gap_s"] for c in calls),
        "correct": sum(c["correct"] for c in calls),
        "n": len(calls),
        "answered": sum(c["voice_to_voice_s"] is not None for c in calls),
        "server_args": server_args,
        "env": env,
        "calls": calls,
    }


async def bench(runs: int, workdir: Path, server_args: list[str], variants: dict[str, dict[str, str]], log) -> dict:
    log("Speaking the questions with our TTS ...")
    wavs = await speak_all_to_wav([(q, workdir / f"q{i}.wav") for i, (q, _) in enumerate(QUESTIONS)])
    variants = {"default": {}, **variants}
    servers: dict[str, LocalServer] = {}
    calls: dict[str, list[dict]] = {name: [] for name in variants}
    try:
        for name, env in variants.items():
            log(f"Starting server '{name}' (company #2 {' '.join(server_args)} {env or ''}) ...")
            servers[name] = LocalServer.start(workdir / name, "2", *server_args, env=env)
        for run in range(runs):
            index = run % len(QUESTIONS)
            for name in round_order(list(variants), run):
                call = await call_once(servers[name].url, wavs[index], index)
                calls[name].append(call)
                log(f"{run + 1}/{runs} {name:>10}: v2v {call['voice_to_voice_s']}s gap {call['longest_reply_gap_s']}s "
                    f"{'ok ' if call['correct'] else 'BAD'} Q: {call['question']!r} heard {call['heard']!r} "
                    f"A: {call['answer']!r}" + (f" ERRORS {call['errors']}" if call["errors"] else ""))
                log("     stages: " + ", ".join(f"{k} {v:.2f}" for k, v in call["stages"].items())
                    + "  | TTFB " + ", ".join(f"{k} {v:.2f}" for k, v in call["ttfb_s"].items() if v is not None))
                await asyncio.sleep(1.0)
    finally:
        for server in servers.values():
            server.stop()
    return {name: summarize(calls[name], server_args, variants[name]) for name in variants}


def print_report(summary: dict) -> None:
    print(f"voice-to-voice over {summary['n']} calls ({summary['answered']} answered): "
          f"median {summary['median_s']}s, p90 {summary['p90_s']}s")
    print(f"answers holding the expected fact: {summary['correct']}/{summary['n']}")
    print(f"longest silence inside a reply: max {summary['longest_reply_gap_s']}s, "
          f"median {summary['median_reply_gap_s']}s")
    print("median stage times, seconds after the caller's voice ended:")
    for stage, value in summary["stages"].items():
        print(f"  {stage:<18}{'-' if value is None else f'{value:.2f}s':>8}")
    print("median TTFB reported by the services: "
          + ", ".join(f"{k} {'-' if v is None else f'{v:.2f}s'}" for k, v in summary["ttfb_s"].items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=VAR=VALUE[,VAR=VALUE]: one more server with these environment variables")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    variants = {}
    for spec in args.variant:
        name, _, assignments = spec.partition("=")
        variants[name] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="v2v-") as tmp:
        summaries = asyncio.run(bench(args.runs, Path(tmp), args.server_args, variants, log))
    if args.json:
        print(json.dumps(summaries["default"] if not variants else summaries))
    else:
        for name, summary in summaries.items():
            print(f"\n== {name} {summary['env'] or ''}")
            print_report(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
