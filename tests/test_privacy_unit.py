"""Callers' words, names and numbers stay out of the kept logs (``privacy.py``, ``logs.py``)."""

from __future__ import annotations

import sys

import pytest
from loguru import logger

from voicebot.logs import setup_logging
from voicebot.privacy import mask_numbers, redact, said


@pytest.mark.parametrize("text, shown", [
    ("from +15035550199: streaming", "from +*******0199: streaming"),
    ("number 503-555-4142.", "number ***-***-4142."),
    ("(503) 555-4142", "(***) ***-4142"),
    ("call 555-4142 or 5035554142", "call ***-4142 or ******4142"),
    ("is five oh three, five five five, four one four two. Shall I", "is *** four one four two. Shall I"),
])
def test_phone_numbers_written_or_spoken_keep_only_their_last_four_digits(text, shown):
    assert mask_numbers(text) == shown


@pytest.mark.parametrize("text", [
    "Booking #3 for Tomodachi Sushi: 4 on 2026-12-04 19:00",
    "12:30, $22.50, pid=24274, 1234.5 ms, Pipecat 1.14.0, 2026-12-06 18:01:42.404",
    "a table for two at seven, party of four, one of them vegetarian",
    "Phone call CA3f12345678901234567890ab12cd: stream over; Call SmallWebRTCConnection#0-9ab4612345678e",
])
def test_dates_times_prices_and_counts_are_left_alone(text):
    assert mask_numbers(text) == text


def test_a_callers_words_are_shown_as_a_count():
    assert redact(f"heard [{said('This is Dana Price speaking')}]") == "heard [<5 words>]"


@pytest.fixture
def logging_restored():
    yield
    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr)


def _log_a_call() -> None:
    logger.info(f"Phone call CA1 from +15035550199: transcript [{said('I am John Smith, 503 555 4142')}]")
    logger.info(f"Turn timeline [x]: said [{said('John Smith')}]")
    logger.complete()


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_the_console_and_error_log_never_show_them(tmp_path, capsys, logging_restored, level):
    error_log = setup_logging(tmp_path, level=level)
    _log_a_call()
    shown = capsys.readouterr().err + error_log.read_text()
    assert "Turn timeline [x]: said [<2 words>]" in error_log.read_text()
    assert "Smith" not in shown and "4142" not in shown.replace("***-***-4142", "")
    assert "5035550199" not in shown


def test_a_developers_debug_console_shows_them_but_error_log_does_not(tmp_path, capsys, logging_restored):
    error_log = setup_logging(tmp_path, level="DEBUG")
    _log_a_call()
    console = capsys.readouterr().err
    assert "transcript [I am John Smith, 503 555 4142]" in console and "+15035550199" in console
    assert "\u27e6" not in console  # the marks are gone
    assert "Smith" not in error_log.read_text()
