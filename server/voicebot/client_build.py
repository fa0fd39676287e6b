"""Builds the browser client (``client/``) when its bundle is missing or older than its sources.

So that ``uv run 06_parallel_tts_warmup.py 2`` is all a user runs: the first start runs
``npm ci`` and ``npm run build`` (tens of seconds, offline from the npm cache or the
registry); later starts find ``client/dist`` up to date and skip it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from loguru import logger

from voicebot.logs import progress

SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")


def _newest_source_mtime(client_dir: Path) -> float:
    newest = 0.0
    for name in SOURCES:
        path = client_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        for f in files:
            if f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


def client_is_current(client_dir: Path) -> bool:
    """True if ``dist/index.html`` is newer than every source file, so no build is needed."""
    index = client_dir / "dist" / "index.html"
    return index.exists() and index.stat().st_mtime >= _newest_source_mtime(client_dir)


def ensure_client_built(client_dir: Path) -> bool:
    """Build ``client_dir/dist`` if needed; False (with a warning) if it cannot be built."""
    if not (client_dir / "package.json").exists():
        return (client_dir / "dist" / "index.html").exists()
    if client_is_current(client_dir):
        return True
    npm = shutil.which("npm")
    if npm is None:
        logger.warning("The browser client is not built and npm is not installed: install Node.js and npm")
        return False
    started = time.monotonic()
    progress("Building the browser client (npm ci && npm run build)...")
    steps = [[npm, "ci", "--no-audit", "--no-fund"]] if not (client_dir / "node_modules").exists() else []
    steps.append([npm, "run", "build"])
    for command in steps:
        result = subprocess.run(command, cwd=client_dir, capture_output=True, text=True)
        if result.returncode != 0:
            logger.warning(f"`{' '.join(command[1:])}` failed in {client_dir}:\n"
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
            return False
    progress(f"  ✓ Client built in {time.monotonic() - started:.2f}s")
    return True
