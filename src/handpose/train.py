"""The training loop: ``train(cfg)`` runs a TrainConfig to the end (or a clean stop) and returns a summary dict.

One optimizer step: the next batch of the seeded stream (``train_sampler``), forward under bf16 autocast when
``cfg.amp``, :func:`handpose.losses.cpm_loss` at every stage, a finiteness check, backward, optimizer and
schedule step. Every ``log_every`` steps the old script's log line and TensorBoard scalars; every ``val_every``
steps validation on the held-out split (best weights kept as ``best.safetensors``); every ``ckpt_every`` steps an
atomic checkpoint (the last ``keep_checkpoints`` kept). SIGINT / SIGTERM, ``stop_at_step`` and ``time_limit``
end the run cleanly with a checkpoint; ``resume`` continues one exactly (model, optimizer, schedule, step, random
states, data order). A non-finite loss raises :class:`NonFiniteLossError` before the bad step touches the
weights, and no checkpoint is written after it.

Run directory (``cfg.out``)::

    config.json            the resolved TrainConfig
    events.out.tfevents.*  TensorBoard
    checkpoints/ckpt-<step>.pt
    best.safetensors       best validation PCK@0.2 (+ best.json with its metrics)
    model.safetensors      the weights at the end of the run
    summary.json           what train() returns

Under torchrun (WORLD_SIZE > 1) every rank trains its shard of each batch under DDP; rank 0 alone logs,
validates and writes files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from handpose.checkpoint import (
    CHECKPOINT_DIR,
    atomic_write,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from handpose.config import ModelConfig, TrainConfig, to_dict
from handpose.distributed import (
    DistInfo,
    any_true,
    barrier,
    env_info,
    gather_objects,
    init_distributed,
    resolve_device,
    shutdown,
)
from handpose.losses import cpm_loss
from handpose.schedule import build_scheduler
from handpose.train_data import train_loader
from handpose.train_logging import TrainWriter, format_log_line, progress_bar
from handpose.train_signals import StopRequest
from handpose.train_validation import better, validate, validation_images

LOG = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss (or the weights) became NaN or infinite; the run stopped before saving anything after it."""


# ------------------------------------------------------------------------------------------------ set-up helpers


