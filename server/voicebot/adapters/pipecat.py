"""Pipecat internals our services build on (pinned by ``tests/test_library_pins.py``).

- A TTS service's text aggregator is created in ``TTSService.__init__`` with no hook to
  pass our own; we swap it afterwards.
- ``TTSService`` assumes audio from ``run_tts`` may arrive later, out of band, unless told
  otherwise; ours always arrives inline.
- ``SimpleTextAggregator`` keeps the pending text and its look-ahead state privately; our
  first-clause aggregator releases part of it early.
- ``WhisperSTTService`` loads its model in ``_load`` (from the constructor, per call); we
  hand it the model preloaded at start-up.
"""

from __future__ import annotations

from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.utils.text.base_text_aggregator import BaseTextAggregator, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState


def tts_text_aggregator(service: TTSService) -> BaseTextAggregator:
    """The aggregator ``service`` cuts the LLM's text with."""
    return service._text_aggregator


def replace_tts_text_aggregator(service: TTSService, aggregator: BaseTextAggregator) -> None:
    """Make ``service`` cut the LLM's text with ``aggregator``."""
    service._text_aggregator = aggregator


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

    def preloaded_model(self):
        """The faster-whisper ``WhisperModel`` to use; subclasses return a shared one."""
        raise NotImplementedError

    def _load(self):
        self._model = self.preloaded_model()
        unsupported = self._unsupported_language()
        if unsupported:
            raise ValueError(unsupported)
