"""Voice-to-voice: from the end of a caller's question to the bot's first audio, side by side.

    uv run python bench/voice_to_voice.py [--runs 14] [--json] [--no-previous] [--no-stock]
    uv run python bench/voice_to_voice.py --runs 8 --variant nice10=VOICEBOT_LLM_NICE=10   # more variants
    uv run python bench/voice_to_voice.py --phone          # also call the default server over the phone path

Starts, side by side, the README's server (company #2) as it is (``default``), the same
server with the work done while the caller speaks turned off (``previous``:
``VOICEBOT_LISTEN_AHEAD=0``), the stock Pipecat pipeline on the same models
(``stock-pipecat``: ``bench/stock_pipecat.py`` with its own ``voicebot-llm``) and any
``--variant``. Calls go one at a time, the servers in a rotating order each round
(``bench/interleave.py``), each call one of the questions below, spoken by Kokoro in a
voice the bot does not use; while one server is called the others are stopped (SIGSTOP, then
SIGCONT after the call; ``--no-freeze`` leaves them running), so no idle server shares the cores.
``--phone`` adds ``phone``: the default server itself (no second server) called through its
Twilio endpoints (``PhoneProbe``: 8 kHz μ-law in 20 ms frames), so the phone path and WebRTC
are compared on one server in one run; its answers are heard
by Whisper from the decoded audio (a phone has no data channel, so no stages). The probe
measures voice-to-voice from the last voiced sample of the question to the first voiced
sample of the answer.

Per variant: median and p90 voice-to-voice (and for the turns the LLM answered apart from
those the front desk answered in code), per-stage medians from the server's turn timeline
(with llama.cpp's own counts), the longest silence inside a reply, answers holding the
expected fact, CPU seconds per turn (the server and all its processes, during the call)
and CPU burnt while idle. ``--json`` prints one object: the default's ``median_s``,
``p90_s`` and ``stages``, and ``variants: {name: {median_s, p90_s, …}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from interleave import round_order

from voicebot.launcher import LocalServer, free_port
from voicebot.probe import CallProbe
from voicebot.probe.phone import PhoneProbe
from voicebot.timeline import TURN_STAGES
from voicebot.tts.speak import speak_all_to_wav

# (question, pattern the answer must match): company #2's facts; some answered by the LLM,
# some by the front desk in code (prices, FAQ topics, a booking's or an order's next question).
QUESTIONS = [
    ("What time do you close tonight?", r"\b(9|nine)\b"),
    ("Where are you located?", r"harbou?r"),
    ("How much is the dragon roll?", r"\b(15|fifteen)\b"),
    ("Hi there, I was wondering, do you do takeout or delivery, or is it dine-in only?", r"take ?out|deliver"),
    ("What's your phone number?", r"555|0142|oh one four two"),
    ("Do you have miso soup, and how much is it?", r"\b(4|four)\b"),
    ("What kind of food do you serve?", r"sushi|roll|nigiri|japanese"),
    ("My wife is vegetarian. Is there anything on the menu she could eat?", r"vegetable|vegetarian|tempura"),
    ("Can you recommend something from the menu?", r"roll|nigiri|tempura|soup|ice cream"),
    ("Can I reserve a table for four people tomorrow evening?", r"time|reserv|book|table"),
    ("Do you take credit cards?", r"message|not sure|don'?t know|call|card"),
    ("What's the address again? I want to drive over.", r"harbou?r|48|forty"),
    ("I'd like to order two California rolls for pickup.", r"name|order|california"),
    ("What's good for someone who doesn't like raw fish?", r"tempura|california|miso|vegetable|cooked|dragon"),
]
CALLER_VOICE = "am_michael"
# The restaurant's clock for every server: a Wednesday afternoon (answers must not depend on the hour).
CLOCK = "2026-12-02T15:00"
# The Twilio auth token the default server checks phone webhooks against (``--phone``).
PHONE_TOKEN = "bench-twilio-auth-token"
# Log lines that say how a turn was heard: transcripts taken from the last partial or needing a
# final pass, and replies prepared at a pause that were kept or dropped.
LISTENING_LINES = {"partial_confirmed": "transcript from the last partial",
                   "final_pass": "transcript needs a final pass",
                   "held_reply_kept": "held reply kept", "held_reply_dropped": "held reply dropped"}


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 3)


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


class Variant:
    """A server under test: its URL, the processes whose CPU it costs, and how to stop it."""

    def __init__(self, name: str, url: str, pids: list[int], stop, log: Path | None = None, phone: bool = False):
        self.name, self.url, self.pids, self.stop, self.log = name, url, pids, stop, log
        self.phone = phone  # called through the Twilio endpoints rather than WebRTC
        self.idle_cpu: list[float] = []  # CPU seconds per second while the others were called

    def listening(self) -> dict[str, int]:
        """How the listening pipeline fared so far, from the server's log (diffed around each call,
        since the phone variant shares the default server's log)."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log and self.log.exists() else []
        return {key: sum(text in line for line in lines) for key, text in LISTENING_LINES.items()}

    def processes(self) -> list[psutil.Process]:
        found = []
        for pid in self.pids:
            try:
                process = psutil.Process(pid)
                found += [process, *process.children(recursive=True)]
            except psutil.Error:
                continue
        return found

    def freeze(self) -> None:
        """SIGSTOP the server and its children, so that it burns no CPU beside the one being called."""
        for process in self.processes():
            try:
                process.suspend()
            except psutil.Error:
                pass

    def thaw(self) -> None:
        for process in self.processes():
            try:
                process.resume()
            except psutil.Error:
                pass

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                process = psutil.Process(pid)
                for p in [process, *process.children(recursive=True)]:
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        return total


