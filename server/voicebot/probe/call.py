"""One call, end to end: dial, hear the greeting, say the clips, wait for each answer, hang up.

Puts the tracks, the RTVI client and the loopback fix together on one peer connection
and turns what they saw into a ``CallResult``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from loguru import logger

from voicebot.audio import SAMPLE_RATE, load_audio, write_wav
from voicebot.probe.network import allow_loopback_ice, is_loopback_url
from voicebot.probe.results import CallResult
from voicebot.probe.rtvi import DATA_CHANNEL_LABEL, RTVIClient
from voicebot.probe.tracks import BotAudioRecorder, CallerAudioTrack, SilenceDetector


class ProbeError(Exception):
    """A call that could not be placed (no ICE, ...): reported in the result, not raised."""


class _ServerHungUp(Exception):
    """The server left (peerLeft, or the connection failed): the call ends as ``server_hangup``."""


@dataclass
class ProbeConfig:
    """Knobs of the call. The defaults suit a phone bot that greets first."""

    offer_path: str = "/api/offer"
    speech_threshold_dbfs: float = -50.0
    post_speech_gap_s: float = 0.8
    """Silence after the bot's speech (and RTVI bot-stopped-speaking) that ends its turn.
    Longer than the pauses between streamed sentences."""
    greeting_timeout_s: float = 20.0
    """Speak anyway if the greeting hasn't finished by then (from t0)."""
    answer_timeout_s: float = 30.0
    """Give up waiting for the answer this long after our speech ended."""
    linger_s: float = 0.3
    """Stay on after the last turn so late metrics messages arrive."""
    connect_timeout_s: float = 15.0
    loopback_ice: bool | None = None
    """Add 127.0.0.1 to our ICE candidates; None = when the URL's host is loopback."""
    request_data: dict[str, Any] | None = None
    """Sent as ``request_data`` with the offer (Pipecat passes it to the bot)."""


