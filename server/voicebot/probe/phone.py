"""A phone call placed the way Twilio places one: the voice webhook, then a Media Streams WebSocket.

No Twilio account is reachable from our machines, so this caller speaks Twilio's side of
the protocol itself, exactly: it POSTs the voice webhook's form (signed with
``X-Twilio-Signature`` when given the auth token), reads the TwiML, opens the
``<Stream>`` URL, sends ``connected`` and a complete ``start`` (with the ``<Parameter>``s),
streams the caller's speech as 8 kHz μ-law in 160-byte ``media`` messages paced every
20 ms (silence between turns, as a phone line does), sends keypad ``dtmf`` events, answers
``mark``s, notes every ``clear`` (barge-in), decodes the bot's ``media`` as it arrives and,
when the stream ends, asks the ``<Connect action>`` URL what comes next (``<Dial>`` or
``<Hangup/>``), as Twilio would.

    result = await PhoneProbe("http://127.0.0.1:7860", auth_token=...).call(say=["order.wav", Keys("1")])
    result.connect_to_first_audio_s, result.voice_to_voice_s, result.dialed, result.clears
"""

from __future__ import annotations

import asyncio
import audioop
import base64
import json
import secrets
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from loguru import logger
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voicebot.audio import SAMPLE_RATE, load_audio
from voicebot.probe.call import ProbeConfig
from voicebot.probe.results import CallResult, TranscriptEntry
from voicebot.probe.tracks import BotAudioRecorder, SilenceDetector

PHONE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
FRAME_S = 0.02
ULAW_SILENCE = b"\xff" * FRAME_BYTES
KEY_GAP_S = 0.15


@dataclass(frozen=True)
class Keys:
    """Keys pressed on the caller's keypad, as one turn ("1", "5035551234#")."""

    digits: str


@dataclass(frozen=True)
class Interrupt:
    """Speech said over the bot: once it has been speaking ``after_s`` (a barge-in)."""

    clip: str | Path | np.ndarray
    after_s: float = 1.0


@dataclass
class PhoneCallResult(CallResult):
    """A ``CallResult`` with what only a phone call has."""

    call_sid: str = ""
    stream_sid: str = ""
    refused: str | None = None  # what the webhook's TwiML said instead of streaming (busy, not ready)
    clears: list[float] = field(default_factory=list)  # when a `clear` (barge-in) arrived
    close_code: int | None = None  # how the server closed the stream (None: we hung up)
    after_twiml: str | None = None  # the answer of the <Connect action> URL
    dialed: str | None = None  # the number in its <Dial>, if any
    said_voice_ends_s: list[float] = field(default_factory=list)  # the end of each turn the caller said

    def summary(self) -> dict:
        return super().summary() | {"call_sid": self.call_sid, "refused": self.refused,
                                    "clears": [round(t, 3) for t in self.clears], "close_code": self.close_code,
                                    "dialed": self.dialed, "hung_up": bool(self.after_twiml and "<Hangup" in
                                                                         self.after_twiml)}


