"""Start the real server in a subprocess and wait until it is ready (tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from voicebot.config import DB_ENV

# The README's entry script; ``python -m voicebot`` (``voicebot/__main__.py``) runs the same ``main``.
SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "06_parallel_tts_warmup.py"
SERVER_COMMAND = (sys.executable, "-m", "voicebot")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now; another process may still take it before ours binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalServer:
    """A server process running in ``workdir`` (its error.log and business.db live there)."""

    url: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=5).json()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @classmethod
    def start(cls, workdir: Path, *args: str, env: dict[str, str] | None = None,
              ready_timeout: float = 600, port: int | None = None, wait_for_models: bool = True) -> LocalServer:
        """Run the server (``python -m voicebot *args``) on ``port`` (default: a free one); return once /health is ready
        (``wait_for_models`` False: once it answers, its models still loading)."""
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        log_path = workdir / "server-output.log"
        # Tests and benchmarks call the demo restaurants: their fresh database is given them.
        full_env = {**os.environ, DB_ENV: str(workdir / "business.db"), "VOICEBOT_DEMO_DATA": "1", **(env or {})}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [*SERVER_COMMAND, *args, "--host", "127.0.0.1", "--port", str(port)],
                cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            )
        server = cls(f"http://127.0.0.1:{port}", process, workdir, log_path)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()[-3000:]}")
            try:
                if server.health().get("ready") or not wait_for_models:
                    return server
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        server.stop()
        raise TimeoutError(f"server not ready after {ready_timeout}s:\n{server.output()[-3000:]}")

    def wait_until_settled(self, timeout: float = 600) -> LocalServer:
        """Wait until start-up's background work (the fixed phrases, synthesized once per machine)
        is over, so that a benchmark's first calls do not share the cores with it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            phrases = self.health().get("phrases")
            if not phrases or not phrases.get("loading"):
                return self
            time.sleep(1.0)
        raise TimeoutError(f"the server's fixed phrases were still loading after {timeout:.0f}s")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode
