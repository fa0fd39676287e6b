"""Logging: readable progress on the console, and ``error.log`` for "how fast was it".

``error.log`` (in the directory the server runs from, rotated at 10 MB) keeps warnings and
errors plus every metrics line: Pipecat's per-service ``TTFB`` lines, the TTS warm-up
lines and each call's timeline, so ``grep TTFB error.log`` answers at a glance.

Neither keeps callers' personal data: ``error.log`` always, and the console unless it is set
to DEBUG (a developer's), show a caller's words as a word count and phone numbers masked
(``privacy.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

from voicebot import config
from voicebot.privacy import redact, unmark

METRIC_MARKERS = ("TTFB", "TTS worker warm", "Call timeline", "Turn timeline", "TTS warmup")
ERROR_LOG_NAME = "error.log"


def _is_metric_or_problem(record) -> bool:
    if record["level"].no >= logger.level("WARNING").no:
        return True
    message = record["message"]
    return any(marker in message for marker in METRIC_MARKERS)


def _with_private_data_hidden(record) -> None:
    """Both ways of showing the line: ``redacted`` (kept logs, INFO and above) and ``plain`` (DEBUG)."""
    record["extra"]["redacted"] = redact(record["message"])
    record["extra"]["plain"] = unmark(record["message"])


def _console_format(level: str) -> str:
    """The console's line: callers' words shown only on a developer's DEBUG console."""
    shown = "{extra[plain]}" if logger.level(level.upper()).no <= logger.level("DEBUG").no else "{extra[redacted]}"
    return "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | " + shown


def setup_logging(log_dir: Path | None = None, level: str | None = None) -> Path:
    """Console at ``level`` (``VOICEBOT_LOG_LEVEL``, default INFO) and the error.log sink."""
    log_path = (log_dir or Path.cwd()) / ERROR_LOG_NAME
    logger.remove()
    logger.configure(patcher=_with_private_data_hidden)
    level = level or config.log_level()
    logger.add(sys.stderr, level=level, format=_console_format(level))
    logger.add(
        log_path,
        level="DEBUG",
        filter=_is_metric_or_problem,
        rotation="10 MB",
        retention=5,
        enqueue=True,
        diagnose=False,  # a traceback's variable values could hold a caller's words
        format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {name}:{function}:{line} - {extra[redacted]}",
    )
    return log_path


def setup_console_logging(level: str) -> None:
    """The console sink alone, on stderr (``voicebot chat``: stdout is the conversation)."""
    logger.remove()
    logger.configure(patcher=_with_private_data_hidden)
    logger.add(sys.stderr, level=level.upper(), format=_console_format(level))


def progress(line: str) -> None:
    """A start-up progress line, printed as is (the seed's style) and logged at INFO."""
    print(line, flush=True)
    logger.opt(depth=1).debug(line.strip())
