"""Give freed heap memory back to the operating system after each call.

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


def release_freed_memory() -> float:
    """Return freed heap pages to the OS; the seconds it took (blocking: run it in a thread)."""
    if _LIBC is None:
        return 0.0
    started = time.perf_counter()
    _LIBC.malloc_trim(0)
    elapsed = time.perf_counter() - started
    logger.debug(f"malloc_trim: freed heap pages returned to the OS in {elapsed * 1000:.0f} ms")
    return elapsed
