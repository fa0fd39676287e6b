"""Start-up work done once, before the first call, with the seed's numbered progress lines.

Everything a call needs that is slow to build is made here: the turn-taking models, the
speech-to-text model, the LLM (the embedded one is started and its system prompt cached)
and, in ``pool`` warm-up mode, a warm Kokoro worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from loguru import logger
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams

from voicebot.business import Company, Database
from voicebot.business.desk import company_clock
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.messages import MessagePad
from voicebot.business.prompt import goodbye, opening_messages, system_prompt
from voicebot.config import GreetingMode, LLMBackend, ServerSettings, TTSWarmup, choose_backend, forkserver_enabled
from voicebot.front_desk.dialog import answer_lines, company_lines
from voicebot.llm import describe_backend, start_llm
from voicebot.llm.process import LlamaProcess
from voicebot.llm.slots import SlotPool
from voicebot.logs import progress
from voicebot.stt import WhisperModels, describe_stt
from voicebot.tts import forkserver
from voicebot.tts.aggregation import spoken_pieces
from voicebot.tts.phrases import COMMON_OPENERS, PhraseCache, load_phrases
from voicebot.tts.pool import WarmWorkerPool
from voicebot.tts.voices import resolve_model_location, resolve_voice
from voicebot.tts.worker_client import WorkerRegistry

T = TypeVar("T")

# Smart Turn decides when the caller is done; the VAD only needs a short pause to ask it.
VAD_PARAMS = VADParams(stop_secs=0.2)


class ReadyPool(Generic[T]):
    """A few ready-made instances of a stateful object (one per call), refilled in a thread.

    Silero VAD and Smart Turn analyzers keep per-call state, so calls cannot share one;
    building one costs 0.1-0.8 s, which this keeps off the caller's critical path. With
    ``reset``, instances are lent: a call gives its instance back, reset, and the next call
    reuses it, instead of every call building (and dropping) a new ONNX session.
    """

    def __init__(self, factory: Callable[[], T], size: int = 2, reset: Callable[[T], None] | None = None):
        self._factory = factory
        self._size = size
        self._reset = reset
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._filling = False

    def fill(self) -> None:
        while True:
            with self._lock:
                if len(self._items) >= self._size:
                    self._filling = False
                    return
            item = self._factory()
            with self._lock:
                self._items.append(item)

    def take(self) -> T:
        with self._lock:
            item = self._items.popleft() if self._items else None
            # Lent instances come back: build more only when none is left.
            start_refill = not self._filling and (self._reset is None or not self._items)
            self._filling = self._filling or start_refill
        if start_refill:
            threading.Thread(target=self.fill, name="ready-pool-refill", daemon=True).start()
        return item if item is not None else self._factory()

    def give_back(self, item: T) -> None:
        """A call is done with ``item``: reset it for the next call (if the pool lends)."""
        if self._reset is None:
            return
        self._reset(item)
        with self._lock:
            if len(self._items) < self._size:
                self._items.append(item)


@dataclass
class Preloaded:
    """What every call shares, built once at start-up."""

    settings: ServerSettings
    company: Company
    database: Database
    vad: ReadyPool[SileroVADAnalyzer]
    smart_turn: ReadyPool[LocalSmartTurnAnalyzerV3]
    whisper: WhisperModels = field(default_factory=WhisperModels)
    workers: WorkerRegistry = field(default_factory=WorkerRegistry)  # every live Kokoro worker of the server
    tts_pool: WarmWorkerPool | None = None
    phrases: PhraseCache | None = None
    llm_process: LlamaProcess | None = None  # the embedded model's process (None: a remote backend)
    llm_slots: SlotPool | None = None  # the embedded model's slots, one per call
    background: asyncio.Task | None = None  # start-up work that goes on after ready
    # How many calls are talking (set by the web app): start-up work left after ready waits for none.
    calls_in_progress: Callable[[], int] = lambda: 0
    timings: dict[str, float] = field(default_factory=dict)
    ready: bool = False

    def engines(self) -> dict[str, str]:
        s = self.settings
        return {
            "vad": "Silero VAD (bundled with pipecat)",
            "turn": "Smart Turn v3 (bundled with pipecat)",
            "stt": describe_stt(s.stt),
            "llm": describe_backend(s.llm, self.llm_process),
            "tts": f"Kokoro-82M on {s.tts.engine}, model {s.tts.model}, voice {s.tts.voice}, "
                   f"warm-up {s.tts.warmup.value}"
                   + (f" ({s.tts.pool_size} workers)" if s.tts.warmup is TTSWarmup.POOL else ""),
            "greeting": s.greeting.value,
        }


    @classmethod
    def for_server(cls, settings: ServerSettings, company: Company, database: Database,
                   calls_in_progress: Callable[[], int] = lambda: 0) -> Preloaded:
        """Nothing loaded yet (:func:`preload` loads it): the runtime holds it from the start, so
        that whatever start-up got to is stopped at shutdown, also after a failed start."""
        # Smart Turn resets cleanly (clear(); its model thread restarts on demand after the
        # pipeline's cleanup), so calls reuse it; the VAD's cleanup stops its thread for good.
        return cls(settings=settings, company=company, database=database,
                   vad=ReadyPool(lambda: SileroVADAnalyzer(params=VAD_PARAMS)),
                   smart_turn=ReadyPool(LocalSmartTurnAnalyzerV3, reset=LocalSmartTurnAnalyzerV3.clear),
                   calls_in_progress=calls_in_progress)

    async def close(self) -> None:
        """Stop what start-up started: the work left after ready, the warm TTS workers, the LLM's process."""
        if self.background is not None:
            self.background.cancel()
        if self.tts_pool is not None:
            await self.tts_pool.close()
        await self.workers.stop_all()
        process, self.llm_process = self.llm_process, None
        if process is not None:
            await asyncio.to_thread(process.stop)


