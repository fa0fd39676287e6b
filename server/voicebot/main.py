"""Command-line entry point: load the company, start the web server, preload the models."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import uvicorn
from loguru import logger

from voicebot.admission import Admission
from voicebot.app import ServerState, create_app
from voicebot.business import CompanyNotFound, CompanyRepository, Database
from voicebot.client_build import ensure_client_built
from voicebot.config import parse_settings
from voicebot.logs import progress, setup_logging
from voicebot.memory import cap_malloc_arenas
from voicebot.stt import usable_engine


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped (``06_parallel_tts_warmup.py``); 2 if the database won't open or the company is unknown."""
    settings = parse_settings(argv)
    cap_malloc_arenas(settings.malloc_arenas)  # before the threads that would spread the heap
    log_path = setup_logging()
    settings = replace(settings, stt=usable_engine(settings.stt))  # MLX Whisper only if it can run here
    try:
        database = Database(settings.database)
    except Exception as e:  # a bad URL, an unreachable server, a file we cannot write
        logger.error(f"Cannot open the business database: {e}")
        return 2
    try:
        company = CompanyRepository(database).get(settings.company_id)
    except CompanyNotFound as e:
        logger.error(str(e))
        return 2
    progress(f"Company #{company.id}: {company.name} ({company.address}); database {database.description}")
    logger.info(f"Metrics and problems are logged to {log_path} (grep TTFB)")

    if settings.client_dir is not None:
        ensure_client_built(settings.client_dir.parent)
    admission = Admission(max_calls=settings.max_calls, max_pending_per_client=settings.max_pending_per_client)
    app = create_app(ServerState(settings=settings, company=company, database=database,
                                 admission=admission))
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    progress(f"Serving on http://{settings.host}:{settings.port} (client at /, health at /health)")
    asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
