"""Settings: flags over environment over defaults, clear errors, and one module that reads them."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

from voicebot import config
from voicebot.business.prompt import system_prompt
from voicebot.config import GreetingMode, KokoroTuning, LLMBackend, LLMConfig, TTSWarmup, parse_settings

SERVER = pathlib.Path(config.__file__).resolve().parent


def _env_reads(path: pathlib.Path) -> list[str]:
    """``os.environ.get(...)``, ``os.getenv(...)`` and ``os.environ[...]`` reads in ``path``."""
    reads = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript)) else ""
        if isinstance(node, ast.Call) and text.startswith(("os.environ.get(", "os.getenv(")):
            reads.append(text)
        elif isinstance(node, ast.Subscript) and text.startswith("os.environ[") and isinstance(node.ctx, ast.Load):
            reads.append(text)
    return reads


def test_only_config_reads_the_environment():
    offenders = {}
    for path in sorted(SERVER.rglob("*.py")):
        if path.name == "config.py" and path.parent == SERVER:
            continue
        reads = [r for r in _env_reads(path) if "HF_HUB_OFFLINE" not in r]  # the hub library's own
        if reads:
            offenders[str(path.relative_to(SERVER))] = reads
    assert offenders == {}


def test_the_readme_lists_every_variable_config_reads():
    readme = (SERVER.parents[1] / "README.md").read_text()
    source = (SERVER / "config.py").read_text()
    names = set(re.findall(r'"(VOICEBOT_[A-Z_]+)"', source))
    internal = {config.FORKSERVER_MAIN_PATH_ENV}  # the server tells its fork server, not users
    assert names > internal
    assert sorted(name for name in names - internal if name not in readme) == []


def test_settings_import_no_service_or_model_library():
    code = ("import sys, voicebot.config; heavy = [m for m in ('pipecat', 'onnxruntime', 'faster_whisper', "
            "'xllamacpp', 'mlx', 'aiortc', 'torch') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_flags_win_over_the_environment_and_defaults_fill_the_rest(monkeypatch):
    monkeypatch.setenv("VOICEBOT_PORT", "9000")
    monkeypatch.setenv("VOICEBOT_MAX_CALLS", "5")
    monkeypatch.setenv("VOICEBOT_TTS_WARMUP", "on-connect")
    monkeypatch.setenv("VOICEBOT_MALLOC_TRIM", "off")
    settings = parse_settings(["2", "--port", "9100", "--greeting", "llm"])
    assert (settings.company_id, settings.port, settings.max_calls) == (2, 9100, 5)
    assert settings.greeting is GreetingMode.LLM and settings.tts.warmup is TTSWarmup.ON_CONNECT
    assert settings.trim_after_call is False and settings.malloc_arenas == 2
    assert settings.host == "localhost" and settings.tts.voice == config.DEFAULT_VOICE


def test_a_bad_number_names_its_variable(monkeypatch):
    monkeypatch.setenv("VOICEBOT_MAX_CALLS", "three")
    with pytest.raises(ValueError, match="VOICEBOT_MAX_CALLS='three'"):
        parse_settings(["2"])


def test_llm_backend_follows_url_then_key_then_embedded():
    assert config.choose_backend(LLMConfig.from_env({})) is LLMBackend.EMBEDDED
    assert config.choose_backend(LLMConfig.from_env({"OPENAI_API_KEY": "k"})) is LLMBackend.OPENAI
    both = LLMConfig.from_env({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert config.choose_backend(both) is LLMBackend.OPENAI_COMPATIBLE
    assert LLMConfig.from_env({}, backend="openai").backend is LLMBackend.OPENAI
    assert LLMConfig.from_env({"VOICEBOT_LLM_POLL": "0"}).poll == 0  # 0 is a value, not "unset"
    with pytest.raises(ValueError, match="VOICEBOT_LLM_TEMPERATURE"):
        LLMConfig.from_env({"VOICEBOT_LLM_TEMPERATURE": "warm"})


def test_kokoro_tuning_is_read_from_the_worker_environment(monkeypatch):
    for name in ("VOICEBOT_TTS_THREADS", "VOICEBOT_TTS_NICE", "VOICEBOT_TTS_FIRST_CLAUSE_MIN_WORDS",
                 "VOICEBOT_TTS_FIRST_WORDS", "VOICEBOT_OPENBLAS", "VOICEBOT_MLX_FAST_CONV"):
        monkeypatch.delenv(name, raising=False)
    assert KokoroTuning.from_env() == KokoroTuning()
    monkeypatch.setenv("VOICEBOT_TTS_THREADS", "2")
    monkeypatch.setenv("VOICEBOT_MLX_FAST_CONV", "0")
    monkeypatch.setenv("VOICEBOT_TTS_FIRST_CLAUSE_MIN_WORDS", "3")
    tuning = KokoroTuning.from_env()
    assert (tuning.onnx_threads, tuning.mlx_fast_conv, tuning.first_clause_min_words) == (2, False, 3)


def test_tts_and_stt_engines_default_to_the_portable_ones_off_apple_silicon(monkeypatch):
    monkeypatch.setattr(config, "is_apple_silicon", lambda: False)
    assert (config.default_tts_engine(), config.default_stt_engine()) == ("onnx", "faster-whisper")
    monkeypatch.setattr(config, "is_apple_silicon", lambda: True)
    assert (config.default_tts_engine(), config.default_stt_engine()) == ("mlx", "mlx")
    monkeypatch.setenv("VOICEBOT_TTS_ENGINE", "ONNX")
    assert config.default_tts_engine() == "onnx"


def test_capacity_follows_the_llm_backend_and_the_cores(monkeypatch):
    from voicebot.config import default_max_calls

    assert default_max_calls(LLMBackend.EMBEDDED, 2) == 1 and default_max_calls(LLMBackend.EMBEDDED, 8) == 4
    assert default_max_calls(LLMBackend.OPENAI, 2) == 2 and default_max_calls(LLMBackend.OPENAI_COMPATIBLE, 1) == 1
    for name in ("VOICEBOT_MAX_CALLS", "VOICEBOT_TTS_POOL_SIZE", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    settings = parse_settings(["2"])
    assert (settings.max_calls, settings.tts.pool_size) == (2, 3)  # embedded on 4 cores; a spare worker
    monkeypatch.setenv("OPENAI_BASE_URL", "http://llm.internal:8000/v1")
    assert parse_settings(["2"]).max_calls == 4
    assert parse_settings(["2", "--max-calls", "7"]).max_calls == 7


def test_a_short_opener_is_asked_for_only_when_it_is_switched_on(tmp_path):
    from voicebot.business import CompanyRepository, Database
    from voicebot.business.company_file import seed_demo_companies

    database = Database(f"sqlite:///{tmp_path / 'business.db'}")
    seed_demo_companies(database)
    company = CompanyRepository(database).get(2)
    assert LLMConfig.from_env({}).short_opener is False
    assert LLMConfig.from_env({"VOICEBOT_LLM_SHORT_OPENER": "1"}).short_opener is True
    plain, short = system_prompt(company), system_prompt(company, short_opener=True)
    assert "at most six words" in short and "at most six words" not in plain and short.startswith(plain)