def start_ours(name: str, workdir: Path, server_args: list[str], env: dict[str, str], phone: bool = False) -> Variant:
    port = free_port()
    if phone:  # its phone webhooks signed as Twilio signs them, for its own address
        env = {"TWILIO_AUTH_TOKEN": PHONE_TOKEN, "VOICEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}", **env}
    server = LocalServer.start(workdir / name, "2", "--tts-pool-size", "1", *server_args,
                               env={"VOICEBOT_CLOCK": CLOCK, **env}, port=port).wait_until_settled()
    return Variant(name, server.url, [server.process.pid], server.stop, server.log_path)


def phone_line_of(server: Variant) -> Variant:
    """The same server reached by phone: same processes and log, nothing more to stop."""
    return Variant("phone", server.url, server.pids, lambda: None, server.log, phone=True)


def start_stock(workdir: Path) -> Variant:
    """``voicebot-llm`` (the same GGUF and llama.cpp) and the stock pipeline against it."""
    folder = workdir / "stock-pipecat"
    folder.mkdir(parents=True, exist_ok=True)
    llm_port, port, key = free_port(), free_port(), "stock-bench"
    with open(folder / "llm.log", "w") as log:
        llm = subprocess.Popen([sys.executable, "-m", "voicebot.llm.serve", "--port", str(llm_port), "--slots", "1",
                                "--api-key", key], stdout=log, stderr=subprocess.STDOUT)
    script = Path(__file__).with_name("stock_pipecat.py")
    with open(folder / "server.log", "w") as log:
        bot = subprocess.Popen([sys.executable, str(script), "--company", "2", "--port", str(port),
                                "--db", str(folder / "business.db"), "--llm-url", f"http://127.0.0.1:{llm_port}/v1",
                                "--llm-key", key], stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{llm_port}/health", timeout=2).status_code == 200 and \
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if bot.poll() is not None or llm.poll() is not None:
            raise RuntimeError("the stock pipeline did not start: " + (folder / "server.log").read_text()[-2000:])
        time.sleep(1)

    def stop() -> None:
        for process in (bot, llm):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    return Variant("stock-pipecat", f"http://127.0.0.1:{port}", [bot.pid, llm.pid], stop)


async def call_once(variant: Variant, wav: Path, index: int) -> dict:
    question, expected = QUESTIONS[index]
    cpu_before, heard_before = variant.cpu_seconds(), variant.listening()
    if variant.phone:
        result = await PhoneProbe(variant.url, auth_token=PHONE_TOKEN).call(say=wav, timeout=120, transcribe=True)
    else:
        result = await CallProbe(variant.url).call(say=wav, timeout=120)
    stages = result.turn_stages_s[-1] if result.turn_stages_s else {}
    answer = " ".join(e.text for e in result.transcript if e.role == "bot"
                      and result.said_start_s is not None and e.t > result.said_start_s)
    return {
        "question": question,
        "voice_to_voice_s": result.voice_to_voice_s,
        "connect_to_first_audio_s": result.connect_to_first_audio_s,
        "answered_by": "llm" if "llm_prompt_n" in stages or variant.name == "stock-pipecat" else "desk",
        "stages": stages,
        "longest_reply_gap_s": result.longest_reply_gap_s,
        "ttfb_s": {kind: (values[-1] if values else None) for kind, values in result.ttfb_by_kind.items()},
        "cpu_s": round(variant.cpu_seconds() - cpu_before, 2),
        "listening": {k: v - heard_before[k] for k, v in variant.listening().items()},
        "answered_early": len(result.turn_stages_s) > 1,  # the question cut in two by a pause, answered twice
        "heard": result.user_text(),
        "answer": answer,
        "correct": bool(re.search(expected, answer, re.IGNORECASE)),
        "errors": result.errors,
    }


def summarize(calls: list[dict], variant: Variant, env: dict[str, str]) -> dict:
    v2v = [c["voice_to_voice_s"] for c in calls]
    by_kind = {kind: [c["voice_to_voice_s"] for c in calls if c["answered_by"] == kind] for kind in ("llm", "desk")}
    stage_names = list(TURN_STAGES) + sorted({k for c in calls for k in c["stages"] if k not in TURN_STAGES})
    return {
        "median_s": median(v2v),
        "p90_s": percentile(v2v, 0.9),
        "llm_turns": {"n": len(by_kind["llm"]), "median_s": median(by_kind["llm"]),
                      "p90_s": percentile(by_kind["llm"], 0.9)},
        "desk_turns": {"n": len(by_kind["desk"]), "median_s": median(by_kind["desk"]),
                       "p90_s": percentile(by_kind["desk"], 0.9)},
        "stages": {s: median(c["stages"].get(s) for c in calls) for s in stage_names},
        "longest_reply_gap_s": max((c["longest_reply_gap_s"] or 0.0) for c in calls) if calls else None,
        "median_reply_gap_s": median(c["longest_reply_gap_s"] for c in calls),
        "correct": sum(c["correct"] for c in calls),
        "n": len(calls),
        "answered": sum(c["voice_to_voice_s"] is not None for c in calls),
        "cpu_s_per_turn": median(c["cpu_s"] for c in calls),
        # Replies whose first piece was played from the phrase cache (no synthesis), by who answered.
        "first_piece_cached": {kind: sum(c["stages"].get("tts_first_piece_cached") == 1.0 for c in calls
                                         if c["answered_by"] == kind) for kind in ("llm", "desk")},
        "answered_early": sum(c["answered_early"] for c in calls),
        "listening": {key: sum(c["listening"][key] for c in calls) for key in LISTENING_LINES},
        "idle_cpu_per_s": median(variant.idle_cpu),
        "env": env,
        "calls": calls,
    }


async def bench(runs: int, workdir: Path, server_args: list[str], variants: dict[str, dict[str, str]],
                stock: bool, log, phone: bool = False, freeze_idle: bool = True) -> dict:
    log("Speaking the questions with Kokoro (a voice the bot does not use) ...")
    wavs = await speak_all_to_wav([(q, workdir / f"q{i}.wav") for i, (q, _) in enumerate(QUESTIONS)],
                                  voice=CALLER_VOICE)
    servers: dict[str, Variant] = {}
    envs = dict(variants)
    calls: dict[str, list[dict]] = {}
    try:
        for name, env in variants.items():
            log(f"Starting server '{name}' (company #2 {' '.join(server_args)} {env or ''}) ...")
            servers[name] = start_ours(name, workdir, server_args, env, phone=phone and name == "default")
        if phone:
            servers["phone"] = phone_line_of(servers["default"])
            envs["phone"] = {"transport": "Twilio Media Streams (8 kHz μ-law)"}
        if stock:
            log("Starting the stock Pipecat pipeline and its voicebot-llm ...")
            servers["stock-pipecat"] = start_stock(workdir)
            envs["stock-pipecat"] = {}
        calls = {name: [] for name in servers}
        for run in range(runs):
            index = run % len(QUESTIONS)
            for name in round_order(list(servers), run):
                idle = {other: (servers[other].cpu_seconds(), time.monotonic()) for other in servers
                        if servers[other].pids != servers[name].pids}  # the phone line is the default server
                if freeze_idle:
                    for other in idle:
                        servers[other].freeze()
                try:
                    call = await call_once(servers[name], wavs[index], index)
                finally:
                    for other in idle:
                        servers[other].thaw()
                for other, (cpu, at) in idle.items():
                    servers[other].idle_cpu.append((servers[other].cpu_seconds() - cpu) / (time.monotonic() - at))
                calls[name].append(call)
                log(f"{run + 1}/{runs} {name:>13}: v2v {call['voice_to_voice_s']}s ({call['answered_by']}) "
                    f"cpu {call['cpu_s']}s gap {call['longest_reply_gap_s']}s {'ok ' if call['correct'] else 'BAD'} "
                    f"Q: {call['question']!r} heard {call['heard']!r} A: {call['answer']!r}"
                    + (f" ERRORS {call['errors']}" if call["errors"] else ""))
                log("     stages: " + ", ".join(f"{k} {v:.2f}" for k, v in call["stages"].items()))
                await asyncio.sleep(1.0)
    finally:
        for server in servers.values():
            server.stop()
    if phone:  # a phone call has no stages: who answered is what answered the same question on WebRTC
        answered_by = {c["question"]: c["answered_by"] for c in calls.get("default", [])}
        for call in calls.get("phone", []):
            call["answered_by"] = answered_by.get(call["question"], call["answered_by"])
    return {name: summarize(calls[name], servers[name], envs.get(name, {})) for name in servers}


def print_report(name: str, summary: dict) -> None:
    print(f"\n== {name} {summary['env'] or ''}")
    print(f"voice-to-voice over {summary['n']} calls ({summary['answered']} answered): "
          f"median {summary['median_s']}s, p90 {summary['p90_s']}s; LLM turns ({summary['llm_turns']['n']}) "
          f"median {summary['llm_turns']['median_s']}s; desk turns ({summary['desk_turns']['n']}) "
          f"median {summary['desk_turns']['median_s']}s")
    print(f"answers holding the expected fact: {summary['correct']}/{summary['n']}; "
          f"longest silence inside a reply: max {summary['longest_reply_gap_s']}s, median "
          f"{summary['median_reply_gap_s']}s; CPU per turn {summary['cpu_s_per_turn']}s; "
          f"idle CPU {summary['idle_cpu_per_s']} s/s; first piece from the phrase cache: "
          f"{summary['first_piece_cached']['llm']}/{summary['llm_turns']['n']} LLM turns, "
          f"{summary['first_piece_cached']['desk']}/{summary['desk_turns']['n']} desk turns; "
          f"answered before the caller finished: {summary['answered_early']}; listening: {summary['listening']}")
    print("median stages (seconds after the caller's voice ended; llm_*: llama.cpp's counts):")
    for stage, value in summary["stages"].items():
        if value is not None:
            print(f"  {stage:<26}{value:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=14, help="calls per variant (questions in turn)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-previous", action="store_true", help="leave out VOICEBOT_LISTEN_AHEAD=0")
    parser.add_argument("--no-stock", action="store_true", help="leave out the stock Pipecat pipeline")
    parser.add_argument("--only-default", action="store_true", help="only the default server")
    parser.add_argument("--phone", action="store_true",
                        help="also call the default server through its Twilio endpoints (variant 'phone')")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=VAR=VALUE[,VAR=VALUE]: one more server with these environment variables")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the other servers running during a call (default: SIGSTOP them, so no idle "
                             "server burns CPU beside the one being called)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy each server's output log into this folder")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    variants: dict[str, dict[str, str]] = {"default": {}}
    if not (args.no_previous or args.only_default):
        variants["previous"] = {"VOICEBOT_LISTEN_AHEAD": "0"}
    for spec in args.variant:
        name, _, assignments = spec.partition("=")
        variants[name] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="v2v-") as tmp:
        summaries = asyncio.run(bench(args.runs, Path(tmp), args.server_args, variants,
                                      not (args.no_stock or args.only_default), log, phone=args.phone,
                                      freeze_idle=not args.no_freeze))
        if args.keep_logs is not None:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log_file in Path(tmp).glob("*/server-output.log"):
                shutil.copy(log_file, args.keep_logs / f"{log_file.parent.name}.log")
    default = summaries["default"]
    out = {"median_s": default["median_s"], "p90_s": default["p90_s"], "stages": default["stages"],
           "default": default, "variants": {name: s for name, s in summaries.items() if name != "default"}}
    if args.out is not None:
        args.out.write_text(json.dumps(out, indent=1))
    if args.json:
        print(json.dumps(out))
    else:
        for name, summary in summaries.items():
            print_report(name, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
