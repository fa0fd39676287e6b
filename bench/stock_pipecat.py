"""The pipeline a Pipecat user would write from the examples, on our models: the yardstick.

    uv run python bench/stock_pipecat.py --company 2 --port 7870 --llm-url URL --llm-key KEY

Pipecat's own services, nothing of ours in the call path: ``WhisperSTTService`` on the
same faster-whisper tiny.en weights, ``OpenAILLMService`` against the same llama.cpp build
and GGUF (a ``voicebot-llm`` process), ``KokoroTTSService`` on the same int8 Kokoro model
and af_heart voice, Silero VAD with Smart Turn v3 (Pipecat's default turn strategies),
SmallWebRTC. The company's whole menu and FAQ are written into the system message at the
head of the context, as the examples do (Pipecat 1.14 did not apply ``system_instruction``
given to ``OpenAILLMService`` here). The bot greets through the LLM when the caller
connects. ``bench/voice_to_voice.py`` calls it with the same probe as our server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn
from fastapi import FastAPI, Request
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.services.kokoro.tts import KokoroTTSService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequest, SmallWebRTCRequestHandler
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

from voicebot.business import CompanyRepository, Database
from voicebot.business.company_file import seed_demo_companies
from voicebot.business.money import format_price
from voicebot.models.weights import KOKORO_ONNX, english_voices_path, whisper_model_dir


def system_message(database: Database, company_id: int) -> str:
    """The company as a Pipecat user would describe it: everything in one prompt."""
    from sqlalchemy import select

    from voicebot.business import schema

    company = CompanyRepository(database).get(company_id)
    with database.engine.connect() as db:
        faq = [r.text for r in db.execute(select(schema.knowledge.c.topic, schema.knowledge.c.text)
                                          .where(schema.knowledge.c.company_id == company_id))
               if ":" not in r.topic and " costs " not in r.text]
    menu = "; ".join(f"{m.name} {format_price(m.price_cents)}" + (f" ({m.description})" if m.description else "")
                     for m in company.menu)
    return (f"You answer the phone for {company.name}, a {company.kind}. Address: {company.address}. "
            f"Phone: {company.phone}. Hours: {company.opening_hours}. Menu: {menu}. "
            f"{' '.join(faq)} {company.notes} Answer in one or two short, friendly sentences, in plain words "
            "with no lists, symbols or emojis.")


async def run_call(connection, prompt: str, llm_url: str, llm_key: str) -> None:
    transport = SmallWebRTCTransport(webrtc_connection=connection,
                                     params=TransportParams(audio_in_enabled=True, audio_out_enabled=True))
    stt = WhisperSTTService(device="cpu", compute_type="int8",
                            settings=WhisperSTTService.Settings(model=str(whisper_model_dir("tiny.en")),
                                                                language=Language.EN))
    llm = OpenAILLMService(base_url=llm_url, api_key=llm_key,
                           settings=OpenAILLMService.Settings(model="qwen2.5-coder-1.5b-instruct", max_tokens=150,
                                                              temperature=0.2))
    tts = KokoroTTSService(model_path=str(KOKORO_ONNX.path()), voices_path=str(english_voices_path()),
                           settings=KokoroTTSService.Settings(voice="af_heart"))
    context = LLMContext(messages=[{"role": "system", "content": prompt}])
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([transport.input(), stt, aggregators.user(), llm, tts, transport.output(),
                         aggregators.assistant()])
    worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True))

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport, client):
        context.add_message({"role": "user", "content": "A caller has just connected. Greet them briefly."})
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        await worker.cancel()

    await WorkerRunner(handle_sigint=False).run(worker)


def create_app(prompt: str, llm_url: str, llm_key: str) -> FastAPI:
    app = FastAPI()
    handler = SmallWebRTCRequestHandler()

    @app.get("/health")
    async def health():
        return {"ready": True, "status": "ready"}

    @app.post("/api/offer")
    async def offer(request: Request):
        async def start(connection):
            asyncio.create_task(run_call(connection, prompt, llm_url, llm_key))

        body = await request.json()
        webrtc_request = SmallWebRTCRequest(sdp=body["sdp"], type=body["type"], pc_id=body.get("pc_id"),
                                            restart_pc=body.get("restart_pc"))
        return await handler.handle_web_request(webrtc_request, start)

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7870)
    parser.add_argument("--db", default="business.db")
    parser.add_argument("--llm-url", default=os.environ.get("OPENAI_BASE_URL"))
    parser.add_argument("--llm-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    database = Database(args.db)
    seed_demo_companies(database)  # a fresh database: the demo restaurants
    prompt = system_message(database, args.company)
    uvicorn.run(create_app(prompt, args.llm_url, args.llm_key), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
