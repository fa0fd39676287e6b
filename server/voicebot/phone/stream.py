"""A Twilio media stream: its opening messages checked, then the same call as a browser's.

Twilio opens the WebSocket and sends ``connected``, then ``start`` (the stream's and the
call's ids, the media format and our ``<Parameter>``s), then ``media`` every 20 ms, ``dtmf``
for keys, ``mark`` when audio we sent has played, and ``stop``. Nothing is built before
``start`` has shown a valid one-time token and the format we expect (8 kHz μ-law, mono).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from fastapi import WebSocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
START_TIMEOUT_S = 5.0


class BadStream(Exception):
    """A stream that is not one we take; ``code`` is the WebSocket close code to answer with."""

    def __init__(self, message: str, code: int = 1008):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StreamStart:
    """What Twilio's ``start`` message tells of the stream."""

    stream_sid: str
    call_sid: str
    account_sid: str | None
    token: str | None
    media_format: dict


async def read_start(websocket: WebSocket, timeout_s: float = START_TIMEOUT_S) -> StreamStart:
    """Twilio's ``connected`` and ``start`` messages; anything else first is refused."""
    async def messages() -> StreamStart:
        for _ in range(3):  # "connected" first; some clients send "start" at once
            try:
                message = json.loads(await websocket.receive_text())
            except (json.JSONDecodeError, TypeError) as e:
                raise BadStream(f"not a Twilio media stream message: {e}", 1003) from None
            event = message.get("event") if isinstance(message, dict) else None
            if event == "connected":
                continue
            if event != "start" or not isinstance(message.get("start"), dict):
                raise BadStream(f"expected Twilio's 'start' message, got {event!r}", 1002)
            start = message["start"]
            stream_sid = start.get("streamSid") or message.get("streamSid")
            if not stream_sid or not start.get("callSid"):
                raise BadStream("the 'start' message has no streamSid or callSid", 1002)
            parameters = start.get("customParameters") or {}
            return StreamStart(stream_sid=stream_sid, call_sid=start["callSid"],
                               account_sid=start.get("accountSid"),
                               token=parameters.get("token") if isinstance(parameters, dict) else None,
                               media_format=start.get("mediaFormat") or {})
        raise BadStream("no 'start' message", 1002)

    try:
        return await asyncio.wait_for(messages(), timeout_s)
    except TimeoutError:
        raise BadStream(f"no 'start' message within {timeout_s:.0f} s") from None


def check_media_format(media_format: dict) -> None:
    """Only what the serializer decodes: 8 kHz μ-law, one channel."""
    wrong = {k: media_format.get(k) for k, v in MEDIA_FORMAT.items() if media_format.get(k) != v}
    if wrong:
        raise BadStream(f"unsupported media format {wrong}; expected {MEDIA_FORMAT}", 1003)


def phone_transport(websocket: WebSocket, start: StreamStart) -> FastAPIWebsocketTransport:
    """Pipecat's WebSocket transport with its Twilio serializer: μ-law 8 kHz on the wire, the
    pipeline's rates inside; barge-in sends ``clear`` for the stream. Hanging up through
    Twilio's REST API is ours (:class:`voicebot.phone.twilio.TwilioCalls`): a transfer must
    not be hung up."""
    serializer = TwilioFrameSerializer(stream_sid=start.stream_sid, call_sid=start.call_sid,
                                       params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    return FastAPIWebsocketTransport(websocket=websocket, params=FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False, serializer=serializer))
