"""The wire protocol between the TTS service (server process) and its Kokoro worker.

The two ends share a Unix stream socket (a socketpair made by the parent). Every message
is one frame::

    u32 big-endian header length | header (UTF-8 JSON) | payload (``header["bytes"]`` bytes)

Only ``audio`` messages carry a payload: raw PCM, signed 16-bit little-endian, mono, at
the worker's ``sample_rate`` (24 kHz for Kokoro). Audio is never base64'd into JSON.

Parent → worker
    ``{"op": "synthesize", "id", "text", "voice", "speed", "all_cores"}``  speak text, streaming pieces
                                                              (``all_cores``: its first piece on every core)
    ``{"op": "cancel", "id"}``                                 abandon a request (barge-in)
    ``{"op": "shutdown"}``                                     exit cleanly

Worker → parent
    ``{"event": "ready", "engine", "model", "voice", "voices", "sample_rate", "load_s"}``
    ``{"event": "audio", "id", "piece", "text", "bytes"}`` + PCM   one sentence or clause
    ``{"event": "done", "id", "cancelled"}``                       request finished
    ``{"event": "error", "id", "message"}``                        request (or load) failed

A worker sends ``ready`` once, after loading the model, voice and G2P and running one
tiny synthesis; it handles one request at a time, in order.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

_HEADER_LEN = struct.Struct(">I")
MAX_HEADER_BYTES = 1 << 20


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: the header (with ``bytes`` set to the payload length) and the payload."""
    header = {**header, "bytes": len(payload)}
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _HEADER_LEN.pack(len(raw)) + raw + payload


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def read_blocking(sock: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame from a blocking socket (the worker side); None at end of stream."""
    prefix = _recv_exactly(sock, _HEADER_LEN.size)
    if prefix is None:
        return None
    (length,) = _HEADER_LEN.unpack(prefix)
    if length > MAX_HEADER_BYTES:
        raise ValueError(f"protocol header of {length} bytes is too large")
    raw = _recv_exactly(sock, length)
    if raw is None:
        return None
    header = json.loads(raw)
    payload = _recv_exactly(sock, header.get("bytes", 0)) if header.get("bytes") else b""
    if payload is None:
        return None
    return header, payload


async def read_async(reader) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame from an ``asyncio.StreamReader`` (the server side); None at end of stream."""
    import asyncio

    try:
        prefix = await reader.readexactly(_HEADER_LEN.size)
        (length,) = _HEADER_LEN.unpack(prefix)
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"protocol header of {length} bytes is too large")
        header = json.loads(await reader.readexactly(length))
        size = header.get("bytes", 0)
        payload = await reader.readexactly(size) if size else b""
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return None
    return header, payload
