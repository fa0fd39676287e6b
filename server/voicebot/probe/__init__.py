"""A headless phone caller for the voice bot: one WebRTC call, measured.

``CallProbe`` dials the server the way Pipecat's browser client does (SmallWebRTC: an
SDP offer POSTed to ``/api/offer``, an audio transceiver, a ``chat`` data channel that
carries RTVI and keep-alive pings), listens to the greeting, optionally says a WAV
file, records the bot, collects the RTVI events and hangs up. It is what the
end-to-end tests and the first-audio benchmark use, and the ``call-probe`` CLI::

    result = await CallProbe("http://127.0.0.1:7860").call(say="order.wav", timeout=60)
    result.connect_to_first_audio_s, result.voice_to_voice_s, result.transcript_text

All times are seconds on the monotonic clock, relative to ``t0``: the instant just
before the offer is POSTed. "Bot audio" means a received 20 ms frame whose RMS is
above ``ProbeConfig.speech_threshold_dbfs``; the server streams digital silence
between utterances, so the threshold only has to clear Opus noise.

The package, one job per module: ``call`` (the call), ``tracks`` (our microphone and
the bot's recording), ``rtvi`` (the data channel), ``results`` (what was measured),
``network`` (loopback ICE), ``cli`` (``call-probe``). The audio helpers it shares with
the rest of the project live in ``voicebot.audio`` and are re-exported here.
"""

from voicebot.audio import (
    SAMPLE_RATE,
    load_audio,
    resample,
    resample_frames,
    rms_dbfs,
    to_mono_int16,
    write_wav,
)
from voicebot.probe.call import CallProbe, ProbeConfig, ProbeError
from voicebot.probe.cli import main
from voicebot.probe.network import allow_loopback_ice, is_loopback_url
from voicebot.probe.results import CallResult, RTVIEvent, SpeechSegment, TranscriptEntry, format_summary
from voicebot.probe.rtvi import (
    DATA_CHANNEL_LABEL,
    PING_INTERVAL_S,
    RTVI_CLIENT_VERSION,
    RTVI_LABEL,
    RTVIClient,
    TranscriptBuilder,
    classify_processor,
)
from voicebot.probe.tracks import FRAME_SAMPLES, BotAudioRecorder, CallerAudioTrack, Playback, SilenceDetector

__all__ = [
    "DATA_CHANNEL_LABEL",
    "FRAME_SAMPLES",
    "PING_INTERVAL_S",
    "RTVI_CLIENT_VERSION",
    "RTVI_LABEL",
    "SAMPLE_RATE",
    "BotAudioRecorder",
    "CallProbe",
    "CallResult",
    "CallerAudioTrack",
    "Playback",
    "ProbeConfig",
    "ProbeError",
    "RTVIClient",
    "RTVIEvent",
    "SilenceDetector",
    "SpeechSegment",
    "TranscriptBuilder",
    "TranscriptEntry",
    "allow_loopback_ice",
    "classify_processor",
    "format_summary",
    "is_loopback_url",
    "load_audio",
    "main",
    "resample",
    "resample_frames",
    "rms_dbfs",
    "to_mono_int16",
    "write_wav",
]