class CallProbe:
    """Places calls to a SmallWebRTC bot and measures them, one at a time per instance
    (make one probe per concurrent call). See the package docstring."""

    def __init__(self, url: str, config: ProbeConfig | None = None):
        self.url = url.rstrip("/")
        self.config = config or ProbeConfig()
        self._detector = SilenceDetector(self.config.speech_threshold_dbfs)
        self._t0 = time.monotonic()

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def call(
        self,
        say: str | Path | np.ndarray | list | None = None,
        timeout: float = 60.0,
        record: str | Path | None = None,
    ) -> CallResult:
        """Call, wait for the greeting, optionally say ``say``, wait for the answer, hang up.

        ``say`` is an audio file or mono int16 samples at 48 kHz, or a list of them: one
        caller turn each, every one after the bot's answer to the previous (the ``said_*``
        and answer fields then describe the last turn). Never raises for a failed call:
        the result says how it ended (``ended_by``, ``errors``).
        """
        cfg = self.config
        turns = say if isinstance(say, list) else ([] if say is None else [say])
        clips = [load_audio(t) if isinstance(t, (str, Path)) else np.asarray(t, np.int16) for t in turns]
        if cfg.loopback_ice or (cfg.loopback_ice is None and is_loopback_url(self.url)):
            allow_loopback_ice()

        result = CallResult(url=self.url)
        mic = CallerAudioTrack(self._detector)
        recorder = BotAudioRecorder(self._detector, self._now)
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        pc.addTransceiver(mic, direction="sendrecv")
        rtvi = RTVIClient(pc.createDataChannel(DATA_CHANNEL_LABEL, ordered=True), self._now)
        connected = asyncio.Event()
        failed = asyncio.Event()

        @pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                recorder.attach(track)

        @pc.on("connectionstatechange")
        def on_state():
            logger.debug(f"peer connection {pc.connectionState}")
            if pc.connectionState == "connected":
                result.milestones.setdefault("webrtc_connected", self._now())
                connected.set()
            elif pc.connectionState in ("failed", "closed"):
                failed.set()

        try:
            async with asyncio.timeout(timeout):
                t_setup = time.monotonic()
                await pc.setLocalDescription(await pc.createOffer())  # gathers candidates
                self._t0 = time.monotonic()  # t0: just before the POST
                result.offer_setup_s = self._t0 - t_setup
                answer = await self._post_offer(pc.localDescription.sdp)
                result.pc_id = answer.get("pc_id")
                result.milestones["offer_answered"] = self._now()
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
                )
                await self._converse(pc, mic, recorder, rtvi, connected, failed, clips, result)
        except TimeoutError:
            result.ended_by = "timeout"
            result.errors.append(f"call timed out after {timeout:.0f} s")
            logger.warning(result.errors[-1])
        except _ServerHungUp:
            result.ended_by = "server_hangup"
        except (ProbeError, httpx.HTTPError) as e:
            result.ended_by = "error"
            result.errors.append(f"{type(e).__name__}: {e}")
            logger.error(result.errors[-1])
        except Exception as e:  # noqa: BLE001 - a probe reports, it doesn't crash
            result.ended_by = "error"
            result.errors.append(f"{type(e).__name__}: {e}")
            logger.exception("call failed")
        finally:
            await rtvi.close()
            await pc.close()
            await recorder.stop()
            mic.stop()

        self._fill(result, rtvi, recorder)
        if record is not None:
            write_wav(record, result.audio, result.sample_rate)
        return result

    async def _post_offer(self, sdp: str) -> dict:
        body: dict[str, Any] = {"sdp": sdp, "type": "offer", "pc_id": None, "restart_pc": False}
        if self.config.request_data is not None:
            body["request_data"] = self.config.request_data
        # trust_env=False: a proxy configured for the package registries must not see
        # our loopback traffic.
        async with httpx.AsyncClient(trust_env=False, timeout=self.config.connect_timeout_s) as http:
            response = await http.post(self.url + self.config.offer_path, json=body)
            response.raise_for_status()
            return response.json()

    async def _converse(self, pc, mic, recorder, rtvi, connected, failed, clips, result) -> None:
        cfg = self.config

        async def until(predicate: Callable[[], bool], timeout_s: float | None = None) -> bool:
            """Poll (20 ms) until predicate() or timeout; raise if the server hung up."""
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while not predicate():
                if rtvi.server_left.is_set() or failed.is_set():
                    raise _ServerHungUp()
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.02)
            return True

        if not await until(connected.is_set, cfg.connect_timeout_s):
            raise ProbeError(f"ICE/DTLS not connected within {cfg.connect_timeout_s} s")

        def turn_over(after: float) -> Callable[[], bool]:
            """Bot spoke after `after`, went quiet for the gap, and RTVI agrees it stopped."""

            def check() -> bool:
                end = recorder.last_speech_end()
                if end is None or recorder.first_speech_after(after) is None:
                    return False
                if rtvi.bot_speaking_seen and rtvi.bot_speaking:
                    return False
                if rtvi.llm_busy:  # e.g. "One moment, please." said while a tool is chosen
                    return False
                # A tool call ends one LLM response; the answer is a second one, just after.
                if rtvi.llm_stopped_at is not None and self._now() - rtvi.llm_stopped_at < cfg.post_speech_gap_s:
                    return False
                return self._now() - end >= cfg.post_speech_gap_s

            return check

        if not await until(turn_over(0.0), cfg.greeting_timeout_s - self._now()):
            msg = "no greeting heard" if not recorder.segments else "greeting did not finish"
            result.errors.append(f"{msg} within {cfg.greeting_timeout_s} s")
            logger.warning(result.errors[-1])

        for clip in clips:
            playback = mic.play(clip)
            await until(playback.done.is_set)
            if result.said_start_s is None:
                result.first_said_start_s = playback.start - self._t0
            result.said_start_s = playback.start - self._t0
            result.said_voice_end_s = playback.voice_end - self._t0
            result.said_end_s = playback.end - self._t0
            logger.debug(f"said {len(clip) / SAMPLE_RATE:.2f} s of audio")
            if not await until(turn_over(result.said_voice_end_s), cfg.answer_timeout_s):
                heard = recorder.first_speech_after(result.said_voice_end_s) is not None
                result.errors.append(
                    f"answer {'did not finish' if heard else 'not heard'} within "
                    f"{cfg.answer_timeout_s} s of our speech"
                )
                logger.warning(result.errors[-1])
                break

        await asyncio.sleep(cfg.linger_s)

    def _fill(self, result: CallResult, rtvi: RTVIClient, recorder: BotAudioRecorder) -> None:
        result.events = rtvi.events
        result.transcript = rtvi.transcript.entries()
        result.measure_bot_audio(recorder)
        if rtvi.opened_at is not None:
            result.milestones["datachannel_open"] = rtvi.opened_at
        for name, type_ in (
            ("bot_ready", "bot-ready"),
            ("first_bot_started_speaking", "bot-started-speaking"),
            ("first_user_started_speaking", "user-started-speaking"),
            ("first_user_stopped_speaking", "user-stopped-speaking"),
        ):
            t = rtvi.first(type_)
            if t is not None:
                result.milestones[name] = t
        result.turn_stages_s = [
            e.data["stages"] for e in rtvi.events
            if e.type == "server-message" and isinstance(e.data, dict) and e.data.get("type") == "turn-stages"
        ]
        result.ttfb = rtvi.ttfb()
        for kind in ("llm", "tts", "stt"):
            values = rtvi.ttfb_values(kind)
            result.ttfb_by_kind[kind] = values
            setattr(result, f"{kind}_ttfb_s", values[0] if values else None)
