"""Messages for the staff: who called, how to call back, and what they said."""

from __future__ import annotations

from loguru import logger
from sqlalchemy import insert

from voicebot.business import schema
from voicebot.business.database import Company, Database
from voicebot.business.desk import Clock, DeskResult, check_contact, company_clock, phone_digits, refused


class MessagePad:
    """Takes one company's messages."""

    def __init__(self, database: Database, company: Company, clock: Clock | None = None):
        self.database = database
        self.company = company
        self.clock = clock or company_clock(company)

    def take(self, name: str, phone: str, message: str) -> DeskResult:
        if not (message or "").strip():
            return refused("What message would you like me to pass on?")
        problem = check_contact(name, phone, "message")
        if problem:
            return refused(problem)
        with self.database.transaction() as db:
            message_id = db.execute(insert(schema.messages).values(
                company_id=self.company.id, name=name.strip(), phone=phone_digits(phone),
                text=message.strip(), created_at=self.clock(),
            ).returning(schema.messages.c.id)).scalar_one()
        logger.info(f"Message #{message_id} for {self.company.name} from {name.strip()}")
        return DeskResult(True, f"I've passed your message on, {name.strip()}; someone will call you back soon. "
                                "Anything else?", {"message_id": message_id})
