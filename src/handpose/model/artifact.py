"""Every model-file format handpose reads and writes, and the metadata keys they share.

- **safetensors** (``save_weights`` / ``load_model``): the state dict, with the ``ModelConfig`` as JSON under the
  metadata key ``model_config`` and, when training wrote the file, the ``DataConfig`` under ``data_config``; the
  key ``task`` says what the network does: ``"keypoints"`` (the CPM on a hand crop; files without the key) or
  ``"detect"`` (the hand detector on a whole image, whose ``model_config`` is a ``DetectorConfig``).
- **training checkpoints** (``.pt``): a plain dict of tensors and Python data (``"model"``, ``"model_config"``,
  ``"data_config"``, optional ``"task"``, optimizer and schedule state, ...; without ``"task"`` the stored
  ``train_config``'s task, else keypoints), read with :func:`torch_load` (``weights_only=True``: a
  file that would run code is refused and nothing of it runs).
- **ONNX** (written by ``handpose.export``): ``metadata_props`` with ``handpose_format``, ``task``, the model and
  data configs, the preprocessing, the keypoint names, and the crop and decoding in words (:func:`onnx_metadata`).

A model is rebuilt from its file alone. Every stored config is checked field by field when read
(``config_checks``), and weights must be finite, so a crafted or broken file fails with one line naming the file
and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.config import DataConfig, DetectorConfig, ModelConfig, from_dict, to_dict
from handpose.config_checks import check_config
from handpose.model.safetensors_bytes import save_stable
from handpose.model.torch_pickles import check_torch_pickles
from handpose.regular_files import NotRegularFileError, read_regular, why_not_a_file

LOG = logging.getLogger(__name__)

CONFIG_KEY = "model_config"  # safetensors metadata (JSON), checkpoint dict (dict) and ONNX metadata (JSON)
DATA_CONFIG_KEY = "data_config"  # the same three places
FORMAT_KEY = "format"  # safetensors metadata
FORMAT = "handpose-cpm"
TASK_KEY = "task"  # safetensors metadata and checkpoint dict: "keypoints" or "detect"
TASK_KEYPOINTS = "keypoints"
TASK_DETECT = "detect"
SPLIT_RULE_KEY = "split_rule"  # safetensors metadata of a detector: its run's TrainConfig.split_rule
TRAIN_SETS_KEY = "train_sets"  # safetensors metadata (JSON list) and checkpoint dict: data.dataset_ids of the run
TASK_NAMES = {TASK_KEYPOINTS: "a keypoint model", TASK_DETECT: "a hand detector"}
META_FORMAT = "handpose_format"  # ONNX metadata
META_FORMAT_VALUE = "handpose-cpm-onnx"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
WEIGHT_SUFFIXES = (".safetensors",) + CHECKPOINT_SUFFIXES
ONNX_SUFFIX = ".onnx"
WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # torch.compile and DataParallel/DDP wrappers
CHECKPOINT_KEYS = ("model", "model_config", "optimizer", "scheduler", "step", "train_config")


# ------------------------------------------------------------------------------------------------ reading files


def torch_load(path: str | Path, what: str = "a weights-only torch file") -> Any:
    """``torch.load(weights_only=True)`` onto the CPU; ValueError naming the file when it cannot be read that way
    (pickled code is refused with an UnpicklingError, a truncated zip with a RuntimeError)."""
    import pickle

    check_torch_pickles(Path(path))  # shared references that torch's unpickler would hash for hours
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's text would advise weights_only=False, which runs the code
        code = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if code is not None:
            raise ValueError(f"{path}: refused: it holds pickled Python objects ({code.group(1)}) beyond tensors and "
                             "plain data, which loading would run; nothing from it was run") from exc
        said = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
        raise ValueError(f"{path}: not readable as {what}: corrupt, not a torch file, or pickled content the "
                         f"weights-only reader refuses{f' ({said.group(1).strip()})' if said else ''}; nothing from "
                         "it was run") from exc
    except Exception as exc:
        reason = str(exc).strip() or ("an empty file" if Path(path).is_file() and Path(path).stat().st_size == 0
                                      else type(exc).__name__)
        raise ValueError(f"{path}: not readable as {what} ({reason})") from exc


def model_file_kind(path: str | Path) -> str:
    """``"safetensors"``, ``"checkpoint"`` or ``"onnx"`` from the suffix; FileNotFoundError / ValueError otherwise."""
    path = Path(path)
    why = why_not_a_file(path)
    if why == "does not exist":
        raise FileNotFoundError(f"model file not found: {path}")
    if why:
        raise ValueError(f"model path {path} {why}, not a file (expected "
                         f"{', '.join(WEIGHT_SUFFIXES + (ONNX_SUFFIX,))})")
    suffix = path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        return "onnx"
    if suffix == ".safetensors":
        return "safetensors"
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoint"
    raise ValueError(f"{path}: unsupported model file type {path.suffix!r}; expected weights "
                     f"({', '.join(WEIGHT_SUFFIXES)}) or an exported {ONNX_SUFFIX} file")


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata dictionary of a safetensors file (empty when it has none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def _stored_config(cls: type, value: Any, source: str, what: str) -> Any:
    """A checked ``cls`` from stored JSON text or a dict; ValueError naming ``source`` and the bad field."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
        cfg = from_dict(cls, dict(data))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: stored {CONFIG_KEY!r} is not a valid {what} config ({exc})") from exc
    check_config(cfg, f"{source} ({CONFIG_KEY})")
    return cfg


