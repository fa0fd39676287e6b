"""Pins on the library internals our adapters wrap: each fails if a pinned library changes under us.

Every private part of Pipecat, misaki, mlx-audio and the standard library that we use is
reached through one module in ``voicebot/adapters/`` (one per library). Upgrading any of
them must fail here first, not in a call.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import multiprocessing.forkserver
import pathlib
import re

from voicebot.adapters import pipecat as pipecat_adapter


def test_pipecat_tts_service_cuts_text_with_the_aggregator_we_replace():
    from pipecat.services.tts_service import TTSService

    source = inspect.getsource(TTSService)
    assert "self._text_aggregator.aggregate(" in source
    assert "self._is_yielding_frames_synchronously" in source


async def test_the_pending_text_aggregator_releases_and_restarts():
    aggregator = pipecat_adapter.PendingTextAggregator()
    assert not aggregator.aggregates_tokens and aggregator.language is not None
    async for _ in aggregator.aggregate("Sure, we "):
        pass
    assert aggregator.pending_text == "Sure, we "
    assert aggregator.take_pending_text() == "Sure, we"
    assert aggregator.pending_text == ""
    from pipecat.utils.text.simple_text_aggregator import _LookaheadState

    assert aggregator._lookahead_state is _LookaheadState.IDLE
    # After a release, the next sentence aggregates as usual.
    released = [a.text async for a in aggregator.aggregate("Open till ten. Thanks")]
    assert released == ["Open till ten."]


def test_pipecat_whisper_loads_its_model_through_load():
    from pipecat.services.whisper.stt import WhisperSTTService

    assert "self._load()" in inspect.getsource(WhisperSTTService.__init__)
    assert "self._model" in inspect.getsource(WhisperSTTService)
    # use_model() swaps the model between passes: each pass reads it afresh.
    assert "model = self._model" in inspect.getsource(WhisperSTTService.run_stt)
    assert callable(getattr(WhisperSTTService, "_unsupported_language", None))


def test_pipecat_transcribes_a_segment_when_the_vad_stops():
    # timeline.py and the latency notes assume STT starts at the VAD's stop, in parallel
    # with Smart Turn.
    from pipecat.services.stt_service import SegmentedSTTService

    source = inspect.getsource(SegmentedSTTService.process_frame)
    assert "VADUserStoppedSpeakingFrame" in source


def test_misaki_g2p_uses_only_the_attributes_our_adapter_sets():
    from misaki import en

    from voicebot.adapters import misaki as misaki_adapter

    init = inspect.getsource(en.G2P.__init__)
    assigned = {line.split("=")[0].strip() for line in init.splitlines() if line.strip().startswith("self.")}
    ours = {line.split("=")[0].strip().replace("g2p.", "self.")
            for line in inspect.getsource(misaki_adapter.english_g2p).splitlines()
            if line.strip().startswith("g2p.")}
    assert assigned == ours == {"self.version", "self.british", "self.nlp", "self.lexicon", "self.fallback",
                                "self.unk"}


def test_mlx_audio_kokoro_convolutions_take_the_conv_we_swap():
    # Read from the source, not imported: importing mlx.core here, before the engine
    # preloads OpenBLAS, would slow every later MLX test in this process.
    spec = importlib.util.find_spec("mlx_audio.tts.models.kokoro.istftnet")
    tree = ast.parse(pathlib.Path(spec.origin).read_text())
    layer = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "ConvWeighted")
    call = next(node for node in layer.body if isinstance(node, ast.FunctionDef) and node.name == "__call__")
    assert [arg.arg for arg in call.args.args] == ["self", "x", "conv"]


def test_the_standard_forkserver_can_be_stopped():
    server = multiprocessing.forkserver.ForkServer()
    assert callable(getattr(server, "_stop", None)) and hasattr(server, "_forkserver_pid")


def test_pipecat_segmented_stt_keeps_what_the_listening_whisper_reads():
    from pipecat.services.stt_service import SegmentedSTTService

    init = inspect.getsource(SegmentedSTTService.__init__)
    assert "self._audio_buffer = bytearray()" in init and "self._user_speaking = False" in init
    assert "self._segment_queue" in init
    source = inspect.getsource(SegmentedSTTService)
    assert "def _trailing_silence(self)" in source and "await self.process_generator(self.run_stt(audio))" in source
    assert "def _handle_user_stopped_speaking(self" in source
    assert callable(getattr(SegmentedSTTService, "_record_stt_audio_usage", None))
    assert "self._user_id" in inspect.getsource(SegmentedSTTService.process_audio_frame)
    # push_unfinalized skips only the segmented service's own push_frame, which marks transcripts final.
    from pipecat.services.stt_service import STTService
    assert SegmentedSTTService.__mro__[1] is STTService
    push = inspect.getsource(SegmentedSTTService.push_frame)
    assert "frame.finalized = True" in push and "await super().push_frame(frame, direction)" in push


def test_pipecat_turn_analyzer_strategy_resets_at_both_turn_boundaries():
    """The held reply keeps the turn's transcripts itself and clears them in ``_reset``."""
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

    source = inspect.getsource(TurnAnalyzerUserTurnStopStrategy)
    assert source.count("await self._reset()") >= 2
    assert "async def _reset(self)" in source and "async def trigger_user_turn_stopped" in inspect.getsource(
        TurnAnalyzerUserTurnStopStrategy.__mro__[1])


