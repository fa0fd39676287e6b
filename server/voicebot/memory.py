"""Give a call's memory back after it ends: its reference cycles, then the freed heap.

Pipecat's and aiortc's per-call objects refer to each other (event handlers, transports,
peer connections), so they are freed only by a full collection, which Python runs rarely:
meanwhile each keeps its FFmpeg resamplers, their threads and their buffers (measured:
the server's threads 21 → 45 and RSS +150 MB over 100 short calls, dropping back at one of
Python's own full collections, ``bench/soak.py``). So each call ends with a collection;
what start-up made is frozen first, so that collection only walks what calls made.
(Pipecat's ``WorkerRunner(force_gc=True)`` collects too, but while the call still holds its
line and its parts; ours runs after the line is given back, ``voicebot.bot.run_call``.)

A call allocates and frees many short-lived buffers (Opus frames, resamplers, NumPy
arrays, ONNX tensors) across a dozen threads. glibc keeps freed memory in per-thread
arenas instead of returning it, so a long-running server's RSS climbs over its first
hundred calls although no Python object survives a call (measured: +28 % RSS over 100
short calls, ``bench/soak.py``). ``malloc_trim(0)`` returns the free pages at the end of
each call; capping the arenas keeps threads from spreading allocations over many heaps.
On other C libraries (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import time

from loguru import logger

# glibc's mallopt parameter for the arena cap (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _glibc()


def cap_malloc_arenas(arenas: int) -> bool:
    """Let at most ``arenas`` malloc arenas exist (0: leave glibc's default, 8 per core)."""
    if _LIBC is None or arenas <= 0:
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, arenas))


def freeze_startup_objects() -> int:
    """Keep what start-up made (models, modules, the company's data) out of every later collection:
    it lives as long as the server. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def collect_call_garbage() -> int:
    """Free the reference cycles calls left behind (blocking: run it in a thread); how many objects."""
    started = time.perf_counter()
    collected = gc.collect()
    logger.debug(f"Garbage collection after the call: {collected} objects in "
                 f"{(time.perf_counter() - started) * 1000:.0f} ms")
    return collected


def release_freed_memory() -> float:
    """Return freed heap pages to the OS; the seconds it took (blocking: run it in a thread)."""
    if _LIBC is None:
        return 0.0
    started = time.perf_counter()
    _LIBC.malloc_trim(0)
    elapsed = time.perf_counter() - started
    logger.debug(f"malloc_trim: freed heap pages returned to the OS in {elapsed * 1000:.0f} ms")
    return elapsed
