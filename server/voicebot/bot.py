"""One phone call: the Pipecat pipeline built for a WebRTC connection, and its TTS warm-up.

    transport in → Whisper STT → user aggregator (Silero VAD + Smart Turn v3)
      → front desk (bookings, orders, messages: kept in code) → knowledge notes → LLM
      → Kokoro TTS (isolated worker) → transport out → assistant aggregator

The seed's key idea lives in :func:`run_bot`: the TTS worker's warm-up is started as a
background task the moment the call connects, before the LLM and the rest of the
pipeline are built. By default that task finds a worker already warm in the pool, and the
greeting itself was synthesized at start-up, so the caller hears it as soon as the
WebRTC connection is up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer
from pipecat.frames.frames import Frame, LLMRunFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
    UserTurnStoppedMessage,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame
from pipecat.services.llm_service import LLMService
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from voicebot.business.outbox import current_call
from voicebot.business.phone import number_in_doubt
from voicebot.business.prompt import greeting_request, speech_vocabulary, system_prompt
from voicebot.call_record import CallRecord
from voicebot.calls import Calls
from voicebot.config import TTSWarmup
from voicebot.front_desk import FrontDesk
from voicebot.front_desk.dialog import KEYPAD_PREFIX
from voicebot.front_desk.notes import KnowledgeNotes
from voicebot.front_desk.processor import DeskFollowUp, FrontDeskProcessor, LLMReplyGuard
from voicebot.front_desk.second_reader import SecondReader
from voicebot.front_desk.understanding import Slot
from voicebot.listening.factory import create_stt_service
from voicebot.listening.pauses import NumberPauses
from voicebot.listening.prefill import SpeculativePrefill
from voicebot.listening.stt import ListeningWhisperSTTService
from voicebot.listening.turns import HeldReplyTurnStopStrategy
from voicebot.llm import create_llm_service
from voicebot.llm.factory import create_second_reader
from voicebot.llm.process import LlamaProcess
from voicebot.llm.service import LlamaCppLLMService
from voicebot.memory import collect_call_garbage, release_freed_memory
from voicebot.preload import Preloaded, message_spool
from voicebot.timeline import CallTimeline
from voicebot.tts.service import KokoroIsolatedTTSService

# How long the greeting waits for the client's RTVI "client-ready" (sent as its data channel
# opens, ~0.05 s after the connection) before it plays anyway.
CLIENT_READY_WAIT_S = 1.0
# Keys typed on a phone are one entry until '#' or this long without a key.
KEYPAD_IDLE_S = 1.5


async def warmup_tts_worker(tts: KokoroIsolatedTTSService, timeline: CallTimeline | None = None) -> bool:
    """Warm the TTS worker in the background, in parallel with the LLM.

    Never raises: if the warm-up fails, the service initializes on first use instead.
    """
    try:
        logger.info("🔥 Starting TTS worker warmup in background...")
        started = time.monotonic()
        ready = await tts.warm_up()
        elapsed = time.monotonic() - started
        if not ready:
            logger.warning(f"TTS warmup did not finish after {elapsed:.2f}s (will initialize on first use)")
            return False
        logger.info(f"✓ TTS worker warmed up in {elapsed:.2f}s")
        if timeline is not None:
            timeline.mark("TTS warm")
        return True
    except Exception as e:
        logger.opt(exception=e).warning(f"TTS warm-up failed (the worker starts on first use instead): {e}")
        return False


def opening_frame(preloaded: Preloaded, context: LLMContext) -> Frame:
    """What makes the bot speak first.

    With a cached greeting, the company's greeting is spoken word for word from
    pre-synthesized audio, and Pipecat records it as the assistant's first turn once
    spoken. Otherwise (the seed's way) the LLM is asked to greet.
    """
    if preloaded.phrases is not None and preloaded.company.greeting in preloaded.phrases:
        return TTSSpeakFrame(preloaded.company.greeting)
    context.add_message({"role": "user", "content": greeting_request(preloaded.company)})
    return LLMRunFrame()


def build_tts(preloaded: Preloaded) -> KokoroIsolatedTTSService:
    """A call's own TTS service; with a pool it borrows a warm worker and gives it back when the call ends."""
    settings = preloaded.settings.tts
    return KokoroIsolatedTTSService(
        model=settings.model,
        voice=settings.voice,
        sample_rate=24000,
        aggregate_sentences=True,
        engine=settings.engine,
        request_timeout_s=settings.request_timeout_s,
        worker_source=preloaded.tts_pool.take if preloaded.tts_pool else None,
        worker_sink=preloaded.tts_pool.give_back if preloaded.tts_pool else None,
        phrases=preloaded.phrases,
        registry=preloaded.workers,
        tuning=settings.tuning,
    )


async def wait_until_connected(connection: SmallWebRTCConnection, timeout_s: float) -> bool:
    """True once the peer connection is up (ICE + DTLS); False if it fails or times out."""
    pc = connection.pc
    settled = asyncio.Event()

    def check() -> None:
        if pc.connectionState in ("connected", "failed", "closed"):
            settled.set()

    pc.on("connectionstatechange", check)
    check()
    try:
        await asyncio.wait_for(settled.wait(), timeout_s)
    except TimeoutError:
        return False
    finally:
        pc.remove_listener("connectionstatechange", check)
    return pc.connectionState == "connected"


async def end_when_caller_vanishes(connection: SmallWebRTCConnection, call_id: str, after_s: float,
                                   poll_s: float = 1.0) -> None:
    """Hang up on a caller who is gone without a goodbye (a closed laptop, a lost network).

    aiortc notices only when ICE consent fails, ~30-40 s later, and meanwhile the call holds
    a line: on a one-line server the restaurant is unreachable. Pipecat's connection knows
    sooner (the client's keep-alive pings stop; without a data channel, aiortc's state), so a
    caller unheard of for ``after_s`` is hung up on and the line given back.
    """
    gone_since: float | None = None
    while True:
        await asyncio.sleep(poll_s)
        if connection.is_connected():
            gone_since = None
            continue
        gone_since = gone_since or time.monotonic()
        if time.monotonic() - gone_since >= after_s:
            logger.warning(f"Call {call_id}: the caller has been unreachable for {after_s:.0f}s "
                           "(no keep-alive); hanging up to free the line")
            await connection.disconnect()
            return


async def run_bot(connection: SmallWebRTCConnection, preloaded: Preloaded, offered_at: float,
                  calls: Calls | None = None) -> None:
    """Run one browser call: wait for the caller to connect, then build and run its pipeline.

    An answered offer is not a call yet. Nothing heavy (TTS worker, pipeline, analyzers)
    is taken until the WebRTC connection is up; an offer that does not connect within
    ``offer_timeout_s`` is dropped with its peer connection.
    """
    call_id = connection.pc_id
    settings = preloaded.settings
    if not await wait_until_connected(connection, settings.offer_timeout_s):
        logger.warning(f"Call {call_id}: the caller did not connect within {settings.offer_timeout_s:.0f}s "
                       f"(connection {connection.pc.connectionState}); offer dropped")
        await connection.disconnect()
        return
    if calls is not None and not calls.connected(call_id):
        logger.warning(f"Call {call_id}: connected, but every line filled up meanwhile; closing it "
                       "(recorded as turned away)")
        await calls.turned_away(call_id, "browser")
        await connection.disconnect()
        return

    def webrtc_transport() -> SmallWebRTCTransport:
        return SmallWebRTCTransport(webrtc_connection=connection,
                                    params=TransportParams(audio_in_enabled=True, audio_out_enabled=True))

    watchdog = asyncio.create_task(end_when_caller_vanishes(connection, call_id, settings.vanished_after_s),
                                   name=f"vanished-{call_id}")
    try:
        await run_call(call_id, webrtc_transport, preloaded, CallTimeline(call_id, offered_at),
                       client_ready_wait_s=CLIENT_READY_WAIT_S,
                       free_line=(lambda: calls.ended(call_id)) if calls is not None else None)
    finally:
        watchdog.cancel()


@dataclass
class CallParts:
    """What one call is made of, whatever carried the caller to us (browser or phone)."""

    transport: BaseTransport
    stt: FrameProcessor
    desk: FrontDesk
    llm: LLMService
    tts: KokoroIsolatedTTSService
    vad: VADAnalyzer
    turn_analyzer: BaseTurnAnalyzer
    timeline: CallTimeline
    opening: Callable[[LLMContext], Frame]  # what makes the bot speak first
    listen_ahead: bool = False  # work while the caller speaks (voicebot.listening)
    pause_llm: LlamaProcess | None = None  # stopped while a reply's first clause is synthesized
    keypad: FrameProcessor | None = None  # a phone's keys as words (Pipecat's DTMFAggregator)
    on_transfer: Callable[[], None] | None = None  # a phone call: the desk puts the caller through to a person
    second_reader: SecondReader | None = None  # the LLM under a schema, for turns the desk's rules cannot place
    record: CallRecord | None = None  # the owner's record of the call (its turns, its outcome)


class FirstWordsFirst:
    """Stops the LLM's process while a reply's first clause is synthesized, so the TTS worker has
    the cores to itself; the process goes on when the first audio is out (or after a bound)."""

    MAX_PAUSE_S = 2.0

    def __init__(self, process: LlamaProcess):
        self._process = process
        self._resume: asyncio.TimerHandle | None = None

    def __call__(self, _tts, synthesizing: bool) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if synthesizing:
            self._process.pause()
            self._resume = asyncio.get_running_loop().call_later(self.MAX_PAUSE_S, self._process.resume)
        else:
            self._process.resume()


@dataclass
class Call:
    """An assembled call: its pipeline worker, its conversation and its front desk."""

    worker: PipelineWorker
    context: LLMContext
    front_desk: FrontDeskProcessor


def assemble_call(parts: CallParts) -> Call:
    """The call's pipeline from its parts:

    transport in → STT → user aggregator (VAD + Smart Turn) → front desk → knowledge notes
    → LLM → the desk's follow-up → TTS → transport out → assistant aggregator
    """
    desk = parts.desk
    dialog = desk.dialog(by_phone=parts.on_transfer is not None, second_reader=parts.second_reader)
    front_desk = FrontDeskProcessor(dialog, on_transfer=parts.on_transfer,
                                    hear_turn_again=getattr(parts.stt, "hear_turn_again", None))
    notes = KnowledgeNotes(desk.knowledge, desk.clock, desk.company)
    context = LLMContext()
    listening = (parts.listen_ahead and isinstance(parts.stt, ListeningWhisperSTTService)
                 and isinstance(parts.llm, LlamaCppLLMService))

    def for_the_llm(words: str) -> bool:
        return listening and not dialog.takes(words)

    # Smart Turn decides when the caller is done, except that an answer the desk was waiting for ends
    # the turn at once; with listening ahead, a pause's transcript starts the reply early, held until
    # then (not for the desk's own turns: its answers take milliseconds).
    stop = HeldReplyTurnStopStrategy(turn_analyzer=parts.turn_analyzer, should_speculate=for_the_llm,
                                     completes_turn=dialog.completes_the_answer)
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(vad_analyzer=parts.vad,
                                            user_turn_strategies=UserTurnStrategies(stop=[stop])),
    )
    prefill = ([SpeculativePrefill(parts.llm, context, notes, should_prefill=for_the_llm)]
               if listening and isinstance(parts.llm, LlamaCppLLMService) else [])  # listening: it is one
    pipeline = Pipeline([
        parts.transport.input(),
        parts.stt,
        *([parts.keypad] if parts.keypad is not None else []),
        *prefill,
        aggregators.user(),
        front_desk,
        *([NumberPauses(lambda: dialog.expecting is Slot.PHONE, usual=parts.vad.params)] if parts.vad else []),
        notes,
        parts.llm,
        LLMReplyGuard(dialog),
        DeskFollowUp(),
        parts.tts,
        parts.transport.output(),
        aggregators.assistant(),
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        observers=[parts.timeline],
    )

    @parts.timeline.event_handler("on_turn_stages")
    async def report_turn(timeline, stages: dict[str, float]) -> None:
        # To the client (and the call probe) as an RTVI server message.
        await worker.queue_frame(RTVIServerMessageFrame(data={"type": "turn-stages", "stages": stages}))

    if parts.record is not None:
        keep_record(parts.record, aggregators, front_desk)
    if isinstance(parts.llm, LlamaCppLLMService):  # llama.cpp's own account of each turn
        parts.llm.add_event_handler("on_llm_timings", parts.timeline.llm_timings)
    parts.tts.add_event_handler("on_first_piece", parts.timeline.first_piece)
    if parts.pause_llm is not None:
        parts.tts.add_event_handler("on_first_synthesis", FirstWordsFirst(parts.pause_llm))
    return Call(worker=worker, context=context, front_desk=front_desk)


def keep_record(record: CallRecord, aggregators: LLMContextAggregatorPair, front_desk: FrontDeskProcessor) -> None:
    """Each turn into the call's record as the aggregators close it (the words the caller said, the words
    the bot spoke); a transfer as the desk says it."""

    @aggregators.user().event_handler("on_user_turn_stopped")
    async def on_user_turn_stopped(aggregator, strategy, message: UserTurnStoppedMessage):
        await record.caller_said(message.content or "")

    @aggregators.assistant().event_handler("on_assistant_turn_stopped")
    async def on_assistant_turn_stopped(aggregator, message: AssistantTurnStoppedMessage):
        await record.bot_said(message.content or "")

    @front_desk.event_handler("on_desk_reply")
    def on_desk_reply(processor, reply) -> None:
        record.put_through = record.put_through or reply.transfer


async def converse(call_id: str, parts: CallParts, client_ready_wait_s: float = 0.0) -> Call:
    """Assemble the call from its parts and run it until it ends."""
    call = assemble_call(parts)
    await run_assembled(call_id, call, parts, client_ready_wait_s)
    return call


async def run_assembled(call_id: str, call: Call, parts: CallParts, client_ready_wait_s: float = 0.0) -> None:
    """Run an assembled call until it ends: the greeting once the caller is connected (after the
    client's RTVI "client-ready", at most ``client_ready_wait_s``), the end when the caller hangs
    up or the desk says goodbye. The TTS service hands its worker back as the pipeline stops."""
    worker, transport, timeline = call.worker, parts.transport, parts.timeline
    client_ready = asyncio.Event()

    @worker.rtvi.event_handler("on_client_ready")
    async def on_client_ready(rtvi):
        client_ready.set()

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport, client):
        timeline.mark("pipeline ready")
        logger.info(f"Call {call_id}: caller connected to {parts.desk.company.name}")
        if client_ready_wait_s > 0:
            # The greeting plays within milliseconds: wait for the client's RTVI "client-ready"
            # (its data channel is open), or its first words would be spoken before the client
            # can receive their transcript. Clients without RTVI get it after a short wait.
            try:
                await asyncio.wait_for(client_ready.wait(), client_ready_wait_s)
            except TimeoutError:
                logger.debug(f"Call {call_id}: no RTVI client-ready after {client_ready_wait_s}s; greeting anyway")
        await worker.queue_frames([parts.opening(call.context)])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        logger.info(f"Call {call_id}: caller hung up")
        if parts.record is not None:
            parts.record.caller_hung_up = True
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