def test_pipecat_openai_llm_answers_a_turn_and_pushes_text_where_our_hooks_wrap():
    from pipecat.services.llm_service import LLMService
    from pipecat.services.openai.base_llm import BaseOpenAILLMService

    assert inspect.iscoroutinefunction(BaseOpenAILLMService._process_context)
    assert "await self._process_context(" in inspect.getsource(BaseOpenAILLMService)
    assert inspect.iscoroutinefunction(LLMService._push_llm_text)
    assert "await self._push_llm_text(" in inspect.getsource(BaseOpenAILLMService)


def test_pipecat_turn_stop_strategy_warns_about_stop_secs_once_per_flag():
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

    source = inspect.getsource(TurnAnalyzerUserTurnStopStrategy)
    assert "if not self._stop_secs_warned:" in source and "self._stop_secs_warned: bool = False" in source


def test_private_names_of_other_libraries_are_used_only_in_adapters():
    """A private attribute or method reached on another library's object (``x._name`` where ``x`` is
    not ``self``/``cls`` of our own class) appears only in ``voicebot/adapters/``: a deny-list of the
    names we know of, so that moving one back out of the adapters fails here."""
    known = ("_process_context", "_push_llm_text", "_stop_secs_warned", "_text_aggregator",
             "_is_yielding_frames_synchronously", "_lookahead_state", "_segment_queue", "_audio_buffer",
             "_user_speaking", "_trailing_silence", "_record_stt_audio_usage", "_unsupported_language")
    root = pathlib.Path(pipecat_adapter.__file__).resolve().parents[1]
    offenders = []
    for path in root.rglob("*.py"):
        if "adapters" in path.parts:
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(root)}: {name}" for name in known
                      if re.search(rf"\.{name}\b|def {name}\b", text)]
    assert offenders == []


def test_a_phone_number_is_heard_with_the_number_prompt_and_a_name_by_the_accurate_model():
    """Once the desk asks for a phone number, Whisper's next passes use the number prompt (and a
    laxer no-speech filter); once it asks for a name, the accurate model; otherwise neither."""
    from voicebot.config import WhisperConfig
    from voicebot.listening.factory import create_stt_service
    from voicebot.stt import NUMBER_NO_SPEECH_PROB, PHONE_NUMBER_PROMPT

    class NamedModels:
        def load(self, settings):
            return f"{settings.model}/{settings.threads}"

    stt = create_stt_service(WhisperConfig(model="tiny.en", number_model="base"), NamedModels(), listening=True)
    stt.apply_context_prompt()
    assert stt.whisper_model == "tiny.en/2"
    usual_no_speech = stt._settings.no_speech_prob
    stt.expecting = "phone"  # the desk's DeskExpectsFrame, as the speech to text keeps it
    stt.apply_context_prompt()
    assert stt.whisper_model == "tiny.en/2"  # a number said whole: the main model, with the prompt
    assert stt._settings.initial_prompt == PHONE_NUMBER_PROMPT
    # Told a number is coming, Whisper doubts speech more: a clear number scored 0.44 and was dropped.
    assert stt._settings.no_speech_prob == NUMBER_NO_SPEECH_PROB > usual_no_speech
    stt.expecting = None
    stt.apply_context_prompt()
    assert stt.whisper_model == "tiny.en/2"
    assert stt._settings.no_speech_prob == usual_no_speech
    stt.expecting = "name"  # the desk asked for the caller's name
    stt.apply_context_prompt()
    assert stt.whisper_model == "base/2"
