"""Logging: readable progress on the console, and ``error.log`` for "how fast was it".

``error.log`` (in the directory the server runs from, rotated at 10 MB) keeps warnings and
errors plus every metrics line: Pipecat's per-service ``TTFB`` lines, the TTS warm-up
lines and each call's timeline, so ``grep TTFB error.log`` answers at a glance.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

from voicebot import config

METRIC_MARKERS = ("TTFB", "TTS worker warm", "Call timeline", "Turn timeline", "TTS warmup")
ERROR_LOG_NAME = "error.log"


def _is_metric_or_problem(record) -> bool:
    if record["level"].no >= logger.level("WARNING").no:
        return True
    message = record["message"]
    return any(marker in message for marker in METRIC_MARKERS)


def setup_logging(log_dir: Path | None = None, level: str | None = None) -> Path:
    """Console at ``level`` (``VOICEBOT_LOG_LEVEL``, default INFO) and the error.log sink."""
    log_path = (log_dir or Path.cwd()) / ERROR_LOG_NAME
    logger.remove()
    logger.add(
        sys.stderr,
        level=level or config.log_level(),
        format="<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | {message}",
    )
    logger.add(
        log_path,
        level="DEBUG",
        filter=_is_metric_or_problem,
        rotation="10 MB",
        retention=5,
        enqueue=True,
        format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {name}:{function}:{line} - {message}",
    )
    return log_path


def progress(line: str) -> None:
    """A start-up progress line, printed as is (the seed's style) and logged at INFO."""
    print(line, flush=True)
    logger.opt(depth=1).debug(line.strip())