async def run_call(call_id: str, make_transport: Callable[[], BaseTransport], preloaded: Preloaded,
                   timeline: CallTimeline, client_ready_wait_s: float = 0.0,
                   on_transfer: Callable[[], None] | None = None,
                   free_line: Callable[[], None] | None = None) -> Call | None:
    """Build one call's parts from what start-up preloaded, run it until it ends, and clean up.

    The seed's idea stays first: the TTS worker's warm-up is fired before anything else is
    built. ``client_ready_wait_s``: how long the greeting waits for the client's RTVI
    "client-ready" (a browser's data channel); 0 for clients without RTVI (the phone).
    ``on_transfer``: a phone call, whose caller can be put through to a person (and has a keypad).
    ``free_line``: called once the call's own parts are given back, before the memory work that
    follows, so that the next caller is not refused while it runs.
    """
    settings = preloaded.settings
    current_call.set(call_id)  # the rows this call's desk stores carry it (their events, its record)
    tts = build_tts(preloaded)
    warmup_task = None
    if settings.tts.warmup is not TTSWarmup.FIRST_USE:
        # Fired first: the worker loads while everything below is built and the LLM runs.
        warmup_task = asyncio.create_task(warmup_tts_worker(tts, timeline), name=f"tts-warmup-{call_id}")

    desk = FrontDesk(preloaded.database, preloaded.company, clock=settings.clock,
                     spool=message_spool(settings, preloaded.company))
    turn_analyzer = preloaded.smart_turn.take()
    slot = preloaded.llm_slots.take() if preloaded.llm_slots is not None else None
    parts = CallParts(
        transport=make_transport(),
        stt=create_stt_service(settings.stt, preloaded.whisper,
                               hotwords=speech_vocabulary(preloaded.company, desk.knowledge.faq_topic_words()),
                               listening=settings.listen_ahead, number_check=number_in_doubt),
        desk=desk,
        llm=create_llm_service(settings.llm, system_prompt(preloaded.company, desk.clock(), settings.llm.short_opener),
                               process=preloaded.llm_process, slot=slot),
        tts=tts,
        vad=preloaded.vad.take(),
        turn_analyzer=turn_analyzer,
        timeline=timeline,
        opening=lambda context: opening_frame(preloaded, context),
        listen_ahead=settings.listen_ahead,
        pause_llm=preloaded.llm_process if settings.llm.pause_for_first_words else None,
        keypad=DTMFAggregator(prefix=KEYPAD_PREFIX, timeout=KEYPAD_IDLE_S) if on_transfer is not None else None,
        on_transfer=on_transfer,
        second_reader=create_second_reader(settings.llm, preloaded.llm_process),
        record=CallRecord(preloaded.database, preloaded.company.id, call_id,
                          "phone" if on_transfer is not None else "browser", desk.clock()),
    )
    assert parts.record is not None
    await parts.record.open()
    try:
        return await converse(call_id, parts, client_ready_wait_s)
    finally:
        outcome = await parts.record.close()
        logger.info(f"Call {call_id}: recorded, outcome {outcome}")
        if warmup_task is not None and not warmup_task.done():
            warmup_task.cancel()
        await tts.stop_worker()
        preloaded.smart_turn.give_back(turn_analyzer)
        if preloaded.llm_slots is not None:
            preloaded.llm_slots.give_back(slot)
        if free_line is not None:
            free_line()
        if settings.collect_after_call:
            # Frees the calls before this one: this call's transport is still referenced until
            # its caller's handler returns, so the bound is one call's worth, not a growing pile.
            await asyncio.to_thread(collect_call_garbage)
        if settings.trim_after_call:
            await asyncio.to_thread(release_freed_memory)
        if timeline.turns:
            median = sorted(timeline.turns)[len(timeline.turns) // 2]
            logger.info(f"Call {call_id} ended: {len(timeline.turns)} turn(s), median voice-to-voice {median:.2f}s")
        else:
            logger.info(f"Call {call_id} ended")
