"""Fast Kokoro worker start-up on Linux: fork workers from a process that has done the
slow, fork-safe part of a worker's start already.

A fresh worker interpreter spends most of its ~2.5 s cold start importing spaCy and
onnxruntime and building the G2P. The standard library's ``forkserver`` runs those once,
in a small server process started with the bot, and forks each worker from it; a worker
then only creates its ONNX session and speaks its warm-up phrase. Model sessions are
never created before the fork (their thread pools would not survive it), and MLX is
never imported there (Metal and fork do not mix), so both engines stay safe.

Set ``VOICEBOT_TTS_FORKSERVER=0`` to start every worker as a fresh interpreter instead.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os

from voicebot.adapters.forkserver import stop_forkserver
from voicebot.config import FORKSERVER_MAIN_PATH_ENV

PRELOAD_MODULE = "voicebot.tts.worker_preload"


def context() -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` multiprocessing context with our worker preload registered; safe to call again."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD_MODULE])
    return ctx


def ensure_running() -> None:
    """Start the fork server now (it preloads in the background); idempotent.

    multiprocessing makes every child run the parent's main script again (the server's
    entry script imports all of Pipecat: ~1 s per worker) unless the child's ``__main__``
    already is that script. The fork server's own ``"__main__"`` preload would arrange
    that, but Python 3.11 never hands it the path, so our preload module does it, told
    the path through the environment the fork server inherits. An entry script must
    guard its work with ``if __name__ == "__main__"`` (ours does).
    """
    from multiprocessing import spawn

    main_path = spawn.get_preparation_data("voicebot").get("init_main_from_path")
    if main_path:
        os.environ[FORKSERVER_MAIN_PATH_ENV] = main_path
    context()
    multiprocessing.forkserver.ensure_running()


def stop() -> None:
    """Stop the fork server (server shutdown), after the workers it forked have stopped.

    It would exit by itself once the server's process is gone; stopping it explicitly
    makes shutdown leave nothing behind even for a moment.
    """
    stop_forkserver()