def model_config_from(value: Any, source: str) -> ModelConfig:
    """A checked ModelConfig from stored JSON text or a dict; ValueError naming ``source`` and the bad field."""
    return _stored_config(ModelConfig, value, source, "model")


def detector_config_from(value: Any, source: str) -> DetectorConfig:
    """A checked DetectorConfig from stored JSON text or a dict; ValueError naming ``source`` and the bad field."""
    return _stored_config(DetectorConfig, value, source, "detector")


def task_of(model: nn.Module) -> str:
    """``"detect"`` for a hand detector (its config is a DetectorConfig), else ``"keypoints"``."""
    return TASK_DETECT if isinstance(getattr(model, "config", None), DetectorConfig) else TASK_KEYPOINTS


def check_task(found: str, wanted: str | None, path: str | Path) -> None:
    """ValueError ``"<path> is a hand detector, not a keypoint model"`` (or the other way) when they differ."""
    if found not in TASK_NAMES:
        raise ValueError(f"{path}: unknown task {found!r} in the file; expected one of {sorted(TASK_NAMES)}")
    if wanted is not None and found != wanted:
        from handpose.pretrained import shown

        hint = {TASK_DETECT: "; give it as --detector, and score it alone with `handpose eval --task detect`",
                TASK_KEYPOINTS: "; give it as --model (predict) or --weights (eval), and a detector as --detector"}
        raise ValueError(f"{shown(path)} is {TASK_NAMES[found]}, not {TASK_NAMES[wanted]}{hint[found]}")


def read_task(path: str | Path) -> str:
    """The task a weights file holds (``"keypoints"`` or ``"detect"``)."""
    path = Path(path)
    if model_file_kind(path) == "safetensors":
        try:
            return read_metadata(path).get(TASK_KEY, TASK_KEYPOINTS)
        except Exception as exc:  # safetensors raises its own error types on a corrupt or foreign file
            raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    if model_file_kind(path) == "checkpoint":
        return _checkpoint_task(torch_load(path, "a weights-only checkpoint"))
    return read_onnx_metadata(path).get(TASK_KEY, TASK_KEYPOINTS)  # keypoint exports predate the key


def _checkpoint_task(ckpt: Any) -> str:
    if not isinstance(ckpt, dict):
        return TASK_KEYPOINTS
    train = ckpt.get("train_config")
    return str(ckpt.get(TASK_KEY) or (train.get("task") if isinstance(train, dict) else None) or TASK_KEYPOINTS)


