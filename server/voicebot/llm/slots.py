"""The embedded model's KV-cache slots, one lent to each call for as long as it lasts.

A call's conversation then stays in its own slot's cache from turn to turn (and its
prefill is not evicted by another caller's); every slot starts with the system prompt
already cached (``LlamaEndpoint.copy_slot``).
"""

from __future__ import annotations

import threading
from collections import deque


class SlotPool:
    """Lends slot numbers; ``take`` gives None when all are lent (llama.cpp then picks one)."""

    def __init__(self, count: int):
        self._free: deque[int] = deque(range(count))
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            return self._free.popleft() if self._free else None

    def give_back(self, slot: int | None) -> None:
        if slot is None:
            return
        with self._lock:
            if slot not in self._free:
                self._free.append(slot)

    @property
    def free(self) -> int:
        return len(self._free)
