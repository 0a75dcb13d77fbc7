"""Model files: safetensors with the ModelConfig in the metadata, and training checkpoints (``.pt``).

A model is rebuilt from its file alone: the config JSON travels with the weights. Nothing is unpickled beyond
tensors and plain data (``torch.load(weights_only=True)``); missing, unexpected or mis-shaped keys are errors that
name them. Importers of foreign weights (seed .npy, torchvision VGG-19, OpenPose caffemodel) live in
``model/importers.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from handpose.config import ModelConfig, from_dict, to_dict
from handpose.model.cpm import CPM, build_model

LOG = logging.getLogger(__name__)

CONFIG_KEY = "model_config"  # safetensors metadata key (JSON) and checkpoint dict key (dict)
FORMAT_KEY = "format"
FORMAT = "handpose-cpm"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def save_weights(model: CPM, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``model``'s state dict as safetensors, its ModelConfig as JSON under metadata ``model_config``."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[CONFIG_KEY] = json.dumps(to_dict(model.config), sort_keys=True)
    meta[FORMAT_KEY] = FORMAT
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    LOG.info("saved %d tensors (%s preset) to %s", len(tensors), model.config.preset, path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata dictionary of a safetensors file (empty when it has none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> CPM:
    """Rebuild a CPM from a ``.safetensors`` file written by :func:`save_weights` or a training checkpoint
    (``.pt``: a dict with ``"model"`` state dict and ``"model_config"`` dict); returned in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix in CHECKPOINT_SUFFIXES:
        config, state = _read_checkpoint(path, map_location)
    else:
        config, state = _read_safetensors(path, map_location)
    model = build_model(config)
    load_state_strict(model, state, source=str(path))
    model.to(map_location)
    return model.eval()


WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # torch.compile and DataParallel/DDP wrappers


def strip_wrapper_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``_orig_mod.`` / ``module.`` prefix carried by every key (a compiled or DDP-wrapped model's state)."""
    state = dict(state)
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
    """``model.load_state_dict`` that names every missing, unexpected and mis-shaped key in one ``ValueError``.

    Keys all prefixed by a torch.compile / DDP wrapper (``_orig_mod.``, ``module.``) are accepted without it."""
    state = strip_wrapper_prefix(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches {_short(shapes)}")
    if problems:
        raise ValueError(f"{source} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _read_safetensors(path: Path, map_location: str | torch.device) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    try:
        meta = read_metadata(path)
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types on a corrupt or foreign file
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    if CONFIG_KEY not in meta:
        raise ValueError(f"{path}: safetensors metadata has no {CONFIG_KEY!r} (not written by handpose save_weights)")
    try:
        config = from_dict(ModelConfig, json.loads(meta[CONFIG_KEY]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: metadata {CONFIG_KEY!r} is not valid JSON ({exc})") from exc
    return config, state


def _read_checkpoint(path: Path, map_location: str | torch.device) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses pickled objects with an UnpicklingError
        raise ValueError(f"{path}: cannot be loaded as a weights-only checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or "model" not in ckpt or CONFIG_KEY not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: a training checkpoint needs keys 'model' and '{CONFIG_KEY}', found {keys}")
    return from_dict(ModelConfig, dict(ckpt[CONFIG_KEY])), dict(ckpt["model"])


def _short(items: list[str], limit: int = 12) -> str:
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