def total_steps(cfg: TrainConfig, train_size: int, world_size: int) -> int:
    """Optimizer steps of the whole run: ``max_steps``, else ``ceil(epochs * train_size / (batch * world))``."""
    if cfg.max_steps is not None:
        if cfg.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {cfg.max_steps}")
        return int(cfg.max_steps)
    if cfg.epochs is None or cfg.epochs <= 0:
        raise ValueError("give the run's length: epochs > 0 or max_steps >= 1 (--epochs / --max-steps)")
    return max(1, math.ceil(cfg.epochs * train_size / (cfg.batch_size * world_size)))


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay) or SGD with momentum (L2 weight decay, as Caffe)."""
    params = [p for p in model.parameters() if p.requires_grad]
    # fused kernels: one pass over all parameters instead of ~10 small ops per tensor (measured: the per-tensor
    # loop was ~13% of a lite-preset step on the 2-core CPU)
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=True)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose 'adam' or 'sgd'")


def initial_weights(model: torch.nn.Module, path: str) -> None:
    """Load ``--init`` weights into ``model`` (handpose weights / checkpoints of the same architecture, the seed's
    .npy, torchvision VGG-19, OpenPose caffemodel: ``handpose.model.importers.init_weights``)."""
    from handpose.model.importers import init_weights

    report = init_weights(model, path)  # FileNotFoundError / ValueError naming what did not fit
    LOG.info("initial weights from %s: %d layers loaded, %d left random", path, len(report.loaded), len(report.random))


def resume_changes(state: dict[str, Any], cfg: TrainConfig, world_size: int, steps_total: int, train_size: int,
                   samples_seen: int) -> str | None:
    """What resuming checkpoint ``state`` with another batch size or process count changes, or None.

    The samples per step (batch x processes) change, the data order goes on from ``samples_seen``; a run sized in
    epochs is re-counted in steps at the new batch (so its schedule is stretched or squeezed, and the epochs it
    covers in the end differ from ``epochs``), a run of ``max_steps`` keeps its steps and covers more or fewer
    epochs. The learning rate is not scaled with the batch.
    """
    old_batch = int(state.get("train_config", {}).get("batch_size", cfg.batch_size))
    old_world = int(state.get("world_size", world_size))
    if (old_batch, old_world) == (cfg.batch_size, world_size):
        return None
    what = []
    if old_batch != cfg.batch_size:
        what.append(f"batch size {cfg.batch_size} instead of {old_batch}")
    if old_world != world_size:
        what.append(f"{world_size} processes instead of {old_world}")
    per_step, old_per_step = cfg.batch_size * world_size, old_batch * old_world
    old_total = int(state.get("total_steps", steps_total))
    step = int(state["step"])
    epochs = (samples_seen + max(0, steps_total - step) * per_step) / train_size
    old_epochs = (samples_seen + max(0, old_total - step) * old_per_step) / train_size
    length = (f"the run now lasts {steps_total} steps instead of {old_total}, the learning-rate schedule is "
              f"spread over them" if steps_total != old_total else f"the run still lasts {steps_total} steps")
    return (f"resuming with {' and '.join(what)}: each step now takes {per_step} samples instead of "
            f"{old_per_step} (the data order continues); {length}, and it will end after {epochs:.2f} epochs "
            f"instead of {old_epochs:.2f}; --lr stays {cfg.lr:g} (not scaled with the batch)")


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast is worth turning on for ``device``: CUDA with bf16, or a CPU with AMX tiles.

    AVX512-BF16 alone is not enough: on a 2-core Xeon with AVX512-BF16 and no AMX, benchmarks/bench_train.py
    measured bf16 autocast at 0.73x of fp32 (openpose preset at 368) and bf16 + channels_last at 0.65x of fp32
    channels_last (lite preset at 112).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
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


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of the parameters' bytes in name order (equal on every rank when DDP keeps them in sync).

    Buffers are left out: BatchNorm running statistics follow each rank's own batches under DDP (rank 0's are
    the ones saved), so they differ between ranks that hold the same weights.
    """
    h = hashlib.sha256()
    for key, value in sorted(model.named_parameters()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _weights_finite(model: torch.nn.Module) -> bool:
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())  # one device sync


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


# ------------------------------------------------------------------------------------------------------- train


class _Run:
    """State of one training process (kept together so that the loop reads as the steps it performs)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.info: DistInfo = env_info()
        self.device = resolve_device(cfg.device, self.info)
        self.info = init_distributed(self.device, self.info)
        self.main = self.info.is_main
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.ckpt_dir = self.out / CHECKPOINT_DIR
        self.best: dict[str, Any] | None = None
        self.last_val: dict[str, Any] | None = None
        self.step = 0
        self.samples_seen = 0


def check_config(cfg: TrainConfig) -> None:
    """ValueError naming the first setting that cannot work."""
    for name in ("batch_size", "log_every", "ckpt_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if cfg.val_every < 0 or cfg.keep_checkpoints < 0 or cfg.workers < 0:
        raise ValueError("val_every, keep_checkpoints and workers cannot be negative")
    if not cfg.lr > 0:
        raise ValueError(f"lr must be positive, got {cfg.lr}")
    if cfg.dataset.input_size != cfg.model.input_size:
        LOG.info("training the %s preset (designed for %d px) at %d px", cfg.model.preset, cfg.model.input_size,
                 cfg.dataset.input_size)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train a CPM as ``cfg`` says; returns the run's summary (also written to ``<out>/summary.json``).

    Raises ValueError / FileNotFoundError for bad settings or data, NonFiniteLossError (a RuntimeError) when the
    loss stops being finite.
    """
    check_config(cfg)
    run = _Run(cfg)
    quiet = None
    if not run.main:  # ranks > 0 report warnings only
        quiet = logging.getLogger("handpose")
        previous_level = quiet.level
        quiet.setLevel(logging.WARNING)
    finished = False
    try:
        summary = _train(run)
        finished = True
        return summary
    finally:
        if quiet is not None:
            quiet.setLevel(previous_level)
        shutdown(wait_for_peers=finished)


