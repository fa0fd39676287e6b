"""A caller that vanishes (its process killed, no goodbye) is cleaned up by the server.

The server hangs up once the caller's keep-alive has been missing for a few seconds
(``VOICEBOT_VANISHED_AFTER_S``), not when aiortc's ICE consent fails 30-40 s later: on a
one-line server the restaurant is unreachable until then."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from helpers import wait_until
from voicebot.probe import write_wav

pytestmark = pytest.mark.slow


def test_vanished_caller_ends_the_call_and_returns_its_worker(voicebot_server, tmp_path):
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 60, np.int16), 48000)
    before = voicebot_server.wait_until_settled().health()  # no worker busy with start-up's phrases
    log_start = len(voicebot_server.output())
    caller = subprocess.Popen(
        [sys.executable, "-m", "voicebot.probe", "--url", voicebot_server.url, "--say", str(silence),
         "--timeout", "120", "--greeting-timeout", "5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        during = wait_until(lambda: (h := voicebot_server.health())["active_calls"] == 1
                            and h["tts_pool"]["in_calls"] == 1 and h, timeout=60)
        assert during, "the call never started"
        assert during["tts_pool"]["idle"] == before["tts_pool"]["idle"] - 1
        time.sleep(3)  # its keep-alive pings have begun (before them, only ICE's own timeout can tell)
        caller.send_signal(signal.SIGKILL)  # no DTLS close, no hang-up: the caller is just gone
        caller.wait(10)

        after = wait_until(lambda: (h := voicebot_server.health())["active_calls"] == 0 and h, timeout=90)
        assert after, "the server kept the vanished call"
        assert "hanging up to free the line" in voicebot_server.output()[log_start:], "not its keep-alive"
        # Its worker went back to the pool, warm, for the next caller; no process was added.
        assert wait_until(lambda: voicebot_server.health()["tts_pool"] == before["tts_pool"], timeout=15)
        assert sorted(voicebot_server.health()["tts_worker_pids"]) == sorted(before["tts_worker_pids"])
        assert all(psutil.pid_exists(p) for p in before["tts_worker_pids"])
        assert voicebot_server.health()["ready"] is True
    finally:
        caller.kill()
