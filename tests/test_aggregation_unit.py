"""The first-clause rule: what the TTS gets as the first piece of a reply."""

from __future__ import annotations

import pytest

from voicebot.tts.aggregation import FirstClauseTextAggregator


async def pieces(aggregator: FirstClauseTextAggregator, tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        out += [a.text async for a in aggregator.aggregate(token)]
    last = await aggregator.flush()
    if last is not None and last.text.strip():
        out.append(last.text.strip())
    return out


REPLY = ["Yes", ",", " we", " close", " at", " 9", " PM", ",", " every", " night", ".", " See", " you", "!"]


@pytest.mark.parametrize(("min_words", "first"), [(1, "Yes,"), (3, "Yes, we close at 9 PM,")])
async def test_the_first_clause_goes_alone_once_it_has_enough_words(min_words, first):
    aggregator = FirstClauseTextAggregator(first_clause_min_words=min_words)
    got = await pieces(aggregator, REPLY)
    assert got[0] == first
    assert " ".join(got).replace(" ,", ",") == "Yes, we close at 9 PM, every night. See you!"


async def test_only_the_first_clause_of_each_reply_is_cut_early():
    aggregator = FirstClauseTextAggregator(first_clause_min_words=1)
    first = await pieces(aggregator, ["Sure", ",", " a", " table", ",", " for", " four", "."])
    second = await pieces(aggregator, ["Well", ",", " maybe", "."])
    assert first == ["Sure,", "a table, for four."]
    assert second == ["Well,", "maybe."]


async def test_a_long_first_piece_is_cut_between_words_not_inside_an_amount():
    aggregator = FirstClauseTextAggregator(first_piece_max_words=4)
    got = await pieces(aggregator, ["The", " dragon", " roll", " is", " $", "15", " and", " very", " good", "."])
    assert got[0] == "The dragon roll is $15 and"  # not "is" before "$", nor inside "$15"


@pytest.mark.parametrize(("min_words", "pieces_"), [
    (1, ["Yes,", "we close at 9 PM, every night.", "See you!"]),
    (3, ["Yes, we close at 9 PM,", "every night.", "See you!"]),
])
def test_the_worker_cuts_a_request_by_the_same_rule(min_words, pieces_):
    from voicebot.tts.clauses import first_piece
    from voicebot.tts.g2p import split_for_streaming

    text = "Yes, we close at 9 PM, every night. See you!"
    assert first_piece(text, 60, min_words)[0] == pieces_[0]
    if min_words == 1:  # the worker's default
        assert split_for_streaming(text) == pieces_


def test_a_long_sentence_is_cut_at_its_clauses():
    from voicebot.tts.g2p import split_for_streaming

    readback = ("Let me read that back: 1 Buddha bowl, $13 in total, ready today at 12:50 PM, under Lou, and your "
                "number is three oh five, five five five, one two three four. Shall I place the order?")
    pieces = split_for_streaming(readback)
    assert pieces[0] == "Let me read that back:" and pieces[-1] == "Shall I place the order?"
    assert all(len(p) <= 100 for p in pieces) and " ".join(pieces) == readback


def test_each_piece_is_short_enough_to_be_ready_before_the_one_before_has_played():
    from voicebot.tts.g2p import MIN_PIECE_CHARS, PIECE_GROWTH, split_for_streaming

    readback = ("Let me read that back: a table for 2 on Friday, December 4 at 7 PM, under John Smith, and your "
                "number is five oh three, five five five, four one four two. Shall I book it?")
    pieces = split_for_streaming(readback)
    assert pieces[:2] == ["Let me read that back:", "a table for 2 on Friday,"]
    for before, piece in zip(pieces, pieces[1:], strict=False):
        assert len(piece) <= max(MIN_PIECE_CHARS, PIECE_GROWTH * len(before)), pieces
    assert " ".join(pieces) == readback
