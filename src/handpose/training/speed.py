"""Rule-of-thumb speed defaults (bf16 autocast, channels-last) for when nothing was measured.

The defaults of ``handpose train / eval / predict`` are measured instead (``--amp auto``, ``--channels-last
auto``: handpose.autotune), since the rules miss: an AMD EPYC with AVX512-BF16 and no AMX trains the lite preset
at 96 px 1.6-1.9x faster in bf16 + channels-last than in fp32, where a Xeon with the same flags ran bf16 at 0.6x.
These rules remain for torchrun processes that find no measurement cached and for the benchmarks' comparison.
"""

from __future__ import annotations

import torch

from handpose.config import ModelConfig


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast is worth turning on for ``device``: a GPU with bf16 tensor cores (CUDA compute
    capability 8.0 on, Ampere and later; ROCm), or a CPU with AMX tiles.

    ``torch.cuda.is_bf16_supported()`` is not the test: it asks about the current device, not ``device``, and says
    True on a V100 or T4 too, which only emulate bf16. AVX512-BF16 alone is not enough either: on a 2-core Xeon
    with AVX512-BF16 and no AMX, benchmarks/bench_train.py measured bf16 autocast at 0.73x of fp32 (openpose preset
    at 368) and bf16 + channels_last at 0.65x of fp32 channels_last (lite preset at 112).
    """
    if device.type == "cuda":
        return bool(torch.version.hip) or torch.cuda.get_device_capability(device)[0] >= 8
    cpu = getattr(torch, "cpu", None)
    return bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)())


def channels_last_default(device: torch.device, model_cfg: ModelConfig) -> bool:
    """Whether channels-last is the faster layout for training ``model_cfg`` on ``device`` (``handpose train``'s
    default, measured with benchmarks/bench_train.py).

    On for CUDA and for the MobileNet (lite) front everywhere (1.2-1.9x on 2-core CPUs). For the VGG fronts on a
    CPU it follows the vector width: 1.06-1.22x on an AVX-512 Xeon, 0.76x on an AVX2-only EPYC.
    """
    if device.type == "cuda" or model_cfg.backbone == "mobilenet":
        return True
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")
