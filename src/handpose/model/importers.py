"""Initialise a CPM from a weight file of any supported kind, reporting what was loaded and what stayed random.

Kinds (detected from the file's content; the suffix is only a hint where the content proves nothing):

- ``safetensors`` / ``checkpoint``: handpose's own files; every key must fit (strict).
- ``caffemodel``: OpenPose's ``pose_iter_102000.caffemodel``; every conv of the model must be in the file
  under its OpenPose name with the right shape (the openpose preset), else ``ValueError`` naming the layers.
- ``npy``: the TensorFlow VGG-16 ``openpose_vgg16.npy`` of hand_detector_train (pickled
  ``{layer: {"weights" (kh, kw, cin, cout), "biases"}}``, keys possibly bytes), read with the restricted unpickler;
  partial (the layers it has).
- ``vgg19``: torchvision's VGG-19 ImageNet state dict; partial (the front).

The ImageNet kinds were trained on other inputs than handpose's (BGR, ``x / 256 - 0.5``): their conv1_1 is rewritten
on import (channels permuted, scale, mean and std folded into weight and bias; ``vgg_import.convert_first_conv``),
from torchvision's RGB mean/std input for ``vgg19`` and from Caffe VGG's BGR 0-255 minus mean for ``npy``.
OpenPose's caffemodel was trained on handpose's own input and is copied unchanged. The report says what was done.

Detection: a zip (torch.save) or a pickle carrying torch's magic number is a torch file; numpy's ``.npy`` magic
or another pickle is ``npy``; an 8-byte little-endian length then ``{`` is safetensors; a file opening with a
valid ``NetParameter`` field (name 1, layers 2, ..., layer 100) is a caffemodel. Anything else is a ``ValueError``.

For the partial kinds, a layer of the file whose name is a conv of the model but whose shape differs is an
error, never a silent skip; file layers the model does not have are listed as ``ignored``.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.model.artifact import (
    CHECKPOINT_SUFFIXES,
    CONFIG_KEY,
    ONNX_SUFFIX,
    TASK_KEYPOINTS,
    check_finite,
    check_task,
    load_state_strict,
    read_stored_configs,
    state_dict_of,
    task_of,
    torch_load,
)
from handpose.model.caffe import looks_like_net_parameter, read_caffemodel
from handpose.model.cpm import PRESETS, build_model
from handpose.model.safe_pickle import NPY_MAGIC, limit_for, load_pickled_npy
from handpose.model.vgg_import import (
    CAFFE_VGG,
    HANDPOSE_INPUT,
    TORCHVISION_IMAGENET,
    InputConvention,
    convert_first_conv,
    is_vgg_state_dict,
    vgg19_layers,
)
from handpose.regular_files import why_not_a_file

LOG = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_PROTO = 0x80  # PROTO opcode opening every pickle of protocol 2 or later
TORCH_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")  # torch's pickled magic number
NPY_SUFFIXES = (".npy", ".pkl", ".pickle")
HEAD_BYTES = 64
FIRST_CONV = "conv1_1"
# the input each foreign kind's conv1_1 was trained on; kinds not listed (caffemodel: OpenPose's input is handpose's,
# and handpose's own files) are copied unchanged
SOURCE_INPUT: dict[str, InputConvention] = {"npy": CAFFE_VGG, "vgg19": TORCHVISION_IMAGENET}


@dataclass
class ImportReport:
    """What :func:`init_weights` did: conv layers loaded, conv layers left at their random init, file layers unused."""

    source: str
    kind: str
    loaded: list[str] = field(default_factory=list)
    random: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    converted: str = ""  # how conv1_1 was rewritten for handpose's input ("" when copied unchanged)

    def summary(self) -> str:
        """A few human-readable lines (``handpose convert`` prints them, training logs them)."""
        lines = [f"{self.source} ({self.kind}): {len(self.loaded)} layers loaded, {len(self.random)} left random"]
        if self.loaded:
            lines.append("  loaded: " + ", ".join(self.loaded))
        if self.random:
            lines.append("  random: " + ", ".join(self.random))
        if self.ignored:
            lines.append("  in the file but not in the model (ignored): " + ", ".join(self.ignored))
        if self.converted:
            lines.append("  " + self.converted)
        return "\n".join(lines)


def detect_kind(path: str | Path) -> str:
    """``safetensors``, ``checkpoint``, ``caffemodel``, ``npy`` or ``vgg19``, from the file's first bytes and suffix
    (``ValueError`` when unknown)."""
    return _classify(Path(path))[0]


def sniff_kind(head: bytes, size: int) -> str | None:
    """The kind a file's first bytes prove: ``torch`` (zip, or a legacy torch pickle), ``npy`` (.npy or a bare
    pickle), ``safetensors``, ``caffemodel`` (opens with a valid ``NetParameter`` field), or None.

    Every test but the last is a magic number; the last is weaker (a protocol-0 pickle can pass it), so
    :func:`_classify` lets a ``.npy`` / ``.pkl`` suffix override it."""
    if head.startswith(ZIP_MAGIC):
        return "torch"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if len(head) >= 2 and head[0] == PICKLE_PROTO and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return "torch" if TORCH_LEGACY_MAGIC in head[:32] else "npy"
    if _is_safetensors(head, size):
        return "safetensors"
    if looks_like_net_parameter(head, size):
        return "caffemodel"
    return None


def _is_safetensors(head: bytes, size: int) -> bool:
    """safetensors: an 8-byte little-endian header length, then the JSON header (``{``), within the file."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    header = int.from_bytes(head[:8], "little")
    return 2 <= header <= size - 8


def _kind_from_suffix(suffix: str) -> str | None:
    """The hint a (lower-case) suffix gives when the content proved nothing."""
    if suffix == ".caffemodel":
        return "caffemodel"
    if suffix in NPY_SUFFIXES:
        return "npy"
    if suffix in CHECKPOINT_SUFFIXES:
        return "torch"
    return None


def _classify(path: Path) -> tuple[str, object]:
    """``(kind, contents)``: a torch file is loaded once here (weights_only) and handed on; others load later.

    The content decides (magic numbers, then a ``NetParameter`` sniff); the suffix is a hint for files whose
    content proves nothing (protocol-0/1 pickles, a caffemodel opening with a field this reader does not know)."""
    why = why_not_a_file(path)
    if why == "does not exist":
        raise FileNotFoundError(f"weight file not found: {path}")
    if why:
        raise ValueError(f"weight file {path} {why}, not a file")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    suffix = path.suffix.lower()
    kind = sniff_kind(head, size)
    if kind == "caffemodel" and suffix in NPY_SUFFIXES:
        kind = "npy"  # a protocol-0 pickle ('(dp0' ...) can look like a NetParameter field
    if kind is None:
        kind = _kind_from_suffix(suffix)
    if kind is None and suffix == ONNX_SUFFIX:
        raise ValueError(f"{path}: an ONNX export holds an inference graph, not weights training can start from; "
                         "give the .safetensors or checkpoint .pt it was exported from")
    if kind is None:
        raise ValueError(
            f"{path}: unknown weight file kind (first bytes {head[:8]!r}): not a torch file (zip or pickle), "
            "a .npy / pickle, a safetensors file nor a Caffe NetParameter (OpenPose .caffemodel)"
        )
    if kind != "torch":
        LOG.debug("%s: %s (suffix %r)", path, kind, suffix)
        return kind, None
    state = _torch_load(path)
    if isinstance(state, dict) and "model" in state and CONFIG_KEY in state:
        return "checkpoint", state
    if is_vgg_state_dict(state):
        return "vgg19", state
    raise ValueError(f"{path}: a torch file that is neither a handpose checkpoint nor a VGG-19 state dict")


def init_weights(model: nn.Module, path: str | Path, warn: bool = True) -> ImportReport:
    """Load ``path`` into ``model`` in place (see the module docstring for the kinds); returns the report.
    ValueError when what it loaded holds NaN or infinite weights (training would stop at its first step with a
    non-finite loss, blaming the learning rate). ``warn``: log the warning of layers loaded after a random one
    (False for a check ahead of the load that will say it)."""
    report = _load_into(model, Path(path), warn)
    check_finite(model.state_dict(), path)
    return report


def _load_into(model: nn.Module, path: Path, warn: bool = True) -> ImportReport:
    """:func:`init_weights` without the check of the result."""
    kind, contents = _classify(path)
    source = str(path)
    if kind in ("safetensors", "checkpoint"):
        if kind == "safetensors":
            from safetensors.torch import load_file

            try:
                state = load_file(str(path), device="cpu")
            except Exception as exc:  # safetensors raises its own error types on a corrupt file
                raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
        else:
            state = state_dict_of(contents["model"], path)  # type: ignore[index]
        stored = read_stored_configs(path, contents if kind == "checkpoint" else None)
        if stored is not None:
            check_task(stored[0], task_of(model), path)  # a detector given for a keypoint model, or the reverse
        try:
            load_state_strict(model, state, source)
        except ValueError:
            explain_misfit(model, path, stored)  # what the file holds, where its config says; else the layers' list
            raise
        return ImportReport(source, kind, loaded=_conv_names(model))
    if kind == "caffemodel":
        layers = read_caffemodel(path)
        missing = [n for n in _conv_names(model) if n not in layers]
        if missing:
            raise ValueError(
                f"{source}: the model's layers {missing} are not in the caffemodel "
                f"(it has {sorted(layers)}); a caffemodel initialises the openpose preset"
            )
    elif kind == "npy":
        layers = _npy_layers(load_pickled_npy(path), source)
        unused = [name for name, blobs in layers.items() if blobs[0].ndim != 4 and name not in _conv_names(model)]
        layers = {name: blobs for name, blobs in layers.items() if name not in unused}  # fc6, fc7, ...: no conv
    else:
        layers, unused = vgg19_layers(contents, source)  # type: ignore[arg-type]
    converted = _to_handpose_input(model, layers, kind)
    report = assign_layers(model, layers, source, kind)
    report.converted = converted
    if kind == "vgg19":
        report.ignored = sorted(set(report.ignored) | {k.rsplit(".", 1)[0] for k in unused})
    elif kind == "npy":
        report.ignored = sorted(set(report.ignored) | set(unused))
    LOG.debug("%s", report.summary())  # convert prints it; training logs a line of counts
    gap = chain_gap(_conv_names(model), set(report.loaded))
    if gap and warn:
        LOG.warning("%s: %s stays random but %s after it loaded: those were trained on the output of a layer this "
                    "model does not have (a VGG-16 file in the VGG-19 front, say); they start pretrained only "
                    "in name", source, gap[0], ", ".join(gap[1]))
    return report


def chain_gap(order: list[str], loaded: set[str]) -> tuple[str, list[str]] | None:
    """(the first layer left random, the loaded layers after it) when a partial import skips a layer in the middle
    of the layers it fills, else None."""
    filled = [i for i, name in enumerate(order) if name in loaded]
    if not filled:
        return None
    holes = [i for i in range(filled[-1]) if order[i] not in loaded]
    if not holes:
        return None
    return order[holes[0]], [order[i] for i in filled if i > holes[0]]


def explain_misfit(model: nn.Module, path: Path, stored: tuple[str, Any, Any] | None) -> None:
    """For a handpose file whose layers do not fit ``model``: ValueError naming the preset its ``stored`` configs
    (``artifact.read_stored_configs``) hold (instead of a list of missing and unexpected layer names) when that
    preset differs; nothing otherwise."""
    if stored is None or stored[0] != TASK_KEYPOINTS:
        return
    held, own = stored[1].preset, model.config.preset  # type: ignore[union-attr]
    if held != own:
        raise ValueError(f"{path} holds the {held} preset's layers, not those of the {own} model being built: give "
                         f"--preset {held}")


def _to_handpose_input(model: nn.Module, layers: dict[str, list[np.ndarray]], kind: str) -> str:
    """Rewrite ``layers``' conv1_1 in place for handpose's input when ``kind`` was trained on another; says what it did.

    Left alone (and reported by :func:`assign_layers` when it does not fit) unless it is a 3-channel conv with a bias
    and the model has a conv1_1 to receive it."""
    convention = SOURCE_INPUT.get(kind)
    blobs = layers.get(FIRST_CONV)
    if convention is None or not blobs or len(blobs) < 2 or FIRST_CONV not in dict(_convs(model)):
        return ""
    weight, bias = np.asarray(blobs[0]), np.asarray(blobs[1])
    if weight.ndim != 4 or weight.shape[1] != 3 or bias.size != weight.shape[0]:
        return ""
    layers[FIRST_CONV] = [*convert_first_conv(weight, bias.reshape(-1), convention), *blobs[2:]]
    return f"{FIRST_CONV} converted from {convention.name} input to {HANDPOSE_INPUT.name}"


def best_preset(path: str | Path) -> tuple[str | None, int]:
    """The model preset that loads the most conv layers of ``path``, and how many; ``(None, 0)`` when none loads any.

    Each preset of :data:`handpose.model.cpm.PRESETS` is built fresh and initialised from the file; a preset the file
    does not fit (a shape mismatch, a caffemodel without the preset's layers) counts as 0. A file that is missing or
    of no known kind raises as :func:`init_weights` does."""
    detect_kind(path)
    best, most = None, 0
    level = LOG.level
    # each trial's import report is not news, nor its warnings (a hole in the chain of a preset not asked for)
    LOG.setLevel(max(level, logging.ERROR))
    try:
        for name in PRESETS:
            try:
                loaded = len(init_weights(build_model(name), path).loaded)
            except ValueError as exc:
                LOG.debug("%s does not fit the %s preset: %s", path, name, exc)
                continue
            if loaded > most:
                best, most = name, loaded
    finally:
        LOG.setLevel(level)
    return best, most


def assign_layers(model: nn.Module, layers: dict[str, list[np.ndarray]], source: str, kind: str) -> ImportReport:
    """Copy ``[weight (out, in, kh, kw), bias]`` into the model's conv of the same name; shapes must match."""
    convs = dict(_convs(model))
    errors = []
    planned: list[tuple[nn.Conv2d, np.ndarray, np.ndarray | None]] = []
    for name, blobs in layers.items():
        conv = convs.get(name)
        if conv is None:
            continue
        weight = _fit(blobs[0], tuple(conv.weight.shape))
        bias = _fit(blobs[1], tuple(conv.bias.shape)) if conv.bias is not None and len(blobs) > 1 else None
        if weight is None:
            errors.append(f"{name}.weight: file {tuple(blobs[0].shape)} vs model {tuple(conv.weight.shape)}")
        if conv.bias is not None and bias is None:
            got = tuple(blobs[1].shape) if len(blobs) > 1 else "absent"
            errors.append(f"{name}.bias: file {got} vs model {tuple(conv.bias.shape)}")
        if weight is not None and (bias is not None or conv.bias is None):
            planned.append((conv, weight, bias))
    if errors:
        raise ValueError(f"{source}: shape mismatch for " + "; ".join(errors))
    with torch.no_grad():
        for conv, weight, bias in planned:
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            if bias is not None:
                conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    loaded = [n for n in convs if n in layers]
    return ImportReport(
        source,
        kind,
        loaded=loaded,
        random=[n for n in convs if n not in layers],
        ignored=sorted(n for n in layers if n not in convs),
    )


def _fit(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``array`` as ``shape``: exact, or legacy Caffe blobs padded with leading 1s (bias ``1 x 1 x 1 x C``)."""
    array = np.asarray(array, dtype=np.float32)
    if tuple(array.shape) == shape:
        return array
    squeeze = tuple(d for d in array.shape if d != 1)
    if array.ndim > len(shape) and array.size == int(np.prod(shape)) and squeeze == tuple(d for d in shape if d != 1):
        if all(d == 1 for d in array.shape[: array.ndim - len(shape)]):
            return array.reshape(shape)
    return None


def _npy_layers(data: object, source: str) -> dict[str, list[np.ndarray]]:
    """The TF VGG-16 .npy layout ``{layer: {"weights" (kh, kw, cin, cout), "biases" (cout,)}}`` -> ``{layer: [OIHW,
    bias]}``; a layer whose weights are not 4-D (a fully connected one) as ``[weights]``, untouched."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a pickled dict of layers, found {type(data).__name__}")
    layers: dict[str, list[np.ndarray]] = {}
    budget = [limit_for(Path(source).stat().st_size) // 4 if Path(source).is_file() else 1 << 28]  # float32s left
    for key, entry in data.items():
        name = _text(key, source, "a layer name")
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: layer {name!r} is a {type(entry).__name__}, expected a dict")
        entry = {_text(k, source, f"a key of layer {name!r}"): v for k, v in entry.items()}
        if "weights" not in entry:
            raise ValueError(f"{source}: layer {name!r} has no 'weights' (keys {sorted(entry)})")
        weights = _numbers(entry["weights"], source, f"layer {name!r} weights", budget)
        if weights.ndim != 4:  # a fully connected layer (fc6, ...): kept as it is, the caller sets it aside
            layers[name] = [weights]
            continue
        blobs = [weights.transpose(3, 2, 0, 1)]  # (kh, kw, cin, cout) -> (cout, cin, kh, kw)
        if "biases" in entry:
            blobs.append(_numbers(entry["biases"], source, f"layer {name!r} biases", budget))
        layers[name] = blobs
    return layers


def _text(key: object, source: str, what: str) -> str:
    """A pickled name as text (Python 2 pickles hold bytes); ValueError naming ``source`` when it is not UTF-8."""
    try:
        return key.decode("utf-8") if isinstance(key, bytes) else str(key)
    except UnicodeDecodeError:
        raise ValueError(f"{source}: {what} is not UTF-8 text ({key!r:.40})") from None


MAX_NESTING = 8  # list levels of a layer's numbers (4 for a conv kernel written as nested lists)


def _numbers(value: object, source: str, what: str, budget: list[int]) -> np.ndarray:
    """``value`` as a float32 array; ValueError naming ``source`` and ``what`` when it is not numbers, is nested
    deeper than MAX_NESTING lists, or when the arrays read so far would hold more items than the file could
    (``budget[0]`` left: a pickle that lists one array or one list many times would otherwise grow to gigabytes,
    or take minutes to walk, here)."""
    budget[0] -= _item_count(value, budget[0], source, what)
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":  # bools, complex numbers (their imaginary part dropped), objects, text
            raise TypeError(f"its numbers are of kind {array.dtype}")
        return array.astype(np.float32)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise ValueError(f"{source}: {what} are not a numeric array ({type(exc).__name__}: {exc})"[:300]) from None


def _item_count(value: object, cap: int, source: str, what: str) -> int:
    """The numbers and lists of ``value`` (an array, or nested lists and tuples), each list counting its length
    and at least one, walked without recursion; ValueError once past ``cap`` or MAX_NESTING levels."""
    total, level = 0, [value]
    for _ in range(MAX_NESTING + 1):
        deeper: list[object] = []
        for item in level:
            if isinstance(item, np.ndarray):
                total += max(1, int(item.size))
            elif isinstance(item, (list, tuple)):
                total += max(1, len(item))
                deeper.extend(item)
            else:
                total += 1
            if total > cap:
                raise ValueError(f"{source}: {what} hold more numbers than a file of its size can (a pickle that "
                                 "repeats one array or list)")
        if not deeper:
            return total
        level = deeper
    raise ValueError(f"{source}: {what} are lists nested deeper than {MAX_NESTING} levels")


def _torch_load(path: Path) -> object:
    return torch_load(path, "a torch file with torch.load(weights_only=True)")


def _convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _conv_names(model: nn.Module) -> list[str]:
    return [n for n, _ in _convs(model)]


def nothing_loaded(source: str, preset: str, report: ImportReport) -> str:
    """One line: no layer of ``source`` fits ``preset``, and which preset it does fit (each preset is tried)."""
    best, count = best_preset(source)
    hint = f"the {best} preset loads {count} of its layers (--preset {best})" if best else "no preset loads any of them"
    return (
        f"{source} ({report.kind}): no layer of the file fits the {preset} preset "
        f"(0 layers loaded, {len(report.random)} left random); {hint}"
    )
