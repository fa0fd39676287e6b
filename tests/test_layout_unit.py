"""The README's layout table matches the tree: every module has a row, every row names real files."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "server" / "voicebot"


def layout_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| `")]


def test_every_module_of_the_package_has_a_row():
    text = "\n".join(layout_rows())
    named = set(re.findall(r"`([\w./-]+)`", text))
    modules = {p.name if p.is_file() else f"{p.name}/" for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    missing = {m for m in modules if m not in named and f"server/voicebot/{m}" not in named}
    assert missing == set()


def test_every_path_a_row_starts_with_exists():
    for row in layout_rows():
        first = re.findall(r"`([\w./-]+)`", row.split("|")[1])
        folder = (ROOT / first[0]).parent if first else ROOT  # later names sit beside the first
        for name in first:
            assert (ROOT / name).exists() or (folder / name).exists(), (name, row[:80])


def test_the_tts_command_line_does_not_load_the_webrtc_test_caller():
    import subprocess
    import sys

    code = "import sys, voicebot.tts.speak; print(sorted(m for m in ('aiortc', 'voicebot.probe') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
