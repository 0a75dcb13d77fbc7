"""The measurements behind :func:`handpose.autotune.choice.choose`: a few real steps of the model per candidate.

:func:`train_measure` times forward + loss + backward + fused AdamW step (what the trainer does per batch) on fixed
random tensors; :func:`infer_measure` times the forward pass of a given model on a given input (the real crops where
the caller has them) and decodes the last stage's maps. Every candidate is built from the same weights, warmed up
once (its first step pays for allocation and kernel choice; what soundness is judged on is taken from it), then
timed in interleaved rounds (A B C A B C ...) until the time budget is spent, so a noisy machine disturbs all alike.
A candidate whose first step takes over 3x the fastest first step keeps that time and is not timed again.
"""

from __future__ import annotations

import copy
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from handpose.autotune.choice import Choice, Measure, Trial
from handpose.autotune.precision import precision

LOG = logging.getLogger(__name__)

GIVE_UP = 3.0  # a first step this many times the fastest first step is not timed further
MAX_ROUNDS = 5
TRAIN_BUDGET_S = 20.0  # under 5% of the embedded `handpose train` run (about 9 minutes)
INFER_BUDGET_S = 2.5  # `handpose predict` must pay under 3 s for its first run


def _sync(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (CUDA, MPS and XPU run asynchronously: a timing taken without it is
    of the queueing alone); a no-op on the CPU and on backends without a ``synchronize``."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "xpu" and hasattr(torch, "xpu"):
        torch.xpu.synchronize(device)
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()  # MPS has one device


def _rounds(steps: dict[Choice, Callable[[], Any]], first: dict[Choice, float], budget_s: float,
            device: torch.device, started: float) -> dict[Choice, float]:
    """Median seconds per step of each candidate: interleaved rounds while the budget lasts (at least one)."""
    fastest = min(first.values())
    live = [c for c in steps if first[c] <= GIVE_UP * fastest]
    times: dict[Choice, list[float]] = {c: [] for c in live}
    for r in range(MAX_ROUNDS):
        round_cost = sum(times[c][-1] if times[c] else first[c] for c in live)
        if r > 0 and time.perf_counter() - started + round_cost > budget_s:
            break
        for c in live:
            t0 = time.perf_counter()
            steps[c]()
            _sync(device)
            times[c].append(time.perf_counter() - t0)
    return {c: statistics.median(times[c]) if c in times else first[c] for c in steps}


def train_measure(model_cfg: Any, input_size: int, batch_size: int, device: torch.device | str,
                  budget_s: float = TRAIN_BUDGET_S, seed: int = 0) -> Measure:
    """A :data:`Measure` of training steps of a fresh ``model_cfg`` CPM at ``input_size`` on ``device``.

    On a CPU where a step of the whole batch would not fit the budget (the openpose preset at 368 takes ~25 s for
    16 samples on 2 cores), the trial runs a smaller batch, sized from a one-sample probe; rates are per sample.
    """
    device = torch.device(device)

    def measure(choices: Sequence[Choice]) -> dict[Choice, Trial]:
        started = time.perf_counter()
        batch = batch_size
        if device.type == "cpu":
            probe = _train_step(Choice(), model_cfg, input_size, 1, device, seed)[0]
            probe()
            t0 = time.perf_counter()
            probe()
            per_sample = time.perf_counter() - t0
            batch = max(1, min(batch_size, int(budget_s / (len(choices) * 3 * per_sample))))
            if batch < batch_size:
                LOG.info("autotune: timing training at batch %d instead of %d to stay within %.0f s", batch,
                         batch_size, budget_s)
        steps, first, trials = {}, {}, {}
        for c in choices:
            step, check = _train_step(c, model_cfg, input_size, batch, device, seed)
            t0 = time.perf_counter()
            loss = step()
            _sync(device)
            first[c] = time.perf_counter() - t0
            steps[c] = step
            trials[c] = Trial(first[c], finite=math.isfinite(loss) and check(), loss=loss, batch=batch)
        for c, seconds in _rounds(steps, first, budget_s, device, started).items():
            trials[c].seconds = seconds
        return trials

    return measure


def _train_step(choice: Choice, model_cfg: Any, size: int, batch: int, device: torch.device,
                seed: int) -> tuple[Callable[[], float], Callable[[], bool]]:
    """(one training step returning its loss, whether every gradient is finite) for a fresh model under ``choice``."""
    from handpose.model.cpm import build_model
    from handpose.training.losses import cpm_loss

    torch.manual_seed(seed)
    model = build_model(model_cfg).to(device).train()
    gen = torch.Generator().manual_seed(seed)
    images = (torch.randn(batch, 3, size, size, generator=gen) * 0.25).to(device)  # (B, 3, S, S)
    out = -(-size // 8)
    targets = torch.rand(batch, model_cfg.num_maps, out, out, generator=gen).to(device)  # (B, 22, S/8, S/8)
    weights = torch.ones(batch, model_cfg.num_maps - 1, device=device)  # (B, 21)
    if choice.channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True)

    def step() -> float:
        with precision(choice.precision, device.type):
            maps = model(images)  # stages x (B, 22, S/8, S/8)
            loss, _ = cpm_loss(maps, targets, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def grads_finite() -> bool:
        return all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)

    return step, grads_finite


def infer_measure(model: torch.nn.Module, crops: np.ndarray, device: torch.device | str, stride: int = 8,
                  budget_s: float = INFER_BUDGET_S) -> Measure:
    """A :data:`Measure` of ``model``'s forward pass on ``crops`` (N, S, S, 3) uint8 BGR (one network batch).

    The model is copied per candidate (the caller's is never moved or changed); each candidate's decoded keypoints
    on ``crops`` are what :func:`~handpose.autotune.choice.judge` compares with fp32's.
    """
    from handpose.data.codec import HeatmapCodec
    from handpose.data.transforms import to_network_input

    device = torch.device(device)
    codec = HeatmapCodec(int(crops.shape[1]), stride)
    x = torch.from_numpy(to_network_input(crops)).to(device)  # (N, 3, S, S)

    def measure(choices: Sequence[Choice]) -> dict[Choice, Trial]:
        started = time.perf_counter()
        steps, first, trials = {}, {}, {}
        for c in choices:
            net = copy.deepcopy(model).to(device).eval()
            inp = x
            if c.channels_last:
                net = net.to(memory_format=torch.channels_last)
                inp = x.contiguous(memory_format=torch.channels_last)

            def step(net: torch.nn.Module = net, inp: torch.Tensor = inp, c: Choice = c) -> torch.Tensor:
                with torch.inference_mode(), precision(c.precision, device.type):
                    return net(inp)[-1].float()  # (N, 22, S/8, S/8)

            t0 = time.perf_counter()
            maps = step()
            _sync(device)
            first[c] = time.perf_counter() - t0
            steps[c] = step
            keypoints = codec.decode(maps.cpu().numpy())[0]  # (N, 21, 2) crop px
            trials[c] = Trial(first[c], finite=bool(torch.isfinite(maps).all()), keypoints=keypoints,
                              batch=int(x.shape[0]))
        for c, seconds in _rounds(steps, first, budget_s, device, started).items():
            trials[c].seconds = seconds
        return trials

    return measure
