"""The server, assembled in one place: built once from its settings, started, and shut down.

:class:`Runtime` owns everything a call shares: the business database and the company,
admission control, the owner's credential, the phone lines, the models loaded at start-up
(:class:`~voicebot.preload.Preloaded`: the LLM's process, Whisper, the warm TTS workers and
their registry, the ready pools), the calls in progress (:class:`~voicebot.calls.Calls`), and
the events the owner hears of (the board's feed, the webhook and email deliveries). Nothing of it lives in a module
global: the web app reaches it through FastAPI's ``Depends(current_runtime)``, a call gets
its parts from it, and its :meth:`shutdown` stops what its :meth:`start` started.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from loguru import logger
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler
from starlette.requests import HTTPConnection

from voicebot.admission import Admission
from voicebot.business import Company, CompanyRepository, Database
from voicebot.business.company_file import seed_demo_companies
from voicebot.business.desk import company_clock
from voicebot.call_record import purge_old_records
from voicebot.calls import Calls
from voicebot.config import ServerSettings
from voicebot.events import Deliveries, EventFeed, channels_for
from voicebot.memory import freeze_startup_objects
from voicebot.owner.access import OwnerAccess
from voicebot.phone.lines import PhoneLines
from voicebot.phone.twilio import TwilioCalls
from voicebot.preload import Preloaded, preload
from voicebot.tts import forkserver


@dataclass
class Runtime:
    """One bot server: its settings, data, shared models and live calls."""

    settings: ServerSettings
    company: Company
    database: Database
    admission: Admission = field(default_factory=Admission)
    owner: OwnerAccess | None = None  # None: made by create_app (the credential file beside the database)
    phone_lines: PhoneLines = field(default_factory=PhoneLines)  # phone calls between Twilio's webhook and their end
    preloaded: Preloaded | None = None  # what start() loads; None until it is called
    preload_error: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    calls: Calls = field(init=False)  # every call from admission to clean-up, browser or phone
    twilio: TwilioCalls = field(init=False)  # Twilio's REST API (hangs up the calls the bot ends)
    webrtc: SmallWebRTCRequestHandler = field(default_factory=SmallWebRTCRequestHandler)
    events: EventFeed | None = None  # the company's events as they are stored (the board); made by start()
    deliveries: Deliveries | None = None  # each event to the webhook and the inbox; made by build()
    _housekeeping: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.calls = Calls(self.admission, self.database, self.company.id, self.now)
        self.twilio = TwilioCalls(self.settings.phone)

    @classmethod
    def build(cls, settings: ServerSettings) -> Runtime:
        """The runtime for ``settings``: the database opened (the demo restaurants put in only when
        asked), the company found, the owner's credential ready. Raises what makes serving impossible
        (an unreachable database, an unknown company, a bad credential file)."""
        database = Database(settings.database)
        if settings.demo_data:
            seed_demo_companies(database)  # only into an empty database
        company = CompanyRepository(database).get(settings.company_id)
        deliveries = Deliveries(database, company.id, channels_for(company, settings.notify), settings.notify)
        return cls(settings=settings, company=company, database=database, deliveries=deliveries,
                   admission=Admission(max_calls=settings.max_calls,
                                       max_pending_per_client=settings.max_pending_per_client),
                   owner=OwnerAccess.for_server(settings, database),
                   phone_lines=PhoneLines(token_ttl_s=settings.offer_timeout_s))

    @property
    def ready(self) -> bool:
        return self.preloaded is not None and self.preloaded.ready

    def calls_waiting_or_talking(self) -> int:
        """Calls in progress and offers about to become one: start-up work left after ready waits for none."""
        return self.admission.in_progress + len(self.admission.pending)

    def now(self) -> datetime:
        """The restaurant's local time (``VOICEBOT_CLOCK`` when it is fixed)."""
        return company_clock(self.company, self.settings.clock)()

    def today(self) -> date:
        return self.now().date()

    async def running_event_feed(self) -> EventFeed:
        """The event feed, watching the database (started here if the server's start has not yet)."""
        feed = self.event_feed()
        if not feed.running:
            await feed.start()
        return feed

    def event_feed(self) -> EventFeed:
        """The company's live events (made on first use: an app served without its lifespan, in tests, has it too)."""
        if self.events is None:
            self.events = EventFeed(self.database, self.company.id)
        return self.events

    async def start_events(self) -> None:
        """Watch for new events, deliver them, and delete call records past their retention, every hour."""
        feed = await self.running_event_feed()
        if self.deliveries is not None:
            feed.on_new_events(self.deliveries.wake)
            self.deliveries.start()
        self._housekeeping = asyncio.create_task(self._keep_house(), name="housekeeping")

    async def _keep_house(self) -> None:
        while True:
            try:
                await asyncio.to_thread(purge_old_records, self.database, self.settings.notify.call_retention_days)
            except Exception as e:  # the database is away: next hour
                logger.warning(f"Old call records not deleted: {type(e).__name__}: {e}")
            await asyncio.sleep(3600)

    async def start(self) -> None:
        """Start the events, then load every model (the server answers /health meanwhile); a failure is kept
        for /health."""
        try:
            await self.start_events()
        except Exception as e:
            logger.exception(f"Events could not start (the board and notifications are off): {e}")
        self.preloaded = Preloaded.for_server(self.settings, self.company, self.database,
                                              calls_in_progress=self.calls_waiting_or_talking)
        try:
            await preload(self.preloaded)
            if self.settings.collect_after_call:
                frozen = await asyncio.to_thread(freeze_startup_objects)
                logger.debug(f"{frozen} objects made at start-up are kept out of the collections after calls")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.preload_error = f"{type(e).__name__}: {e}"
            logger.exception(f"Preloading failed: {self.preload_error}")

    async def shutdown(self) -> None:
        """End every call, then stop the TTS workers, the fork server and the embedded LLM (Ctrl-C, SIGTERM)."""
        await self.calls.end_all()
        await self.webrtc.close()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        if self.events is not None:
            await self.events.stop()
        if self.deliveries is not None:
            await self.deliveries.stop()
        if self.preloaded is not None:
            await self.preloaded.close()
        await asyncio.to_thread(forkserver.stop)
        logger.info("Shutdown complete")


def current_runtime(connection: HTTPConnection) -> Runtime:
    """FastAPI dependency: the runtime the app was created over."""
    return connection.app.state.runtime
