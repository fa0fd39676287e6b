"""Small helpers shared by the tests: waiting on a condition, checking processes, a stand-in Smart Turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psutil
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` passes
    (then its last value is returned, for the caller's assertion to show).

    For conditions only another process can change (a log line, a pid gone, a health
    field): there is no event to wait on across a process boundary.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def pids_alive(pids) -> list[int]:
    """The pids among ``pids`` that still run (zombies count as gone)."""
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def demo_database(location):
    """A business database with the three demo restaurants (a new database holds nothing)."""
    from voicebot.business import Database
    from voicebot.business.company_file import seed_demo_companies

    database = Database(location)
    seed_demo_companies(database)
    return database


async def wait_until_async(condition: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """``wait_until`` for a condition the event loop changes (a pipeline's frames): polls without blocking it."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


class FixedVerdictTurnAnalyzer(BaseTurnAnalyzer):
    """Smart Turn's verdict without the model: every pause gets ``verdict``."""

    verdict = EndOfTurnState.COMPLETE

    @property
    def speech_triggered(self) -> bool:
        return False

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self):
        return self.verdict, None

    def clear(self):
        pass
