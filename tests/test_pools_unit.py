"""Pools that keep per-call objects ready: what they lend, take back, refill and drop.

The real pools are exercised with real models by the slow tests (every call takes a worker
and gives it back); these pin the bookkeeping, with small stand-ins for the pooled objects
where a real one would take seconds to build or a fault has to be injected.
"""

from __future__ import annotations

import itertools
import threading

from helpers import wait_until, wait_until_async
from voicebot.preload import ReadyPool
from voicebot.tts.pool import WarmWorkerPool


def test_ready_pool_hands_out_prebuilt_items_and_refills_in_the_background():
    built = itertools.count()
    pool = ReadyPool(lambda: next(built), size=2)
    pool.fill()
    assert [pool.take(), pool.take()] == [0, 1]  # ready-made, in order
    # Each take started a refill thread; it builds up to size again without the caller waiting.
    assert wait_until(lambda: len(pool._items) == 2, timeout=5)
    assert pool.take() in (2, 3)


def test_ready_pool_lends_items_back_after_a_reset_instead_of_building_new_ones():
    resets, builds = [], []
    pool = ReadyPool(lambda: builds.append(len(builds)) or {"id": builds[-1]}, size=2,
                     reset=lambda item: resets.append(item["id"]))
    pool.fill()
    first = pool.take()  # one is left: a lending pool builds no more
    pool.give_back(first)
    assert resets == [first["id"]]
    second = pool.take()
    third = pool.take()  # the last one: now a refill starts
    assert first in (second, third) and {second["id"], third["id"]} == {0, 1}
    assert wait_until(lambda: len(builds) == 4, timeout=5) and len(builds) == 4  # only the refill built more


def test_ready_pool_builds_on_the_spot_when_empty():
    calls = threading.Event()
    pool = ReadyPool(lambda: calls.set() or "fresh", size=1)
    assert pool.take() == "fresh" and calls.is_set()


class StandInWorker:
    """What the pool needs of a Kokoro worker process: alive, pid, stop."""

    pids = itertools.count(1000)

    def __init__(self, alive: bool = True):
        self.pid = next(self.pids)
        self.alive = alive
        self.stopped = False

    async def stop(self, grace_s: float = 2.0) -> None:
        self.stopped, self.alive = True, False


def stand_in_pool(size: int, spawned: list) -> WarmWorkerPool:
    pool = WarmWorkerPool(engine="onnx", model=None, voice=None, size=size)

    async def new_worker(fork: bool) -> StandInWorker:
        worker = StandInWorker()
        spawned.append((worker, fork))
        return worker

    pool._new_worker = new_worker
    return pool


async def test_warm_pool_lends_its_workers_then_starts_forked_ones_and_keeps_at_most_size():
    spawned = []
    pool = stand_in_pool(2, spawned)
    await pool.start()
    assert [fork for _, fork in spawned] == [False, False]  # warmed as fresh interpreters
    first, second = await pool.take(), await pool.take()
    third = await pool.take()  # every warm one is in a call: one is started for this caller
    assert spawned[-1] == (third, True) and pool.lent_count == 3 and pool.idle_count == 0
    for worker in (first, second, third):
        await pool.give_back(worker)
    assert pool.idle_count == 2 and pool.lent_count == 0
    assert third.stopped and not first.stopped and not second.stopped  # the extra one is not kept
    await pool.close()
    assert first.stopped and second.stopped


async def test_warm_pool_never_lends_a_dead_worker():
    spawned = []
    pool = stand_in_pool(2, spawned)
    await pool.start()
    dead = spawned[0][0]
    dead.alive = False  # crashed while idle
    lent = await pool.take()
    assert lent is spawned[1][0] and dead.stopped
    await pool.give_back(lent)
    crashed = await pool.take()
    crashed.alive = False  # crashed during the call
    await pool.give_back(crashed)
    assert pool.idle_count == 0 and crashed.stopped


class StandInSpeaker:
    """What the phrase cache needs of a Kokoro worker: synthesize pieces of PCM, and its sample rate."""

    def __init__(self, log: list):
        self.info = type("Info", (), {"sample_rate": 24000})()
        self._log = log

    async def synthesize(self, text: str, voice=None):
        self._log.append(("synthesized", text))
        yield type("Piece", (), {"pcm": b"\0\0" * 240})()


async def test_fixed_phrases_wait_while_a_call_is_in_progress(tmp_path):
    """Phrases left to synthesize after start-up must not take the cores from a call (on a fresh
    server they starved the first call's LLM: 28 s for a one-sentence answer)."""
    import asyncio

    from voicebot.preload import Preloaded, _no_calls
    from voicebot.tts.phrases import PhraseCache

    log, calls = [], {"n": 0}
    loaded = Preloaded(settings=None, company=None, database=None, vad=None, smart_turn=None,
                       calls_in_progress=lambda: calls["n"])
    cache = PhraseCache(engine="onnx", model=None, voice=None, directory=tmp_path)

    async def before_each():
        log.append(("asked", calls["n"]))
        await _no_calls(loaded, poll_s=0.01)

    calls["n"] = 1  # a caller is talking when the background work starts
    task = asyncio.create_task(cache.load(["Sure.", "Anything else?"], StandInSpeaker(log), before_each))
    await wait_until_async(lambda: ("asked", 1) in log, timeout=5)  # it asked, and was told to wait
    assert ("synthesized", "Sure.") not in log and not task.done()
    calls["n"] = 0  # the call ended
    origins = await asyncio.wait_for(task, 5)
    assert origins == {"Sure.": "synthesized", "Anything else?": "synthesized"}
    assert "Sure." in cache and "Anything else?" in cache


async def test_a_fixed_phrase_a_call_speaks_is_kept_for_the_next_call(tmp_path):
    """On a busy server the background synthesis waits; the calls themselves fill the cache."""
    import asyncio

    from voicebot.tts.phrases import PhraseCache

    log, busy = [], asyncio.Event()
    cache = PhraseCache(engine="onnx", model=None, voice=None, directory=tmp_path)

    async def wait_for_quiet():
        await busy.wait()

    task = asyncio.create_task(cache.load(["Sure.", "Anything else?"], StandInSpeaker(log), wait_for_quiet))
    await wait_until_async(lambda: cache.wants("Anything else? "), timeout=5)
    assert not cache.wants("Something else")
    cache.keep("Anything else? ", b"\1\0" * 240, 24000)  # a call's TTS synthesized it, whole
    assert "Anything else?" in cache and not cache.wants("Anything else?")
    busy.set()
    origins = await asyncio.wait_for(task, 5)
    assert origins == {"Sure.": "synthesized", "Anything else?": "a call"}
    assert log == [("synthesized", "Sure.")]
