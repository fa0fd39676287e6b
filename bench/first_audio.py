"""Connect → first audio, per TTS warm-up mode, measured side by side on this machine.

    uv run python bench/first_audio.py [--runs 5] [--modes default,first-use,on-connect,pool] [--phone] [--json]

Starts one server per mode (company #2, the same engines), then calls them in turn,
interleaved, with the call probe (a real WebRTC peer), so that the machine's noise
falls on every mode alike. Prints medians side by side with the ratio to ``first-use``
and the breakdown, then one spoken question per mode for voice-to-voice.

Modes: ``default`` is exactly what the README's command runs (a pool of warm workers and
the greeting pre-synthesized at start-up). The others greet the seed's way, with an
LLM-written greeting: ``first-use`` is the 05 behaviour (the TTS worker loads on the
first sentence), ``on-connect`` the seed's 06 (warm-up task fired when the call
connects), ``pool`` a worker warmed before the call. ``--phone`` adds ``phone``: the
``default`` server itself called through its Twilio endpoints (voice webhook, then the Media
Streams WebSocket at 8 kHz μ-law), timed from the webhook's POST, as a caller's ring is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

from interleave import round_order

from voicebot.launcher import LocalServer, free_port
from voicebot.probe import CallProbe, CallResult
from voicebot.probe.phone import PhoneProbe
from voicebot.tts.speak import speak_to_wav

MODES = ["default", "first-use", "on-connect", "pool"]
SERVER_FLAGS = {
    "default": [],
    "first-use": ["--tts-warmup", "first-use", "--greeting", "llm"],
    "on-connect": ["--tts-warmup", "on-connect", "--greeting", "llm"],
    "pool": ["--tts-warmup", "pool", "--greeting", "llm"],
}
QUESTION = "What time do you close tonight?"
PHONE_TOKEN = "bench-twilio-auth-token"  # the default server checks phone webhooks against it (--phone)
METRICS = ("connect_to_first_audio_s", "webrtc_connect_s", "llm_ttfb_s", "tts_ttfb_s", "tts_init_on_critical_path_s")


def measurements(result: CallResult) -> dict[str, float | None]:
    return {
        "connect_to_first_audio_s": result.connect_to_first_audio_s,
        "webrtc_connect_s": result.milestones.get("webrtc_connected"),
        "llm_ttfb_s": result.llm_ttfb_s,
        "tts_ttfb_s": result.tts_ttfb_s,
    }


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def start_server(mode: str, workdir: Path, phone: bool) -> LocalServer:
    port = free_port()
    env = {"TWILIO_AUTH_TOKEN": PHONE_TOKEN, "VOICEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}"} if phone else {}
    return LocalServer.start(workdir / mode, "2", *SERVER_FLAGS[mode], env=env, port=port)


async def call(mode: str, server: LocalServer, say: Path | None = None, timeout: float = 120) -> CallResult:
    """A WebRTC call, or for ``phone`` a call through the same (default) server's Twilio endpoints."""
    if mode == "phone":
        return await PhoneProbe(server.url, auth_token=PHONE_TOKEN).call(say=say, timeout=timeout)
    return await CallProbe(server.url).call(say=say, timeout=timeout)


async def bench(modes: list[str], runs: int, workdir: Path, log, phone: bool = False) -> dict[str, dict]:
    log(f"Starting {len(modes)} servers ({', '.join(modes)}) in {workdir} ...")
    servers = {mode: start_server(mode, workdir, phone and mode == "default").wait_until_settled() for mode in modes}
    if phone:
        servers["phone"] = servers["default"]  # one server, two ways in
        modes = [*modes, "phone"]
    rows: dict[str, list[dict]] = {mode: [] for mode in modes}
    voice: dict[str, float | None] = {}
    try:
        question = await speak_to_wav(QUESTION, workdir / "question.wav")
        for run in range(runs):
            for mode in round_order(modes, run):
                result = await call(mode, servers[mode])
                rows[mode].append(measurements(result))
                log(f"run {run + 1}/{runs} {mode:>10}: connect→first audio "
                    f"{result.connect_to_first_audio_s}s, LLM TTFB {result.llm_ttfb_s}s, TTS TTFB {result.tts_ttfb_s}s"
                    + (f" ERRORS {result.errors}" if result.errors else ""))
                await asyncio.sleep(1.0)  # let the call end and its worker return, as between real calls
        for mode in modes:
            result = await call(mode, servers[mode], say=question, timeout=180)
            voice[mode] = result.voice_to_voice_s
            log(f"voice-to-voice {mode:>10}: {result.voice_to_voice_s}s  ({result.bot_text()[-80:]!r})")
    finally:
        for server in {id(s): s for s in servers.values()}.values():
            server.stop()

    summary = {}
    webrtc_modes = [m for m in modes if m != "phone"]  # a phone call has no data channel: no TTFBs
    warm_tts = median(r["tts_ttfb_s"] for r in rows[webrtc_modes[-1]])
    for mode in modes:
        summary[mode] = {key: median(r[key] for r in rows[mode]) for key in rows[mode][0]}
        tts = summary[mode]["tts_ttfb_s"]
        summary[mode]["tts_init_on_critical_path_s"] = (
            round(max(0.0, tts - warm_tts), 3) if tts is not None and warm_tts is not None else None)
        summary[mode]["voice_to_voice_s"] = voice.get(mode)
        summary[mode]["runs"] = len(rows[mode])
    base = summary.get("first-use", {}).get("connect_to_first_audio_s")
    for mode in modes:
        value = summary[mode]["connect_to_first_audio_s"]
        summary[mode]["speedup_vs_first_use"] = round(base / value, 2) if base and value else None
    return summary


def print_table(summary: dict[str, dict]) -> None:
    modes = list(summary)
    rows = [("connect → first audio", "connect_to_first_audio_s"), ("  speed-up vs first-use", "speedup_vs_first_use"),
            ("  WebRTC connect", "webrtc_connect_s"), ("  LLM TTFB", "llm_ttfb_s"), ("  TTS TTFB", "tts_ttfb_s"),
            ("  TTS init on critical path", "tts_init_on_critical_path_s"),
            ("voice-to-voice (1 question)", "voice_to_voice_s")]
    print(f"{'median':<30}" + "".join(f"{m:>12}" for m in modes))
    for label, key in rows:
        cells = []
        for m in modes:
            v = summary[m].get(key)
            cells.append(f"{'-' if v is None else (f'{v:.2f}x' if key.startswith('speedup') else f'{v:.2f}s'):>12}")
        print(f"{label:<30}" + "".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--phone", action="store_true", help="also call the default server by phone (needs default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="first-audio-") as tmp:
        modes = args.modes.split(",")
        if args.phone and "default" not in modes:
            parser.error("--phone calls the default server: keep 'default' in --modes")
        summary = asyncio.run(bench(modes, args.runs, Path(tmp), log, phone=args.phone))
    if args.json:
        print(json.dumps(summary))
    else:
        print()
        print_table(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
