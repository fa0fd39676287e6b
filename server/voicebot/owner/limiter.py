"""Wrong owner credentials, counted per client address and slowed down.

A few mistakes are free; from the ``lock_after``-th wrong credential in a row the
address is locked out, for ``base_delay_s`` and twice as long after each further one, up
to ``max_delay_s`` (5 s, 10 s, 20 s … 15 min). While locked out, its attempts are refused
(429 + Retry-After) without being checked, so guessing cannot go faster than the lock.
A right credential clears the count; so does an hour without mistakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last_failure: float
    locked_until: float


class FailureLimiter:
    """Per-address failure counts and lock-outs (memory bounded by ``max_addresses``)."""

    def __init__(self, lock_after: int = 5, base_delay_s: float = 5.0, max_delay_s: float = 900.0,
                 forget_after_s: float = 3600.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.lock_after = lock_after
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 if it may now."""
        record = self._record(address)
        return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def failures(self, address: str) -> int:
        """Wrong credentials from ``address`` in a row (forgotten after ``forget_after_s``)."""
        record = self._record(address)
        return record.failures if record else 0

    def failed(self, address: str) -> float:
        """Count a wrong credential; returns the lock-out it starts (0: none yet)."""
        now = self.clock()
        record = self._record(address) or _Record(0, now, now)
        record.failures += 1
        record.last_failure = now
        excess = record.failures - self.lock_after
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** excess) if excess >= 0 else 0.0
        record.locked_until = now + delay
        self._records.pop(address, None)
        self._records[address] = record  # most recent last: the oldest go first when full
        self._bound()
        return delay

    def succeeded(self, address: str) -> None:
        """A right credential: the address starts afresh."""
        self._records.pop(address, None)

    def _record(self, address: str) -> _Record | None:
        record = self._records.get(address)
        if record and self._forgotten(record, self.clock()):
            del self._records[address]
            return None
        return record

    def _forgotten(self, record: _Record, now: float) -> bool:
        return now >= record.locked_until and now - record.last_failure >= self.forget_after_s

    def _bound(self) -> None:
        if len(self._records) <= self.max_addresses:
            return
        now = self.clock()
        self._records = {a: r for a, r in self._records.items() if not self._forgotten(r, now)}
        while len(self._records) > self.max_addresses:
            del self._records[next(iter(self._records))]
