"""What machine we run on: MLX engines are the default only on Apple Silicon."""

from __future__ import annotations

import platform


def is_apple_silicon() -> bool:
    """True on an arm64 Mac: MLX engines become the default and the Linux MLX workarounds are skipped."""
    return platform.system() == "Darwin" and platform.machine() == "arm64"