def read_stored_configs(path: str | Path, loaded: Any = None
                        ) -> tuple[str, ModelConfig | DetectorConfig, DataConfig | None] | None:
    """``(task, model or detector config, data config or None)`` stored in a handpose ``.safetensors`` or training
    checkpoint, read without building the model; None for a file that holds no handpose config (foreign weights:
    a caffemodel, a ``.npy``, a VGG-19 state dict) or is no such file. ``loaded``: the torch file's contents where
    the caller has read them already. ValueError when a stored config is invalid or a torch file cannot be read
    weights-only (pickled code is refused)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in WEIGHT_SUFFIXES:
        return None
    if suffix == ".safetensors":
        try:
            stored: Any = read_metadata(path)
        except Exception:  # not a safetensors file after all: the importer reads (and names) it
            return None
        task = stored.get(TASK_KEY, TASK_KEYPOINTS)
    else:
        # a file of pickled code: refused here, at once
        stored = torch_load(path, "a weights-only checkpoint") if loaded is None else loaded
        if not isinstance(stored, dict):
            return None
        task = _checkpoint_task(stored)
    if CONFIG_KEY not in stored:
        return None
    check_task(task, None, path)
    if task == TASK_DETECT:
        return task, detector_config_from(stored[CONFIG_KEY], str(path)), None
    model_cfg = model_config_from(stored[CONFIG_KEY], str(path))
    data = stored_data_value(stored)  # safetensors metadata has the key alone; so does a checkpoint that stores it
    return task, model_cfg, data_config_from(data, model_cfg, str(path)) if data else None


def default_data_config(model_cfg: ModelConfig) -> DataConfig:
    """The crop settings of a model stored without any: the defaults at the model's input size and output stride."""
    return DataConfig(input_size=int(model_cfg.input_size), stride=int(model_cfg.output_stride))


def check_stride(data_cfg: DataConfig, model_cfg: ModelConfig) -> None:
    """ValueError when crop settings decode maps at another stride than the model's output stride (its keypoints
    would come out scaled)."""
    if int(data_cfg.stride) != int(model_cfg.output_stride):
        raise ValueError(f"the data config's stride {data_cfg.stride} is not the {model_cfg.preset} model's output "
                         f"stride {model_cfg.output_stride}: give stride={model_cfg.output_stride}")


def data_config_from(value: Any, model_cfg: ModelConfig, source: str) -> DataConfig:
    """A checked DataConfig from stored JSON text or a dict (missing keys take defaults, the input size and stride
    the model's; a stride other than the model's output stride is corrected, with a warning); None or empty gives
    :func:`default_data_config`. ValueError naming ``source`` and the bad field."""
    if not value:
        return default_data_config(model_cfg)
    try:
        data = dict(json.loads(value) if isinstance(value, str) else value)
        data.setdefault("input_size", int(model_cfg.input_size))
        data.setdefault("stride", int(model_cfg.output_stride))
        cfg = from_dict(DataConfig, data)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: stored {DATA_CONFIG_KEY!r} is not a valid data config ({exc})") from exc
    check_config(cfg, f"{source} ({DATA_CONFIG_KEY})")
    if int(cfg.stride) != int(model_cfg.output_stride):  # a stride-4 model saved with default crop settings
        LOG.warning("%s: its crop settings say stride %d but the model's maps have stride %d; decoding at %d",
                    source, cfg.stride, model_cfg.output_stride, model_cfg.output_stride)
        cfg = dataclasses.replace(cfg, stride=int(model_cfg.output_stride))
    return cfg


def read_data_config(path: str | Path, model_cfg: ModelConfig) -> DataConfig:
    """The data config stored with weights by training, else defaults at the model's input size.

    Looked up as JSON under metadata ``data_config`` (safetensors), or in a checkpoint dict as ``data_config`` or
    as the ``dataset`` of a stored TrainConfig (``train_config``). ValueError when a stored one is invalid.
    """
    path = Path(path)
    if model_file_kind(path) == "safetensors":
        return data_config_from(read_metadata(path).get(DATA_CONFIG_KEY), model_cfg, str(path))
    ckpt = torch_load(path, "a training checkpoint")
    if isinstance(ckpt, dict):
        return data_config_from(stored_data_value(ckpt), model_cfg, str(path))
    return default_data_config(model_cfg)


