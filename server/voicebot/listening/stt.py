"""Whisper that listens while the caller talks: partial transcripts, and the last one confirmed.

Pipecat's segmented Whisper starts transcribing when the VAD says the caller stopped
(~0.2 s after their voice ended) and takes ~0.6 s on our two cores: the transcript is the
first thing a turn waits for, while both cores sat idle during the caller's speech.

This service transcribes the growing utterance while it is spoken:

- every ``partial_every_s`` of new speech, and as soon as the caller pauses (the last
  ``pause_s`` quiet), it runs the same model (same hotwords, same beam) on the audio so
  far and pushes an ``InterimTranscriptionFrame`` (the browser shows it live; the prefill
  and the held reply use it);
- a pause's transcript also goes out as an ``EagerTranscriptionFrame``: the turn may be
  over, and a reply can be prepared (held until Smart Turn and the VAD agree);
- when the VAD stops, a partial made of all the speech (only silence came after it) is
  the final transcript at once; otherwise one final pass runs, as before.

Transcripts leave in the order they were said: a segment whose final pass is still running
holds back the next segment's transcript, even one confirmed from its pause at once (a number
said in two breaths came out as "555-4142. 503." and was stored in that order).

A caller who pauses mid-sentence ("Yes, … please.") makes two VAD segments in one turn.
A segment's transcript that arrives after the caller went on is not the turn's last word:
it is pushed unfinalized, so that Smart Turn's "complete" after the second segment waits
for the second transcript instead of ending the turn on the first (which then left
"please." to start a turn of its own).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    EagerTranscriptionFrame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.types import assert_given

from voicebot.adapters.pipecat import SegmentInternals
from voicebot.privacy import said
from voicebot.stt import NUMBER_NO_SPEECH_PROB, PHONE_NUMBER_PROMPT, PreloadedWhisperSTTService

# 20 ms frames for loudness; the caller's voice is "quiet" this far under their own speech.
_FRAME_S = 0.02
_QUIET_BELOW_SPEECH_DB = 35.0
_QUIET_FLOOR_DBFS = -60.0


def _frame_levels(pcm: bytes, sample_rate: int) -> np.ndarray:
    """dBFS of each 20 ms frame of 16-bit mono PCM."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float32) / 32768.0
    size = max(1, int(sample_rate * _FRAME_S))
    frames = samples[: len(samples) - len(samples) % size].reshape(-1, size)
    if not len(frames):
        return np.zeros(0)
    rms = np.sqrt(np.mean(frames * frames, axis=1)) + 1e-9
    return 20 * np.log10(rms)


def _running(task: asyncio.Task | None) -> bool:
    return task is not None and not task.done()