def _prepare_data(run: _Run) -> tuple[Any, Any, TrainConfig]:
    from handpose.data.dataset import HandDataset
    from handpose.data.formats import load_splits
    from handpose.train_data import embedded_dataset

    cfg = run.cfg
    data = cfg.data
    if data is None:
        if run.info.local_rank == 0:
            embedded_dataset(cfg.seed, cfg.synth_count, cfg.synth_size, workers=max(1, cfg.workers))
        barrier()
        data = str(embedded_dataset(cfg.seed, cfg.synth_count, cfg.synth_size))
        cfg = dataclasses.replace(cfg, data_format=cfg.data_format or "hand_labels_synth")
    splits = load_splits(data, cfg.data_format, cfg.dataset.val_fraction)
    if not splits.train:
        raise ValueError(f"{data}: no training samples (all {len(splits.val)} samples are in the held-out split); "
                         "point --data at a dataset with a training part")
    train_set = HandDataset(splits.train, cfg.dataset, train=True, seed=cfg.seed)
    val = splits.val if cfg.val_limit is None else splits.val[: cfg.val_limit]
    cfg = dataclasses.replace(cfg, data=str(data), data_format=splits.fmt)
    LOG.info("data %s (%s): %d training samples, %d held-out for validation", data, splits.fmt, len(train_set),
             len(val))
    return train_set, val, cfg


