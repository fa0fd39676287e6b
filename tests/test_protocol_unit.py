"""The TTS worker's wire protocol: frames survive both readers intact, and bad input is refused."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from voicebot.tts import protocol


def test_a_frame_round_trips_through_the_blocking_reader():
    left, right = socket.socketpair()
    with left, right:
        pcm = bytes(range(256)) * 100
        left.sendall(protocol.encode({"event": "audio", "id": "r1", "piece": 0}, pcm))
        left.sendall(protocol.encode({"event": "done", "id": "r1", "cancelled": False}))
        header, payload = protocol.read_blocking(right)
        assert header == {"event": "audio", "id": "r1", "piece": 0, "bytes": len(pcm)} and payload == pcm
        header, payload = protocol.read_blocking(right)
        assert header["event"] == "done" and payload == b""
        left.close()
        assert protocol.read_blocking(right) is None  # end of stream


async def test_frames_round_trip_through_the_async_reader_in_order():
    left, right = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=right)
    try:
        frames = [({"event": "audio", "id": str(i), "piece": i}, bytes([i]) * (1000 * i)) for i in range(5)]
        left.sendall(b"".join(protocol.encode(h, p) for h, p in frames))
        for header, payload in frames:
            got_header, got_payload = await protocol.read_async(reader)
            assert got_header == {**header, "bytes": len(payload)} and got_payload == payload
        left.close()
        assert await protocol.read_async(reader) is None
    finally:
        writer.close()


def test_a_cut_frame_reads_as_end_of_stream_and_a_huge_header_is_refused():
    left, right = socket.socketpair()
    with left, right:
        frame = protocol.encode({"event": "audio", "id": "r1"}, b"\x01\x02" * 50)
        left.sendall(frame[:-10])  # the worker died mid-frame
        left.close()
        assert protocol.read_blocking(right) is None
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", protocol.MAX_HEADER_BYTES + 1))
        with pytest.raises(ValueError, match="too large"):
            protocol.read_blocking(right)