@dataclass
class _Turn:
    start: float | None = None
    voice_end: float | None = None
    end: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class _CallerLine:
    """The caller's side of the stream: 20 ms μ-law frames in real time, speech spliced in."""

    def __init__(self, send: Callable[[dict], Awaitable[None]], stream_sid: str, detector: SilenceDetector):
        self._send = send
        self._stream_sid = stream_sid
        self._detector = detector
        self._frames: list[bytes] = []
        self._voice_end_frame = 0
        self._turn: _Turn | None = None
        self._sequence = 2  # 1 was "start"
        self._chunk = 0
        self.closed = False

    def say(self, samples: np.ndarray) -> _Turn:
        """Queue mono int16 8 kHz speech after the current frame."""
        pcm = np.asarray(samples, np.int16)
        pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % (FRAME_BYTES), np.int16)])
        bounds = self._detector.speech_bounds(pcm, frame=FRAME_BYTES)
        self._voice_end_frame = (bounds[1] if bounds else len(pcm)) // FRAME_BYTES
        ulaw = audioop.lin2ulaw(pcm.tobytes(), 2)
        self._frames = [ulaw[i:i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
        self._turn = _Turn()
        return self._turn

    def _message(self, event: str, body: dict) -> dict:
        self._sequence += 1
        return {"event": event, "sequenceNumber": str(self._sequence), "streamSid": self._stream_sid, **body}

    async def press(self, digits: str) -> _Turn:
        """Keypad events, one per key, as Twilio sends them."""
        turn = _Turn(start=time.monotonic())
        for digit in digits:
            await self._send(self._message("dtmf", {"dtmf": {"track": "inbound_track", "digit": digit}}))
            await asyncio.sleep(KEY_GAP_S)
        turn.voice_end = turn.end = time.monotonic()
        turn.done.set()
        return turn

    async def run(self) -> None:
        started = time.monotonic()
        sent = 0
        while not self.closed:
            wait = started + sent * FRAME_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            frame = ULAW_SILENCE
            if self._frames:
                now = time.monotonic()
                turn = self._turn
                assert turn is not None, "say() queues the frames with their turn"
                if turn.start is None:
                    turn.start = now
                frame = self._frames.pop(0)
                self._voice_end_frame -= 1
                if turn.voice_end is None and self._voice_end_frame <= 0:
                    turn.voice_end = now + FRAME_S
                if not self._frames:
                    turn.end = now + FRAME_S
                    turn.done.set()
            self._chunk += 1
            media = {"track": "inbound", "chunk": str(self._chunk), "timestamp": str(int(sent * FRAME_S * 1000)),
                     "payload": base64.b64encode(frame).decode()}
            try:
                await self._send(self._message("media", {"media": media}))
            except ConnectionClosed:
                return
            sent += 1


class PhoneProbe:
    """Places phone calls to the bot through its Twilio endpoints and measures them (one call at a time)."""

    def __init__(self, url: str, auth_token: str | None = None, config: ProbeConfig | None = None,
                 caller: str = "+15035550199", to: str = "+15035550142", public_url: str | None = None):
        self.url = url.rstrip("/")
        self.public_url = (public_url or url).rstrip("/")  # what Twilio signs: the address it was given
        self.auth_token = auth_token
        self.config = config or ProbeConfig()
        self.caller, self.to = caller, to
        self.account_sid = "AC" + secrets.token_hex(16)
        self._detector = SilenceDetector(self.config.speech_threshold_dbfs)
        self._t0 = time.monotonic()

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _headers(self, path: str, form: dict[str, str]) -> dict[str, str]:
        if not self.auth_token:
            return {}
        signature = RequestValidator(self.auth_token).compute_signature(self.public_url + path, form)
        return {"X-Twilio-Signature": signature}

    async def _webhook(self, http: httpx.AsyncClient, url: str, form: dict[str, str]) -> str:
        path = url[len(self.public_url):] if url.startswith(self.public_url) else url
        response = await http.post(self.url + path, data=form, headers=self._headers(path, form))
        response.raise_for_status()
        return response.text

    async def call(self, say: list | str | Path | np.ndarray | Keys | None = None, timeout: float = 60.0,
                   transcribe: bool = False) -> PhoneCallResult:
        """Ring, hear the greeting, say each turn (a clip or ``Keys``) after the bot's answer to the
        previous, hang up (unless the bot did), and ask what comes after the stream. Never raises."""
        turns = say if isinstance(say, list) else ([] if say is None else [say])
        def audio(clip) -> np.ndarray:
            return load_audio(clip, PHONE_RATE) if isinstance(clip, (str, Path)) else np.asarray(clip, np.int16)

        clips = [t if isinstance(t, Keys) else Interrupt(audio(t.clip), t.after_s) if isinstance(t, Interrupt)
                 else audio(t) for t in turns]
        call_sid = "CA" + secrets.token_hex(16)
        result = PhoneCallResult(url=self.url, call_sid=call_sid)
        recorder = BotAudioRecorder(self._detector, self._now)
        form = {"CallSid": call_sid, "AccountSid": self.account_sid, "From": self.caller, "To": self.to,
                "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        async with httpx.AsyncClient(trust_env=False, timeout=self.config.connect_timeout_s) as http:
            try:
                async with asyncio.timeout(timeout):
                    self._t0 = time.monotonic()
                    twiml = ElementTree.fromstring(await self._webhook(http, "/twilio/voice", form))
                    result.milestones["webhook_answered"] = self._now()
                    stream, connect_el = twiml.find("./Connect/Stream"), twiml.find("./Connect")
                    if stream is None:
                        result.refused = " ".join(e.text or "" for e in twiml.iter("Say")).strip()
                        result.ended_by = "refused"
                        return result
                    url = stream.get("url")
                    if url is None:
                        raise ValueError("the TwiML <Stream> has no url")
                    assert connect_el is not None, "it holds the <Stream>"
                    parameters = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
                    await self._stream(url, parameters, call_sid, clips, recorder, result)
                    action = connect_el.get("action")
                    if action:
                        result.after_twiml = await self._webhook(http, action, form | {"CallStatus": "in-progress"})
                        dial = ElementTree.fromstring(result.after_twiml).find("./Dial")
                        result.dialed = (dial.findtext("Number") or dial.text or "").strip() if dial is not None \
                            else None
            except TimeoutError:
                result.ended_by = "timeout"
                result.errors.append(f"call timed out after {timeout:.0f} s")
            except (httpx.HTTPError, OSError, ElementTree.ParseError) as e:
                result.ended_by = "error"
                result.errors.append(f"{type(e).__name__}: {e}")
            except Exception as e:  # noqa: BLE001 - a probe reports, it doesn't crash
                result.ended_by = "error"
                result.errors.append(f"{type(e).__name__}: {e}")
                logger.exception("phone call failed")
        self._fill(result, recorder)
        if transcribe:
            await asyncio.to_thread(self._transcribe, result)
        return result

    async def _stream(self, url: str, parameters: dict, call_sid: str, clips: list, recorder: BotAudioRecorder,
                      result: PhoneCallResult) -> None:
        cfg = self.config
        stream_sid = "MZ" + secrets.token_hex(16)
        result.stream_sid = stream_sid
        async with connect(url, open_timeout=cfg.connect_timeout_s, max_size=2**20) as websocket:
            async def send(message: dict) -> None:
                await websocket.send(json.dumps(message))

            await send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await send({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
                "accountSid": self.account_sid, "streamSid": stream_sid, "callSid": call_sid,
                "tracks": ["inbound"], "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": PHONE_RATE, "channels": 1}}})
            result.milestones["stream_started"] = self._now()
            line = _CallerLine(send, stream_sid, self._detector)
            server_left = asyncio.Event()

            async def receive() -> None:
                try:
                    async for raw in websocket:
                        message = json.loads(raw)
                        event = message.get("event")
                        if event == "media":
                            pcm = audioop.ulaw2lin(base64.b64decode(message["media"]["payload"]), 2)
                            recorder.add(np.frombuffer(pcm, np.int16), PHONE_RATE)
                        elif event == "clear":
                            result.clears.append(self._now())
                        elif event == "mark":  # played: Twilio echoes the mark back
                            await send({"event": "mark", "streamSid": stream_sid, "mark": message.get("mark", {})})
                except ConnectionClosed:
                    pass
                result.close_code = websocket.close_code
                server_left.set()

            tasks = [asyncio.create_task(line.run()), asyncio.create_task(receive())]
            try:
                await self._converse(line, clips, recorder, server_left, result)
            finally:
                line.closed = True
                if not server_left.is_set():
                    try:
                        await send({"event": "stop", "sequenceNumber": "0", "streamSid": stream_sid,
                                    "stop": {"accountSid": self.account_sid, "callSid": call_sid}})
                    except ConnectionClosed:
                        pass
                    result.close_code = None
                await websocket.close()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _converse(self, line: _CallerLine, clips: list, recorder: BotAudioRecorder, server_left: asyncio.Event,
                        result: PhoneCallResult) -> None:
        cfg = self.config

        async def until(predicate: Callable[[], bool], timeout_s: float) -> bool:
            deadline = time.monotonic() + timeout_s
            while not predicate():
                if server_left.is_set() or time.monotonic() >= deadline:
                    return predicate()
                await asyncio.sleep(0.02)
            return True

        def turn_over(after: float) -> Callable[[], bool]:
            def check() -> bool:
                end = recorder.last_speech_end()
                return (end is not None and recorder.first_speech_after(after) is not None
                        and self._now() - end >= cfg.post_speech_gap_s)
            return check

        def speaking_for(after: float, seconds: float) -> Callable[[], bool]:
            def check() -> bool:
                start = recorder.first_speech_after(after)
                return start is not None and self._now() - start >= seconds
            return check

        last_end = 0.0
        if not (clips and isinstance(clips[0], Interrupt)) and not await until(turn_over(0.0),
                                                                               cfg.greeting_timeout_s):
            result.errors.append(f"no greeting heard within {cfg.greeting_timeout_s} s")
        for i, clip in enumerate(clips):
            if isinstance(clip, Interrupt) and not await until(speaking_for(last_end, clip.after_s),
                                                               cfg.answer_timeout_s):
                result.errors.append("the bot did not speak, so it could not be interrupted")
                break
            if server_left.is_set():
                result.errors.append("the bot hung up before the caller had said everything")
                break
            if isinstance(clip, Keys):
                turn = await line.press(clip.digits)
            else:
                speech = clip.clip if isinstance(clip, Interrupt) else clip
                assert isinstance(speech, np.ndarray), "call() made every clip audio"
                turn = line.say(speech)
            await turn.done.wait()
            start, voice_end, end = turn.start, turn.voice_end, turn.end
            assert start is not None and voice_end is not None and end is not None, "a turn is timed once done"
            if result.said_start_s is None:
                result.first_said_start_s = start - self._t0
            result.said_start_s = start - self._t0
            result.said_voice_end_s = voice_end - self._t0
            result.said_end_s = end - self._t0
            result.said_voice_ends_s.append(result.said_voice_end_s)
            last_end = result.said_voice_end_s
            if i + 1 < len(clips) and isinstance(clips[i + 1], Interrupt):
                continue  # the next turn is said over the answer to this one
            if not await until(turn_over(result.said_voice_end_s), cfg.answer_timeout_s):
                if server_left.is_set() and recorder.first_speech_after(result.said_voice_end_s) is not None:
                    break  # it answered, then hung up (goodbye, transfer)
                heard = recorder.first_speech_after(result.said_voice_end_s) is not None
                result.errors.append(f"answer {'did not finish' if heard else 'not heard'} within "
                                     f"{cfg.answer_timeout_s} s of our speech")
                break
        await asyncio.sleep(cfg.linger_s)
        if server_left.is_set():
            result.ended_by = "server_hangup"

    def _fill(self, result: PhoneCallResult, recorder: BotAudioRecorder) -> None:
        result.measure_bot_audio(recorder)

    def _transcribe(self, result: PhoneCallResult) -> None:
        """What the bot said, heard by Whisper from the audio received (a phone has no data channel)."""
        from voicebot.audio import resample
        from voicebot.config import WhisperConfig
        from voicebot.stt import WhisperModels

        whisper = WhisperModels().load(WhisperConfig(engine="faster-whisper", model="base"))
        bounds = [s.start for s in result.bot_speech]
        if not bounds or result.audio_start_s is None:
            return
        cuts = sorted({bounds[0], *result.said_voice_ends_s})
        for i, start in enumerate(cuts):
            audio = result.audio_between(start, cuts[i + 1] if i + 1 < len(cuts) else None)
            if not len(audio):
                continue
            audio16k = resample(audio, SAMPLE_RATE, 16000).astype(np.float32) / 32768
            segments, _ = whisper.transcribe(audio16k, language="en", beam_size=5)
            text = " ".join(s.text.strip() for s in segments).strip()
            if text:
                result.transcript.append(TranscriptEntry(role="bot", text=text, t=start))
