"""faster-whisper decoding options on our callers' questions: speed and words missed.

    uv run python bench/stt_options.py [--listening]

Speaks the voice-to-voice benchmark's questions plus three menu-heavy ones with our TTS
(another voice than the bot's), then transcribes each with tiny.en and base under several
options (beam size, timestamps, temperature fallback, the business's words as hotwords or
initial prompt) and prints the median and max time and the share of words missed. First,
the transcript a call that listens ahead uses (the pause's partial) against the classic one
(``--listening``: only that).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]
from voice_to_voice import QUESTIONS  # noqa: E402

from speech import missed_word_rate  # noqa: E402
from voicebot.audio import load_audio  # noqa: E402
from voicebot.config import WhisperConfig  # noqa: E402
from voicebot.stt import WhisperModels  # noqa: E402
from voicebot.tts.speak import speak_all_to_wav  # noqa: E402

EXTRA = ["I'd like two dragon rolls and a miso soup for takeout.", "Do you have vegetable tempura?",
         "Is the salmon nigiri fresh today?"]
HOTWORDS = "Tomodachi Sushi, dragon roll, miso soup, salmon nigiri, vegetable tempura, Harbor Street, Portland"
OPTIONS = {
    "beam5 (pipecat default)": {},
    "beam1": {"beam_size": 1},
    "beam1, no timestamps, T=0": {"beam_size": 1, "without_timestamps": True, "temperature": 0.0},
    "beam1, no timestamps, T=0, hotwords": {"beam_size": 1, "without_timestamps": True, "temperature": 0.0,
                                            "hotwords": HOTWORDS},
    "beam5, hotwords (ours)": {"hotwords": HOTWORDS},
}


def voice_end(audio: np.ndarray, sample_rate: int = 16000) -> int:
    """The sample after the last voiced 20 ms frame (within 35 dB of the loudest)."""
    size = int(sample_rate * 0.02)
    frames = audio[: len(audio) - len(audio) % size].reshape(-1, size)
    levels = 20 * np.log10(np.sqrt(np.mean(frames * frames, axis=1)) + 1e-9)
    voiced = np.nonzero(levels > levels.max() - 35)[0]
    return int((voiced[-1] + 1) * size) if len(voiced) else len(audio)


def listening_against_classic(model, audios: list[np.ndarray], texts: list[str]) -> None:
    """The transcript a listening call uses (its pause partial: speech + 0.12 s, padded) against the
    classic one (speech + the VAD's 0.2 s, padded), with our settings: words missed by each."""
    from voicebot.listening.stt import Loudness

    pad = np.zeros(int(16000 * 0.5), np.float32)
    results = {"classic (VAD stop, then one pass)": [], "listening (the pause's partial, confirmed)": []}
    delays = []
    frame = int(16000 * 0.02)
    for audio, text in zip(audios, texts, strict=True):
        end = voice_end(audio)
        audio = np.concatenate([audio, pad])  # the caller's line is followed by silence, as on a call
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
        pause = next((cut for cut in range(frame, len(audio) + 1, frame)
                      if Loudness(16000).quiet_tail(pcm[: 2 * cut], 0.12)), len(audio))
        # The first pause Loudness hears may be inside the sentence (a comma): take the last one.
        pause = max((cut for cut in range(pause, len(audio) + 1, frame) if cut <= end + int(16000 * 0.3)
                     and Loudness(16000).quiet_tail(pcm[: 2 * cut], 0.12)
                     and not Loudness(16000).quiet_tail(pcm[: 2 * (cut - frame)], 0.12)), default=pause)
        delays.append((pause - end) / 16000)
        for name, cut in zip(results, (end + int(16000 * 0.2), pause), strict=True):
            segments, _ = model.transcribe(np.concatenate([audio[:cut], pad]), language="en", hotwords=HOTWORDS)
            results[name].append(missed_word_rate(text, " ".join(s.text for s in segments)))
    for name, missed in results.items():
        print(f"tiny.en  {name:48} missed {np.mean(missed):.1%}", flush=True)
    print(f"         the pause is heard {statistics.median(delays):.2f} s (median) after the voice ends "
          f"(the VAD stops at 0.20 s)", flush=True)


def main() -> int:
    texts = [q for q, _ in QUESTIONS] + EXTRA
    workdir = Path("/tmp/stt-options")
    workdir.mkdir(exist_ok=True)
    paths = asyncio.run(speak_all_to_wav([(t, workdir / f"q{i}.wav") for i, t in enumerate(texts)]))
    audios = [load_audio(p, 16000).astype(np.float32) / 32768 for p in paths]
    models = WhisperModels()
    listening_against_classic(models.load(WhisperConfig(model="tiny.en")), audios, texts)
    if "--listening" in sys.argv:
        return 0
    for model_name in ("tiny.en", "base"):
        model = models.load(WhisperConfig(model=model_name))
        for name, options in OPTIONS.items():
            times, missed = [], []
            for audio, text in zip(audios, texts, strict=True):
                started = time.perf_counter()
                segments, _ = model.transcribe(audio, language="en", **options)
                heard = " ".join(s.text for s in segments)
                times.append(time.perf_counter() - started)
                missed.append(missed_word_rate(text, heard))
            print(f"{model_name:8} {name:40} median {statistics.median(times):.2f}s  max {max(times):.2f}s  "
                  f"missed {np.mean(missed):.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
