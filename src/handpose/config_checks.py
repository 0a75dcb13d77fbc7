"""Type and range checks of the configs: one ``ValueError`` naming the field, its value and what it must be.

They run where a config comes from outside: a model file's stored metadata (``model.artifact``) and the settings
of ``handpose train`` (``training.setup.check_config``), so a crafted file or a bad flag fails at once with a
one-line message instead of a ZeroDivisionError or an OpenCV error deep in the pipeline.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from typing import Any

from handpose.config import AugmentConfig, DataConfig, DetectorConfig, ModelConfig

Rule = tuple[Callable[[Any], bool], str]

_PROBABILITY: Rule = (lambda v: 0 <= v <= 1, "in [0, 1]")


def _between(lo: float, hi: float) -> Rule:
    return (lambda v: lo <= v <= hi, f"in [{lo:g}, {hi:g}]")


def _one_of(*choices: Any) -> Rule:
    return (lambda v: v in choices, f"one of {list(choices)}")


RULES: dict[type, dict[str, Rule]] = {
    ModelConfig: {
        "backbone": _one_of("vgg19", "mobilenet"),
        "width": (lambda v: 0 < v <= 8, "in (0, 8]"),
        "backbone_repeats": _between(0, 64),
        "feature_channels": _between(1, 4096),
        "stage1_layers": _between(0, 64),
        "stage1_channels": _between(1, 4096),
        "stages": _between(1, 16),
        "stage_channels": _between(1, 4096),
        "stage_kernel": _one_of(3, 7),
        "stage_layers": _between(1, 64),
        "stage_block": _one_of("plain", "residual"),
        "num_maps": _one_of(22),
        "input_size": _between(32, 4096),  # under 32 px the stride-8 maps are 1-3 cells: nothing to learn
        "output_stride": _one_of(4, 8),
    },
    DataConfig: {
        "input_size": _between(32, 4096),
        "stride": _one_of(4, 8),
        "sigma": (lambda v: 0.05 <= v <= 100, "in [0.05, 100] output cells"),
        "box_padding": _between(0.5, 10),
        "val_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"),
        "max_image_pixels": _between(1, 2**40),
    },
    DetectorConfig: {
        "width": (lambda v: 0 < v <= 4, "in (0, 4]"),
        "backbone_repeats": _between(0, 16),
        "neck_channels": _between(4, 1024),
        "head_channels": _between(4, 1024),
        "stride": _one_of(4),
        "input_size": (lambda v: 32 <= v <= 4096 and v % 32 == 0, "a multiple of 32 in [32, 4096]"),
        "max_hands": _between(1, 1000),
        "score_threshold": _PROBABILITY,
        "nms_iou": _PROBABILITY,
    },
    AugmentConfig: {
        "scale_min": (lambda v: 0 < v <= 10, "in (0, 10]"),
        "scale_max": (lambda v: 0 < v <= 10, "in (0, 10]"),
        "rotation_deg": _between(0, 180),
        "translate": _between(0, 1),
        "flip_prob": _PROBABILITY,
        "color_jitter": _between(0, 1),
        "blur_prob": _PROBABILITY,
        "blur_max_sigma": _between(0.1, 20),
        "edge_cut_prob": _PROBABILITY,
        "photo_aug_prob": _PROBABILITY,
    },
}


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits a field annotation (int, float, bool, str, a nested config, or Optional of one)."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        return value is None or any(_type_ok(value, a) for a in args if a is not type(None))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return True


def check_config(cfg: Any, where: str = "") -> None:
    """ValueError ``"<where>: <Config>.<field> = <value>: must be ..."`` for the first field of ``cfg`` (and of its
    nested configs) with a wrong type or a value out of range; ``where`` names the file or the flag source."""
    prefix = f"{where}: " if where else ""
    hints = typing.get_type_hints(type(cfg))
    rules = RULES.get(type(cfg), {})
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        label = f"{type(cfg).__name__}.{f.name} = {value!r}"
        if not _type_ok(value, hints[f.name]):
            raise ValueError(f"{prefix}{label}: must be of type {_type_name(hints[f.name])} (and finite)")
        if dataclasses.is_dataclass(value):
            check_config(value, where)
            continue
        rule = rules.get(f.name)
        if rule is not None and value is not None and not rule[0](value):
            raise ValueError(f"{prefix}{label}: must be {rule[1]}")
    if isinstance(cfg, AugmentConfig) and cfg.scale_max < cfg.scale_min:
        raise ValueError(f"{prefix}AugmentConfig.scale_max = {cfg.scale_max!r}: must be >= scale_min "
                         f"({cfg.scale_min!r})")


def _type_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args:
        return " or ".join(_type_name(a) for a in args) + " or None"
    return getattr(hint, "__name__", str(hint))


def cap_workers(requested: int, flag: str = "--workers") -> int:
    """``requested`` worker processes, capped at this machine's CPU count with a warning (more processes than
    CPUs only add start-up time and memory); ValueError naming ``flag`` when negative."""
    import logging
    import os

    if requested < 0:
        raise ValueError(f"{flag} cannot be negative, got {requested}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested > cpus:
        logging.getLogger(__name__).warning("%s %d is more than the %d CPUs here; using %d", flag, requested, cpus,
                                            cpus)
        return cpus
    return requested


def check_device(device: str, what: str = "--device") -> str:
    """The device to use: ``auto`` becomes cuda where there is a GPU, else cpu; ValueError naming ``what`` (the flag,
    or ``device`` for the Python API) when it is not a torch device this machine has: CUDA without a GPU, another
    accelerator torch was built without (``xpu`` raised torch's AssertionError, ``mps`` a RuntimeError at the first
    tensor) or ``meta`` (no data: nothing can run there)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    shown = f"{what} {device}" if what.startswith("--") else f"{what}={device!r}"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"{shown}: not a device name ({exc}); use cpu, cuda or cuda:N") from None
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{shown}: CUDA is not available on this machine; use cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"{shown}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return device
    backend = getattr(torch, parsed.type, None)  # torch.mps, torch.xpu, ...: each has is_available()
    available = getattr(backend, "is_available", None)
    if not callable(available) or not available():
        raise ValueError(f"{shown}: no {parsed.type} device to run on here; use cpu or cuda")
    count = getattr(backend, "device_count", None)
    if parsed.index is not None and callable(count) and parsed.index >= count():
        raise ValueError(f"{shown}: this machine has {count()} {parsed.type} device(s)")
    return device
