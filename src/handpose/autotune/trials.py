"""The measurements behind :func:`handpose.autotune.choice.choose`: a few real steps of the model per candidate.

:func:`train_measure` times forward + loss + backward + fused AdamW step (what the trainer does per batch) on fixed
random tensors; :func:`infer_measure` times the forward pass of a given model on a given input (the real crops where
the caller has them) and decodes the last stage's maps. Every candidate is built from the same weights, warmed up
once (its first step pays for allocation and kernel choice; what soundness is judged on is taken from it), then
timed in interleaved rounds (A B C A B C ...) until the time budget is spent, so a noisy machine disturbs all alike.
A candidate whose first step takes over 3x the fastest first step keeps that time and is not timed again.
The budget is an aim, not a bound: every candidate takes its first step and one timed step whatever the time (a
candidate judged on its first step alone would be judged on allocation and kernel choice), and on a CPU the
trial first takes steps of one sample (inference: of 1, 2, 4, ... of its crops) to size its batch (an openpose
evaluation's batch of 32 crops at 368 px took 7 minutes to time on 2 cores); the budget decides that batch (on a
CPU) and the rounds after the first. Where even one sample's steps cannot fit it (a slow or busy CPU, a precision
the CPU emulates), the log line that shrinks the batch says so, with the time the trial will take. A training
candidate is on the device for its own turn only (copied there from weights and a batch kept on the CPU, freed
before the next turn), so the trial needs no more device memory than one training step; a candidate that runs out
of device memory (``torch.OutOfMemoryError``) is not viable, and the others are judged without it; so is one
other than the reference (the first) that the device cannot run at all (a RuntimeError, TypeError or
NotImplementedError at its first step: bf16 on an MPS device of a macOS before 14, say). MPS says it is out of
memory in a RuntimeError of its own, which counts as out of memory wherever it comes, the reference's too.
"""

from __future__ import annotations

import copy
import gc
import logging
import math
import statistics
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from handpose.autotune.choice import OUT_OF_MEMORY, Choice, Measure, Trial
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


