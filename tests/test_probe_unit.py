"""The call probe's pure logic: levels, speech detection, resampling, pacing, bookkeeping.

No server and no network: the end-to-end behaviour is covered by the tests that call the
real bot with the probe.
"""

import time

import numpy as np
import pytest

from voicebot.probe import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    BotAudioRecorder,
    CallerAudioTrack,
    CallResult,
    RTVIEvent,
    SilenceDetector,
    TranscriptBuilder,
    classify_processor,
    is_loopback_url,
    load_audio,
    resample,
    rms_dbfs,
    to_mono_int16,
    write_wav,
)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_rms_dbfs_levels():
    assert rms_dbfs(np.zeros(960, np.int16)) == float("-inf")
    assert rms_dbfs(np.zeros(0, np.int16)) == float("-inf")
    # A full-scale sine has an RMS of 1/sqrt(2): -3 dBFS.
    assert rms_dbfs(tone(1000, 0.1, SAMPLE_RATE, 1.0)) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs(tone(1000, 0.1, SAMPLE_RATE, 0.01)) == pytest.approx(-43.0, abs=0.1)


def test_silence_detector_threshold_and_bounds():
    detector = SilenceDetector(threshold_dbfs=-50)
    assert not detector.is_speech(np.zeros(FRAME_SAMPLES, np.int16))
    # Opus-like residue of a few LSB around digital silence is not speech.
    assert not detector.is_speech(np.random.default_rng(0).integers(-3, 4, FRAME_SAMPLES).astype(np.int16))
    assert detector.is_speech(tone(300, 0.02, SAMPLE_RATE, 0.05))

    clip = np.concatenate(
        [np.zeros(10 * FRAME_SAMPLES, np.int16), tone(300, 0.5, SAMPLE_RATE), np.zeros(7 * FRAME_SAMPLES, np.int16)]
    )
    start, end = detector.speech_bounds(clip)
    assert start == 10 * FRAME_SAMPLES
    assert end == pytest.approx(10 * FRAME_SAMPLES + int(0.5 * SAMPLE_RATE), abs=FRAME_SAMPLES)
    assert detector.speech_bounds(np.zeros(5 * FRAME_SAMPLES, np.int16)) is None


@pytest.mark.parametrize("from_rate", [8000, 16000, 22050, 24000, 44100])
def test_resample_keeps_duration_and_pitch(from_rate):
    src = tone(440, 1.0, from_rate)
    out = resample(src, from_rate, SAMPLE_RATE)
    assert out.dtype == np.int16
    assert len(out) == pytest.approx(SAMPLE_RATE, abs=SAMPLE_RATE * 0.01)
    assert peak_hz(out, SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(src), abs=0.5)


