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


# The number in a turn of its own, as the desk asks for it (Whisper is then told a number is coming):
# said in the booking's breath, tiny.en heard "five five five" as "5 5 5 5" in 2 of 2 runs (the desk
# rightly asked again; that is not what this test is about).
BOOKING = ["A table for two this Friday at 7 pm, for John Smith.",
           "Five oh three, five five five, four one four two.", "Yes, that's right.", "Yes, please."]


def test_the_database_down_mid_call_gets_an_apology_and_nothing_claimed(tmp_path):
    """PostgreSQL stops between the read-back and the caller's yes: the bot apologizes and offers a
    message (kept until the database is back); nothing is said to be booked; once it is back,
    bookings work again."""
    from sqlalchemy import select

    from conftest import CLOCK
    from postgres_server import PostgresServer
    from voicebot.business import Database, schema
    from voicebot.launcher import LocalServer

    postgres = PostgresServer()
    postgres.start()
    server = None
    try:
        url = postgres.create_database("resilience")
        wavs = asyncio.run(speak_all_to_wav([(t, tmp_path / f"b{i}.wav") for i, t in enumerate(BOOKING)],
                                            voice="am_michael"))
        server = LocalServer.start(tmp_path / "server", "2", env={"VOICEBOT_DB": url, "VOICEBOT_CLOCK": CLOCK,
                                                                  "VOICEBOT_LOG_LEVEL": "DEBUG",
                                                                  "VOICEBOT_DATA_DIR": str(tmp_path / "data")})
        # Its fixed phrases (the apology among them) are logged as they load: not to be taken for the desk's words.
        server.wait_until_settled()
        log_start = len(server.output())
        events = {"halted": threading.Event(), "resumed": threading.Event()}

        def database_down_at_the_yes() -> None:
            wait_until(lambda: "Let me read that back" in server.output()[log_start:], timeout=180)
            postgres.halt()
            events["halted"].set()
            wait_until(lambda: any("front desk answers" in line and "couldn't save that just now" in line
                                   for line in server.output()[log_start:].splitlines()), timeout=180)
            postgres.resume()
            events["resumed"].set()

        threading.Thread(target=database_down_at_the_yes, daemon=True).start()
        probe = CallProbe(server.url, ProbeConfig(post_speech_gap_s=2.5, answer_timeout_s=60))
        call = asyncio.run(probe.call(say=wavs, timeout=300))
        assert events["halted"].is_set() and events["resumed"].is_set(), server.output()[log_start:][-3000:]
        bot = " ".join(e.text for e in call.transcript if e.role == "bot")
        assert "couldn't save that just now" in bot and "message" in bot, call.transcript_text
        assert "all set" not in bot.lower(), call.transcript_text
        assert server.process.poll() is None  # nothing crashed
        database = Database(url)
        with database.engine.connect() as db:
            assert list(db.execute(select(schema.bookings))) == []
            [message] = list(db.execute(select(schema.messages)))  # the offer taken: what they asked for
        assert "table for 2" in message.text and message.phone == "5035554142"
        again = asyncio.run(CallProbe(server.url, ProbeConfig(post_speech_gap_s=2.5, answer_timeout_s=60))
                            .call(say=wavs[:3], timeout=300))
        with database.engine.connect() as db:
            assert len(list(db.execute(select(schema.bookings)))) == 1, again.transcript_text
        database.dispose()
    finally:
        if server is not None:
            server.stop()
        postgres.stop()
