"""A caller that vanishes (its process killed, no goodbye) is cleaned up by the server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import psutil

from voicebot.probe import write_wav


def wait_until(condition, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def test_vanished_caller_ends_the_call_and_its_worker(voicebot_server, tmp_path):
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 60, np.int16), 48000)
    caller = subprocess.Popen(
        [sys.executable, "-m", "voicebot.probe", "--url", voicebot_server.url, "--say", str(silence),
         "--timeout", "120", "--greeting-timeout", "5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        during = wait_until(lambda: (h := voicebot_server.health())["active_calls"] == 1
                            and h["tts_worker_pids"] and h, timeout=60)
        assert during, "the call never started"
        worker_pids = during["tts_worker_pids"]
        caller.send_signal(signal.SIGKILL)  # no DTLS close, no hang-up: the caller is just gone
        caller.wait(10)

        after = wait_until(lambda: (h := voicebot_server.health())["active_calls"] == 0 and h, timeout=90)
        assert after, "the server kept the vanished call"
        assert wait_until(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                          for p in worker_pids), timeout=15)
        assert voicebot_server.health()["ready"] is True
    finally:
        caller.kill()
