"""The speech-to-text service for one call: Whisper as it is (``voicebot.stt``) or listening while the
caller speaks (``voicebot.listening.stt``). Here, apart from both, so that neither imports the other."""

from __future__ import annotations

from collections.abc import Callable

from pipecat.transcriptions.language import Language

from voicebot.config import WhisperConfig
from voicebot.listening.stt import ListeningWhisperSTTService
from voicebot.stt import PreloadedWhisperSTTService, WhisperModels


def create_stt_service(settings: WhisperConfig, models: WhisperModels, hotwords: str | None = None,
                       listening: bool = False, number_check: Callable[[str], bool] | None = None, **kwargs):
    """The speech-to-text service for one call (``settings`` as returned by :func:`usable_engine`),
    on the server's ``models``.

    ``listening``: transcribe while the caller speaks (``voicebot.listening.stt``); ``number_check``:
    whether a transcript's phone number is worth hearing again by the number model (listening only).
    ``hotwords``: the business's own words (menu items, street), which Whisper then hears
    as such. On our 13 test questions (bench/stt_options.py, tiny.en, beam 5) the overall
    share of words missed stayed the same (5.1 % without, 5.3 % with), but the menu words
    came out right only with them: "two dragon rolls and a miso soup" instead of "drag and
    roll and a missile soup".
    """
    if settings.engine == "mlx":
        from pipecat.services.whisper.stt import WhisperSTTServiceMLX

        return WhisperSTTServiceMLX(
            settings=WhisperSTTServiceMLX.Settings(model=settings.model, language=Language.EN), **kwargs
        )
    if settings.engine != "faster-whisper":
        raise ValueError(f"Unknown speech-to-text engine '{settings.engine}': use faster-whisper or mlx")
    if listening:
        return ListeningWhisperSTTService(stt_settings=settings, models=models, hotwords=hotwords,
                                          number_check=number_check, **kwargs)
    return PreloadedWhisperSTTService(stt_settings=settings, models=models, hotwords=hotwords, **kwargs)
