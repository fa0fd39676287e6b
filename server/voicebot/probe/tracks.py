"""The media of a call: the caller's microphone track and the recorder of the bot's track.

Both are paced and stamped on the wall clock, because what the probe measures are
latencies between "our voice ended" and "the bot's voice began".
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from loguru import logger

from voicebot.audio import SAMPLE_RATE, resample, rms_dbfs, to_mono_int16
from voicebot.probe.results import SpeechSegment

FRAME_SAMPLES = SAMPLE_RATE // 50
"""20 ms, the Opus frame aiortc packetises."""


@dataclass
class SilenceDetector:
    """Calls a frame speech when its RMS clears a fixed threshold.

    A fixed threshold suffices because both ends are synthetic: the server pads with
    exact zeros, and Opus keeps those within a few LSB.
    """

    threshold_dbfs: float = -50.0

    def is_speech(self, samples: np.ndarray) -> bool:
        return rms_dbfs(samples) > self.threshold_dbfs

    def speech_bounds(self, samples: np.ndarray, frame: int = FRAME_SAMPLES) -> tuple[int, int] | None:
        """First and one-past-last sample of the frames that are speech, or None."""
        voiced = [
            i
            for i in range(0, len(samples), frame)
            if self.is_speech(samples[i : i + frame])
        ]
        if not voiced:
            return None
        return voiced[0], min(len(samples), voiced[-1] + frame)


@dataclass
class Playback:
    """Times (monotonic) at which a queued clip went out."""

    start: float | None = None
    voice_end: float | None = None
    end: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CallerAudioTrack(MediaStreamTrack):
    """Our microphone: 20 ms frames of silence in real time, with clips spliced in.

    Real-time pacing matters: the server's VAD and turn detection see our speech at the
    pace a phone would deliver it, and "end of speech" is a wall-clock instant.
    """

    kind = "audio"

    def __init__(self, detector: SilenceDetector):
        super().__init__()
        self._detector = detector
        self._start: float | None = None
        self._pts = 0
        self._clip: np.ndarray | None = None
        self._clip_pos = 0
        self._clip_voice_end = 0
        self._playback: Playback | None = None

    def play(self, samples: np.ndarray) -> Playback:
        """Queue a mono int16 48 kHz clip after the current frame; returns its Playback."""
        samples = np.asarray(samples, dtype=np.int16)
        pad = (-len(samples)) % FRAME_SAMPLES
        self._clip = np.concatenate([samples, np.zeros(pad, np.int16)])
        bounds = self._detector.speech_bounds(self._clip)
        self._clip_voice_end = bounds[1] if bounds else len(self._clip)
        self._clip_pos = 0
        self._playback = Playback()
        return self._playback

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

        chunk = np.zeros(FRAME_SAMPLES, np.int16)
        if self._clip is not None and self._playback is not None:
            now = time.monotonic()
            pb = self._playback
            if self._clip_pos == 0:
                pb.start = now
            chunk = self._clip[self._clip_pos : self._clip_pos + FRAME_SAMPLES]
            self._clip_pos += FRAME_SAMPLES
            if pb.voice_end is None and self._clip_pos >= self._clip_voice_end:
                pb.voice_end = now + FRAME_SAMPLES / SAMPLE_RATE
            if self._clip_pos >= len(self._clip):
                pb.end = now + FRAME_SAMPLES / SAMPLE_RATE
                pb.done.set()
                self._clip = None

        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


class BotAudioRecorder:
    """Reads the bot's track: a gap-filled recording plus speech segments by arrival time.

    Gaps (the server not sending) become zeros so that sample positions stay close to
    wall-clock time and greeting/answer can be cut out by time.
    """

    GAP_TOLERANCE_S = 0.1

    def __init__(self, detector: SilenceDetector, clock: Callable[[], float], hangover_s: float = 0.3):
        self._detector = detector
        self._clock = clock
        self._hangover_s = hangover_s
        self._chunks: list[np.ndarray] = []
        self._n = 0
        self.start: float | None = None
        self.segments: list[SpeechSegment] = []
        self.speech_frames: list[tuple[float, float]] = []  # (arrival, duration) of each voiced frame
        self.last_frame_at: float | None = None
        self._task: asyncio.Task | None = None

    def attach(self, track: MediaStreamTrack) -> None:
        self._task = asyncio.create_task(self._run(track))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception as e:  # the recording so far is kept; say why it ended
                logger.debug(f"Bot audio recorder ended with {type(e).__name__}: {e}")

    async def _run(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame), "the bot's track is an audio track"
                self.add(to_mono_int16(frame), frame.sample_rate)
        except MediaStreamError:
            logger.debug("bot audio track ended")

    def add(self, samples: np.ndarray, rate: int) -> None:
        """A piece of the bot's audio, as it arrives (a WebRTC frame, or a phone stream's media message)."""
        t = self._clock()
        if rate != SAMPLE_RATE:
            samples = resample(samples, rate)
        duration = len(samples) / SAMPLE_RATE
        if self.start is None:
            self.start = t - duration
        expected_end = self.start + (self._n + len(samples)) / SAMPLE_RATE
        if t - expected_end > self.GAP_TOLERANCE_S:
            gap = np.zeros(int((t - expected_end) * SAMPLE_RATE), np.int16)
            self._chunks.append(gap)
            self._n += len(gap)
        self._chunks.append(samples)
        self._n += len(samples)
        self.last_frame_at = t

        if self._detector.is_speech(samples):
            self.speech_frames.append((t, duration))
            last = self.segments[-1] if self.segments else None
            if last and t - last.end <= self._hangover_s:
                last.end = t
            else:
                self.segments.append(SpeechSegment(start=t, end=t))

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    def first_speech_after(self, t: float) -> float | None:
        return next((s.start for s in self.segments if s.start >= t), None)

    def last_speech_end(self) -> float | None:
        return self.segments[-1].end if self.segments else None

    def longest_gap(self, start: float, end: float | None = None) -> float | None:
        """The longest silence between voiced frames arriving in [start, end): a pause in a reply."""
        times = [(t, d) for t, d in self.speech_frames if t >= start and (end is None or t < end)]
        if len(times) < 2:
            return None
        return max(max(0.0, (t2 - d2) - t1) for (t1, _), (t2, d2) in itertools.pairwise(times))