def _train(run: _Run) -> dict[str, Any]:
    from handpose.model.cpm import build_model
    from handpose.model.weights import save_weights

    if run.cfg.threads:
        torch.set_num_threads(int(run.cfg.threads))
    train_set, val_samples, cfg = _prepare_data(run)
    run.cfg = cfg
    device, info = run.device, run.info
    steps_total = total_steps(cfg, len(train_set), info.world_size)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = build_model(cfg.model)
    resume_state = None
    if cfg.resume:
        ckpt_path = find_checkpoint(cfg.resume)
        resume_state = load_checkpoint(ckpt_path)
        if resume_state["model_config"] != to_dict(cfg.model):
            raise ValueError(f"--resume {ckpt_path}: the checkpoint's model config differs from this run's "
                             f"({resume_state['model_config']} vs {to_dict(cfg.model)})")
        model.load_state_dict(resume_state["model"])
        LOG.info("resuming from %s (step %d)", ckpt_path, resume_state["step"])
    elif cfg.init:
        initial_weights(model, cfg.init)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_total)
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        run.step = int(resume_state["step"])
        run.samples_seen = int(resume_state.get("samples_seen", run.step * cfg.batch_size * info.world_size))
        run.best = resume_state.get("best")
        set_rng_state(resume_state["rng"])
        change = resume_changes(resume_state, cfg, info.world_size, steps_total, len(train_set), run.samples_seen)
        if change:
            LOG.warning("%s", change)
    if cfg.amp and not native_bf16(device):
        LOG.warning("bf16 autocast on %s without AMX / CUDA bf16 measured slower than fp32; consider --no-amp", device)

    step_model: torch.nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        step_model = torch.compile(step_model)

    writer = TrainWriter(run.out, enabled=run.main)
    if run.main:
        run.out.mkdir(parents=True, exist_ok=True)
        _write_json(run.out / "config.json", to_dict(cfg))
    loader = train_loader(train_set, cfg, info, run.samples_seen, device)

    def checkpoint_state() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "model_config": to_dict(model.config),
            "data_config": to_dict(cfg.dataset),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": run.step,
            "epoch": run.samples_seen / len(train_set),
            "samples_seen": run.samples_seen,
            "total_steps": steps_total,
            "world_size": info.world_size,
            "best": run.best,
            "rng": rng_state(),
            "train_config": to_dict(cfg),
        }

    def save_ckpt() -> Path | None:
        # every rank calls this at the same step and takes the same decision, as with the loss: a rank that raised
        # alone would leave the others waiting in the next step's all-reduce
        bad = torch.tensor([0.0 if _weights_finite(model) else 1.0], device=device)
        if bool(any_true(bad)[0]):
            raise NonFiniteLossError(f"weights became non-finite at step {run.step}; no checkpoint written (the last "
                                     f"good one is {_last_ckpt(run)})")
        if not run.main:
            return None
        path = save_checkpoint(checkpoint_state(), run.ckpt_dir, run.step, cfg.keep_checkpoints)
        LOG.info("checkpoint %s", path)
        return path

    def weights_meta(extra: dict[str, Any] | None = None) -> dict[str, str]:
        meta = {"data_config": json.dumps(to_dict(cfg.dataset), sort_keys=True), "step": str(run.step)}
        meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
        return meta

    def run_validation() -> None:
        if not run.main or not val_samples:
            return
        metrics = validate(model, val_samples, cfg.dataset, cfg.batch_size, device)
        images = validation_images(model, val_samples, cfg.dataset, cfg.val_images, device)
        writer.validation(run.step, metrics, images)
        run.last_val = {k: metrics.get(k) for k in ("PCK@0.2", "PCKh@0.7", "AUC", "EPE", "num_samples")}
        LOG.info("validation step=%d: PCK@0.2=%.4f AUC=%.4f EPE=%.2f px on %d held-out samples", run.step,
                 metrics["PCK@0.2"], metrics["AUC"], metrics["EPE"], metrics.get("num_samples", len(val_samples)))
        if better(metrics, run.best):
            run.best = {**run.last_val, "step": run.step}
            atomic_write(run.out / "best.safetensors",
                         lambda tmp: save_weights(model, tmp, weights_meta({"validation": run.best})))
            _write_json(run.out / "best.json", run.best)

    amp_ctx = dict(device_type=device.type, dtype=torch.bfloat16, enabled=bool(cfg.amp))
    num_stages = cfg.model.stages
    acc = torch.zeros(num_stages + 1, device=device)  # sum of (total, stage 1..S) losses since the last log
    acc_steps, window_start, window_samples, window_excluded = 0, time.perf_counter(), 0, 0.0
    t_start = time.monotonic()
    stopped, last_saved, rate = "completed", -1, 0.0
    stop_at = cfg.stop_at_step if cfg.stop_at_step is not None else steps_total
    LOG.info("training %s (%s) for %d steps from step %d: batch %d x %d process(es) on %s, amp=%s, "
             "channels_last=%s, compile=%s", cfg.model.preset, f"{cfg.dataset.input_size}px", steps_total, run.step,
             cfg.batch_size, info.world_size, device, cfg.amp, cfg.channels_last, cfg.compile)
    with StopRequest() as stop, progress_bar(steps_total, run.step, run.main) as bar:
        data_iter = iter(loader)  # forked workers start with the handlers above until they ignore both signals
        try:
            while run.step < min(steps_total, stop_at):
                batch = next(data_iter)
                images = batch["image"].to(device, non_blocking=True)  # (B, 3, S, S)
                if cfg.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                targets = batch["targets"].to(device, non_blocking=True)  # (B, 22, S/8, S/8)
                weights = batch["weights"].to(device, non_blocking=True)  # (B, 21)
                with torch.autocast(**amp_ctx):
                    stage_maps = step_model(images)  # stages x (B, 22, S/8, S/8)
                loss, per_stage = cpm_loss(stage_maps, targets, weights)
                timed_out = cfg.time_limit is not None and time.monotonic() - t_start > cfg.time_limit * 60
                flags = torch.tensor([not bool(torch.isfinite(loss)), stop.reason is not None, timed_out],
                                     dtype=torch.float32, device=device)
                bad, signalled, out_of_time = (bool(f) for f in any_true(flags).tolist())
                if bad:
                    values = [float(x.detach()) for x in per_stage]
                    raise NonFiniteLossError(
                        f"non-finite loss at step {run.step + 1} (epoch {run.samples_seen / len(train_set):.2f}): "
                        f"stage losses {values}; the run stopped without updating the weights and the last good "
                        f"checkpoint is {_last_ckpt(run)}. Lower --lr (now {cfg.lr:g}), check the data, or use "
                        "--no-amp / --grad-clip.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                run.step += 1
                run.samples_seen += cfg.batch_size * info.world_size
                acc += torch.stack([loss.detach()] + [s.detach() for s in per_stage])
                acc_steps += 1
                window_samples += cfg.batch_size * info.world_size
                if bar is not None:
                    bar.update(1)

                if run.step % cfg.log_every == 0 or run.step == steps_total:
                    rate = window_samples / max(time.perf_counter() - window_start - window_excluded, 1e-9)
                    if info.enabled:  # the mean over every rank's batches
                        torch.distributed.all_reduce(acc)
                        acc /= info.world_size
                    means = (acc / acc_steps).tolist()
                    epoch = run.samples_seen / len(train_set)
                    lr = scheduler.get_last_lr()[0]
                    if run.main:  # above the progress bar on a terminal (see train_logging.progress_bar)
                        LOG.info("%s", format_log_line(epoch, run.step, rate, lr, means[0], means[-1]))
                    writer.train_scalars(run.step, means[0], means[1:], lr, rate, epoch)
                    acc.zero_()
                    acc_steps, window_start, window_samples, window_excluded = 0, time.perf_counter(), 0, 0.0
                t_aside = time.perf_counter()  # validation and checkpoints do not count against examples/sec
                if cfg.val_every > 0 and (run.step % cfg.val_every == 0 or run.step == steps_total):
                    run_validation()
                if run.step % cfg.ckpt_every == 0:
                    save_ckpt()
                    last_saved = run.step
                window_excluded += time.perf_counter() - t_aside
                if signalled or out_of_time:
                    stopped = (stop.reason or "signal") if signalled else "time_limit"
                    break
            else:
                if run.step < steps_total:
                    stopped = "stop_at_step"
            if run.step != last_saved:
                save_ckpt()
        finally:
            writer.close()
            del data_iter

    summary = _finish(run, model, steps_total, stopped, rate, len(train_set), len(val_samples), save_weights,
                      weights_meta)
    return summary


def _last_ckpt(run: _Run) -> str:
    found = list_checkpoints(run.ckpt_dir)
    return str(found[-1]) if found else "(none written yet)"


def _finish(run: _Run, model: torch.nn.Module, steps_total: int, stopped: str, rate: float, train_size: int,
            val_size: int, save_weights: Any, weights_meta: Any) -> dict[str, Any]:
    digests = gather_objects(weights_digest(model)) if run.info.enabled else [weights_digest(model)]
    summary: dict[str, Any] = {
        "out": str(run.out),
        "stopped": stopped,
        "step": run.step,
        "total_steps": steps_total,
        "epoch": round(run.samples_seen / train_size, 4),
        "examples_per_sec": round(rate, 3),
        "train_samples": train_size,
        "val_samples": val_size,
        "world_size": run.info.world_size,
        "device": str(run.device),
        "best": run.best,
        "last_validation": run.last_val,
        "checkpoint": _last_ckpt(run),
        "rank_weight_sha256": digests,
        "data": run.cfg.data,
    }
    if len(set(digests)) > 1:
        LOG.error("the ranks' weights differ at the end of training: %s", digests)
    if run.main:
        final = run.out / "model.safetensors"
        atomic_write(final, lambda tmp: save_weights(model, tmp, weights_meta({"stopped": stopped})))
        summary["final_weights"] = str(final)
        summary["best_weights"] = str(run.out / "best.safetensors") if run.best else None
        _write_json(run.out / "summary.json", summary)
        if stopped not in ("completed",):
            LOG.warning("stopped (%s) at step %d of %d; continue with: handpose train --resume %s", stopped,
                        run.step, steps_total, run.out)
        else:
            LOG.info("finished %d steps; weights %s", run.step, final)
    return summary
