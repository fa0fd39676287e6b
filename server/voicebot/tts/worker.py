"""The Kokoro TTS worker process: ``python -m voicebot.tts.worker --fd N --engine onnx``.

It owns the model so that the server never does: a slow load, a native crash or MLX's
dislike of threads stays here. It loads the engine, the voice and the G2P, speaks one
tiny phrase to pay every lazy initialisation, says ``ready``, then serves requests from
the socket (see :mod:`voicebot.tts.protocol`). Text is cut into clauses and sentences,
and each piece's audio is sent as soon as it is synthesized.

A reader thread takes messages off the socket while the main thread synthesizes, so a
``cancel`` arrives mid-request and the rest of that request's pieces are skipped. When
the socket closes (the server exited, even by SIGKILL) the worker exits at once.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import queue
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from loguru import logger

from voicebot.config import TTS_ENGINES, KokoroTuning, worker_log_level
from voicebot.tts import protocol
from voicebot.tts.clauses import FIRST_CLAUSE_MIN_WORDS
from voicebot.tts.engines import KokoroEngine, create_engine
from voicebot.tts.g2p import EnglishG2P, split_for_streaming
from voicebot.tts.voices import choose_voice

WARMUP_TEXT = "Hi."


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM us if the server dies, however it dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


_PRELOADED_G2P: EnglishG2P | None = None
# One worker per process; its replies and (when forked) its log lines share the socket.
_SEND_LOCK = threading.RLock()


def preload_for_fork() -> None:
    """Run once in the fork server: everything slow that is safe to fork (imports, G2P)."""
    global _PRELOADED_G2P
    import kokoro_onnx  # noqa: F401
    import onnxruntime  # noqa: F401

    _PRELOADED_G2P = EnglishG2P()


def preloaded_g2p() -> EnglishG2P:
    """The G2P the fork server built, in a forked worker; otherwise a new one (seconds: it loads spaCy)."""
    return _PRELOADED_G2P or EnglishG2P()


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float audio in [-1, 1] (clipped) as little-endian 16-bit PCM, the protocol's audio payload."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class KokoroWorker:
    """Serves synthesis requests from one socket with one engine."""

    def __init__(self, sock: socket.socket, engine: KokoroEngine, default_voice: str | None):
        self._sock = sock
        self._engine = engine
        self.first_clause_min_words = FIRST_CLAUSE_MIN_WORDS
        self._requested_voice = default_voice
        self._voice = ""
        self._g2p: EnglishG2P | None = None
        self._requests: queue.Queue[dict | None] = queue.Queue()
        self._cancelled: set[str] = set()

    def send(self, header: dict, payload: bytes = b"") -> None:
        with _SEND_LOCK:
            self._sock.sendall(protocol.encode(header, payload))

    def load(self) -> None:
        start = time.monotonic()
        # spaCy (for the G2P) and the engine load in parallel: both take seconds. A worker
        # forked from the fork server finds the G2P already built.
        g2p_loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="g2p-loader")
        g2p_future = g2p_loader.submit(preloaded_g2p)
        self._engine.load()
        self._g2p = g2p_future.result()
        g2p_loader.shutdown()
        bank_voices = self._engine.voices()
        self._voice = choose_voice(self._requested_voice, bank_voices)
        self._engine.synthesize(self._g2p.phonemize(WARMUP_TEXT), self._voice)
        load_s = time.monotonic() - start
        logger.info(f"Kokoro worker ready in {load_s:.2f}s: {self._engine.describe()}, voice '{self._voice}'")
        self.send(
            {
                "event": "ready",
                "engine": self._engine.name,
                "model": self._engine.describe(),
                "voice": self._voice,
                "voices": bank_voices,
                "sample_rate": self._engine.sample_rate,
                "load_s": round(load_s, 3),
                "pid": os.getpid(),
            }
        )

    def read_loop(self) -> None:
        """Reader thread: queue requests, note cancellations, exit when the server goes."""
        while True:
            try:
                message = protocol.read_blocking(self._sock)
            except (OSError, ValueError):
                message = None
            if message is None:
                os._exit(0)
            header, _ = message
            op = header.get("op")
            if op == "synthesize":
                self._requests.put(header)
            elif op == "cancel":
                self._cancelled.add(header["id"])
            elif op == "shutdown":
                self._requests.put(None)
                return

    def serve(self) -> None:
        threading.Thread(target=self.read_loop, name="tts-worker-reader", daemon=True).start()
        while (request := self._requests.get()) is not None:
            self._speak(request)

    def _speak(self, request: dict) -> None:
        request_id = request["id"]
        voice = request.get("voice") or self._voice
        if voice not in self._engine.voices():
            voice = self._voice
        try:
            g2p = self._g2p
            assert g2p is not None, "load() runs before serve()"
            pieces = split_for_streaming(request.get("text", ""), first_clause_min_words=self.first_clause_min_words)
            for index, piece in enumerate(pieces):
                if request_id in self._cancelled:
                    break
                phonemes = g2p.phonemize(piece)
                if not phonemes.strip():
                    continue
                audio = self._engine.synthesize(phonemes, voice, float(request.get("speed") or 1.0),
                                                all_cores=index == 0 and bool(request.get("all_cores")))
                if request_id in self._cancelled:
                    break
                self.send({"event": "audio", "id": request_id, "piece": index, "text": piece}, to_pcm16(audio))
        except Exception as e:  # the request fails, the worker lives on
            logger.exception(f"Synthesis failed for request {request_id}")
            self.send({"event": "error", "id": request_id, "message": f"{type(e).__name__}: {e}"})
            return
        cancelled = request_id in self._cancelled
        if cancelled:
            logger.debug(f"Request {request_id} cancelled; its remaining text was not synthesized")
        self._cancelled.discard(request_id)
        self.send({"event": "done", "id": request_id, "cancelled": cancelled})


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker started as a fresh interpreter, its socket passed as ``--fd``; logs go to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="socket file descriptor shared with the server")
    parser.add_argument("--engine", required=True, choices=TTS_ENGINES)
    parser.add_argument("--model", default=None)
    parser.add_argument("--voice", default=None)
    args = parser.parse_args(argv)

    sock = socket.socket(fileno=args.fd)
    # Libraries print to stdout; keep every byte of ours on stderr, which the server logs.
    sys.stdout = sys.stderr
    logger.remove()
    # The server re-logs each line under its own timestamp; "LEVEL|message" is all it needs.
    logger.add(sys.stderr, level=worker_log_level(), format="{level}|{message}")
    return serve(sock, args.engine, args.model, args.voice)


def _raise_priority() -> None:
    """Ask the scheduler to favour this worker over the LLM while both want the CPU.

    The first clause is synthesized while the LLM is still writing the rest of the reply;
    on a small machine the caller hears the TTS, not the LLM's tail. Needs CAP_SYS_NICE for
    a negative value; without it the worker keeps the default priority.
    """
    nice = KokoroTuning.from_env().nice
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        except OSError as e:
            logger.debug(f"Could not set the worker's priority to {nice}: {e}")


def serve(sock: socket.socket, engine: str, model: str | None, voice: str | None) -> int:
    """Load, say ready, serve until shutdown or until the server goes away."""
    _die_with_parent()
    _raise_priority()
    # Ctrl-C reaches the whole process group; the server stops its workers in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = KokoroWorker(sock, create_engine(engine, model), voice)
    worker.first_clause_min_words = KokoroTuning.from_env().first_clause_min_words  # the server's env, inherited
    try:
        worker.load()
    except Exception as e:
        logger.exception("Kokoro worker failed to load")
        try:
            worker.send({"event": "error", "id": None, "message": f"load failed: {type(e).__name__}: {e}"})
        except OSError:
            pass
        return 1
    worker.serve()
    return 0


def run_forked(sock: socket.socket, engine: str, model: str | None, voice: str | None) -> None:
    """Entry point of a worker forked from the fork server (see :mod:`voicebot.tts.forkserver`).

    Its stderr is the server's own, so log lines travel over the socket as ``log`` events.
    """
    sys.stdout = sys.stderr
    logger.remove()

    def over_socket(message) -> None:
        record = message.record
        try:
            with _SEND_LOCK:
                sock.sendall(protocol.encode({"event": "log", "level": record["level"].name,
                                              "message": record["message"]}))
        except OSError:
            pass

    logger.add(over_socket, level=worker_log_level(), format="{message}")
    code = serve(sock, engine, model, voice)
    logger.remove()
    sys.exit(code)


if __name__ == "__main__":
    sys.exit(main())
