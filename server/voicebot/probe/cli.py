"""The ``call-probe`` command: one call from the shell, a readable summary or one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from loguru import logger

from voicebot.audio import write_wav
from voicebot.probe.call import CallProbe, ProbeConfig
from voicebot.probe.phone import Keys, PhoneProbe
from voicebot.probe.results import CallResult, format_summary


def main(argv: list[str] | None = None) -> int:
    """Make one call and print what it measured; 1 if the call timed out, was hung up on or hit an error."""
    p = argparse.ArgumentParser(
        prog="call-probe", description="Call the voice bot over WebRTC (or as a phone, through its Twilio "
                                       "endpoints) and measure it."
    )
    p.add_argument("--url", default="http://localhost:7860", help="server base URL")
    p.add_argument("--say", metavar="FILE.wav", action="append",
                   help="audio to say after the greeting (repeat for more turns)")
    p.add_argument("--phone", action="store_true",
                   help="call as Twilio would: the voice webhook, then a Media Streams WebSocket (8 kHz μ-law)")
    p.add_argument("--twilio-token", default=None, help="--phone: sign the webhooks with this auth token")
    p.add_argument("--public-url", default=None,
                   help="--phone: the URL Twilio was given, which it signs (default: --url)")
    p.add_argument("--keys", action="append", default=[], metavar="DIGITS",
                   help="--phone: keys pressed after the spoken turns (repeat for more turns)")
    p.add_argument("--record", metavar="OUT.wav", help="write the bot's audio (48 kHz mono)")
    p.add_argument("--timeout", type=float, default=60.0, help="whole-call timeout, seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threshold-dbfs", type=float, default=ProbeConfig.speech_threshold_dbfs)
    p.add_argument("--greeting-timeout", type=float, default=ProbeConfig.greeting_timeout_s)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    args = p.parse_args(argv)

    logger.remove()
    logger.add(sys.stderr, level="DEBUG" if args.verbose else ("WARNING" if args.json else "INFO"))

    config = ProbeConfig(
        speech_threshold_dbfs=args.threshold_dbfs, greeting_timeout_s=args.greeting_timeout
    )
    result: CallResult
    if args.phone:
        turns = [*(args.say or []), *(Keys(k) for k in args.keys)]
        probe = PhoneProbe(args.url, auth_token=args.twilio_token, config=config, public_url=args.public_url)
        result = asyncio.run(probe.call(say=turns, timeout=args.timeout, transcribe=True))
        if args.record:
            write_wav(args.record, result.audio, result.sample_rate)
    else:
        result = asyncio.run(
            CallProbe(args.url, config).call(say=args.say, timeout=args.timeout, record=args.record)
        )
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(format_summary(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
