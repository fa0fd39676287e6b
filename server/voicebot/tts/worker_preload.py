"""Imported by the fork server once (see :mod:`voicebot.tts.forkserver`): does the slow,
fork-safe part of a Kokoro worker's start-up so every forked worker inherits it."""

import os
from multiprocessing import spawn

from loguru import logger

from voicebot.tts.forkserver import MAIN_PATH_ENV
from voicebot.tts.worker import preload_for_fork

logger.remove()  # the fork server has no console of its own to write to
if main_path := os.environ.get(MAIN_PATH_ENV):
    spawn.import_main_path(main_path)  # once here, instead of once in every worker
preload_for_fork()
