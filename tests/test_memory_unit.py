"""What a call leaves behind is given back when it ends (voicebot/memory.py)."""

from __future__ import annotations

import gc

import av
import numpy as np
import psutil

from voicebot.memory import collect_call_garbage


class _CallObject:
    """Stands for a transport whose event handlers refer back to it: freed only by a collection."""

    def __init__(self):
        self.handlers = [self]
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
        frame.sample_rate = 48000
        self.resampler.resample(frame)  # builds its FFmpeg filter graph, which starts threads


def test_a_call_left_in_a_reference_cycle_gives_its_resampler_threads_back():
    process = psutil.Process()
    calls = 4
    gc.disable()  # as for a call's objects, old enough that Python's frequent collections skip them
    try:
        before = process.num_threads()
        for _ in range(calls):
            _CallObject()
        left_behind = process.num_threads()
        # FFmpeg's resampler graph runs threads of its own (two per graph on 2 cores, at least one);
        # other tests' threads may come and go meanwhile, hence the margins.
        assert left_behind >= before + calls - 1, (before, left_behind)
        assert collect_call_garbage() > 0
        assert process.num_threads() <= left_behind - calls + 1, (before, left_behind, process.num_threads())
    finally:
        gc.enable()