class Loudness:
    """Whether the end of an utterance is quiet, measured against the caller's own speech."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate

    def quiet_tail(self, pcm: bytes, seconds: float) -> bool:
        """True if the last ``seconds`` are quiet and the audio before them held speech."""
        levels = _frame_levels(pcm, self.sample_rate)
        tail = max(1, int(round(seconds / _FRAME_S)))
        if len(levels) <= tail:
            return False
        speech = float(np.percentile(levels[:-tail], 90))
        threshold = max(_QUIET_FLOOR_DBFS, speech - _QUIET_BELOW_SPEECH_DB)
        return speech > _QUIET_FLOOR_DBFS and bool(np.all(levels[-tail:] < threshold))

    def quiet_after(self, pcm: bytes, start: int) -> bool:
        """True if everything in ``pcm`` from byte ``start`` on is quiet next to the speech before it."""
        if start >= len(pcm):
            return True
        levels = _frame_levels(pcm, self.sample_rate)
        split = start // (2 * max(1, int(self.sample_rate * _FRAME_S)))
        if split <= 0:
            return False
        speech = float(np.percentile(levels[:split], 90))
        threshold = max(_QUIET_FLOOR_DBFS, speech - _QUIET_BELOW_SPEECH_DB)
        return bool(np.all(levels[split:] < threshold))


# Longest a transcript waits for the one said before it (a final pass on a busy machine).
ORDER_WAIT_S = 5.0
# A turn heard again whole: the silence put between its utterances (each already holds the VAD's
# 0.2 s tail), and at most this much of its speech (Whisper hears 30 s at a time).
UTTERANCE_GAP_S = 0.2
MAX_TURN_AGAIN_S = 28.0


class ListeningWhisperSTTService(PreloadedWhisperSTTService, SegmentInternals):
    """faster-whisper with partial transcripts during speech and a confirmed last partial.

    Two kinds of pass share the two cores with the caller's own audio path:

    - *partials*, every ``partial_every_s`` of new speech: greedy decoding on one thread
      (a second, single-threaded instance of the same model), cheap, for the LLM's prefill
      and the live transcript;
    - a *pause pass*, as soon as the last ``pause_s`` are quiet: the same model and settings
      as the final pass (beam 5, two threads). If only silence follows it, it is the final
      transcript; its text also starts the held reply.

    When the VAD stops with speech after the last pause pass, one final pass runs, as before.
    """

    def __init__(self, *, partial_every_s: float = 1.0, pause_s: float = 0.12,
                 number_check: Callable[[str], bool] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._partial_every_s = partial_every_s
        self._pause_s = pause_s
        self._partial_task: asyncio.Task | None = None
        self._pause_task: asyncio.Task | None = None
        self._pause: tuple[str, int] | None = None  # (text, bytes of the utterance it covers)
        self._utterance = 0  # counts VAD starts: a pass belongs to the utterance it was made of
        self._partial_started_at = 0  # bytes of the utterance when the last partial started
        self._pause_started_at = 0  # … when the last pause pass started
        self._loudness: Loudness | None = None
        self._final_pass_utterances: deque[int] = deque()  # the utterance of each queued final pass
        # Per utterance: its transcript is decided (pushed, or its final pass queued), and it is out.
        self._decided: dict[int, asyncio.Event] = {}
        self._out: dict[int, asyncio.Event] = {}
        # Whether a transcript's phone number is worth hearing again (a digit off, odd groups).
        self.number_check = number_check
        self._turn_utterances: list[bytes] = []  # the caller's utterances since the bot last began to speak
        self.confirmed_partials = 0
        self.final_passes = 0

    def _bytes(self, seconds: float) -> int:
        return int(self.sample_rate * seconds) * 2

    async def process_frame(self, frame, direction: FrameDirection):
        if isinstance(frame, BotStartedSpeakingFrame):
            self._turn_utterances.clear()
        if isinstance(frame, VADUserStartedSpeakingFrame) and not self.caller_speaking:
            self._utterance += 1
            self._pause, self._partial_started_at, self._pause_started_at = None, 0, 0
        await super().process_frame(frame, direction)

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        await super().process_audio_frame(frame, direction)
        if not self.caller_speaking:
            return
        if self._loudness is None:
            self._loudness = Loudness(self.sample_rate)
        audio = self.utterance_audio
        size = len(audio)
        pausing = (size - self._pause_started_at >= self._bytes(self._pause_s)
                   and self._loudness.quiet_tail(bytes(audio), self._pause_s))
        if pausing and not _running(self._pause_task):
            self._pause_started_at = size
            self._pause_task = self.create_task(self._pause_pass(bytes(audio), self._utterance), name="pause-pass")
        elif (not pausing and not _running(self._partial_task)
              and size - self._partial_started_at >= self._bytes(self._partial_every_s)):
            self._partial_started_at = size
            self._partial_task = self.create_task(self._partial(bytes(audio), self._utterance), name="partial")

    async def _partial(self, pcm: bytes, utterance: int) -> None:
        text = await self._transcribe(pcm + self.silence_padding(), quick=True)
        if utterance == self._utterance and text and self.caller_speaking:  # after the VAD's stop: stale
            await self.push_frame(InterimTranscriptionFrame(
                text, self.caller_id, time_now_iso8601(), result={"covers_s": round(len(pcm) / self._bytes(1.0), 2)}))

    async def _pause_pass(self, pcm: bytes, utterance: int) -> None:
        text = await self._transcribe(pcm + self.silence_padding())
        if utterance != self._utterance:
            return  # the caller has started another utterance meanwhile: this one is stale
        self._pause = (text, len(pcm))
        if not text:
            return
        result = {"covers_s": round(len(pcm) / self._bytes(1.0), 2), "pause": True}
        # Smart Turn may not have decided yet whether the turn is over: the reply can be prepared
        # (first: the prefill then leaves the slot to the reply's request).
        await self.push_frame(EagerTranscriptionFrame(text, self.caller_id, time_now_iso8601(), result=result))
        await self.push_frame(InterimTranscriptionFrame(text, self.caller_id, time_now_iso8601(), result=result))

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        self.caller_speaking = False
        self._decided.setdefault(self._utterance, asyncio.Event())
        self._out.setdefault(self._utterance, asyncio.Event())
        if not self.is_usable:
            self.utterance_audio.clear()
            self._transcript_decided(self._utterance)
            self._transcript_out(self._utterance)
            return
        pcm = bytes(self.utterance_audio)
        self.utterance_audio.clear()
        self._turn_utterances.append(pcm)
        while len(self._turn_utterances) > 1 and sum(map(len, self._turn_utterances)) > self._bytes(MAX_TURN_AGAIN_S):
            self._turn_utterances.pop(0)  # a caller who talks on and on: the last 28 s are enough
        running = self._pause_task if _running(self._pause_task) else None
        # Off the frame path: waiting here would hold back the audio behind this frame.
        self.create_task(self._finish(pcm, running, self._utterance), name="final-transcript")

    async def _finish(self, pcm: bytes, running: asyncio.Task | None, utterance: int) -> None:
        try:
            await self._after(self._decided, utterance)  # the one before goes first (its pass may be queued)
            await self._decide(pcm, running, utterance)
        finally:
            self._transcript_decided(utterance)

    async def _decide(self, pcm: bytes, running: asyncio.Task | None, utterance: int) -> None:
        loudness = self._loudness or Loudness(self.sample_rate)
        if running is not None and not loudness.quiet_after(pcm, self._pause_started_at):
            running = None  # speech came after that pause: its pass cannot be the transcript
        if running is not None:
            await asyncio.wait([running])
        pause = self._pause if utterance == self._utterance else None
        self._pause = None  # used once: the next utterance starts afresh
        if pause is not None and pause[0] and pause[1] <= len(pcm) and loudness.quiet_after(pcm, pause[1]):
            text = await self._heard_again(pause[0], pcm)
            self.confirmed_partials += 1
            logger.info(f"{self}: transcript from the last partial (only silence after it): [{said(text)}]")
            await self._after(self._out, utterance)
            await self._push_transcript(TranscriptionFrame(text, self.caller_id, time_now_iso8601()), utterance)
            self._transcript_out(utterance)
            return
        self.final_passes += 1
        logger.info(f"{self}: transcript needs a final pass (speech after the last partial)")
        self._final_pass_utterances.append(utterance)
        await self.queue_final_pass(pcm)

    async def run_stt(self, audio: bytes):
        """The final pass of one segment (in the order they were queued)."""
        utterance = self._final_pass_utterances.popleft() if self._final_pass_utterances else self._utterance
        heard = False
        try:
            async for frame in super().run_stt(audio):
                if isinstance(frame, TranscriptionFrame):
                    heard = True
                    frame.text = await self._heard_again(frame.text, audio)
                    await self._after(self._out, utterance)
                    await self._push_transcript(frame, utterance)
                else:
                    yield frame
        finally:
            if not heard:
                logger.info(f"{self}: the final pass heard no words in {len(audio) / self._bytes(1.0):.2f} s of audio")
            self._transcript_out(utterance)

    async def _after(self, events: dict[int, asyncio.Event], utterance: int) -> None:
        """Wait until the utterance said before this one got as far (``events``: decided, or out)."""
        before = events.get(utterance - 1)
        if before is None or before.is_set():
            return
        try:
            await asyncio.wait_for(before.wait(), ORDER_WAIT_S)
        except TimeoutError:
            logger.warning(f"{self}: the transcript before utterance {utterance} is late; not waiting for it")

    def _transcript_decided(self, utterance: int) -> None:
        self._decided.setdefault(utterance, asyncio.Event()).set()

    def _transcript_out(self, utterance: int) -> None:
        self._out.setdefault(utterance, asyncio.Event()).set()
        for events in (self._decided, self._out):
            for old in [u for u in events if u < utterance - 8]:
                del events[old]

    async def _push_transcript(self, frame: TranscriptionFrame, utterance: int) -> None:
        if utterance == self._utterance:
            await self.push_frame(frame)  # finalized: the turn may end on it
            return
        logger.debug(f"{self}: [{said(frame.text)}] is not the turn's last word (the caller went on)")
        await self.push_unfinalized(frame)

    async def _heard_again(self, text: str, pcm: bytes) -> str:
        """``text`` unless its phone number came out a digit off and the number model, told a
        number is coming, hears a whole one in the same audio."""
        if self.number_check is None or not self.number_check(text):
            return text
        again = await self._transcribe(pcm + self.silence_padding(), numbers=True)
        if not again or self.number_check(again):
            logger.info(f"{self}: the number in [{said(text)}] heard again: [{said(again)}], no better")
            return text
        logger.info(f"{self}: the number in [{said(text)}] heard again by the number model: [{said(again)}]")
        return again

    async def hear_turn_again(self) -> str | None:
        """The caller's words since the bot last began to speak, heard whole by the number model;
        None for a single utterance (its own number was heard again with it, ``_heard_again``).

        A number said in the same breath as a booking is cut by the VAD at the pauses between its
        groups, and each group heard alone comes out wrong ("one nine one nine" → "11919"): heard
        as one piece, the groups are heard as a number.
        """
        if len(self._turn_utterances) < 2:
            return None
        gap = bytes(self._bytes(UTTERANCE_GAP_S))
        pcm = gap.join(self._turn_utterances)
        text = await self._transcribe(pcm + self.silence_padding(), numbers=True)
        logger.info(f"{self}: the turn's {len(self._turn_utterances)} utterances heard again as one: [{said(text)}]")
        return text

    async def _transcribe(self, pcm: bytes, quick: bool = False, numbers: bool = False) -> str:
        """The text of ``pcm`` with the service's model and settings (as ``run_stt``); ``quick``:
        greedy decoding on the single-threaded instance (a partial); ``numbers``: the number
        model, told a phone number is coming."""
        self.apply_context_prompt()
        model = self.partial_model() if quick else (self.number_model() if numbers else self.whisper_model)
        if model is None:
            return ""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        language = assert_given(self._settings.language)
        hotwords = assert_given(self._settings.hotwords)
        initial_prompt = PHONE_NUMBER_PROMPT if numbers else assert_given(self._settings.initial_prompt)
        threshold = NUMBER_NO_SPEECH_PROB if numbers else assert_given(self._settings.no_speech_prob)

        options = {"beam_size": 1} if quick else {}
        if numbers:
            hotwords = None  # the menu's words only get in the way of digits

        def transcribe() -> str:
            segments, _ = model.transcribe(audio, language=language, hotwords=hotwords,
                                           initial_prompt=initial_prompt, **options)
            return "".join(s.text for s in segments if threshold is None or s.no_speech_prob < threshold).strip()

        try:
            return await asyncio.to_thread(transcribe)
        except Exception as e:  # a partial is only a head start; the final pass still runs
            logger.warning(f"{self}: partial transcription failed: {e}")
            return ""
