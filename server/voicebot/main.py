"""Command-line entry point: load the company, start the web server, preload the models."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import uvicorn
from loguru import logger
from sqlalchemy.engine import make_url

from voicebot.app import create_app
from voicebot.business import CompanyNotFound, Database
from voicebot.client_build import ensure_client_built
from voicebot.config import ServerSettings, parse_settings
from voicebot.events import NotifySettingsError
from voicebot.logs import progress, setup_logging
from voicebot.memory import cap_malloc_arenas
from voicebot.owner.access import OwnerAccess
from voicebot.owner.credential import OwnerCredentialError
from voicebot.runtime import Runtime
from voicebot.stt import usable_engine


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped (``06_parallel_tts_warmup.py``); 2 if the database won't open or the company is unknown."""
    settings = parse_settings(argv)
    cap_malloc_arenas(settings.malloc_arenas)  # before the threads that would spread the heap
    log_path = setup_logging()
    settings = replace(settings, stt=usable_engine(settings.stt))  # MLX Whisper only if it can run here
    problem = phone_settings_problem(settings)
    if problem:
        logger.error(problem)
        return 2
    try:
        runtime = Runtime.build(settings)
    except CompanyNotFound as e:
        logger.error(str(e))
        return 2
    except (OwnerCredentialError, NotifySettingsError) as e:
        logger.error(str(e))
        return 2
    except Exception as e:  # a bad URL, an unreachable server, a file we cannot write
        logger.error(f"Cannot open the business database: {e}")
        return 2
    company, database = runtime.company, runtime.database
    progress(f"Company #{company.id}: {company.name} ({company.address}); database {database.description}")
    logger.info(f"Metrics and problems are logged to {log_path} (grep TTFB)")

    if settings.client_dir is not None:
        ensure_client_built(settings.client_dir.parent)
    app = create_app(runtime)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    progress(f"Serving on http://{settings.host}:{settings.port} (client at /, health at /health)")
    assert runtime.owner is not None, "Runtime.build and create_app set it"
    progress(_owner_line(runtime.owner, database))
    progress(_phone_line(settings))
    asyncio.run(server.serve())
    return 0


def phone_settings_problem(settings: ServerSettings) -> str | None:
    """Why the phone settings cannot work (None: they can): signatures are checked against the public
    URL Twilio was given, never against the Host a request claims."""
    phone = settings.phone
    if phone.auth_token and not phone.public_url:
        return ("TWILIO_AUTH_TOKEN is set but VOICEBOT_PUBLIC_URL is not: Twilio's signatures are checked "
                "against the public https URL its webhook calls (e.g. VOICEBOT_PUBLIC_URL=https://bot.example.com)")
    if phone.public_url and not phone.public_url.startswith(("https://", "http://")):
        return f"VOICEBOT_PUBLIC_URL={phone.public_url!r} is not an http(s) URL"
    return None


def _phone_line(settings: ServerSettings) -> str:
    """Where Twilio's voice webhook points, and whether it is checked."""
    phone = settings.phone
    base = phone.public_url or f"http://{settings.host}:{settings.port}"
    if phone.auth_token:
        checked = "signed by Twilio (TWILIO_AUTH_TOKEN)"
    elif settings.access_token:
        checked = "off: set TWILIO_AUTH_TOKEN to take phone calls on a server with an access token"
    else:
        checked = "unsigned: set TWILIO_AUTH_TOKEN before giving Twilio this address"
    return f"Phone (Twilio) voice webhook at {base}/twilio/voice: {checked}"


def _owner_line(owner: OwnerAccess, database: Database) -> str:
    """Where the owner's page is and where its credential is kept: never the credential itself."""
    credential = owner.credential
    if credential.from_environment:
        return f"Owner page at /owner: sign in with {credential.source}"
    created = "a new owner credential, created in" if credential.created else "the owner credential in"
    shown = (f"uv run voicebot --db {make_url(database.url).database} owner-token" if database.is_sqlite
             else "uv run voicebot --db <this database URL> owner-token")
    return f"Owner page at /owner: sign in with {created} {credential.source} (shown by `{shown}`)"


if __name__ == "__main__":
    sys.exit(main())
