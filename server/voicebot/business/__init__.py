"""The business the bot answers for: its data (``database``, ``company_file``), the front desk's
work (``bookings``, ``orders``, ``messages``), its searchable knowledge, and how it is told
to the LLM (``prompt``)."""

from voicebot.business.database import BookingPolicy, Company, CompanyNotFound, CompanyRepository, Database, MenuItem

__all__ = ["BookingPolicy", "Company", "CompanyNotFound", "CompanyRepository", "Database", "MenuItem"]
