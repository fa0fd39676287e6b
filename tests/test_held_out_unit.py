"""The fast tier's caller sentences are its own: none is one of the benchmark's (issue #31).

The understanding benchmark (bench/understanding) and the call benchmarks (bench/*.py) measure
the desk on sentences nobody tuned it to. A unit test that says the same sentence lets the code
be fitted to the benchmark through the tests, and then the benchmark no longer measures anything
held out. Dish names appear in both legitimately (they are the menu, not a caller's sentence).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MIN_WORDS = 4


def normalized(text: str) -> str:
    """Lower case, only [a-z0-9'] words, one space between them."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'")))


def is_sentence(text: str) -> bool:
    """Four words or more; a word has a letter ("2026-12-02T12:30" and "127.0.0.1" are no sentences)."""
    return sum(bool(re.search(r"[a-z]", w)) for w in normalized(text).split()) >= MIN_WORDS


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def benchmark_sentences(root: Path = ROOT) -> set[str]:
    """Every string of the understanding corpora, and every double-quoted literal of bench/*.py, normalized."""
    found = set()
    for path in sorted((root / "bench" / "understanding").rglob("*.yaml")):
        found.update(normalized(s) for s in _strings(yaml.safe_load(path.read_text())) if is_sentence(s))
    for path in sorted((root / "bench").glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_sentence(node.value):
                segment = ast.get_source_segment(source, node) or ""
                if segment.lstrip("rRuU").startswith('"'):
                    found.add(normalized(node.value))
    return found


def menu_names(root: Path = ROOT) -> set[str]:
    """The demo restaurants' dish names, normalized ("Salmon nigiri, two pieces")."""
    return {normalized(item["name"]) for path in (root / "server" / "voicebot" / "business" / "demo").glob("*.yaml")
            for item in yaml.safe_load(path.read_text()).get("menu") or []}


def unit_test_sources(root: Path = ROOT) -> dict[str, str]:
    paths = sorted((root / "tests").glob("test_*_unit.py")) + [root / "tests" / "test_business.py"]
    return {str(path.relative_to(root)): path.read_text() for path in paths}


def overlaps(sources: dict[str, str], benchmark: set[str], menu: set[str]) -> list[tuple[str, int, str]]:
    """(file, line, text) of each string literal in ``sources`` that is one of the benchmark's sentences."""
    found = []
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_sentence(node.value):
                text = normalized(node.value)
                if text in benchmark and text not in menu:
                    found.append((name, node.lineno, node.value))
    return sorted(found)


def test_the_unit_tests_say_none_of_the_benchmarks_sentences():
    """The unit tier must not reuse the benchmark's sentences, so that the benchmark stays held out:
    a unit test whose caller sentence is in bench/ gets rewritten as another sentence of its class."""
    benchmark = benchmark_sentences()
    assert len(benchmark) > 500  # the corpora were read
    assert overlaps(unit_test_sources(), benchmark, menu_names()) == []
