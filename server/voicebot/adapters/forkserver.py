"""The standard library's fork server, stopped on demand (pinned by ``tests/test_library_pins.py``).

``multiprocessing.forkserver`` starts its server on demand but offers no public way to
stop it; ``ForkServer._stop`` (Python 3.8+) does.
"""

from __future__ import annotations

import multiprocessing.forkserver


def stop_forkserver() -> None:
    """Stop this process's fork server if one runs."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop_server = getattr(server, "_stop", None)
    if stop_server is not None and getattr(server, "_forkserver_pid", None) is not None:
        stop_server()
