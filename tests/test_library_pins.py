"""Pins on the library internals we rely on: each fails if a pinned library changes under us.

Our code reaches into a few private parts of Pipecat, misaki and the standard library
(listed in each test). Upgrading any of them must fail here first, not in a call.
"""

from __future__ import annotations

import inspect
import multiprocessing.forkserver


def test_pipecat_tts_service_reads_the_text_aggregator_we_replace():
    # tts/service.py swaps in FirstClauseTextAggregator by assigning _text_aggregator and
    # sets _is_yielding_frames_synchronously after each sentence.
    from pipecat.services.tts_service import TTSService
    from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

    source = inspect.getsource(TTSService)
    assert "self._text_aggregator.aggregate(" in source
    assert "self._is_yielding_frames_synchronously" in source
    assert hasattr(SimpleTextAggregator(), "language")  # passed on to our aggregator


def test_pipecat_simple_text_aggregator_keeps_the_state_we_reset():
    # tts/aggregation.py empties _text and sets _lookahead_state to IDLE when it releases
    # the first clause itself.
    from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState

    aggregator = SimpleTextAggregator()
    assert aggregator._text == "" and aggregator._lookahead_state is _LookaheadState.IDLE
    assert "self._lookahead_state" in inspect.getsource(SimpleTextAggregator)


def test_pipecat_whisper_loads_its_model_through_load():
    # stt.py overrides WhisperSTTService._load to take the model preloaded at start-up.
    from pipecat.services.whisper.stt import WhisperSTTService

    assert "self._load()" in inspect.getsource(WhisperSTTService.__init__)
    assert "self._model" in inspect.getsource(WhisperSTTService)


def test_pipecat_transcribes_a_segment_when_the_vad_stops():
    # timeline.py and the latency notes assume STT starts at the VAD's stop, in parallel
    # with Smart Turn.
    from pipecat.services.stt_service import SegmentedSTTService

    source = inspect.getsource(SegmentedSTTService.process_frame)
    assert "VADUserStoppedSpeakingFrame" in source


def test_misaki_g2p_uses_only_the_attributes_we_set():
    # tts/g2p.py builds misaki's G2P with __new__ and sets these attributes itself.
    from misaki import en

    init = inspect.getsource(en.G2P.__init__)
    assigned = {line.split("=")[0].strip() for line in init.splitlines() if line.strip().startswith("self.")}
    assert assigned == {"self.version", "self.british", "self.nlp", "self.lexicon", "self.fallback", "self.unk"}


def test_the_standard_forkserver_can_be_stopped():
    # tts/forkserver.py stops the fork server with ForkServer._stop at shutdown.
    server = multiprocessing.forkserver.ForkServer()
    assert callable(getattr(server, "_stop", None)) and hasattr(server, "_forkserver_pid")