def test_load_audio_decodes_stereo_wav_to_mono_48k(tmp_path):
    import wave

    left = tone(600, 0.5, 22050)
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(np.stack([left, left], axis=1).tobytes())
    samples = load_audio(path)
    assert len(samples) == pytest.approx(SAMPLE_RATE // 2, abs=SAMPLE_RATE * 0.01)
    assert peak_hz(samples, SAMPLE_RATE) == pytest.approx(600, abs=3)

    out = tmp_path / "mono.wav"
    write_wav(out, samples)
    assert np.array_equal(load_audio(out), samples)


def test_to_mono_int16_from_decoded_opus_layout():
    import av

    # aiortc hands decoded Opus over as packed s16 stereo at 48 kHz.
    mono = tone(500, 0.02, SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(np.stack([mono, mono], axis=1).reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate = SAMPLE_RATE
    assert np.array_equal(to_mono_int16(frame), mono)


async def test_caller_track_paces_real_time_and_times_the_clip():
    track = CallerAudioTrack(SilenceDetector())
    first = await track.recv()  # silence before any clip
    assert first.samples == FRAME_SAMPLES and first.sample_rate == SAMPLE_RATE
    assert not np.any(first.to_ndarray())

    speech = tone(300, 0.1, SAMPLE_RATE)
    clip = np.concatenate([speech, np.zeros(FRAME_SAMPLES * 3, np.int16)])  # 60 ms of tail silence
    playback = track.play(clip)
    started = time.monotonic()
    sent = [(await track.recv()).to_ndarray().reshape(-1) for _ in range(8)]
    elapsed = time.monotonic() - started

    assert np.array_equal(np.concatenate(sent)[: len(clip)], clip)
    # Paced like a microphone, not sent as fast as possible (a lower bound only: a busy
    # machine may be late, never early).
    assert elapsed >= 7 * 0.02, elapsed
    assert playback.done.is_set()
    # voice_end is where the speech stopped, not where the clip's silent tail ended.
    assert playback.end - playback.voice_end == pytest.approx(0.06, abs=0.025)
    assert playback.voice_end - playback.start == pytest.approx(0.1, abs=0.03)
    track.stop()


def test_recorder_fills_gaps_and_segments_speech():
    now = [0.0]
    recorder = BotAudioRecorder(SilenceDetector(), clock=lambda: now[0], hangover_s=0.3)
    speech = tone(300, 0.02, SAMPLE_RATE)
    silence = np.zeros(FRAME_SAMPLES, np.int16)

    def feed(samples, t):
        now[0] = t
        recorder.add(samples, SAMPLE_RATE)

    for i in range(10):  # 0.02..0.20: silence
        feed(silence, 0.02 * (i + 1))
    for i in range(10):  # 0.22..0.40: speech
        feed(speech, 0.22 + 0.02 * i)
    feed(speech, 1.40)  # one second with no packets, then speech again

    assert recorder.start == pytest.approx(0.0)
    assert [(round(s.start, 2), round(s.end, 2)) for s in recorder.segments] == [(0.22, 0.4), (1.4, 1.4)]
    # The gap was filled, so sample positions track arrival time.
    assert len(recorder.audio) / SAMPLE_RATE == pytest.approx(1.40, abs=0.03)
    assert recorder.first_speech_after(0.5) == pytest.approx(1.40)


def test_call_result_cuts_greeting_and_answer_by_time():
    audio = np.arange(3 * SAMPLE_RATE, dtype=np.int64).astype(np.int16)
    result = CallResult(url="x", audio=audio, audio_start_s=1.0, said_start_s=2.0, said_voice_end_s=3.0)
    assert len(result.greeting_audio) == SAMPLE_RATE
    assert len(result.answer_audio) == SAMPLE_RATE
    assert result.answer_audio[0] == audio[2 * SAMPLE_RATE]
    assert len(CallResult(url="x").answer_audio) == 0


def test_transcript_from_pipecat_1_14_messages():
    """The message sequence pipecat 1.14's RTVIObserver sent a 2.2.0 client in a real call."""
    greeting = "Hello, thanks for calling. How can I help you today?"
    answer = "You said: a table for two."
    events = [
        RTVIEvent(1.5, "bot-output", {"text": greeting, "segment_id": 7, "spoken_status": "new"}),
        RTVIEvent(5.6, "bot-output", {"text": greeting, "segment_id": 7, "spoken_status": "completed"}),
        RTVIEvent(5.6, "bot-tts-text", {"text": greeting}),
        RTVIEvent(11.6, "user-input", {"text": " A table for two. ", "input_type": "transcription", "final": True}),
        RTVIEvent(11.6, "user-transcription", {"text": " A table for two. ", "final": True}),
        RTVIEvent(11.7, "bot-llm-text", {"text": answer}),
        RTVIEvent(11.7, "bot-transcription", {"text": answer}),
        RTVIEvent(11.8, "bot-output", {"text": answer, "segment_id": 9, "spoken_status": "new"}),
        RTVIEvent(16.3, "bot-output", {"text": answer, "segment_id": 9, "spoken_status": "completed"}),
        RTVIEvent(16.3, "bot-tts-text", {"text": answer}),
    ]
    builder = TranscriptBuilder()
    for ev in events:
        builder.add(ev)
    entries = builder.entries()
    assert [(e.role, e.text, e.t) for e in entries] == [
        ("bot", greeting, 1.5),
        ("user", "A table for two.", 11.6),
        ("bot", answer, 11.8),
    ]


def test_transcript_falls_back_to_tts_text_and_merges_a_turn():
    builder = TranscriptBuilder()
    for ev in [
        RTVIEvent(1.0, "bot-tts-text", {"text": "Hello"}),
        RTVIEvent(1.2, "bot-tts-text", {"text": ","}),
        RTVIEvent(1.3, "bot-tts-text", {"text": "how can I help?"}),
        RTVIEvent(4.0, "user-transcription", {"text": "interim", "final": False}),
        RTVIEvent(4.5, "user-transcription", {"text": "Hi there", "final": True}),
    ]:
        builder.add(ev)
    assert [(e.role, e.text) for e in builder.entries()] == [
        ("bot", "Hello, how can I help?"),
        ("user", "Hi there"),
    ]


@pytest.mark.parametrize(
    "name,kind",
    [
        ("WhisperSTTService#0", "stt"),  # contains "TTS" as a substring
        ("ElevenLabsTTSService#0", "tts"),  # contains "stt" when lowercased
        ("KokoroTTSService#1", "tts"),
        ("OpenAILLMService#0", "llm"),
        ("LocalLLM#0", "llm"),
        ("kokoro_worker", "tts"),
        ("MyCustomTTS#0", "tts"),
        ("SileroVADAnalyzer#0", None),
    ],
)
def test_classify_processor(name, kind):
    assert classify_processor(name) == kind


def test_is_loopback_url():
    assert is_loopback_url("http://127.0.0.1:7860")
    assert is_loopback_url("http://localhost:7860/")
    assert is_loopback_url("http://[::1]:7860")
    assert not is_loopback_url("http://192.0.2.10:7860")