def _timed(label: str, step: int, total: int, work: Callable[[], object]) -> float:
    progress(f"{step}/{total} {label}...")
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    return elapsed


async def preload(loaded: Preloaded) -> Preloaded:
    """Load every model into ``loaded``, printing ``N/M Loading ...`` / ``  ✓ ... in X.XXs`` lines.

    The work left after ready (the fixed phrases) waits while ``loaded.calls_in_progress()``.
    """
    settings, company, database = loaded.settings, loaded.company, loaded.database
    vad, smart_turn = loaded.vad, loaded.smart_turn
    pool_mode = settings.tts.warmup is TTSWarmup.POOL
    cached_greeting = settings.greeting is GreetingMode.CACHED
    total = 4 + int(pool_mode) + int(cached_greeting)
    if forkserver_enabled():
        # Loads in its own process while the steps below run; TTS workers fork from it.
        await asyncio.to_thread(forkserver.ensure_running)
        logger.info("TTS worker fork server started (spaCy, misaki and onnxruntime imported once for all workers)")
    # Where the Kokoro model comes from (hub cache, hub, or bundled) is decided once, here,
    # rather than on the first call's critical path.
    model_location = await asyncio.to_thread(resolve_model_location, settings.tts.model)
    prompt = system_prompt(company, company_clock(company, settings.clock)(), settings.llm.short_opener)

    def start_and_warm_llm() -> None:
        loaded.llm_process = start_llm(settings.llm, slots=settings.max_calls)
        if loaded.llm_process is not None:
            loaded.llm_process.warm(prompt, opening=opening_messages(company, settings.greeting))

    steps: list[tuple[str, str, Callable[[], object]]] = [
        ("Loading Silero VAD model", "VAD", vad.fill),
        ("Loading Local Smart Turn v3 model", "Smart Turn", smart_turn.fill),
        (f"Loading speech-to-text ({settings.stt.engine} {settings.stt.model})", "STT",
         lambda: loaded.whisper.preload(settings.stt)),
        ("Starting the LLM and caching the system prompt", "LLM", start_and_warm_llm),
    ]
    for step, (label, short, work) in enumerate(steps, 1):
        elapsed = await asyncio.to_thread(_timed, label, step, total, work)
        loaded.timings[short] = elapsed
        progress(f"  ✓ {short} loaded in {elapsed:.2f}s")

    if choose_backend(settings.llm) is LLMBackend.EMBEDDED:
        loaded.llm_slots = SlotPool(settings.max_calls)
    await asyncio.to_thread(_replay_kept_messages, settings, company, database)
    step = len(steps)
    if pool_mode:
        step += 1
        size = settings.tts.pool_size
        progress(f"{step}/{total} Warming {size} Kokoro TTS worker(s) ({settings.tts.engine}) for the first callers...")
        started = time.monotonic()
        loaded.tts_pool = WarmWorkerPool(engine=settings.tts.engine, model=settings.tts.model, size=size,
                                         voice=settings.tts.voice, request_timeout_s=settings.tts.request_timeout_s,
                                         registry=loaded.workers)
        await loaded.tts_pool.start()
        loaded.timings["TTS"] = time.monotonic() - started
        progress(f"  ✓ TTS workers warm in {loaded.timings['TTS']:.2f}s")

    if cached_greeting:
        step += 1
        progress(f"{step}/{total} Preparing the greeting audio...")
        started = time.monotonic()
        voice = await asyncio.to_thread(resolve_voice, settings.tts.voice, model_location)
        loaded.phrases = PhraseCache(engine=settings.tts.engine, model=model_location, voice=voice)
        pool = loaded.tts_pool
        worker = await pool.take() if pool else None
        try:
            await load_phrases(loaded.phrases, [company.greeting, goodbye(company)], worker)
        finally:
            if pool is not None and worker is not None:
                await pool.give_back(worker)
        loaded.timings["greeting"] = time.monotonic() - started
        progress(f"  ✓ Greeting ready in {loaded.timings['greeting']:.2f}s (voice {voice})")

    loaded.ready = True
    progress("✓ ALL MODELS PRELOADED - Ready for instant connections!")
    if loaded.phrases is not None:
        # The desk's fixed sentences and common first words, after start-up: calls may already come in.
        loaded.background = asyncio.create_task(_load_fixed_phrases(loaded), name="fixed-phrases")
    return loaded


