"""Per-turn knowledge for the LLM: the business's entries that match the caller's words."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import Frame, LLMContextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.business.database import Company
from voicebot.business.desk import Clock
from voicebot.business.knowledge import KnowledgeBase, search_terms
from voicebot.business.prompt import NOTES_MARKER, clock_note, day_hours_notes, with_notes

# What the system prompt itself answers (who, where, when, how to reach us, what we serve).
_PROMPT_TOPICS = frozenset("""where located location address street directions find phone number call reach hours
open opening close closing closed time today tonight tomorrow reservation reservations reserve book booking takeout
pickup order menu food serve eat kind type name who what""".split())
# Said when the data holds nothing for a question (the 1.5B model otherwise makes an answer up).
NOTHING_KNOWN = ("Our information says nothing about this: say you are not sure and offer to take a message "
                 "for the staff.")

# Words that make the current time worth telling the LLM ("are you still open?").
_TIME_WORDS = frozenset({"now", "open", "close", "closing", "closed", "today", "tonight", "still", "late", "hours"})


class KnowledgeNotes(FrameProcessor):
    """Adds the business knowledge matching the caller's words to their turn's message.

    Sits between the user aggregator and the LLM. The notes are written into the context
    itself, so later turns keep the same prefix (the LLM's prompt cache stays valid), and
    an entry already given in this call is not given again.
    """

    def __init__(self, knowledge: KnowledgeBase, clock: Clock, company: Company | None = None, limit: int = 3,
                 **kwargs):
        super().__init__(**kwargs)
        self._knowledge = knowledge
        self._company = company
        self._clock = clock
        self._limit = limit
        self._given: set[int] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._annotate(frame)
        await self.push_frame(frame, direction)

    def annotated(self, words: str) -> tuple[str, list[int]]:
        """The caller's ``words`` with their notes, and the entries those notes came from.

        Pure (nothing recorded), so the prefill while the caller speaks writes exactly what
        the turn's request will.
        """
        hits = self._knowledge.search(words, self._limit)
        notes = [text for entry_id, text in hits if entry_id not in self._given]
        now = self._clock()
        if self._company is not None:
            notes[:0] = day_hours_notes(self._company, now, words)
        terms = search_terms(words)
        if _TIME_WORDS.intersection(terms):
            notes.insert(0, clock_note(now))
        if not hits and not notes and terms and not _PROMPT_TOPICS.intersection(terms) and "?" in words:
            notes.append(NOTHING_KNOWN)
        return with_notes(words, notes), [entry_id for entry_id, _ in hits]

    async def _annotate(self, frame: LLMContextFrame) -> None:
        messages = frame.context.messages
        if not messages:
            return
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "user":
            return
        content = last.get("content")
        if not isinstance(content, str) or NOTES_MARKER in content:
            return
        text, entries = await asyncio.to_thread(self.annotated, content)
        if not frame.speculation:
            self._given.update(entries)
        last["content"] = text
