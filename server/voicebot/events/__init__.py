"""How the owner hears of what the bot stored: the live feed of events (:mod:`.feed`, for the
board), and their delivery by signed webhook and email (:mod:`.delivery`, :mod:`.signing`).
The events themselves are written with the rows, in :mod:`voicebot.business.outbox`."""

from voicebot.events.delivery import Deliveries, NotifySettingsError, channels_for
from voicebot.events.feed import EventFeed

__all__ = ["Deliveries", "EventFeed", "NotifySettingsError", "channels_for"]
