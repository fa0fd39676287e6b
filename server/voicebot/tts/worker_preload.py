"""Imported by the fork server once (see :mod:`voicebot.tts.forkserver`): does the slow,
fork-safe part of a Kokoro worker's start-up so every forked worker inherits it."""

from loguru import logger

from voicebot.tts.worker import preload_for_fork

logger.remove()  # the fork server has no console of its own to write to
preload_for_fork()