def _replay_kept_messages(settings: ServerSettings, company: Company, database: Database) -> None:
    """Messages kept in the spool while the database was down go into it now."""
    try:
        MessagePad(database, company, spool=message_spool(settings, company)).replay()
    except Exception as e:  # still down: they wait for the next message
        logger.warning(f"Messages kept while the database was down are still waiting: {e}")


def message_spool(settings: ServerSettings, company: Company) -> Path:
    """Where a company's messages wait while the database is down."""
    return settings.data_dir / f"messages-company-{company.id}.jsonl"


async def _no_calls(loaded: Preloaded, poll_s: float = 0.5) -> None:
    """Returns once no call is talking: a phrase synthesized during a call took the cores from its
    LLM (at nice 10 it got a tenth of a core: 28 s for a one-sentence answer on a fresh server)."""
    if loaded.calls_in_progress():
        logger.debug("Fixed phrases: waiting until no call is in progress")
    while loaded.calls_in_progress():
        await asyncio.sleep(poll_s)


async def _load_fixed_phrases(loaded: Preloaded) -> None:
    """Pre-synthesize, as the TTS will be given them, every fixed sentence of the desk and the LLM's openers."""
    started = time.monotonic()
    faq = await asyncio.to_thread(KnowledgeBase(loaded.database, loaded.company.id).faq_answers)
    now = company_clock(loaded.company, loaded.settings.clock)()
    lines = [*company_lines(loaded.company, faq), *answer_lines(loaded.company, now)]
    texts = [piece for line in lines for piece in await spoken_pieces(line)]
    texts = list(dict.fromkeys([*texts, *COMMON_OPENERS]))
    phrases, pool = loaded.phrases, loaded.tts_pool
    assert phrases is not None, "started only once there is a phrase cache"
    worker = await pool.take() if pool else None
    try:
        await load_phrases(phrases, texts, worker, quiet=True, before_each=lambda: _no_calls(loaded))
    finally:
        if pool is not None and worker is not None:
            await pool.give_back(worker)
    logger.info(f"{len(texts)} fixed phrases ready in {time.monotonic() - started:.1f}s "
                "(the front desk's questions, FAQ answers, prices and hours, common first words)")
