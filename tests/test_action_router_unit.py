"""The embedded model's action routing, without the model: which turns are routed, which
arguments are trusted, and what the LLM service streams for a decision or a tool result."""

from __future__ import annotations

import asyncio
import json

import pytest
from pipecat.processors.aggregators.llm_context import LLMContext

from voicebot.front_desk import TOOL_SCHEMAS
from voicebot.llm.action_router import (
    ACTION_WORDS,
    _text_stream,
    _tool_call_stream,
    _tool_summary,
    caller_phone,
    candidate_tools,
    decision_schema,
    merge_consecutive_user_messages,
    recent_caller_words,
    ungrounded,
    when_phrase,
    without_tool_traffic,
)

SAID = "Hi, I'd like a table for four this Saturday at 7 pm. I'm John Smith, five five five, one two three four."


@pytest.mark.parametrize(("arguments", "invented"), [
    ({"name": "John Smith", "phone": "555-1234", "party_size": 4, "date": "Saturday", "time": "7 PM"}, []),
    ({"name": "John Smith", "party_size": 8}, ["party_size=8"]),
    ({"name": "Jane Doe"}, ["name='Jane Doe'"]),
    ({"phone": "555-0142"}, ["phone='555-0142'"]),
    ({"date": "Tuesday", "time": "7 PM"}, ["date='Tuesday'"]),
    ({"name": "", "phone": None}, []),  # not said is fine: the desk asks for it
])
def test_arguments_the_caller_never_said_are_not_trusted(arguments, invented):
    assert ungrounded(arguments, SAID) == invented


def test_ordered_items_must_have_been_named():
    said = "Two dragon rolls and a miso soup please"
    assert ungrounded({"items": [{"name": "Dragon roll", "quantity": 2}, {"name": "Miso soup", "quantity": 1}]},
                      said) == []
    assert ungrounded({"items": [{"name": "Salmon nigiri", "quantity": 1}]}, said) != []


@pytest.mark.parametrize(("words", "routed"), [
    ("I'd like to book a table for two", True),
    ("Can I order two dragon rolls?", True),
    ("Please tell the manager I called", True),
    ("I need to cancel my reservation", True),
    ("Thanks, bye!", True),
    ("What time do you close tonight?", False),
    ("How much is the dragon roll?", False),
    ("Where are you located?", False),
])
def test_only_turns_that_ask_for_an_action_are_routed(words, routed):
    assert bool(ACTION_WORDS.search(words)) is routed


def test_a_booking_spread_over_several_messages_is_still_routed():
    context = LLMContext(messages=[
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "I'd like to book a table for four on Saturday."},
        {"role": "assistant", "content": "Could I have your name?"},
        {"role": "user", "content": "John Smith.\n(Notes for this question: It is now 10 AM on Tuesday.)"},
        {"role": "user", "content": "My number is 555 1234."},
    ])
    words = recent_caller_words(context)
    assert "book a table" in words and "555 1234" in words and "Notes" not in words
    assert ACTION_WORDS.search(words)


@pytest.mark.parametrize(("words", "offered"), [
    ("Could you tell the manager I left my umbrella there yesterday?", {"take_message"}),
    ("Can you ask the owner to call me back about a birthday party?", {"take_message"}),
    ("I'd like to book a table for four on Saturday", {"check_availability", "book_table"}),
    ("I'd like a table for two next Monday at 7 pm", {"check_availability", "book_table"}),
    ("Can you check on my reservation? And cancel it.", {"check_availability", "book_table", "find_booking",
                                                         "cancel_booking"}),
    ("Three California rolls to go, please", {"place_order"}),
    ("It's Maria Garcia, five five five, nine eight seven six", {t.name for t in TOOL_SCHEMAS}),
])
def test_the_decision_offers_only_the_actions_the_caller_spoke_of(words, offered):
    assert {t.name for t in candidate_tools(TOOL_SCHEMAS, words)} == offered


