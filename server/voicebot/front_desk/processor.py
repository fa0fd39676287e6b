"""The front desk in the pipeline: it takes the caller turns that are its business before the LLM.

    user aggregator → FrontDeskProcessor → knowledge notes → LLM → DeskFollowUp → TTS

Each completed caller turn (an ``LLMContextFrame``) goes to the call's
:class:`~voicebot.front_desk.dialog.FrontDeskDialog`. When the desk answers (a booking's
next question, the read-back, the stored row's confirmation, a price), its sentence is
pushed as the assistant's response, so it is spoken and recorded in the context like an
LLM answer, and the LLM is not asked. Otherwise the frame goes on to the LLM; if the desk
was waiting on an answer, :class:`DeskFollowUp` asks its question again after the LLM's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot import privacy
from voicebot.business.phone import number_in_doubt, with_number_heard_again
from voicebot.business.prompt import without_notes
from voicebot.frames import DeskExpectsFrame, DeskFollowUpFrame
from voicebot.front_desk.claims import check_llm_reply
from voicebot.front_desk.dialog import DeskReply, FrontDeskDialog

# Characters after which a clause of the LLM's reply can be checked and spoken.
_CLAUSE_END = frozenset(",.;:!?")


class DeskTextFrame(LLMTextFrame):
    """The front desk's own words, written from the data: spoken like the LLM's, checked by no guard."""


class FrontDeskProcessor(FrameProcessor):
    """Answers the caller turns that belong to the front desk; passes the others to the LLM."""

    def __init__(self, dialog: FrontDeskDialog, on_transfer: Callable[[], None] | None = None,
                 hear_turn_again: Callable[[], Awaitable[str | None]] | None = None,
                 hold_replies: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.dialog = dialog
        # A reply that waits to see if the caller goes on ("I only got 7 digits…"): in a text chat a
        # line is a whole turn, so it is said at once.
        self._hold_replies = hold_replies
        self._register_event_handler("on_desk_reply", sync=True)
        self._on_transfer = on_transfer  # a phone call: hand the caller to a person once this reply is spoken
        self._heard = ""  # the caller's words since the bot's last answer, as the desk last saw them
        self._heard_since = 0  # the number of messages up to that answer
        self._held: asyncio.Task | None = None  # a reply waiting to see if the caller goes on
        self._speaking: str | None = None  # the desk's reply being spoken
        # The caller's turn heard again whole (the listening speech to text), for a phone number in doubt.
        self.hear_turn_again = hear_turn_again
        self._told_expecting: str | None = None  # what the speech to text was last told the desk expects

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, (VADUserStartedSpeakingFrame, UserStartedSpeakingFrame, InterruptionFrame)):
            self._drop_held()
        if isinstance(frame, InterruptionFrame):
            if self._speaking is not None:
                # Talked over: if the next turn adds nothing, the desk says it again.
                self.dialog.unheard, self._speaking = self._speaking, None
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._speaking = None
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM and not frame.speculation:
            words = self._new_caller_words(frame.context)
            if words and self.hear_turn_again is not None and number_in_doubt(words):
                words = await self._with_number_heard_again(words)
            reply = await asyncio.to_thread(self.dialog.respond, words) if words else None
            await self._tell_what_is_expected()
            if reply is not None and not reply.after_answer:
                if reply.wait_s > 0 and self._hold_replies:
                    self._held = self.create_task(self._say_unless_caller_goes_on(reply), name="desk-held-reply")
                else:
                    await self._say(reply)
                return
            await self.push_frame(DeskFollowUpFrame(reply.text if reply is not None else None))
        await self.push_frame(frame, direction)

    async def _tell_what_is_expected(self) -> None:
        """Tell the speech to text (upstream) what the caller's next words are, when that changed."""
        expecting = self.dialog.expecting.value if self.dialog.expecting is not None else None
        if expecting != self._told_expecting:
            self._told_expecting = expecting
            await self.push_frame(DeskExpectsFrame(expecting), FrameDirection.UPSTREAM)

    async def cleanup(self):
        self._drop_held()
        await super().cleanup()

    def _drop_held(self) -> None:
        if self._held is not None and not self._held.done():
            self._held.cancel()
        self._held = None

    async def _say_unless_caller_goes_on(self, reply: DeskReply) -> None:
        await asyncio.sleep(reply.wait_s)
        self._held = None
        await self._say(reply)

    async def _with_number_heard_again(self, words: str) -> str:
        """``words`` with their phone number as the whole turn, heard again, gives it (if whole)."""
        assert self.hear_turn_again is not None
        again = await self.hear_turn_again()
        better = with_number_heard_again(words, again) if again else None
        if better is None:
            return words
        logger.info(f"{self}: the phone number heard again: {privacy.said(repr(words))} → {privacy.said(repr(better))}")
        return better

    def _new_caller_words(self, context: LLMContext) -> str:
        """What the caller said since the desk last looked.

        The caller's words since the bot's last answer, less what the desk already heard of
        them: a caller who pauses mid-sentence leaves a second message, or (when the bot's
        answer was cut before a word of it was spoken) Pipecat adds their words to the first.
        A turn the LLM answered ahead of its end (a held reply) never passed here.
        """
        messages = context.messages
        answered = max((i + 1 for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                       default=0)
        said = " ".join(without_notes(content).strip() for m in messages[answered:]
                        if isinstance(m, dict) and m.get("role") == "user"
                        and isinstance(content := m.get("content"), str))
        said = " ".join(said.split())
        heard = self._heard if answered == self._heard_since else ""  # the bot answered since: all new
        self._heard, self._heard_since = said, answered
        if heard and said.startswith(heard):
            return said[len(heard):].strip()
        return said

    async def _say(self, reply: DeskReply) -> None:
        logger.info(f"{self}: front desk answers: {privacy.said(repr(reply.text))}")
        self._speaking = reply.text
        await self._call_event_handler("on_desk_reply", reply)
        if reply.end_call:
            # The goodbye was synthesized at start-up; the call ends once it has been spoken.
            if reply.transfer and self._on_transfer is not None:
                self._on_transfer()
            await self.push_frame(TTSSpeakFrame(reply.text))
            await self.push_frame(EndWorkerFrame())
            return
        await self.push_frame(LLMFullResponseStartFrame())
        await self.push_frame(DeskTextFrame(reply.text))
        await self.push_frame(LLMFullResponseEndFrame())


class DeskFollowUp(FrameProcessor):
    """After the LLM answers an aside, asks the desk's pending question again (told by the desk's
    :class:`DeskFollowUpFrame`, which it keeps to itself)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._follow_up: str | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, DeskFollowUpFrame):
            self._follow_up = frame.text
            return
        if isinstance(frame, InterruptionFrame):
            self._follow_up = None
        elif (isinstance(frame, LLMFullResponseEndFrame) and direction is FrameDirection.DOWNSTREAM
                and self._follow_up):
            text, self._follow_up = self._follow_up, None
            await self.push_frame(DeskTextFrame(f" {text}"))
        await self.push_frame(frame, direction)


class LLMReplyGuard(FrameProcessor):
    """Between the LLM and the speaker: a reply that claims the desk's work or states what the data
    does not is replaced by the desk's own sentence before it is spoken (``claims.py``).

    The LLM's words are let through a clause at a time (TTS speaks a clause at a time anyway), each
    checked with all that came before it in the reply; from the first breach on, the rest of the
    reply is dropped and the desk speaks instead.
    """

    def __init__(self, dialog: FrontDeskDialog, **kwargs):
        super().__init__(**kwargs)
        self._dialog = dialog
        self._passed = ""
        self._held: list[LLMTextFrame] = []
        self._blocked = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, (LLMFullResponseStartFrame, InterruptionFrame)):
                self._passed, self._held, self._blocked = "", [], False
            elif isinstance(frame, LLMTextFrame) and not isinstance(frame, DeskTextFrame):
                if not self._blocked:
                    self._held.append(frame)
                    if _CLAUSE_END & set(frame.text):
                        await self._release()
                return
            elif isinstance(frame, LLMFullResponseEndFrame):
                await self._release()
        await self.push_frame(frame, direction)

    async def _release(self) -> None:
        held, self._held = self._held, []
        if not held or self._blocked:
            return
        text = "".join(f.text for f in held)
        dialog = self._dialog
        verdict = check_llm_reply(self._passed + text, dialog.menu.items, dialog.amounts_cents())
        if verdict is None:
            self._passed += text
            for frame in held:
                await self.push_frame(frame)
            return
        self._blocked = True
        instead = dialog.instead_of(verdict)
        logger.warning(f"{self}: the LLM's reply broke a rule ({verdict.breach}: {privacy.said(repr(verdict.said))}); "
                       f"the desk says instead: {privacy.said(repr(instead))}")
        await self.push_frame(DeskFollowUpFrame(None))  # the desk's sentence asks its question itself
        await self.push_frame(DeskTextFrame(f" {instead}" if self._passed else instead))
