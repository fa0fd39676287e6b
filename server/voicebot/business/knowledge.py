"""The business's longer knowledge (menu, FAQ, policies), searched per caller turn.

The system prompt stays short and constant (so the LLM's prompt cache holds it); each
turn, the few entries that match the caller's words are handed to the LLM with the
question. SQLite searches its FTS5 index (BM25), PostgreSQL its ``english`` text search;
both stem words and match prefixes, so "rolls" finds "roll" and "deliver" finds "delivery".
"""

from __future__ import annotations

import re

from sqlalchemy import text

from voicebot.business.database import Database

# Words that carry no topic; everything else in the caller's sentence is searched for.
_STOPWORDS = frozenset("""
a about after again all am an and any are as at be been but by can could did do does doing for from
get got had has have hello hi how i if in into is it its just know like me my no not of on or our
please so some than thank thanks that the their them then there these they this to too up us want
was we were what when where which who why will with would yes you your yeah okay ok hey tell much
""".split())


def search_terms(question: str) -> list[str]:
    """The caller's words worth searching for: lower-case, deduplicated, stopwords and single letters dropped."""
    words = re.findall(r"[a-z0-9]+", question.lower())
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in _STOPWORDS))


# Topic words too general to say what a question is about ("what are my options?").
_GENERIC_TOPIC_WORDS = frozenset("options option work free food menu time times hours info information policy".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# What may follow a word in another form of it ("deliver" → "delivery", "park" → "parking"); "take" →
# "takeout" is another word ("do you take credit cards?" is not about takeout).
_WORD_ENDINGS = frozenset("s es y ies ing ings ed er ers ery ation ations al ful".split())


def _same_word(a: str, b: str) -> bool:
    a, b = _stem(a), _stem(b)
    short, long = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and long.startswith(short) and long[len(short):] in _WORD_ENDINGS)


class KnowledgeBase:
    """Full-text search over one company's knowledge entries."""

    def __init__(self, database: Database, company_id: int):
        self.database = database
        self.company_id = company_id
        self._faq: list[tuple[list[str], str]] | None = None

    def faq_answer(self, question: str) -> str | None:
        """The owner's own answer when the question is about one FAQ entry's topic ("Do you deliver?" →
        the delivery entry), else None. Menu entries are not FAQ (prices are answered from the menu)."""
        terms = search_terms(re.sub(r"\bwi[\s-]?fi\b", "wifi", question.lower()))
        scored = []
        for topic_words, answer in self._faq_entries():
            hits = [w for w in topic_words if w not in _GENERIC_TOPIC_WORDS and any(_same_word(w, t) for t in terms)]
            if hits:
                scored.append((len(hits), answer))
        scored.sort(key=lambda pair: -pair[0])
        if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
            return None
        return scored[0][1]

    def faq_topic_words(self) -> list[str]:
        """The words of the owner's FAQ topics ("parking", "wifi"), for speech recognition."""
        return list(dict.fromkeys(w for topic_words, _ in self._faq_entries() for w in topic_words
                                  if w not in _GENERIC_TOPIC_WORDS))

    def faq_answers(self) -> list[str]:
        """Every FAQ answer the owner wrote (the desk says them word for word)."""
        return [answer for _, answer in self._faq_entries()]

    def _faq_entries(self) -> list[tuple[list[str], str]]:
        if self._faq is None:
            with self.database.engine.connect() as db:
                rows = db.execute(text("SELECT topic, text FROM knowledge WHERE company_id = :company"),
                                  {"company": self.company_id})
                self._faq = [(search_terms(row.topic), row.text) for row in rows
                             if ":" not in row.topic and " costs " not in row.text]
        return self._faq

    def search(self, question: str, limit: int = 3) -> list[tuple[int, str]]:
        """(entry id, text) of the best matches, best first; empty when nothing matches."""
        terms = search_terms(question)
        if not terms:
            return []
        with self.database.engine.connect() as db:
            if self.database.is_sqlite:
                query = " OR ".join(f'"{t}"*' if len(t) > 3 else f'"{t}"' for t in terms)
                rows = db.execute(text(
                    "SELECT k.id, k.text FROM knowledge_fts f JOIN knowledge k ON k.id = f.rowid "
                    "WHERE knowledge_fts MATCH :query AND k.company_id = :company "
                    "ORDER BY bm25(knowledge_fts) LIMIT :limit"),
                    {"query": query, "company": self.company_id, "limit": limit})
            else:
                rows = db.execute(text(
                    "SELECT id, text FROM knowledge, to_tsquery('english', :query) q "
                    "WHERE company_id = :company AND to_tsvector('english', topic || ' ' || text) @@ q "
                    "ORDER BY ts_rank(to_tsvector('english', topic || ' ' || text), q) DESC, id LIMIT :limit"),
                    {"query": " | ".join(f"{t}:*" if len(t) > 3 else t for t in terms), "company": self.company_id,
                     "limit": limit})
            return [(row.id, row.text) for row in rows]
