"""The supervised LLM process's command line: its key travels in the environment."""

from __future__ import annotations

import shutil

from voicebot.llm import serve
from voicebot.llm.embedded import EmbeddedLlamaConfig
from voicebot.llm.process import LlamaProcess


def test_the_key_is_not_on_the_command_line_and_may_start_with_a_dash(monkeypatch):
    """A random key such as "-Xb3…" was read by argparse as a flag: the process never started."""
    process = LlamaProcess(EmbeddedLlamaConfig(api_key="-Xb3secret"))
    try:
        assert not any("-Xb3secret" in part for part in process._command())  # ps shows argv to every user
    finally:
        shutil.rmtree(process._slot_dir, ignore_errors=True)
    monkeypatch.setenv("VOICEBOT_LLM_API_KEY", "-Xb3secret")
    assert serve.build_parser().parse_args([]).api_key == "-Xb3secret"
