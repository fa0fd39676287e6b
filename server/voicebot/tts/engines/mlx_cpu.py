"""Make MLX's Linux CPU build fast enough for Kokoro.

MLX is the engine for Apple Silicon. On Linux its CPU wheel links a slow reference
BLAS, and its dilated ``conv1d`` / ``conv_transpose1d`` are naive loops: Kokoro then
runs ~70x slower than real time. Two fixes, both applied only off Apple Silicon:

1. Load Debian's OpenBLAS (``libopenblas0-pthread``) with ``RTLD_GLOBAL`` *before*
   ``mlx.core`` is first imported, so its ``cblas_*``/``sgemm`` symbols win over the
   bundled ones (matmuls ~13x faster).
2. Replace the convolutions that Kokoro's weight-normalised layers run with matmul
   formulations (im2col for ``conv1d``, overlap-add for ``conv_transpose1d``), which
   then also use OpenBLAS. Only mlx-audio's Kokoro ``ConvWeighted`` layer is patched.
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform
import sys
from functools import lru_cache

from loguru import logger

from voicebot.config import KokoroTuning
from voicebot.hardware import is_apple_silicon

_OPENBLAS_CANDIDATES = (
    "/usr/lib/*-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/*-linux-gnu/openblas-pthread/libopenblasp-r*.so",
    "/usr/lib/*-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas*.so.0",
    "/usr/lib/libopenblas.so.0",
)




def find_openblas() -> str | None:
    """Path of an OpenBLAS shared library: ``$VOICEBOT_OPENBLAS``, Debian's pthread
    build, or whatever the dynamic linker knows as ``libopenblas``."""
    explicit = KokoroTuning.from_env().openblas
    if explicit:
        return explicit if os.path.exists(explicit) else None
    machine = platform.machine()
    for pattern in _OPENBLAS_CANDIDATES:
        matches = sorted(glob.glob(pattern))
        # Prefer this machine's multiarch directory when several exist.
        matches.sort(key=lambda p: machine not in p)
        if matches:
            return os.path.realpath(matches[0])
    import ctypes.util

    return ctypes.util.find_library("openblas")


@lru_cache(maxsize=1)
def preload_openblas() -> str | None:
    """Load OpenBLAS globally so that MLX binds to it; returns its path, or None.

    Must run before ``mlx.core`` is imported anywhere in the process.
    """
    if is_apple_silicon() or KokoroTuning.from_env().openblas == "0":
        return None
    if "mlx.core" in sys.modules:
        logger.warning("mlx.core was imported before OpenBLAS could be preloaded; MLX matmuls stay slow")
    path = find_openblas()
    if path is None:
        logger.warning(
            "OpenBLAS not found: MLX will use its slow reference BLAS (Kokoro ~70x slower "
            "than real time). Install it with `apt-get install -y libopenblas0-pthread`."
        )
        return None
    try:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        logger.warning(f"Could not load OpenBLAS from {path} ({e}); MLX matmuls stay slow")
        return None
    logger.debug(f"OpenBLAS preloaded for MLX: {path}")
    return path


# --------------------------------------------------------------------------------------
# Matmul-based convolutions (channels-last, MLX layouts)
# --------------------------------------------------------------------------------------


def conv1d_im2col(x, weight, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1):
    """Dilated ``mx.conv1d`` as one matmul: x ``[N, L, Cin]``, weight ``[Cout, K, Cin]``.

    MLX's CPU conv1d already lowers undilated convolutions to a GEMM (same result, same
    speed), so only dilated ones, which it runs as naive loops, are rewritten.
    """
    import mlx.core as mx

    if groups != 1 or dilation == 1:
        return mx.conv1d(x, weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    c_out, kernel, c_in = weight.shape
    if padding:
        x = mx.pad(x, [(0, 0), (padding, padding), (0, 0)])
    length = x.shape[1]
    out_len = (length - dilation * (kernel - 1) - 1) // stride + 1
    span = stride * (out_len - 1) + 1
    taps = [x[:, k * dilation : k * dilation + span : stride, :] for k in range(kernel)]
    columns = mx.stack(taps, axis=2).reshape(x.shape[0], out_len, kernel * c_in)
    return columns @ weight.reshape(c_out, kernel * c_in).T


def conv_transpose1d_overlap_add(
    x, weight, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0, groups: int = 1
):
    """``mx.conv_transpose1d`` as a matmul plus shifted adds.

    x ``[N, L, Cin]``, weight ``[Cout, K, Cin]`` (or ``[C, K, 1]`` depthwise with
    ``groups == C``). Tap k of input step t lands on output ``t * stride + k``; writing
    ``k = q * stride + r`` turns the scatter into ``ceil(K / stride)`` padded adds.
    """
    import mlx.core as mx

    c_out, kernel, c_in_per_group = weight.shape
    batch, length, c_in = x.shape
    depthwise = groups == c_in == c_out and c_in_per_group == 1
    if dilation != 1 or (groups != 1 and not depthwise):
        return mx.conv_transpose1d(
            x, weight, stride=stride, padding=padding, dilation=dilation, output_padding=output_padding, groups=groups
        )
    if depthwise:
        taps = x[:, :, None, :] * weight[:, :, 0].T[None, None]  # [N, L, K, C]
    else:
        taps = (x.reshape(batch * length, c_in) @ weight.transpose(2, 1, 0).reshape(c_in, kernel * c_out)).reshape(
            batch, length, kernel, c_out
        )
    groups_of_taps = -(-kernel // stride)
    if groups_of_taps * stride != kernel:
        taps = mx.pad(taps, [(0, 0), (0, 0), (0, groups_of_taps * stride - kernel), (0, 0)])
    frames = length + groups_of_taps - 1
    out = None
    for q in range(groups_of_taps):
        part = taps[:, :, q * stride : (q + 1) * stride, :]
        part = mx.pad(part, [(0, 0), (q, groups_of_taps - 1 - q), (0, 0), (0, 0)])
        out = part if out is None else out + part
    assert out is not None  # groups_of_taps >= 1: the loop ran
    full = out.reshape(batch, frames * stride, c_out)
    out_len = (length - 1) * stride - 2 * padding + kernel + output_padding
    full_len = frames * stride
    if padding + out_len > full_len:
        full = mx.pad(full, [(0, 0), (0, padding + out_len - full_len), (0, 0)])
    return full[:, padding : padding + out_len, :]


_PATCHED = False


def patch_kokoro_convolutions() -> bool:
    """Route mlx-audio Kokoro's weight-normalised convolutions through the matmul versions.

    Only ``ConvWeighted.__call__`` changes: it is handed ``mx.conv1d`` or
    ``mx.conv_transpose1d`` by its callers and now swaps in the fast equivalents.
    """
    global _PATCHED
    if _PATCHED or is_apple_silicon() or not KokoroTuning.from_env().mlx_fast_conv:
        return _PATCHED
    import mlx.core as mx

    from voicebot.adapters.mlx_audio import route_kokoro_convolutions

    route_kokoro_convolutions({mx.conv1d: conv1d_im2col, mx.conv_transpose1d: conv_transpose1d_overlap_add})
    _PATCHED = True
    logger.debug("Kokoro ConvWeighted convolutions use im2col / overlap-add matmuls")
    return True


def prepare_mlx_for_cpu() -> dict[str, object]:
    """Apply both speed-ups (no-ops on Apple Silicon); call before importing ``mlx.core``."""
    blas = preload_openblas()
    conv = patch_kokoro_convolutions()
    return {"openblas": blas, "fast_conv": conv}
