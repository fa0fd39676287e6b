"""Prices as callers hear them; money is kept in integer cents so totals add up exactly."""

from __future__ import annotations


def format_price(cents: int) -> str:
    """``1500`` → ``"$15"``, ``1550`` → ``"$15.50"``."""
    dollars, rest = divmod(cents, 100)
    return f"${dollars}" if rest == 0 else f"${dollars}.{rest:02d}"
