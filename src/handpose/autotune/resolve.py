"""``--amp auto`` / ``--channels-last auto`` for the commands: the measured choice for training or inference.

Under torchrun (WORLD_SIZE > 1) the processes do not measure, since each would measure apart and they could
disagree: they use a cached measurement of the same key, else the rule of ``training.speed`` (bf16 on CUDA and AMX
CPUs, channels-last on CUDA, for MobileNet and with AVX-512), and say so.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from handpose.autotune.choice import Choice, Measure, choose, distributed_peer, trial_key
from handpose.autotune.trials import infer_measure, train_measure

LOG = logging.getLogger(__name__)


def parse_flag(value: Any, flag: str) -> bool | None:
    """A tri-state flag's value: True (on), False (off) or None (auto); ValueError naming ``flag`` otherwise."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("auto",):
        return None
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"{flag} takes auto, on or off; got {value!r}")


def training_choice(model_cfg: Any, input_size: int, batch_size: int, device: torch.device | str,
                    amp: bool | None = None, channels_last: bool | None = None,
                    measure: Measure | None = None) -> Choice:
    """The precision and layout to train ``model_cfg`` with; ``amp`` / ``channels_last`` None mean auto."""
    device = torch.device(device)
    key = trial_key(device, model_cfg.preset, input_size, batch_size, "train")
    if measure is None and not distributed_peer():
        measure = train_measure(model_cfg, input_size, batch_size, device)
    got = choose(key, measure, amp, channels_last)
    if got is not None:
        return got
    from handpose.training.speed import channels_last_default, native_bf16

    amp = native_bf16(device) if amp is None else amp
    channels_last = channels_last_default(device, model_cfg) if channels_last is None else channels_last
    rule = Choice("bf16" if amp else ("tf32" if device.type == "cuda" else "fp32"), channels_last)
    LOG.info("autotune: no measurement cached for %s; torchrun processes use the rule: %s (run once in a single "
             "process to measure)", key.text(), rule.name)
    return rule


def inference_choice(model: torch.nn.Module, crops: np.ndarray, device: torch.device | str,
                     amp: bool | None = None, channels_last: bool | None = None) -> Choice:
    """The precision and layout to run ``model`` with on batches like ``crops`` (N, S, S, 3) uint8. A network whose
    preset has batch norms folded into its convs for inference (``model/fold_batch_norm``) has its own verdicts:
    it is not timed as the same network running them."""
    device = torch.device(device)
    from handpose.model.blocks import ConvBNReLU

    folded = any(isinstance(m, ConvBNReLU) and isinstance(m.bn, torch.nn.Identity) for m in model.modules())
    network = f"{model.config.preset}, batch norm folded" if folded else model.config.preset
    key = trial_key(device, network, int(crops.shape[1]), int(crops.shape[0]), "infer")
    got = choose(key, infer_measure(model, crops, device), amp, channels_last)
    assert got is not None  # a measure is always given here
    return got


def tune_predictor(predictor: Any, crops: np.ndarray, amp: bool | None = None,
                   channels_last: bool | None = None) -> Any:
    """``predictor`` running its PyTorch model under the measured (or given) precision and layout for network
    batches like ``crops`` (N, S, S, 3) uint8; an ONNX predictor comes back unchanged (onnxruntime has its own)."""
    import dataclasses

    from handpose.inference.backends import TorchBackend

    backend = predictor.backend
    if not isinstance(backend, TorchBackend):
        return predictor
    if amp is not None and channels_last is not None:
        choice = Choice("bf16" if amp else "fp32", channels_last)
    else:
        device = next(backend.model.parameters()).device
        choice = inference_choice(backend.model, crops, device, amp, channels_last)
    tuned = TorchBackend(backend.model, precision=choice.precision, channels_last=choice.channels_last,
                         threads=backend.threads)
    return dataclasses.replace(predictor, backend=tuned)


def trial_crops(predictor: Any, prepared: list[Any]) -> np.ndarray:
    """(N, S, S, 3) the first scale's crops of ``prepared`` as one network batch sees them (with their mirrors
    under flip test), the input the inference trial is timed and judged on."""
    crops = np.stack([p.crops[0] for p in prepared])  # (N, S, S, 3)
    if predictor.flip_test:
        crops = np.concatenate([crops, crops[:, :, ::-1]])  # (2N, S, S, 3)
    return np.ascontiguousarray(crops)
