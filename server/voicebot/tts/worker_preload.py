"""Imported by the fork server once (see :mod:`voicebot.tts.forkserver`): does the slow,
fork-safe part of a Kokoro worker's start-up so every forked worker inherits it."""

from multiprocessing import spawn

from loguru import logger

from voicebot.config import forkserver_main_path
from voicebot.tts.worker import preload_for_fork

logger.remove()  # the fork server has no console of its own to write to
if main_path := forkserver_main_path():
    spawn.import_main_path(main_path)  # once here, instead of once in every worker
preload_for_fork()