def test_decision_schema_offers_every_tool_and_no_way_out():
    shapes = decision_schema(TOOL_SCHEMAS)["anyOf"]
    assert [s["properties"]["action"]["const"] for s in shapes] == [t.name for t in TOOL_SCHEMAS]
    book = next(s for s in shapes if s["properties"]["action"]["const"] == "book_table")
    assert set(book["properties"]["arguments"]["properties"]) == {"name", "phone", "party_size", "date", "time"}
    assert book["properties"]["arguments"]["required"] == []  # unsaid details stay out, the desk asks


def test_streams_look_like_an_openai_server_s():
    async def collect(stream):
        return [chunk async for chunk in stream]

    call = asyncio.run(collect(_tool_call_stream("book_table", {"party_size": 4}, model="m")))
    tool_call = call[0].choices[0].delta.tool_calls[0]
    assert (tool_call.index, tool_call.function.name, json.loads(tool_call.function.arguments)) == (
        0, "book_table", {"party_size": 4})
    text = asyncio.run(collect(_text_stream("You're all set.", model="m")))
    assert text[0].choices[0].delta.content == "You're all set."


def test_a_tool_result_is_said_as_the_desk_wrote_it():
    result = {"role": "tool", "tool_call_id": "x", "content": json.dumps({"ok": True, "summary": "You're all set."})}
    assert _tool_summary(result) == "You're all set."
    assert _tool_summary({"role": "user", "content": "hi"}) is None
    assert _tool_summary({"role": "tool", "content": "not json"}) is None


def test_a_sentence_split_by_pauses_is_decided_on_whole():
    messages = [{"role": "system", "content": "s"}, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Please book a table for six next Friday"},
                {"role": "user", "content": "under the name Carlo Rossi,"},
                {"role": "user", "content": "my number is 555 1111."}]
    merged = merge_consecutive_user_messages(messages)
    assert [m["role"] for m in merged] == ["system", "assistant", "user"]
    assert merged[-1]["content"] == ("Please book a table for six next Friday under the name Carlo Rossi, "
                                     "my number is 555 1111.")
    assert messages[2]["content"] == "Please book a table for six next Friday"  # the call's context is untouched


@pytest.mark.parametrize(("words", "phone"), [
    ("I'm Nina, five five five, three one three one.", "5553131"),
    ("table for 6 at 8 pm, my number is 555-1234", "5551234"),
    ("call me at (503) 555 0142 please", "5035550142"),
    ("a table for four at 7", None),
])
def test_the_callers_phone_number_comes_from_their_words(words, phone):
    assert caller_phone(words) == phone


def test_the_callers_words_for_when_replace_a_rewritten_date():
    assert when_phrase("I'd like a table for two next Monday at 7 pm, name Lisa Ray.") == "next Monday at 7 pm"
    assert when_phrase("What's on the menu?") is None
    assert when_phrase("Please book a table for six next Friday at 8 pm under the name Carlo Rossi, "
                       "my number is 555 1111.") == "next Friday at 8 pm"


def test_the_model_sees_the_conversation_without_tool_traffic():
    messages = [{"role": "system", "content": "s"},
                {"role": "user", "content": "Book a table for two tomorrow at 7."},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                 "function": {"name": "book_table", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": '{"ok": false, "summary": "Your name?"}'},
                {"role": "assistant", "content": "Could I have your name for the booking?"},
                {"role": "user", "content": "Maria Garcia."}]
    assert [m["role"] for m in without_tool_traffic(messages)] == ["system", "user", "assistant", "user"]


def test_the_callers_answer_to_a_desk_question_goes_back_to_the_desk():
    from voicebot.llm.action_router import desk_is_asking

    asking = LLMContext(messages=[
        {"role": "user", "content": "Can I reserve a table for two?"},
        {"role": "user", "content": "Tomorrow at 6.30 in the evening."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "book_table", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"ok": False, "summary": "Your name?"})},
        {"role": "assistant", "content": "Could I have your name for the booking?"},
        {"role": "user", "content": "It's Maria Garcia."},
        {"role": "user", "content": "And my number is 555 9876."},
    ])
    assert desk_is_asking(asking)
    assert "reserve" in recent_caller_words(asking)  # two caller turns, four messages
    done = LLMContext(messages=asking.messages[:3] + [
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"ok": True, "summary": "Booked."})},
        {"role": "user", "content": "Thanks!"}])
    assert not desk_is_asking(done)