def _timed(step: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """(seconds, result) of ``step`` with the work it queued on ``device`` done."""
    _sync(device)  # what was queued before (a model's copy to the device) is not the step's
    t0 = time.perf_counter()
    out = step()
    _sync(device)
    return time.perf_counter() - t0, out


def _release(device: torch.device) -> None:
    """Give the memory the trial's candidates left in the device's cache back to the device (CUDA, XPU, MPS), so
    the run that follows, or another process, finds it free."""
    backend = getattr(torch, device.type, None) if device.type in ("cuda", "xpu", "mps") else None
    if backend is not None and hasattr(backend, "empty_cache"):
        backend.empty_cache()


UNSUPPORTED = (RuntimeError, TypeError, NotImplementedError)  # what a device says of a precision it cannot run


def _out_of_memory_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the device ran out of memory: ``torch.OutOfMemoryError`` (CUDA, XPU), or MPS's own
    RuntimeError ("MPS backend out of memory ...")."""
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError)
                                                       and "out of memory" in str(exc).lower())


def _cannot_run(choice: Choice, device: torch.device, batch: int, exc: BaseException) -> Trial:
    """The :class:`Trial` of a candidate that ``device`` cannot run (said in one log line, with the error's)."""
    gc.collect()  # the failed candidate's model and optimizer, in a reference cycle
    said = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    LOG.warning("autotune: %s cannot run on %s (%s: %s); it is not a candidate", choice.name, device,
                type(exc).__name__, said)
    return Trial(math.inf, finite=False, batch=batch, failed=f"cannot run: {said}")


def _out_of_memory(choice: Choice, device: torch.device, batch: int) -> Trial:
    """The :class:`Trial` of a candidate that ran out of memory on ``device`` (said in one log line)."""
    LOG.warning("autotune: %s ran out of memory on %s at batch %d; it is not a candidate", choice.name, device,
                batch)
    return Trial(math.inf, finite=False, batch=batch, failed=OUT_OF_MEMORY)


def _rounds(turns: dict[Choice, Callable[[], float | None]], first: dict[Choice, float], budget_s: float,
            started: float) -> tuple[dict[Choice, float], set[Choice]]:
    """(median seconds per step of each candidate, the candidates that ran out of memory): interleaved rounds of
    ``turns`` (each returns the seconds of one timed step, None where it ran out of device memory) while the budget
    lasts (at least one)."""
    fastest = min(first.values(), default=math.inf)
    live = [c for c in turns if first[c] <= GIVE_UP * fastest]
    times: dict[Choice, list[float]] = {c: [] for c in live}
    cost = {c: first[c] for c in live}  # the last whole turn of each, building its candidate included
    failed: set[Choice] = set()
    for r in range(MAX_ROUNDS):
        if r > 0 and time.perf_counter() - started + sum(cost[c] for c in live) > budget_s:
            break
        for c in list(live):
            t0 = time.perf_counter()
            seconds = turns[c]()
            if seconds is None:
                live.remove(c)
                failed.add(c)
                continue
            times[c].append(seconds)
            cost[c] = time.perf_counter() - t0
    return {c: statistics.median(times[c]) if times.get(c) else first[c] for c in turns if c not in failed}, failed


def train_measure(model_cfg: Any, input_size: int, batch_size: int, device: torch.device | str,
                  budget_s: float = TRAIN_BUDGET_S, seed: int = 0) -> Measure:
    """A :data:`Measure` of training steps of a fresh ``model_cfg`` CPM at ``input_size`` on ``device``.

    On a CPU where a step of the whole batch would not fit the budget (the openpose preset at 368 takes ~25 s for
    16 samples on 2 cores), the trial runs a smaller batch, sized from a one-sample probe; rates are per sample.
    One candidate at a time is on the device: each turn copies the trial's weights and batch (kept on the CPU) there,
    steps, and frees them before the next turn, so the trial needs the device memory of one training step, as the
    run does, not that of every candidate at once. A candidate that runs out of device memory is not viable (one log
    line). On CUDA the trial runs with cuDNN's autotuner on, as the run does
    (``training.cudnn_autotuner``), and gives the device's cache back as it ends.
    """
    device = torch.device(device)

    def measure(choices: Sequence[Choice]) -> dict[Choice, Trial]:
        from handpose.training.cudnn_autotuner import cudnn_autotuner

        started = time.perf_counter()
        with cudnn_autotuner(device):
            try:
                return _measure_training(choices, model_cfg, input_size, batch_size, device, budget_s, seed,
                                         started)
            finally:
                _release(device)

    return measure


def _measure_training(choices: Sequence[Choice], model_cfg: Any, size: int, batch_size: int, device: torch.device,
                      budget_s: float, seed: int, started: float) -> dict[Choice, Trial]:
    """:func:`train_measure`'s measurement of ``choices``."""
    from handpose.model.cpm import build_model

    torch.manual_seed(seed)
    weights = build_model(model_cfg).train()  # every candidate starts from these, on the CPU
    batch = batch_size
    if device.type == "cpu":
        one = _train_batch(model_cfg, size, 1, seed)
        _train_turn(Choice(), weights, one, device)
        probe = _train_turn(Choice(), weights, one, device)
        per_sample = probe[0] if probe is not None else math.inf
        batch = max(1, min(batch_size, int(budget_s / (len(choices) * 3 * per_sample))))
        least = time.perf_counter() - started + 2 * len(choices) * batch * per_sample  # a first and a timed step each
        if batch < batch_size and math.isfinite(least) and least > budget_s:
            LOG.warning("autotune: timing training at batch %d instead of %d, and still over the %.0f s budget: a "
                        "step of one sample takes %.1f s here and each of the %d settings takes at least two, so the "
                        "trial takes about %.0f s (give --amp and --channels-last on or off to skip it)", batch,
                        batch_size, budget_s, per_sample, len(choices), least)
        elif batch < batch_size:
            LOG.info("autotune: timing training at batch %d instead of %d to keep the trial near %.0f s", batch,
                     batch_size, budget_s)
    data = _train_batch(model_cfg, size, batch, seed)
    trials: dict[Choice, Trial] = {}
    for i, c in enumerate(choices):
        try:
            turn = _train_turn(c, weights, data, device, check=True)
        except UNSUPPORTED as exc:
            if i == 0:  # the reference: what the run would do fails, and says why
                raise
            trials[c] = _cannot_run(c, device, batch, exc)
            continue
        if turn is None:
            trials[c] = _out_of_memory(c, device, batch)
            continue
        seconds, loss, finite = turn
        trials[c] = Trial(seconds, finite=finite, loss=loss, batch=batch)
    first = {c: t.seconds for c, t in trials.items() if t.failed is None}
    turns = {c: (lambda c=c: _seconds(_train_turn(c, weights, data, device))) for c in first}
    timed, failed = _rounds(turns, first, budget_s, started)
    for c, seconds in timed.items():
        trials[c].seconds = seconds
    for c in failed:
        trials[c] = _out_of_memory(c, device, batch)
    return trials


def _train_batch(model_cfg: Any, size: int, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    """(images (B, 3, S, S), targets (B, 22, S/8, S/8), keypoint weights (B, 21)): a fixed random batch on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=gen) * 0.25  # (B, 3, S, S)
    out = -(-size // 8)
    targets = torch.rand(batch, model_cfg.num_maps, out, out, generator=gen)  # (B, 22, S/8, S/8)
    return images, targets, torch.ones(batch, model_cfg.num_maps - 1)  # (B, 21)


def _seconds(turn: tuple[float, float, bool] | None) -> float | None:
    """The seconds of a :func:`_train_turn` (None: it ran out of memory)."""
    return None if turn is None else turn[0]


def _train_turn(choice: Choice, weights: torch.nn.Module, data: tuple[torch.Tensor, ...], device: torch.device,
                check: bool = False) -> tuple[float, float, bool] | None:
    """(seconds, loss, every gradient finite) of one timed training step of ``choice`` on ``device`` (finiteness is
    looked at with ``check`` alone, True otherwise), or None where it ran out of device memory. The candidate (a
    copy of ``weights`` with its optimizer and ``data`` on the device) is freed as this returns."""
    built: list[weakref.ref] = []
    try:
        turn = _train_turn_on(choice, weights, data, device, check, built)
    except RuntimeError as exc:  # its traceback, which holds the candidate, goes with this block
        if not _out_of_memory_error(exc):
            raise
        turn = None
    if built and built[0]() is not None:  # in a reference cycle (a process's first optimizer makes one)
        gc.collect()
    return turn


def _train_turn_on(choice: Choice, weights: torch.nn.Module, data: tuple[torch.Tensor, ...], device: torch.device,
                   check: bool, built: list[weakref.ref]) -> tuple[float, float, bool]:
    """:func:`_train_turn`'s step, with a weakref to the candidate's model put in ``built``."""
    model, step, grads_finite = _train_step(choice, weights, data, device)
    built.append(weakref.ref(model))
    del model
    seconds, loss = _timed(step, device)
    return seconds, loss, (math.isfinite(loss) and grads_finite()) if check else True


def _train_step(choice: Choice, weights: torch.nn.Module, data: tuple[torch.Tensor, ...],
                device: torch.device) -> tuple[torch.nn.Module, Callable[[], float], Callable[[], bool]]:
    """(a copy of ``weights`` on ``device``, one training step of it under ``choice`` returning its loss, whether
    every gradient is finite)."""
    from handpose.training.losses import cpm_loss

    model = copy.deepcopy(weights).to(device)
    images, targets, keypoint_weights = (t.to(device) for t in data)  # (B, 3, S, S), (B, 22, S/8, S/8), (B, 21)
    if choice.channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True)

    def step() -> float:
        with precision(choice.precision, device.type):
            maps = model(images)  # stages x (B, 22, S/8, S/8)
            loss, _ = cpm_loss(maps, targets, keypoint_weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def grads_finite() -> bool:
        return all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)

    return model, step, grads_finite


def infer_measure(model: torch.nn.Module, crops: np.ndarray, device: torch.device | str, stride: int = 8,
                  budget_s: float = INFER_BUDGET_S) -> Measure:
    """A :data:`Measure` of ``model``'s forward pass on ``crops`` (N, S, S, 3) uint8 BGR (one network batch).

    The model is copied per candidate (the caller's is never moved or changed); each candidate's decoded keypoints
    on ``crops`` are what :func:`~handpose.autotune.choice.judge` compares with fp32's. A candidate that runs out of
    device memory is not viable (one log line). On a CPU where steps of every crop would not fit the budget (the
    openpose preset at 368 px takes seconds a crop on 2 cores), the trial runs on the first crops, as many as fit,
    sized from steps of 1, 2, 4, ... crops; rates are per crop.
    """
    from handpose.data.codec import HeatmapCodec
    from handpose.data.transforms import to_network_input

    device = torch.device(device)
    codec = HeatmapCodec(int(crops.shape[1]), stride)
    whole = torch.from_numpy(to_network_input(crops)).to(device)  # (N, 3, S, S)

    def measure(choices: Sequence[Choice]) -> dict[Choice, Trial]:
        started = time.perf_counter()
        x = _cpu_trial_input(model, whole, len(choices), budget_s, started) if device.type == "cpu" else whole
        steps, first, trials = {}, {}, {}
        for i, c in enumerate(choices):
            net = copy.deepcopy(model).to(device).eval()
            inp = x
            if c.channels_last:
                net = net.to(memory_format=torch.channels_last)
                inp = x.contiguous(memory_format=torch.channels_last)

            def step(net: torch.nn.Module = net, inp: torch.Tensor = inp, c: Choice = c) -> torch.Tensor:
                with torch.inference_mode(), precision(c.precision, device.type):
                    return net(inp)[-1].float()  # (N, 22, S/8, S/8)

            try:
                first[c], maps = _timed(step, device)
            except UNSUPPORTED as exc:
                if _out_of_memory_error(exc):
                    trials[c] = _out_of_memory(c, device, int(x.shape[0]))
                elif i == 0:  # the reference: the run would fail, and says why
                    raise
                else:
                    trials[c] = _cannot_run(c, device, int(x.shape[0]), exc)
                del net, inp, step
                continue
            steps[c] = step
            keypoints = codec.decode(maps.cpu().numpy())[0]  # (N, 21, 2) crop px
            trials[c] = Trial(first[c], finite=bool(torch.isfinite(maps).all()), keypoints=keypoints,
                              batch=int(x.shape[0]))
        turns = {c: (lambda step=step: _infer_turn(step, device)) for c, step in steps.items()}
        timed, failed = _rounds(turns, first, budget_s, started)
        for c, seconds in timed.items():
            trials[c].seconds = seconds
        for c in failed:
            trials[c] = _out_of_memory(c, device, int(x.shape[0]))
        return trials

    return measure


def _cpu_trial_input(model: torch.nn.Module, x: torch.Tensor, candidates: int, budget_s: float,
                     started: float) -> torch.Tensor:
    """(n, 3, S, S) the first n of the crops ``x`` (N, 3, S, S): all of them where every candidate's two steps fit
    ``budget_s``, else as many as do (at least one). fp32 steps of 1, 2, 4, ... crops are timed while a step of
    twice the crops, at twice the time, would still fit: a small network's step costs about the same for 1 crop
    and for 16 (on a busy CPU, mostly its threads waiting), so a one-crop step alone would shrink its trial for
    nothing. A model that cannot run these steps is timed on all of them (the trial then meets its error)."""
    if len(x) < 2:
        return x
    net = copy.deepcopy(model).eval()
    try:
        with torch.inference_mode():
            net(x[:1])  # the first step pays for allocation and kernel choice
            n = 1
            seconds = min(_step_seconds(net, x[:1]), _step_seconds(net, x[:1]))  # a step on a busy CPU can stall
            while n < len(x):
                more = min(2 * n, len(x))
                if 2 * candidates * seconds * more / n > budget_s:  # each candidate: a first and a timed step
                    break
                n, seconds = more, _step_seconds(net, x[:more])
    except UNSUPPORTED:
        return x
    finally:
        del net
    if n == len(x):
        return x
    least = time.perf_counter() - started + 2 * candidates * seconds
    if least > 2 * budget_s:  # a second over a budget of 2.5 s is not worth a warning; a 7-minute trial was
        LOG.warning("autotune: timing inference on %d crops instead of %d, and still over the %.1f s budget: a step "
                    "of %d crop(s) takes %.3g s here and each of the %d settings takes at least two, so the trial "
                    "takes about %.0f s (give --amp and --channels-last on or off to skip it)", n, len(x), budget_s,
                    n, seconds, candidates, least)
    else:
        LOG.info("autotune: timing inference on %d crops instead of %d to keep the trial near %.1f s", n, len(x),
                 budget_s)
    return x[:n]


def _step_seconds(net: torch.nn.Module, x: torch.Tensor) -> float:
    """The seconds of one forward pass of ``net`` on ``x`` (N, 3, S, S) on the CPU."""
    t0 = time.perf_counter()
    net(x)
    return time.perf_counter() - t0


def _infer_turn(step: Callable[[], Any], device: torch.device) -> float | None:
    """The seconds of one timed inference ``step`` on ``device``, None where it ran out of device memory."""
    try:
        return _timed(step, device)[0]
    except RuntimeError as exc:
        if not _out_of_memory_error(exc):
            raise
        return None
