"""The business the bot answers for: its data (``database``) and how it is told to the LLM (``prompt``)."""

from voicebot.business.database import Company, CompanyNotFound, CompanyRepository, MenuItem

__all__ = ["Company", "CompanyNotFound", "CompanyRepository", "MenuItem"]