def test_a_time_alone_is_not_a_day():
    from voicebot.llm.action_router import _DAY_WORDS

    assert _DAY_WORDS.search("next Friday at 8 pm") and _DAY_WORDS.search("tomorrow at 6")
    assert _DAY_WORDS.search("December 12") and not _DAY_WORDS.search("8 pm")


def test_a_shared_llm_server_of_our_model_gets_routed_actions_without_a_pinned_slot():
    from voicebot.llm.action_router import ActionRoutingLLMService
    from voicebot.llm.factory import DEFAULT_MODEL_ALIAS, LLMConfig, create_llm_service

    env = {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", "OPENAI_API_KEY": "k", "VOICEBOT_LLM_TOOLS": "routed"}
    settings = LLMConfig.from_env(env)
    assert settings.routes_actions()
    service = create_llm_service(settings, "You answer the phone.")
    assert isinstance(service, ActionRoutingLLMService)
    assert service._decision_slot is None and service._settings.model == DEFAULT_MODEL_ALIAS
    native = LLMConfig.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert not native.routes_actions()
    assert not isinstance(create_llm_service(native, "You answer the phone."), ActionRoutingLLMService)
    with pytest.raises(ValueError, match="VOICEBOT_LLM_TOOLS"):
        LLMConfig.from_env({"VOICEBOT_LLM_TOOLS": "sometimes"})


async def test_the_callers_words_for_when_win_over_the_models_copy():
    """The model turned "eight. 45 in the evening" into "8 pm" and a table was booked at 8."""
    from types import SimpleNamespace

    from pipecat.services.openai.llm import OpenAILLMService

    from voicebot.llm.action_router import ActionRoutingLLMService

    service = ActionRoutingLLMService(api_key="k", base_url="http://127.0.0.1:9/v1", decision_slot=None,
                                      settings=OpenAILLMService.Settings(model="m", system_instruction="s"))
    decision = {"action": "book_table", "arguments": {"name": "Ann Lee", "party_size": 2, "date": "tomorrow",
                                                      "time": "8 pm", "phone": "555 3333"}}

    async def create(**_):
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=json.dumps(decision)))])

    service._client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    context = LLMContext(messages=[{"role": "user", "content": "I'd like a table for two tomorrow at eight. 45 "
                                                               "in the evening for Ann Lee. Phone 555-3333."}])
    action, arguments = await service._decide(context, TOOL_SCHEMAS)
    assert action == "book_table"
    assert arguments["time"].endswith("tomorrow at 8:45 pm") and arguments["date"] == arguments["time"]
    assert arguments["party_size"] == 2 and arguments["phone"] == "5553333"


@pytest.mark.parametrize(("words", "service_question"), [
    ("Hi there, I was wondering, do you do takeout or delivery, or is it dine-in only?", True),
    ("Do you take reservations?", True),
    ("Is there a manager I could talk to?", True),
    ("Do you have a table for four tonight?", False),
    ("Can you cancel my booking?", False),
    ("Can I order two dragon rolls for pickup?", False),
    ("Could you tell the manager I left my umbrella there yesterday?", False),
    ("I'd like to book a table for two tomorrow at 7 pm.", False),
])
def test_questions_about_the_restaurants_services_are_answered_not_routed(words, service_question):
    from voicebot.llm.action_router import is_service_question

    assert is_service_question(words) is service_question