def stored_data_value(ckpt: Mapping[str, Any]) -> Any:
    """A checkpoint's stored data config: its ``data_config``, else the ``dataset`` of its ``train_config``."""
    value = ckpt.get(DATA_CONFIG_KEY)
    if value is None and isinstance(ckpt.get("train_config"), dict):
        value = ckpt["train_config"].get("dataset")
    return value


# ------------------------------------------------------------------------------------------------ weights


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None,
                 data_cfg: DataConfig | None = None) -> None:
    """Write ``model``'s state dict as safetensors with its ModelConfig (and ``data_cfg``) in the metadata."""
    path = Path(path)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[CONFIG_KEY] = json.dumps(to_dict(model.config), sort_keys=True)
    if data_cfg is not None:
        meta[DATA_CONFIG_KEY] = json.dumps(to_dict(data_cfg), sort_keys=True)
    meta[FORMAT_KEY] = FORMAT
    meta[TASK_KEY] = task_of(model)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_stable(tensors, str(path), meta)  # the same bytes for the same weights in every process
    LOG.debug("saved %d tensors (%s preset) to %s", len(tensors), model.config.preset, path)


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every value of a floating tensor is finite: numpy for CPU tensors of its dtypes (torch starts a
    parallel region per tensor, which over a model's few hundred tensors took 0.1-0.9 s on a busy 2-core machine)."""
    if tensor.device.type == "cpu" and tensor.dtype in (torch.float16, torch.float32, torch.float64):
        return bool(np.isfinite(tensor.detach().numpy()).all())
    return bool(torch.isfinite(tensor).all())


def check_finite(state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """ValueError naming ``source`` and the tensors when any floating weight is NaN or infinite."""
    state = state_dict_of(state, source)
    bad = [k for k, v in state.items() if v.is_floating_point() and not _all_finite(v)]
    if bad:
        raise ValueError(f"{source}: non-finite (NaN or infinite) weights in {_short(sorted(bad))}")


def load_model(path: str | Path, map_location: str | torch.device = "cpu",
               task: str | None = TASK_KEYPOINTS) -> nn.Module:
    """Rebuild a CPM (or, with ``task="detect"``, a hand detector; ``task=None``: whichever the file holds) from a
    ``.safetensors`` file written by :func:`save_weights` or a training checkpoint (``.pt``: a dict with
    ``"model"`` state dict and ``"model_config"`` dict); returned in eval mode.

    ValueError naming the file for a foreign or corrupt file, a file of the other task ("X is a hand detector,
    not a keypoint model"), an invalid stored config or non-finite weights. torch's global random state is left
    as it was (building the layers draws their random start from it)."""
    from handpose import pretrained
    from handpose.model.cpm import build_model

    path = pretrained.resolve(path)
    if model_file_kind(path) == "checkpoint":
        found, raw, state = _read_checkpoint(path)
    elif model_file_kind(path) == "safetensors":
        found, raw, state = _read_safetensors(path)
    else:
        raise ValueError(f"{path}: an ONNX file holds no PyTorch weights; load it with Predictor.from_file")
    check_task(found, task, path)
    if found == TASK_DETECT:
        from handpose.detection.model import build_detector

        config: Any = detector_config_from(raw, str(path))
        builder: Any = build_detector
    else:
        config, builder = model_config_from(raw, str(path)), build_model
    check_finite(state, path)
    with torch.random.fork_rng(devices=[]):  # the layers' random start, overwritten below, draws on the caller's
        model = builder(config)  # global stream: the caller's next torch.rand is what it was before the load
    load_state_strict(model, state, source=str(path))
    model.to(map_location)
    return model.eval()


def strip_wrapper_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``_orig_mod.`` / ``module.`` prefix carried by every key (a compiled or DDP-wrapped model's state)."""
    state = dict(state)
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
    """``model.load_state_dict`` that names every missing, unexpected and mis-shaped key in one ``ValueError``.

    Keys all prefixed by a torch.compile / DDP wrapper (``_orig_mod.``, ``module.``) are accepted without it. A
    tensor that is whole numbers or bools where the model's is floating (or the other way) does not fit: loading
    would cast it silently."""
    state = strip_wrapper_prefix(state_dict_of(state, source))
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    kinds = [
        f"{k}: file {state[k].dtype} vs model {own[k].dtype}"
        for k in sorted(set(own) & set(state))
        if state[k].is_floating_point() != own[k].is_floating_point()
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches {_short(shapes)}")
    if kinds:
        problems.append(f"number kinds that differ {_short(kinds)}")
    if problems:
        raise ValueError(f"{source} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _read_safetensors(path: Path) -> tuple[str, Any, dict[str, torch.Tensor]]:
    """(task, stored config JSON, state dict) of a handpose safetensors file."""
    from safetensors.torch import load_file

    try:
        meta = read_metadata(path)
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types on a corrupt or foreign file
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    if CONFIG_KEY not in meta:
        raise ValueError(f"{path}: safetensors metadata has no {CONFIG_KEY!r} (not written by handpose save_weights)")
    return meta.get(TASK_KEY, TASK_KEYPOINTS), meta[CONFIG_KEY], state


def _read_checkpoint(path: Path) -> tuple[str, Any, dict[str, torch.Tensor]]:
    """(task, stored config dict, state dict) of a training checkpoint."""
    ckpt = torch_load(path, "a weights-only checkpoint")
    if not isinstance(ckpt, dict) or "model" not in ckpt or CONFIG_KEY not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: a training checkpoint needs keys 'model' and '{CONFIG_KEY}', found {keys}")
    return _checkpoint_task(ckpt), ckpt[CONFIG_KEY], state_dict_of(ckpt["model"], path)


def state_dict_of(value: Any, source: str | Path) -> dict[str, torch.Tensor]:
    """``value`` as a state dict: a mapping of names to tensors; ValueError naming ``source`` for anything else (a
    crafted or damaged file)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{source}: its weights are a {type(value).__name__}, not a state dict of tensors")
    odd = [f"{k!r} ({type(v).__name__})" for k, v in value.items()
           if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if odd:
        raise ValueError(f"{source}: its weights are not a state dict of tensors: {_short(odd)}")
    return dict(value)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint (every key of ``CHECKPOINT_KEYS``); ValueError when it is not one."""
    state = torch_load(path, "a training checkpoint")
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: a training checkpoint needs keys {list(CHECKPOINT_KEYS)}, found {have}")
    return state


# ------------------------------------------------------------------------------------------------ ONNX


# the crop and the decoding in words, for runtimes without handpose (README, "Running an exported keypoint model
# without handpose"; scripts/onnx_keypoints.py follows them)
ONNX_CROP = ("box x, y, w, h (handpose rounds it to float32 first) -> input_size square: side = box_padding * "
             "max(w, h) about (x + w / 2, y + h / 2), "
             "crop px = s (image px - centre) + (input_size - 1) / 2 with s = input_size / side, bilinear, pad_value "
             "outside; a left hand mirrored (crop x -> input_size - 1 - x) where mirror_left; where s < 1/2 the image "
             "is first averaged over f x f blocks (f = 2, 4 or 8, the largest with s f <= 1; image px = f block px + "
             "(f - 1) / 2; a partial block at the right or bottom repeats its edge pixels); no box (the whole W x H "
             "image as one hand): centre ((W - 1) / 2, (H - 1) / 2) and side max(W, H), box_padding not applied (the "
             "box -0.5, -0.5, W, H at padding 1)")
ONNX_SIDE = ("a hand of unknown side, where mirror_left: the crop runs as cut (a right hand) and mirrored (a left "
             "hand), and the side whose mean score over the 21 keypoints is higher is kept with its keypoints (right "
             "on a tie); without mirror_left the crop runs once, unmirrored, and handpose calls the hand right")
ONNX_DECODE = ("per keypoint map (channels 0-20): the argmax cell; on each axis the vertex of the parabola through the "
               "log (values floored at 1e-10) of that cell and its two neighbours (at an edge, the edge cell and its "
               "two inner neighbours), kept within half a cell, or the argmax cell where the parabola has no maximum; "
               "crop px = (cell + 0.5) * stride - 0.5; score = the map's maximum; back to the image through the "
               "inverse of the crop")


def onnx_metadata(model: nn.Module, data_cfg: DataConfig, extra: dict[str, str] | None = None,
                  split_known: bool = True) -> dict[str, str]:
    """The ``metadata_props`` handpose writes into its ONNX files. ``split_known`` False: the data config goes
    without its ``val_fraction`` (a model that records no training split, or trained on no user's data: its default
    0.1 read back by ``eval_held_out.stored_split`` warned that it trained on hands it never saw)."""
    from handpose.data.transforms import PREPROCESS
    from handpose.keypoints import NAMES

    data = to_dict(data_cfg)
    if not split_known:
        data.pop("val_fraction", None)
    meta = {
        META_FORMAT: META_FORMAT_VALUE,
        CONFIG_KEY: json.dumps(to_dict(model.config), sort_keys=True),
        DATA_CONFIG_KEY: json.dumps(data, sort_keys=True),
        "preprocess": json.dumps(PREPROCESS, sort_keys=True),
        "input_size": str(int(data_cfg.input_size)),
        "stride": str(int(data_cfg.stride)),
        "keypoint_names": json.dumps(list(NAMES)),
        TASK_KEY: TASK_KEYPOINTS,
        "output": "out: last stage belief maps (N, 22, ceil(H/stride), ceil(W/stride)); channel 21 = background",
        "stages_in_model": str(int(model.config.stages)),
        "crop": ONNX_CROP,
        "decode": ONNX_DECODE,
        "side": ONNX_SIDE,
    }
    meta.update(extra or {})
    return meta


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The handpose metadata of an ONNX file; ValueError when it is not an ONNX file handpose exported, or when its
    weights hold NaN or infinite numbers (it would run, and every keypoint would come out the same)."""
    from handpose.model.onnx_proto import non_finite_weights, onnx_metadata_props

    path = Path(path)
    try:
        data = read_regular(path)
    except NotRegularFileError as exc:  # a FIFO would block
        raise ValueError(str(exc)) from None
    except OSError:
        data = b""
    bad = non_finite_weights(data)
    if bad:
        raise ValueError(f"{path}: non-finite (NaN or infinite) weights in {_short(sorted(bad))}")
    fast = onnx_metadata_props(data) if data else None
    if fast is not None and fast.get(META_FORMAT) == META_FORMAT_VALUE and CONFIG_KEY in fast:
        return fast
    import onnx  # anything else: onnx reads it and says what is wrong

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others on foreign files
        raise ValueError(f"{path}: not a readable ONNX file ({exc})") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get(META_FORMAT) != META_FORMAT_VALUE or CONFIG_KEY not in meta:
        raise ValueError(
            f"{path}: an ONNX file without handpose metadata (expected {META_FORMAT}={META_FORMAT_VALUE}); "
            "export models with `handpose export`"
        )
    return meta


def read_onnx_configs(path: str | Path) -> tuple[ModelConfig, DataConfig]:
    """The checked model and data configs stored in a handpose ONNX file of a keypoint model (ValueError naming
    the file for a detector's)."""
    meta = read_onnx_metadata(path)
    check_task(meta.get(TASK_KEY, TASK_KEYPOINTS), TASK_KEYPOINTS, path)
    model_cfg = model_config_from(meta[CONFIG_KEY], str(path))
    return model_cfg, data_config_from(meta.get(DATA_CONFIG_KEY), model_cfg, str(path))


def read_onnx_detector_config(path: str | Path) -> DetectorConfig:
    """The checked detector config stored in a handpose ONNX file of a hand detector (ValueError naming the file
    for a keypoint model's)."""
    meta = read_onnx_metadata(path)
    check_task(meta.get(TASK_KEY, TASK_KEYPOINTS), TASK_DETECT, path)
    return detector_config_from(meta[CONFIG_KEY], str(path))


def _short(items: list[str], limit: int = 12) -> str:
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
