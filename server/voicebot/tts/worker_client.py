"""The server's handle on one Kokoro worker process.

:class:`KokoroWorkerProcess` spawns ``python -m voicebot.tts.worker``, waits for its
``ready`` message, and turns synthesis requests into async iterators of PCM pieces. It
notices a worker that dies (end of stream on the socket) or hangs (no message within
``request_timeout_s``) and fails the request with a clear error; the owner then spawns a
new one. No worker outlives its owner: a :class:`WorkerRegistry` (the server's runtime has
one) lists and stops the live ones at shutdown, every worker is SIGKILLed at interpreter
exit if it is still running, and a worker whose owner dies abruptly exits on its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import signal
import socket
import sys
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from loguru import logger

from voicebot.config import forkserver_enabled
from voicebot.models.weights import english_voices_path
from voicebot.tts import forkserver, protocol

_LOG_LINE = re.compile(r"^(TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)\|(.*)$")


class WorkerError(RuntimeError):
    """The worker could not do what was asked."""


class WorkerCrashed(WorkerError):
    """The worker process exited (or closed its socket) while work was pending."""


class WorkerTimeout(WorkerError):
    """The worker sent nothing within the allowed time; it has been killed."""


@dataclass(frozen=True)
class WorkerInfo:
    """What the worker reported when it became ready."""

    engine: str
    model: str
    voice: str
    voices: list[str]
    sample_rate: int
    load_s: float
    pid: int


@dataclass
class AudioPiece:
    """The audio of one sentence or clause: PCM s16le mono."""

    pcm: bytes
    sample_rate: int
    text: str
    index: int


@dataclass
class _Request:
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: bool = False


class WorkerRegistry:
    """The live workers of one owner (the server's runtime): for ``/health`` and for shutdown."""

    def __init__(self) -> None:
        self._workers: weakref.WeakSet[KokoroWorkerProcess] = weakref.WeakSet()

    def add(self, worker: KokoroWorkerProcess) -> None:
        self._workers.add(worker)

    def discard(self, worker: KokoroWorkerProcess) -> None:
        self._workers.discard(worker)

    def pids(self) -> list[int]:
        """PIDs of the live workers (``/health`` reports them; tests use them to spot leaks)."""
        return [w.pid for w in list(self._workers) if w.pid is not None]

    async def stop_all(self) -> None:
        """Stop every live worker (server shutdown)."""
        workers = list(self._workers)
        if workers:
            logger.info(f"Stopping {len(workers)} Kokoro worker(s)...")
        await asyncio.gather(*(worker.stop() for worker in workers), return_exceptions=True)


def _kill(pid: int) -> None:
    """Interpreter exit (or the handle dropped) with the worker still running: SIGKILL it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class KokoroWorkerProcess:
    """One Kokoro worker subprocess and the protocol to talk to it."""

    def __init__(
        self,
        *,
        engine: str,
        model: str | None = None,
        voice: str | None = None,
        init_timeout_s: float = 120.0,
        request_timeout_s: float = 30.0,
        extra_env: dict[str, str] | None = None,  # forces a fresh interpreter (the fork server has its own env)
        fork: bool = True,
        registry: WorkerRegistry | None = None,
    ):
        self.engine = engine
        self.model = model
        self.voice = voice
        self.init_timeout_s = init_timeout_s
        self.request_timeout_s = request_timeout_s
        self._extra_env = extra_env or {}
        # Forking (see voicebot.tts.forkserver) starts a worker in ~1 s instead of ~2.5 s,
        # but its first sentences ran ~0.1-0.6 s slower in our measurements (copy-on-write
        # of the shared heap); workers warmed off the critical path (the pool) don't fork.
        self._fork_allowed = fork
        self._process: asyncio.subprocess.Process | ForkedProcess | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._log_task: asyncio.Task | None = None
        self._ready: asyncio.Future[WorkerInfo] | None = None
        self._requests: dict[str, _Request] = {}
        self._closed = False
        self._registry = registry
        self._exit_guard: weakref.finalize | None = None
        self.info: WorkerInfo | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return (
            self._process is not None
            and self._process.returncode is None
            and not self._closed
            and self.info is not None
        )

    async def start(self) -> WorkerInfo:
        """Spawn the worker and wait until it has loaded and warmed its model."""
        started = time.monotonic()
        # Workers only read the English voices from the cache; fetch them here, once per process.
        await asyncio.to_thread(english_voices_path)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self._fork_allowed and forkserver_enabled() and not self._extra_env:
                self._process = await self._fork(child_sock)
            else:
                self._process = await self._exec(child_sock)
        finally:
            child_sock.close()
        self._registered(True)
        logger.debug(f"Spawned Kokoro worker pid={self._process.pid} engine={self.engine}")

        reader, self._writer = await asyncio.open_unix_connection(sock=parent_sock)
        self._ready = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read_messages(reader), name=f"tts-worker-{self.pid}-reader")
        if isinstance(self._process, asyncio.subprocess.Process):
            self._log_task = asyncio.create_task(self._forward_logs(), name=f"tts-worker-{self.pid}-logs")
        try:
            self.info = await asyncio.wait_for(asyncio.shield(self._ready), self.init_timeout_s)
        except TimeoutError:
            await self.stop()
            raise WorkerTimeout(f"Kokoro worker did not become ready within {self.init_timeout_s:.0f}s") from None
        except BaseException:
            await self.stop()
            raise
        logger.debug(f"Kokoro worker pid={self.pid} ready after {time.monotonic() - started:.2f}s")
        return self.info

    async def _fork(self, child_sock: socket.socket) -> ForkedProcess:
        from voicebot.tts.worker import run_forked

        process = forkserver.context().Process(
            target=run_forked, args=(child_sock, self.engine, self.model, self.voice),
            name="kokoro-worker", daemon=True,
        )
        # Blocks while the fork server finishes its preload (only the first time).
        await asyncio.to_thread(process.start)
        return ForkedProcess(process)

    async def _exec(self, child_sock: socket.socket) -> asyncio.subprocess.Process:
        command = [sys.executable, "-m", "voicebot.tts.worker", "--fd", str(child_sock.fileno()),
                   "--engine", self.engine]
        if self.model:
            command += ["--model", self.model]
        if self.voice:
            command += ["--voice", self.voice]
        return await asyncio.create_subprocess_exec(
            *command,
            pass_fds=[child_sock.fileno()],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self._extra_env},
            start_new_session=True,  # Ctrl-C goes to the server, which stops us in order
        )

    async def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0,
                         request_id: str | None = None, all_cores: bool = False) -> AsyncIterator[AudioPiece]:
        """Speak ``text``; yields each piece's audio as soon as the worker sends it.

        Closing the iterator early (e.g. the task is cancelled on barge-in) cancels the
        request in the worker, and anything it still sends for it is dropped.
        """
        info = self.info
        if not self.alive or info is None:  # alive: info is set too
            raise WorkerCrashed("Kokoro worker is not running")
        request_id = request_id or uuid.uuid4().hex
        request = _Request()
        self._requests[request_id] = request
        finished = False
        try:
            await self._send({"op": "synthesize", "id": request_id, "text": text,
                              "voice": voice, "speed": speed, "all_cores": all_cores})
            while True:
                try:
                    header, payload = await asyncio.wait_for(request.queue.get(), self.request_timeout_s)
                except TimeoutError:
                    logger.error(f"Kokoro worker pid={self.pid} sent nothing for {self.request_timeout_s:.0f}s; "
                                 "killing it")
                    await self.stop(grace_s=0)
                    raise WorkerTimeout(f"Kokoro worker timed out after {self.request_timeout_s:.0f}s") from None
                event = header.get("event")
                if event == "audio":
                    yield AudioPiece(payload, info.sample_rate, header.get("text", ""), header.get("piece", 0))
                elif event == "done":
                    finished = True
                    return
                elif event == "error":
                    finished = True
                    raise WorkerError(header.get("message", "synthesis failed"))
                elif event == "exit":
                    finished = True
                    raise WorkerCrashed(header["message"])
        finally:
            self._requests.pop(request_id, None)
            if not finished and self.alive:
                request.cancelled = True
                try:
                    await self._send({"op": "cancel", "id": request_id})
                except (ConnectionError, RuntimeError):
                    pass

    async def stop(self, grace_s: float = 2.0) -> None:
        """Ask the worker to exit; terminate, then kill it if it does not."""
        process = self._process
        if process is None:
            return
        self._closed = True
        if process.returncode is None and grace_s > 0:
            try:
                await self._send({"op": "shutdown"})
                await asyncio.wait_for(process.wait(), grace_s)
            except (TimeoutError, ConnectionError, RuntimeError):
                pass
        # A hung worker (grace 0) may be stopped or wedged in native code: SIGKILL at once.
        signals = ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)) if grace_s > 0 else ((signal.SIGKILL, 5.0),)
        for sig, wait_s in signals:
            if process.returncode is not None:
                break
            try:
                process.send_signal(sig)
                await asyncio.wait_for(process.wait(), wait_s)
            except (TimeoutError, ProcessLookupError):
                pass
        if self._writer is not None:
            self._writer.close()
        for task in (self._reader_task, self._log_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._registered(False)
        logger.debug(f"Kokoro worker pid={process.pid} stopped (exit code {process.returncode})")

    def _registered(self, live: bool) -> None:
        """Listed in the owner's registry, and killed at interpreter exit, while it runs."""
        if live:
            if self._registry is not None:
                self._registry.add(self)
            pid = self.pid
            assert pid is not None, "registered once the process has started"
            self._exit_guard = weakref.finalize(self, _kill, pid)
            return
        if self._registry is not None:
            self._registry.discard(self)
        if self._exit_guard is not None:
            self._exit_guard.detach()

    def kill_now(self) -> None:
        """Synchronous last resort (interpreter exit): SIGKILL the worker."""
        if self._process is not None and self._process.returncode is None and self._process.pid is not None:
            try:
                os.kill(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _send(self, header: dict) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("Kokoro worker socket is closed")
        self._writer.write(protocol.encode(header))
        await self._writer.drain()

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        ready = self._ready
        try:
            assert ready is not None, "start() makes it before it starts reading"
            while (message := await protocol.read_async(reader)) is not None:
                header, payload = message
                event = header.get("event")
                if event == "log":
                    logger.log(header.get("level", "INFO"), f"tts-worker[{self.pid}] {header.get('message', '')}")
                    continue
                if event == "ready":
                    if not ready.done():
                        ready.set_result(WorkerInfo(
                            engine=header["engine"], model=header["model"], voice=header["voice"],
                            voices=header["voices"], sample_rate=header["sample_rate"],
                            load_s=header["load_s"], pid=header["pid"]))
                    continue
                if event == "error" and header.get("id") is None:
                    if not ready.done():
                        ready.set_exception(WorkerError(header.get("message", "worker failed to load")))
                    continue
                request_id = header.get("id")
                request = self._requests.get(request_id) if request_id is not None else None
                if request is not None and not request.cancelled:
                    request.queue.put_nowait((header, payload))
        finally:
            await self._on_exit()

    async def _on_exit(self) -> None:
        """The socket closed: fail whoever is waiting, and say why."""
        code = None
        if self._process is not None:
            try:
                code = await asyncio.wait_for(self._process.wait(), 2.0)
            except TimeoutError:
                pass
        expected = self._closed
        self._closed = True
        self._registered(False)
        message = f"Kokoro worker pid={self.pid} exited (code {code})"
        if not expected:
            logger.error(message + (" while a request was in flight" if self._requests else ""))
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(WorkerCrashed(message + " before it was ready"))
        for request in list(self._requests.values()):
            request.queue.put_nowait(({"event": "exit", "message": message}, b""))

    async def _forward_logs(self) -> None:
        """Copy the worker's stdout and stderr lines into our log."""
        async def pump(stream: asyncio.StreamReader | None) -> None:
            if stream is None:
                return
            while line := await stream.readline():
                text = line.decode(errors="replace").rstrip()
                if not text:
                    continue
                match = _LOG_LINE.match(text)
                level, text = (match.group(1), match.group(2)) if match else ("DEBUG", text)
                logger.log(level, f"tts-worker[{self.pid}] {text}")

        process = self._process
        assert isinstance(process, asyncio.subprocess.Process), "started only for an exec'd worker"
        await asyncio.gather(pump(process.stdout), pump(process.stderr))


class ForkedProcess:
    """A worker forked by the fork server, with the bits of asyncio's Process we use."""

    def __init__(self, process: multiprocessing.process.BaseProcess):
        self._process = process

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    async def wait(self) -> int:
        while self._process.exitcode is None:
            await asyncio.sleep(0.05)
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        if self._process.pid is None or self._process.exitcode is not None:
            raise ProcessLookupError(self._process.pid)
        os.kill(self._process.pid, sig)
