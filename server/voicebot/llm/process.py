"""The embedded model in its own process, started and watched by the bot server.

The bot server used to run llama.cpp inside its own process (xllamacpp). Out of it:

- a crash in llama.cpp ends only this process: the supervisor restarts it on the same
  port with the same key, and the calls in progress keep their audio (the caller hears
  an apology for the one answer that was lost);
- the operating system can give the TTS worker priority over it (``nice``), so the first
  words of a reply are synthesized while the model writes the rest;
- each call gets a slot of its own, so one caller's prompt cache is not evicted by another's.

The process is ``python -m voicebot.llm.serve`` (what ``uv run voicebot-llm`` runs), on a
free loopback port, with a random key.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass

from loguru import logger

from voicebot.llm.embedded import EmbeddedLlamaConfig, LlamaEndpoint, WarmupReport

# A crashed process is restarted at once, then after longer pauses if it keeps crashing.
_RESTART_DELAYS_S = (0.0, 1.0, 5.0, 15.0)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class WarmRequest:
    """What to put in the prompt cache after every (re)start."""

    system_prompt: str
    opening: list[dict] | None = None


class LlamaProcess(LlamaEndpoint):
    """A supervised ``voicebot-llm`` process: start, warm, restart after a crash, stop."""

    def __init__(self, config: EmbeddedLlamaConfig | None = None, nice: int = 0):
        self._config = config or EmbeddedLlamaConfig()
        self._nice = nice
        self._api_key = self._config.api_key or secrets.token_urlsafe(24)
        self._port = self._config.port or _free_port()
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._warm: WarmRequest | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._slot_dir = tempfile.mkdtemp(prefix="voicebot-llm-slots-")
        self.restarts = 0

    @property
    def config(self) -> EmbeddedLlamaConfig:
        return self._config

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._ready.is_set()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def describe(self) -> str:
        """One line for the logs and /health."""
        c = self._config
        return (f"embedded llama.cpp ({c.model_alias}, {c.threads} threads"
                + (f" ({c.generation_threads} writing)" if c.generation_threads else "")
                + f", ctx {c.context_size}, {c.parallel} slot(s)) in process {self.pid}"
                + (f" at nice {self._nice}" if self._nice else "") + f" at {self.address}")

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, health_timeout: float = 180.0) -> str:
        """Start the process and wait until the model is loaded; blocking (seconds). Returns ``base_url``."""
        with self._lock:
            if self.running:
                return self.base_url
            started = time.perf_counter()
            self._spawn()
            try:
                self.wait_healthy(health_timeout)
            except Exception as e:
                self._kill()
                raise RuntimeError(f"The embedded LLM did not start: {e}\n" + "\n".join(self._output)) from e
            self._ready.set()
            threading.Thread(target=self._supervise, name="llm-supervisor", daemon=True).start()
            atexit.register(self.stop)
        logger.info(f"LLM: {self.describe()} ready in {time.perf_counter() - started:.1f} s")
        return self.base_url

    def warm(self, system_prompt: str, tools: list[dict] | None = None,
             opening: list[dict] | None = None) -> WarmupReport:
        """Cache the system prompt (and the call's opening turn); done again after every restart."""
        self._warm = WarmRequest(system_prompt, opening)
        return super().warm(system_prompt, tools=tools, opening=opening)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); idempotent."""
        self._stopping.set()
        self._ready.clear()
        with self._lock:
            process, self._process = self._process, None
        shutil.rmtree(self._slot_dir, ignore_errors=True)
        if process is None:
            return
        atexit.unregister(self.stop)
        started = time.perf_counter()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        logger.info(f"LLM: process {process.pid} stopped in {time.perf_counter() - started:.2f} s")

    def pause(self) -> None:
        """Stop the process from running (SIGSTOP) until :meth:`resume`: its HTTP streams wait."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGCONT)

    def kill_for_test(self) -> None:
        """SIGKILL the process, as a crash would (the supervisor restarts it)."""
        if self._process is not None:
            self._process.kill()

    def wait_until_running(self, timeout: float) -> bool:
        """True once the process (re)started and answers."""
        return self._ready.wait(timeout)

    # --- inside ---------------------------------------------------------------------------

    def _command(self) -> list[str]:
        c = self._config
        return [sys.executable, "-m", "voicebot.llm.serve", "--host", "127.0.0.1", "--port", str(self._port),
                "--slots", str(c.parallel), "--context", str(c.context_size), "--threads", str(c.threads),
                "--generation-threads", str(c.generation_threads), "--poll", str(c.poll),
                "--cache-ram-mib", str(c.cache_ram_mib), "--slot-save-path", self._slot_dir]

    def _spawn(self) -> None:
        # The key goes in the environment: on the command line a key starting with "-" read as a
        # flag to argparse, and any local user could read it with ps.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "VOICEBOT_LLM_API_KEY": self._api_key}
        self._process = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, text=True, errors="replace")
        if self._nice:
            try:
                os.setpriority(os.PRIO_PROCESS, self._process.pid, self._nice)
            except OSError as e:
                logger.warning(f"LLM: could not set nice {self._nice} on process {self._process.pid}: {e}")
        threading.Thread(target=self._read_output, args=(self._process,), name="llm-output", daemon=True).start()

    def _read_output(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            if line and not line.startswith(("OPENAI_API_KEY=",)):
                self._output.append(line)
                logger.debug(f"llm[{process.pid}] {line}")

    def _supervise(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            self._ready.clear()
            self.restarts += 1
            delay = _RESTART_DELAYS_S[min(attempt, len(_RESTART_DELAYS_S) - 1)]
            logger.error(f"LLM: process {process.pid} exited with code {code}; restarting"
                         + (f" in {delay:.0f} s" if delay else "") + "\n" + "\n".join(list(self._output)[-5:]))
            if self._stopping.wait(delay):
                return
            started = time.perf_counter()
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._spawn()
                self.wait_healthy(180)
                if self._warm is not None:
                    LlamaEndpoint.warm(self, self._warm.system_prompt, opening=self._warm.opening)
            except Exception as e:
                attempt += 1
                logger.error(f"LLM: restart failed: {e}")
                self._kill()
                continue
            attempt = 0
            self._ready.set()
            logger.info(f"LLM: process restarted as {self.pid} in {time.perf_counter() - started:.1f} s")

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
