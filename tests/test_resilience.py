"""What a call survives, on the real server: the LLM's process killed mid-answer.

The caller hears an apology for the lost answer, the supervisor restarts the process
within seconds, and the next question is answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from helpers import wait_until
from voicebot.probe import CallProbe, ProbeConfig
from voicebot.tts.speak import speak_all_to_wav

pytestmark = pytest.mark.slow

QUESTIONS = ["Can you recommend something from the menu? Tell me about a few of your dishes.",
             "Where are you located?"]


def test_the_llm_killed_mid_answer_costs_one_answer_not_the_call(voicebot_server, tmp_path):
    wavs = asyncio.run(speak_all_to_wav([(q, tmp_path / f"q{i}.wav") for i, q in enumerate(QUESTIONS)],
                                        voice="am_michael"))
    before = voicebot_server.health()["llm_process"]
    log_start = len(voicebot_server.output())
    killed = threading.Event()

    def kill_when_it_writes() -> None:
        # The first answer's tokens are streaming (llama.cpp reported its prompt timings): kill it then.
        wait_until(lambda: "llama.cpp evaluated" in voicebot_server.output()[log_start:], timeout=120)
        os.kill(before["pid"], signal.SIGKILL)
        killed.set()

    threading.Thread(target=kill_when_it_writes, daemon=True).start()
    probe = CallProbe(voicebot_server.url, ProbeConfig(post_speech_gap_s=2.5, answer_timeout_s=90))
    call = asyncio.run(probe.call(say=wavs, timeout=300))
    assert killed.is_set(), voicebot_server.output()[log_start:][-3000:]
    bot = " ".join(e.text for e in call.transcript if e.role == "bot")
    assert "lost my train of thought" in bot, call.transcript_text
    assert "harbor" in bot.lower(), call.transcript_text  # the next question was answered
    after = voicebot_server.health()["llm_process"]
    assert after["running"] and after["restarts"] == before["restarts"] + 1 and after["pid"] != before["pid"]
