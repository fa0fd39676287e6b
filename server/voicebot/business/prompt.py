"""What the LLM is told about the business: short on purpose.

The seed's 05 iteration measured a 1,353-token system prompt costing 5.7 s of
time-to-first-token; every token here is paid on each cold prompt, so the facts are
packed into a few lines and the style rules into one.
"""

from __future__ import annotations

from voicebot.business.database import Company


def _price(value: float) -> str:
    return f"${value:.0f}" if value == int(value) else f"${value:.2f}"


def system_prompt(company: Company) -> str:
    menu = "; ".join(
        f"{item.name} {_price(item.price_usd)}" + (f" ({item.description})" if item.description else "")
        for item in company.menu
    )
    lines = [
        f"You answer the phone for {company.name}, a {company.kind}.",
        f"Address: {company.address}. Phone: {company.phone}. Hours: {company.opening_hours}.",
    ]
    if menu:
        lines.append(f"Menu: {menu}.")
    if company.notes:
        lines.append(company.notes)
    lines.append(
        "You are speaking on a phone call: answer in one or two short, friendly sentences, in plain "
        "words with no lists, symbols or emojis. Use only these facts; if you don't know, offer to "
        "take a message."
    )
    return "\n".join(lines)


def greeting_request(company: Company) -> str:
    """The turn that makes the bot speak first, as soon as the caller is connected."""
    return f'A caller has just connected. Greet them with: "{company.greeting}"'


def opening_messages(company: Company, greeting_mode: str) -> list[dict]:
    """How every call's context begins, for the LLM's prompt cache.

    With a cached greeting the bot has already spoken it (an assistant turn), and the
    caller's first question follows; with an LLM greeting the call opens on the request
    to greet. A placeholder question stands for the caller's: only the prefix is reused.
    """
    if greeting_mode == "cached":
        return [{"role": "assistant", "content": company.greeting},
                {"role": "user", "content": "Hi, are you open today?"}]
    return [{"role": "user", "content": greeting_request(company)}]


def speech_vocabulary(company: Company) -> str:
    """The business's own words, to bias speech recognition towards them.

    Whisper hears "dragon roll" as "drag and roll" and "miso soup" as "missile soup"
    unless it is told these words are likely; names, menu items and the address are.
    """
    names = [company.name] + [item.name.split(",")[0] for item in company.menu]
    street = company.address.split(",")[0].lstrip("0123456789 ")
    return ", ".join(dict.fromkeys(names + [street]))
