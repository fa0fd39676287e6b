"""faster-whisper decoding options on our callers' questions: speed and words missed.

    uv run python bench/stt_options.py

Speaks the voice-to-voice benchmark's questions plus three menu-heavy ones with our TTS
(another voice than the bot's), then transcribes each with tiny.en and base under several
options (beam size, timestamps, temperature fallback, the business's words as hotwords or
initial prompt) and prints the median and max time and the share of words missed.
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
from voicebot.stt import load_whisper_model  # noqa: E402
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


def main() -> int:
    texts = [q for q, _ in QUESTIONS] + EXTRA
    workdir = Path("/tmp/stt-options")
    workdir.mkdir(exist_ok=True)
    paths = asyncio.run(speak_all_to_wav([(t, workdir / f"q{i}.wav") for i, t in enumerate(texts)]))
    audios = [load_audio(p, 16000).astype(np.float32) / 32768 for p in paths]
    for model_name in ("tiny.en", "base"):
        model = load_whisper_model(WhisperConfig(model=model_name))
        for name, options in OPTIONS.items():
            times, missed = [], []
            for audio, text in zip(audios, texts):
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
