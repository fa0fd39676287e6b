"""Pipecat internals our services build on (pinned by ``tests/test_library_pins.py``).

- A TTS service's text aggregator is created in ``TTSService.__init__`` with no hook to
  pass our own; we swap it afterwards.
- ``TTSService`` assumes audio from ``run_tts`` may arrive later, out of band, unless told
  otherwise; ours always arrives inline.
- ``SimpleTextAggregator`` keeps the pending text and its look-ahead state privately; our
  first-clause aggregator releases part of it early.
- ``WhisperSTTService`` loads its model in ``_load`` (from the constructor, per call); we
  hand it the model preloaded at start-up.
- ``SegmentedSTTService`` keeps the utterance's audio, the VAD state and its queue of
  segments to transcribe privately; the listening Whisper transcribes the audio while it
  grows and queues the final pass itself. Its ``push_frame`` marks every transcript
  finalized (one segment, one transcript); a segment the caller has already talked past
  is not the turn's last word, so the listening Whisper pushes it unfinalized.
- ``BaseOpenAILLMService`` answers a turn in ``_process_context`` and pushes each piece of
  text through ``_push_llm_text``; our llama.cpp service wraps both (an apology when the
  model's process dies mid-answer needs to know whether words went out already).
- ``TurnAnalyzerUserTurnStopStrategy`` warns once per STT metadata when the VAD's
  ``stop_secs`` is not Pipecat's 0.2 s (``_stop_secs_warned``); ours is longer on purpose.
"""

from __future__ import annotations

from pipecat.frames.frames import TranscriptionFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService, WhisperSTTSettings
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.utils.text.base_text_aggregator import BaseTextAggregator, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState


def tts_text_aggregator(service: TTSService) -> BaseTextAggregator:
    """The aggregator ``service`` cuts the LLM's text with."""
    return service._text_aggregator


def replace_tts_text_aggregator(service: TTSService, aggregator: BaseTextAggregator) -> None:
    """Make ``service`` cut the LLM's text with ``aggregator``."""
    # Pipecat's private attribute is inferred as the SimpleTextAggregator it starts with; it is used as any aggregator.
    service._text_aggregator = aggregator  # type: ignore[assignment]


def mark_audio_inline(service: TTSService) -> None:
    """Tell ``service`` its audio arrives inline with ``run_tts`` (HTTP-style), so a context
    is closed at its end rather than after ``stop_frame_timeout_s``."""
    service._is_yielding_frames_synchronously = True


class PendingTextAggregator(SimpleTextAggregator):
    """Pipecat's sentence aggregator, with its pending text readable and releasable."""

    @property
    def aggregates_tokens(self) -> bool:
        return self._aggregation_type == TextType.TOKEN

    @property
    def pending_text(self) -> str:
        """Text received since the last aggregation was released."""
        return self._text

    def take_pending_text(self) -> str:
        """Release the pending text (stripped) and start the next aggregation afresh."""
        text = self._text.strip()
        self._text = ""
        self._lookahead_state = _LookaheadState.IDLE
        return text


class PreloadableWhisperSTTService(WhisperSTTService):
    """Pipecat's faster-whisper service, taking its model from :meth:`preloaded_model`."""

    # Pipecat annotates it with its ``Settings`` class attribute, which a type checker cannot read as a type.
    _settings: WhisperSTTSettings

    def preloaded_model(self):
        """The faster-whisper ``WhisperModel`` to use; subclasses return a shared one."""
        raise NotImplementedError

    def use_model(self, model) -> None:
        """Transcribe with ``model`` from the next pass on (Pipecat reads it at each pass)."""
        self._model = model

    def _load(self):
        self._model = self.preloaded_model()
        unsupported = self._unsupported_language()
        if unsupported:
            raise ValueError(unsupported)


class SegmentInternals(PreloadableWhisperSTTService):
    """The segmented service's private state, under names that say what it is."""

    @property
    def utterance_audio(self) -> bytearray:
        """16-bit PCM since a little before the caller started speaking (grows while they do)."""
        return self._audio_buffer

    @property
    def caller_speaking(self) -> bool:
        """The VAD's last word: is the caller speaking?"""
        return self._user_speaking

    @caller_speaking.setter
    def caller_speaking(self, value: bool) -> None:
        self._user_speaking = value

    @property
    def caller_id(self) -> str:
        return getattr(self, "_user_id", "")

    @property
    def whisper_model(self):
        return self._model

    def silence_padding(self) -> bytes:
        """The silence appended to a segment before it is transcribed."""
        return self._trailing_silence()

    async def queue_final_pass(self, pcm: bytes) -> None:
        """Transcribe ``pcm`` as the utterance's final segment (counted as STT usage)."""
        self._record_stt_audio_usage(pcm)
        await self._segment_queue.put(pcm + self._trailing_silence())

    async def push_unfinalized(self, frame: TranscriptionFrame) -> None:
        """Push a transcript without the segmented service's ``finalized`` mark: more of the
        turn is still to be transcribed, so the turn must not end on these words."""
        frame.finalized = False
        await STTService.push_frame(self, frame, FrameDirection.DOWNSTREAM)


class AnswerHooksLLMService(OpenAILLMService):
    """Pipecat's OpenAI-compatible LLM service with a hook around each turn's answer and one on each
    piece of text it pushes (Pipecat's private ``_process_context`` and ``_push_llm_text``)."""

    async def answer_turn(self, context: LLMContext) -> None:
        """Answer one turn (subclasses wrap it)."""
        await super()._process_context(context)

    def text_pushed(self, text: str) -> None:
        """A piece of the answer is about to go downstream."""

    async def _process_context(self, context: LLMContext):
        await self.answer_turn(context)

    async def _push_llm_text(self, text: str):
        self.text_pushed(text)
        await super()._push_llm_text(text)


def silence_stop_secs_warning(strategy: TurnAnalyzerUserTurnStopStrategy) -> None:
    """Keep ``strategy`` from warning that the VAD's stop_secs is not Pipecat's 0.2 s (until new STT metadata)."""
    strategy._stop_secs_warned = True
