"""A held reply: the answer is prepared from the caller's pause, released when the turn is over.

Smart Turn decides when the caller is done (Pipecat's ``TurnAnalyzerUserTurnStopStrategy``);
this strategy adds what LiveKit Agents calls preemptive generation. When the listening
Whisper hears a pause, its transcript comes as an ``EagerTranscriptionFrame``, and the
LLM starts answering it at once, speculatively: Pipecat's speculation gate holds every
frame of that answer. When the turn ends, the answer is kept if the final transcript says
the same words (normalized), else dropped and the turn answered again; if the caller goes
on talking, it is dropped. A dropped reply never reaches the caller or the context.

Turns the front desk answers itself (bookings, orders, prices…) are not speculated on:
its answers take milliseconds and change what it stores. But when the caller's words fully
answer the question the desk just asked (a yes to a read-back, a whole phone number), the
turn ends on its final transcript even if Smart Turn is still unsure: a bare number or "Yes."
often sounds unfinished to it, which cost 3 s of silence each time.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer
from pipecat.frames.frames import (
    EagerTranscriptionFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_stop.eager_match_policy import EagerMatchPolicy, NormalizedMatch

from voicebot.adapters.pipecat import silence_stop_secs_warning
from voicebot.privacy import said


class HeldReplyTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn decides; a pause's transcript starts the reply early, held until then."""

    def __init__(self, *, turn_analyzer: BaseTurnAnalyzer, should_speculate: Callable[[str], bool] | None = None,
                 match_policy: EagerMatchPolicy | None = None, completes_turn: Callable[[str], bool] | None = None,
                 **kwargs):
        super().__init__(turn_analyzer=turn_analyzer, **kwargs)
        self._should_speculate = should_speculate or (lambda text: True)
        self._completes_turn = completes_turn or (lambda text: False)
        self._caller_speaking = False
        self._match_policy = match_policy or NormalizedMatch()
        self._speculation: UserTurnSpeculation | None = None
        self._turn_open = False
        # Every transcript of the turn so far: Pipecat's strategy keeps only the last one, and a held
        # reply matched against it was kept for "please." when the turn was "I'd like to book a table.
        # please." (the desk never saw the booking).
        self._transcripts: list[str] = []
        self.kept = 0
        self.dropped = 0
        # Pipecat warns when the VAD's stop_secs is not its 0.2 s: ours is longer on purpose while a
        # phone number is said (voicebot.listening.pauses), and the STT's p99 is our own measure.
        silence_stop_secs_warning(self)

    async def handle_user_turn_started(self):
        self._turn_open = True
        await super().handle_user_turn_started()

    async def handle_user_turn_stopped(self):
        self._turn_open = False
        await super().handle_user_turn_stopped()

    def _turn_text(self) -> str:
        """The caller's words this turn: every transcript so far, in order."""
        return " ".join(text for t in self._transcripts if (text := t.strip()))

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, TranscriptionFrame):
            self._transcripts.append(frame.text)  # before Pipecat's handling, which may end the turn on it
        if isinstance(frame, EagerTranscriptionFrame):
            await self._speculate(frame.text)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._caller_speaking = True
            if self._speculation is not None:
                await self._withdraw("the caller went on")
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._caller_speaking = False
        result = await super().process_frame(frame)
        if (isinstance(frame, TranscriptionFrame) and frame.finalized and self._turn_open
                and not self._caller_speaking and self._completes_turn(self._turn_text())):
            logger.info(f"{self}: the desk's question is answered, the turn ends: [{said(self._turn_text())}]")
            await self.trigger_user_turn_stopped()
        return result

    async def _speculate(self, text: str) -> None:
        if not self._turn_open:
            return  # the turn is already over (or not begun): nothing to answer ahead of
        so_far = self._turn_text()
        text = f"{so_far} {text}".strip() if so_far else text.strip()
        if not text or (self._speculation is not None and self._speculation.text == text):
            return
        if self._speculation is not None:
            await self._withdraw("a newer pause")
        if not self._should_speculate(text):
            logger.debug(f"{self}: not speculating on a front-desk turn: [{text}]")
            return
        self._speculation = UserTurnSpeculation(text=text)
        logger.debug(f"{self}: answering the pause ahead of the turn's end: [{text}]")
        await self.trigger_user_turn_inference_triggered(speculation=self._speculation)

    async def _withdraw(self, why: str) -> None:
        speculation, self._speculation = self._speculation, None
        if speculation is not None:
            self.dropped += 1
            logger.info(f"{self}: held reply dropped ({why}): [{said(speculation.text)}]")
            await self.trigger_user_turn_speculation_cancelled()

    async def trigger_user_turn_stopped(self, *, enable_user_speaking_frames: bool | None = None):
        speculation, self._speculation = self._speculation, None
        final = self._turn_text()
        if speculation is not None and self._match_policy.matches(speculation.text, final):
            self.kept += 1
            logger.info(f"{self}: held reply kept: the final transcript is the one it answered: [{said(final)}]")
            await self.trigger_user_turn_finalized(enable_user_speaking_frames=enable_user_speaking_frames,
                                                   confirms_speculation=True)
            return
        if speculation is not None:
            self.dropped += 1
            logger.info(f"{self}: held reply dropped (final [{said(final)}] is not [{said(speculation.text)}])")
            await self.trigger_user_turn_speculation_cancelled()
        await super().trigger_user_turn_stopped(enable_user_speaking_frames=enable_user_speaking_frames)

    async def _reset(self):
        speculation, self._speculation = self._speculation, None
        self._transcripts.clear()
        await super()._reset()
        if speculation is not None:
            self.dropped += 1
            await self.trigger_user_turn_speculation_cancelled()
