"""The frames our processors send each other, beside Pipecat's own (the Pipecat way: a processor tells
the others what it knows by a frame in the pipeline, never by reaching into them).

    front desk ──DeskExpectsFrame (upstream)──▶ speech to text: the caller's next words are a phone
                                                number (a number prompt) or a name (the accurate model)
    front desk ──DeskFollowUpFrame (downstream)─▶ DeskFollowUp: the desk's question, asked again once
                                                the LLM has answered the caller's aside
"""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class DeskExpectsFrame(SystemFrame):
    """What the front desk just asked the caller for (a :class:`~voicebot.front_desk.understanding.Slot`
    value such as ``"phone"`` or ``"name"``; None: nothing in particular)."""

    slot: str | None = None


@dataclass
class DeskFollowUpFrame(DataFrame):
    """The desk's question to ask again after the LLM's answer to this turn (None: none, any more)."""

    text: str | None = None
