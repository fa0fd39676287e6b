"""Admission control: how many calls the server takes at once, and what an offer may hold.

On a small machine every call in progress slows the others (they share the cores), so the
server refuses calls beyond its capacity at signalling time, with a 503 and a
``Retry-After``, instead of degrading the calls already talking. An offer that has not
connected yet is "pending": it holds a peer connection but nothing heavy (see
:func:`voicebot.bot.run_bot`) and no call's place: offers that never connect cannot make
real callers wait. Pending offers are still capped per client address and in total (429).
Capacity is checked again when an offer connects: if the lines filled up meanwhile, the
connection is closed and the caller recorded as turned away, as a 503 is. Known gap
(2026-12-08): that caller hears nothing; two offers at the same instant on a one-line server
can end so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicebot.signalling import BadSignalling


@dataclass
class Admission:
    """Counts calls by state and decides whether a new offer may proceed."""

    max_calls: int = 3
    max_pending_per_client: int = 2
    max_pending_total: int = 8
    retry_after_s: int = 5
    pending: dict[str, str] = field(default_factory=dict)  # pc_id -> client address
    active: set[str] = field(default_factory=set)
    _reserved: dict[str, int] = field(default_factory=dict)  # client -> offers being answered

    @property
    def in_progress(self) -> int:
        """Calls talking, and offers being answered this instant (not the ones waiting to connect)."""
        return len(self.active) + sum(self._reserved.values())

    def reserve(self, client: str) -> None:
        """Hold a place for an offer being answered, or raise 503 (full) / 429 (too many pending)."""
        if self.in_progress >= self.max_calls:
            raise BadSignalling(
                f"All lines are busy ({self.in_progress} of {self.max_calls} calls in progress); "
                f"try again in {self.retry_after_s} s", 503)
        pending_here = sum(1 for c in self.pending.values() if c == client) + self._reserved.get(client, 0)
        if pending_here >= self.max_pending_per_client:
            raise BadSignalling(f"Too many unconnected offers from {client}; finish or drop one first", 429)
        if len(self.pending) + sum(self._reserved.values()) >= self.max_pending_total:
            raise BadSignalling("Too many unconnected offers on this server; try again shortly", 429)
        self._reserved[client] = self._reserved.get(client, 0) + 1

    def release(self, client: str) -> None:
        """The offer being answered failed: give its place back."""
        left = self._reserved.get(client, 0) - 1
        if left > 0:
            self._reserved[client] = left
        else:
            self._reserved.pop(client, None)

    def answered(self, client: str, pc_id: str) -> None:
        """The offer was answered: it is pending until the caller connects."""
        self.release(client)
        self.pending[pc_id] = client

    def connected(self, pc_id: str) -> bool:
        """The caller connected: True if there is a line for them (else the call is refused)."""
        self.pending.pop(pc_id, None)
        if len(self.active) >= self.max_calls:
            return False
        self.active.add(pc_id)
        return True

    def ended(self, pc_id: str) -> None:
        self.pending.pop(pc_id, None)
        self.active.discard(pc_id)

    def status(self) -> dict:
        return {"capacity": self.max_calls, "calls_in_progress": len(self.active),
                "offers_pending": len(self.pending), "retry_after_s": self.retry_after_s}
