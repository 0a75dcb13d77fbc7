"""The training loop: ``train(cfg)`` runs a TrainConfig to the end (or a clean stop) and returns a summary dict.

:class:`Trainer` holds one run; :meth:`Trainer.fit` is the loop, and each of its parts is one method:
:meth:`~Trainer.step` (the next batch of the seeded stream, forward under bf16 autocast when ``cfg.amp``, the loss
at every stage, one check that the loss is finite and no stop was asked for, backward, optimizer and schedule
step), :meth:`~Trainer.log` (the log line and TensorBoard scalars every ``log_every`` steps),
:meth:`~Trainer.validate` (metrics on the held-out split every ``val_every`` steps, the best weights kept as
``best.safetensors``), :meth:`~Trainer.checkpoint` (atomic, every ``ckpt_every`` steps, the last
``keep_checkpoints`` kept) and :meth:`~Trainer.finish` (final weights and summary). SIGINT / SIGTERM / SIGHUP
(``training.signals``), ``stop_at_step`` and ``time_limit`` end the run cleanly with a checkpoint; ``resume``
continues one exactly (model, optimizer, schedule, step, random states, data order). A non-finite loss raises
:class:`NonFiniteLossError` before the bad step touches the weights, and no checkpoint is written after it.

Run directory (``cfg.out``)::

    config.json            the resolved TrainConfig
    events.out.tfevents.*  TensorBoard (scalars, pictures, settings: ``training.reporting``)
    checkpoints/ckpt-<step>.pt
    best.safetensors       best validation PCK@0.2 (+ best.json with its metrics)
    model.safetensors      the weights at the end of the run
    summary.json           what train() returns
    .handpose.lock         held by the one process writing the run (``training.run_folder``)

Under torchrun (WORLD_SIZE > 1) every rank trains its shard of each batch under DDP; rank 0 alone logs,
validates and writes files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from handpose.autotune.free_cores import AUTO, govern_with_children, sync_torch
from handpose.config import TrainConfig, from_dict, to_dict
from handpose.config_checks import cap_workers
from handpose.data.dataset_ids import dataset_ids
from handpose.files import atomic_write, write_json
from handpose.folder_lock import RunLock
from handpose.model import artifact
from handpose.run_environment import environment_changes, ignored_on_resume, run_environment
from handpose.training import busy_machine
from handpose.training.checkpoints import (
    BEST_RECORD,
    BEST_WEIGHTS,
    CHECKPOINT_DIR,
    best_after,
    find_checkpoint,
    list_checkpoints,
    rng_state,
    save_checkpoint,
    seed_all,
    set_aside_later,
    set_rng_state,
)
from handpose.training.cudnn_autotuner import cudnn_autotuner
from handpose.training.data import stop_workers, train_loader
from handpose.training.distributed import any_true, env_info, gather_objects, init_distributed, resolve_device, shutdown
from handpose.training.process_state import kept_process_state
from handpose.training.reporting import (
    LossWindow,
    TrainWriter,
    format_fields_line,
    hparams,
    progress_bar,
    stop_cause,
)
from handpose.training.run_folder import RunFolderMovedError, open_run_folder, remove_if_untouched
from handpose.training.schedule import Stretch, apply_settings, build_scheduler, resumed_stretches
from handpose.training.setup import (
    augment_changes,
    build_optimizer,
    check_config,
    crop_changes,
    resume_changes,
    resumed_total_steps,
    side_warning,
    total_steps,
    warmup_warning,
)
from handpose.training.signals import StopRequest
from handpose.training.tasks import finite, task_for
from handpose.training.worker_death import close_through_late_reports, dead_worker_error, worker_died

LOG = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss (or the weights) became NaN or infinite; the run stopped before saving anything after it."""


def train(cfg: TrainConfig, speed: Callable[[TrainConfig], TrainConfig] | None = None) -> dict[str, Any]:
    """Train a CPM as ``cfg`` says; returns the run's summary (also written to ``<out>/summary.json``).

    ``speed``: settings -> the same settings with ``amp`` / ``channels_last`` chosen (``handpose train``'s speed
    trial, ``commands.train.with_speed``), called once the data is read and split, so that a dataset that leaves
    nothing to train on fails in seconds, not after the trial.

    Raises ValueError / FileNotFoundError for bad settings or data, NonFiniteLossError (a RuntimeError) when the
    loss stops being finite. The global random states and the PyTorch and OpenCV thread counts the run sets for
    itself are given back as it returns or raises (``training.process_state``), and so is cuDNN's autotuner flag,
    which a run on a GPU turns on (``training.cudnn_autotuner``).
    """
    with kept_process_state():
        return _train(cfg, speed)


def _train(cfg: TrainConfig, speed: Callable[[TrainConfig], TrainConfig] | None) -> dict[str, Any]:
    """:func:`train` in the process settings it sets for itself."""
    check_config(cfg)
    info = env_info()
    device = resolve_device(cfg.device, info)
    info = init_distributed(device, info)
    quiet = logging.getLogger("handpose") if not info.is_main else None  # ranks > 0 report warnings only
    previous_level = quiet.level if quiet is not None else 0
    if quiet is not None:
        quiet.setLevel(logging.WARNING)
    elif side_warning(cfg):
        LOG.warning("%s", side_warning(cfg))
    finished, lock = False, None
    fresh = not Path(cfg.out).exists()  # made by this run: removed again when it fails before writing anything
    try:
        with cudnn_autotuner(device):  # on a GPU: the input size is fixed, so cuDNN's timed choice pays
            lock = _open_run(cfg, info, device)
            summary = Trainer(cfg, info, device, lock, speed).fit()
        finished = True
        return summary
    finally:
        if lock is not None:
            ours = lock.at_path()  # not a folder another run made at the path after this one's was moved
            lock.release()
            if not finished and fresh and ours:
                remove_if_untouched(cfg.out)
        if quiet is not None:
            quiet.setLevel(previous_level)
        shutdown(wait_for_peers=finished)


def _open_run(cfg: TrainConfig, info: Any, device: torch.device) -> RunLock | None:
    """Rank 0 locks and readies the run folder (``run_folder.open_run_folder``); every rank learns whether it could,
    so that no rank waits in a collective for a rank 0 that refused."""
    lock, error = None, None
    if info.is_main:
        try:
            lock = open_run_folder(cfg.out, cfg.resume, cfg.overwrite)
        except (OSError, ValueError, RuntimeError) as exc:
            error = exc
    failed = bool(any_true(torch.tensor([float(error is not None)], device=device))[0])
    if error is not None:
        raise error
    if failed:
        raise RuntimeError(f"rank 0 could not open the run folder {cfg.out} (its error says why)")
    return lock


class Trainer:
    """One training process: its data, model, optimizer and schedule, and the run's position (step, samples)."""

    def __init__(self, cfg: TrainConfig, info: Any, device: torch.device, lock: RunLock | None = None,
                 speed: Callable[[TrainConfig], TrainConfig] | None = None) -> None:
        """``lock``: rank 0's lock of the run folder, checked to be the folder at ``cfg.out`` before each write.
        ``speed``: chooses ``amp`` / ``channels_last`` (the speed trial) once the data is read and split
        (:func:`train`)."""
        self.lock = lock
        self.folder_id = None if lock is None else os.stat(lock.folder)  # the run folder itself, to tell a move
        if isinstance(cfg.threads, int):
            torch.set_num_threads(cfg.threads)
        self.auto_threads = cfg.threads == AUTO and device.type == "cpu"  # follow the free cores (step())
        if self.auto_threads:
            govern_with_children()  # its data workers are its own work
        self.info, self.device, self.main = info, device, info.is_main
        cfg = dataclasses.replace(cfg, workers=cap_workers(cfg.workers))
        self.task = task_for(cfg)
        self.train_set, self.val_samples, cfg = self.task.prepare_data(cfg, info)
        if speed is not None:  # the speed trial runs on data known to train: a dataset's error came first
            cfg = speed(cfg)
        self.cfg = cfg
        # the datasets it trains on, recorded in its weights for eval's check (none for a renders-only default run)
        self.train_sets = dataset_ids(cfg.data) if info.is_main and cfg.data else []
        self.out = Path(cfg.out)
        self.ckpt_dir = self.out / CHECKPOINT_DIR
        self.steps_total = total_steps(cfg, len(self.train_set), info.world_size)
        self.stop_at = min(self.steps_total, cfg.stop_at_step if cfg.stop_at_step is not None else self.steps_total)
        warmup = warmup_warning(cfg, self.steps_total)
        if warmup is not None and not cfg.resume and info.is_main:
            LOG.warning("%s", warmup)
        self.global_step, self.samples_seen, self.last_saved = 0, 0, -1
        self.rate = 0.0  # examples/sec of the last log window
        self.step_lr = cfg.lr  # the learning rate the last step took (logged with it)
        self.best: dict[str, Any] | None = None
        self.last_val: dict[str, Any] | None = None
        self.stretches: list[Stretch] = []  # resumes that spread the schedule over another number of steps
        self.resumed_from: Path | None = None  # the checkpoint a resumed run started from

        seed_all(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        self.model = self.task.build_model(cfg)
        resume_state = self._load_resume_state() if cfg.resume else None
        if resume_state is not None:  # another batch size keeps an epoch-sized run's epochs
            self.steps_total = resumed_total_steps(cfg, resume_state, len(self.train_set), info.world_size)
            self.stop_at = min(self.steps_total, cfg.stop_at_step if cfg.stop_at_step is not None else
                               self.steps_total)
            self.stretches = resumed_stretches(cfg, resume_state, self.steps_total)
        if resume_state is None and cfg.init:
            self.task.initial_weights(self.model, cfg.init)
        self.model.to(device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_total, self.stretches)
        if resume_state is not None:
            self._restore(resume_state)
            if self.global_step >= self.steps_total:
                raise ValueError(f"--resume {cfg.resume}: the run is finished (step {self.global_step} of "
                                 f"{self.steps_total}); to train it further give a longer --max-steps or --epochs "
                                 "with --resume")
            if cfg.stop_at_step is not None and cfg.stop_at_step <= self.global_step:
                raise ValueError(f"--stop-at-step {cfg.stop_at_step} is not after step {self.global_step}, where the "
                                 f"run resumes: it would stop before training a step (give a later step, up to "
                                 f"{self.steps_total}, or leave it out)")
            if self.main:
                later_best = best_after(self.out, self.global_step)
                set_aside_later(self.ckpt_dir, self.global_step, later_best)
                if later_best:  # the checkpoint's best record names weights those files replaced
                    self.best = None
        self.step_model: torch.nn.Module = self.model
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.step_model = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.compile:
            self.step_model = torch.compile(self.step_model)
        # a resumed run's events from its checkpoint's step on were written after that checkpoint (a killed run):
        # TensorBoard drops them, so each step keeps one value
        self.writer = TrainWriter(self.out, enabled=self.main,
                                  purge_step=self.global_step + 1 if resume_state is not None else None)
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            _write_json(self.out / "config.json", to_dict(cfg))
            self.writer.settings(self.global_step, to_dict(cfg), self._hparams(), self.task.metric_notes)
        self.loader = train_loader(self.train_set, cfg, info, self.samples_seen, device)
        self.window = LossWindow(len(self.task.loss_names), device)
        if resume_state is not None:  # the losses since the last log line before the stop
            self.window.restore(resume_state.get("loss_window"))
        self.t_start = time.monotonic()

    # ------------------------------------------------------------------------------------------- the loop

    def fit(self) -> dict[str, Any]:
        """Train to the end of the schedule (or a clean stop) and return the summary."""
        cfg, stopped = self.cfg, "completed"
        net = self.model.config  # a CPM's ModelConfig or a detector's DetectorConfig
        LOG.info("training %s (%dpx) from step %d to step %d: batch %d x %d process(es) on %s, amp=%s, "
                 "channels_last=%s, compile=%s", net.preset, net.input_size, self.global_step,
                 self.steps_total, cfg.batch_size, self.info.world_size, self.device, cfg.amp, cfg.channels_last,
                 cfg.compile)
        self.others, self.fit_from = busy_machine.start(self.info.world_size), self.global_step
        with StopRequest(say=self.main) as stop, progress_bar(self.steps_total, self.global_step, self.main) as bar:
            batches = iter(self.loader)  # forked workers start with the handlers above until they ignore both
            try:
                while self.global_step < self.stop_at:
                    reason = self.step(next(batches), stop.reason)
                    if bar is not None:
                        bar.update(1)
                    last = self.global_step == self.steps_total
                    if self.global_step % cfg.log_every == 0 or last:
                        self.log()
                    aside = time.perf_counter()  # validation and checkpoints do not count against examples/sec
                    if cfg.val_every > 0 and (self.global_step % cfg.val_every == 0 or last):
                        self.validate()
                    if self.global_step % cfg.ckpt_every == 0:
                        self.checkpoint()
                    self.window.exclude(time.perf_counter() - aside)
                    if reason is not None:
                        stopped = reason
                        break
                else:
                    if self.global_step < self.steps_total:
                        stopped = "stop_at_step"
                if self.global_step != self.last_saved:
                    aside = time.perf_counter()
                    self.checkpoint()
                    self.window.exclude(time.perf_counter() - aside)  # nor this one (the run's examples/sec)
            except BaseException as exc:
                error = dead_worker_error(exc, batches)  # a worker killed mid-batch can first show as a lost connection
                # PyTorch's report of it can come now, in the clean-up; the error that stopped the run is the one
                # to report, and the events file is still closed whole
                late = close_through_late_reports(lambda: self.writer.close(raise_errors=False))
                if late is not None and isinstance(error, (ConnectionError, EOFError)):
                    error = late
                newest = self._newest_ckpt()
                died = worker_died(error, self.global_step, None if newest is None else str(newest),
                                   resume_command(self.out, self.info.world_size), cfg.workers, cfg.batch_size)
                if died is not None:
                    raise died from exc
                raise
            finally:
                try:
                    close_through_late_reports(self.writer.close)  # nor here: the run's own end or first error is
                finally:  # reported; and the workers go even where the close fails (a full disk)
                    del batches
                    stop_workers(self.loader)  # now: an error's traceback keeps the loader alive until the exit
        return self.finish(stopped)

    def step(self, batch: dict[str, torch.Tensor], stop_reason: str | None) -> str | None:
        """One optimizer step on ``batch``; returns why the run must stop after it (signal, time limit) or None."""
        cfg, device = self.cfg, self.device
        if self.auto_threads:
            sync_torch(AUTO)  # the cores other processes (and this run's data workers) left free, read each second
        images = batch["image"].to(device, non_blocking=True)  # (B, 3, S, S)
        if cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bool(cfg.amp)):
            stage_maps = self.step_model(images)  # stages x (B, 22, S/8, S/8)
        loss, per_stage = self.task.loss(stage_maps, batch)
        timed_out = cfg.time_limit is not None and time.monotonic() - self.t_start > cfg.time_limit * 60
        flags = torch.tensor([not bool(torch.isfinite(loss)), stop_reason is not None, timed_out],
                             dtype=torch.float32, device=device)
        bad, signalled, out_of_time = (bool(f) for f in any_true(flags).tolist())  # one decision on every rank
        if bad:
            newest = self._newest_ckpt()
            kept = "no checkpoint was written yet" if newest is None else f"the last good checkpoint is {newest}"
            # only the remedies the run is not already using
            remedies = [f"Lower --lr (now {cfg.lr:g})", "check the data", *(["use --no-amp"] if cfg.amp else []),
                        *(["give --grad-clip (e.g. 1.0)"] if cfg.grad_clip <= 0 else [])]
            raise NonFiniteLossError(
                f"non-finite loss at step {self.global_step + 1} (epoch {self.epoch:.2f}): stage losses "
                f"{[float(x.detach()) for x in per_stage]}; the run stopped without updating the weights and {kept}. "
                f"{', '.join(remedies[:-1])} or {remedies[-1]}.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step_lr = self.scheduler.get_last_lr()[0]  # this step's rate (after scheduler.step(): the next one's)
        self.scheduler.step()
        self.global_step += 1
        self.samples_seen += cfg.batch_size * self.info.world_size
        self.window.add(loss, per_stage, cfg.batch_size * self.info.world_size)
        if signalled:
            return stop_reason or "signal"
        return "time_limit" if out_of_time else None

    def log(self) -> None:
        """The log line (rank 0) and TensorBoard scalars: losses averaged over the steps (and ranks) since the last,
        and the learning rate the step logged took (not the next step's: the warmup's first rate is shown, and a
        cosine run's last line does not read lr=0, a rate no step trained at)."""
        self.rate, means = self.window.take(self.info)
        rate = self.rate
        lr = self.step_lr
        if self.main:  # above the progress bar on a terminal (see reporting.progress_bar)
            LOG.info("%s", format_fields_line(self.epoch, self.global_step, rate, lr, self.task.log_fields(means)))
        if self.main:
            self._check_folder()  # TensorBoard's thread writes the events file by its path
        scalars = {name: value for name, value in self.task.log_fields(means)}
        for name, value in zip(self.task.loss_names, means[1:]):  # each part once, as loss_<part>
            scalars.pop(name, None)
            scalars[f"loss_{name}"] = value
        self.writer.train_scalars(self.global_step, {**scalars, "lr": lr, "examples_per_sec": rate,
                                                     "epoch": self.epoch})

    def validate(self) -> None:
        """Metrics and pictures on the held-out split (rank 0); keeps the best weights."""
        if not self.main or not self.val_samples:
            return
        self._check_folder()
        cfg = self.cfg
        metrics = self.task.validate(self.model, self.val_samples, cfg, self.device)
        pictures = self.task.pictures(self.model, self.val_samples, cfg, cfg.val_images)
        numbers = tuple(k for k, v in metrics.items() if finite(v))
        self.writer.validation(self.global_step, metrics, pictures, self.task.scalar_keys or numbers)
        self.last_val = {**{k: metrics.get(k) for k in (self.task.summary_keys or numbers)}, "step": self.global_step}
        LOG.info("validation step=%d: %s", self.global_step, self.task.describe(metrics))
        if self.task.better(metrics, self.best):
            self.best = dict(self.last_val)
            # the record first: a run stopped between the two writes (killed, a full disk) leaves a record of this
            # step beside the earlier weights, and a resume (from an earlier checkpoint, as it must be) sets both
            # aside; the other order left this step's weights under an earlier step's record, kept as the best
            _write_json(self.out / BEST_RECORD, self.best)
            self._save_weights(self.out / BEST_WEIGHTS, {"validation": self.best})

    def checkpoint(self) -> Path | None:
        """Write a checkpoint (rank 0); every rank first agrees that the weights are finite."""
        # every rank calls this at the same step and takes the same decision, as with the loss: a rank that raised
        # alone would leave the others waiting in the next step's all-reduce
        finite = bool(torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all())
        if bool(any_true(torch.tensor([0.0 if finite else 1.0], device=self.device))[0]):
            raise NonFiniteLossError(f"weights became non-finite at step {self.global_step}; no checkpoint written "
                                     f"(the last good one is {self._last_ckpt()})")
        self.last_saved = self.global_step
        window = self.window.state(self.info)  # a collective: every rank
        if not self.main:
            return None
        self._check_folder()
        path = save_checkpoint(self._checkpoint_state(window), self.ckpt_dir, self.global_step,
                               self.cfg.keep_checkpoints)
        LOG.info("checkpoint %s", path)
        return path

    def finish(self, stopped: str) -> dict[str, Any]:
        """Final weights and summary.json (rank 0); every rank returns the summary."""
        digest = weights_digest(self.model)
        digests = gather_objects(digest) if self.info.enabled else [digest]
        summary: dict[str, Any] = {
            "out": str(self.out), "stopped": stopped, "step": self.global_step, "total_steps": self.steps_total,
            "epoch": round(self.epoch, 4), "examples_per_sec": round(self.rate, 3),
            "examples_per_sec_run": round(self.window.run_rate(), 3),
            "train_samples": len(self.train_set), "val_samples": len(self.val_samples),
            "world_size": self.info.world_size, "device": str(self.device), "best": self.best,
            "last_validation": self.last_val, "checkpoint": self._last_ckpt(), "rank_weight_sha256": digests,
            "data": self.cfg.data, "seed": self.cfg.seed,
            "others_cpu_share": busy_machine.report(self.others(), self.global_step - self.fit_from,
                                                    self.window.run_rate(),
                                                    self.auto_threads, self.device.type == "cpu")
            if self.main else None,
            "speed": {"amp": self.cfg.amp, "channels_last": self.cfg.channels_last, "compile": self.cfg.compile},
            "environment": run_environment(self.device),
        }
        if len(set(digests)) > 1:
            LOG.error("the ranks' weights differ at the end of training: %s", digests)
        if not self.main:
            return summary
        final = self.out / "model.safetensors"
        self._check_folder()
        self._save_weights(final, {"stopped": stopped})
        summary["final_weights"] = str(final)
        summary["best_weights"] = str(self.out / BEST_WEIGHTS) if self.best else None
        _write_json(self.out / "summary.json", summary)
        if stopped != "completed":
            LOG.warning("stopped (%s) at step %d of %d; continue with: %s", stop_cause(stopped), self.global_step,
                        self.steps_total, resume_command(self.out, self.info.world_size))
        else:
            LOG.info("finished %d steps; weights %s", self.global_step, final)
        return summary

    # ------------------------------------------------------------------------------------------- helpers

    def _check_folder(self) -> None:
        """Before a write into the run folder (rank 0): :class:`RunFolderMovedError` when the folder at its path is no
        longer this run's (moved or removed during the run, and perhaps made again by another run), so that nothing
        of this run lands in a folder that is not its own, nor in one made anew without its settings. Where the
        folder is still there and only its lock file was deleted (a clean-up of hidden files), the lock is made and
        taken again (``RunFolderBusyError`` when another process took it meanwhile) and the run goes on."""
        if self.lock is None or self.lock.at_path():
            return
        try:
            same = self.folder_id is not None and os.path.samestat(os.stat(self.lock.folder), self.folder_id)
        except OSError:
            same = False
        if same:
            self.lock.follow()
            LOG.warning("%s: its lock file %s was deleted while the run wrote the folder; made and taken again",
                        self.out, self.lock.path.name)
            return
        raise RunFolderMovedError(f"{self.out} was moved or removed while this run wrote it: the run stopped at step "
                                  f"{self.global_step}. Its files so far, its checkpoints too, are in the folder "
                                  "where it is now; continue with: handpose train --resume FOLDER (that folder)")

    @property
    def epoch(self) -> float:
        """Samples seen over the training set's size."""
        return self.samples_seen / len(self.train_set)

    def _load_resume_state(self) -> dict[str, Any]:
        ckpt_path = find_checkpoint(self.cfg.resume)
        state = artifact.load_checkpoint(ckpt_path)
        check_resumable_state(state, ckpt_path)
        stored = _filled_config(state[artifact.CONFIG_KEY], type(self.model.config), ckpt_path)
        if stored != to_dict(self.model.config):
            raise ValueError(f"--resume {ckpt_path}: the checkpoint's model config differs from this run's "
                             f"({stored} vs {to_dict(self.model.config)})")
        artifact.load_state_strict(self.model, state["model"], source=str(ckpt_path))
        LOG.info("resuming from %s (step %d)", ckpt_path, state["step"])
        self.resumed_from = ckpt_path
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        cfg, world = self.cfg, self.info.world_size
        try:  # a damaged or crafted checkpoint: one line naming it, not torch's traceback
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError, ArithmeticError) as exc:
            raise ValueError(f"--resume {self.resumed_from}: not a usable checkpoint (its optimizer, schedule or "
                             f"random state: {type(exc).__name__}: {exc})") from None
        apply_settings(self.optimizer, self.scheduler, cfg)  # the states hold the saved run's rate and decay
        changed = settings_changed(state.get("train_config", {}), cfg)
        if changed and self.main:  # one line for the run, not one per process
            LOG.warning("resuming with %s: the schedule goes on from step %d with it", changed, int(state["step"]))
        augment = augment_changes(state.get("train_config", {}), cfg)
        if augment and self.main:
            LOG.warning("resuming with %s: the augmentation changes from step %d on", augment, int(state["step"]))
        trained_on = state.get(artifact.TRAIN_SETS_KEY)
        if self.main and isinstance(trained_on, list) and self.train_sets and sorted(trained_on) != self.train_sets:
            LOG.warning("resuming on --data %s, not the data the run trained on so far (or that data moved): its "
                        "samples, their held-out split and their order come from it from step %d on, so the run "
                        "does not continue as it was", cfg.data, int(state["step"]))
        crops = crop_changes(state.get("train_config", {}), cfg) if cfg.task == "keypoints" else None
        if crops and self.main:
            LOG.warning("resuming with %s: the crops and belief-map targets change from step %d on, and the weights "
                        "files record the new settings (predict crops as they say), though the steps before trained "
                        "with the old", crops, int(state["step"]))
        self.global_step = int(state["step"])
        self.samples_seen = int(state.get("samples_seen", self.global_step * cfg.batch_size * world))
        self.best = state.get("best")
        last_val = state.get("last_validation")  # the run's latest figures, also when it resumes before validating
        self.last_val = last_val if isinstance(last_val, dict) else None
        change = resume_changes(state, cfg, world, self.steps_total, len(self.train_set), self.samples_seen)
        if change and self.main:
            LOG.warning("%s", change)
        saved = state.get("environment")
        saved = saved if isinstance(saved, dict) else {}  # none before 2026-12-06
        moved = environment_changes(saved, run_environment(self.device),
                                    ignore=ignored_on_resume(self.device.type, self.auto_threads))
        if moved and self.main:
            threads = saved.get("torch_threads")
            hint = (f" (give --threads {threads} to keep the thread count)"
                    if isinstance(threads, int) and threads != torch.get_num_threads() else "")
            LOG.warning("resuming with %s: the run goes on, but its weights will not be bit-identical to an "
                        "uninterrupted run's%s", moved, hint)

    def _checkpoint_state(self, window: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            artifact.CONFIG_KEY: to_dict(self.model.config),
            artifact.DATA_CONFIG_KEY: to_dict(self.cfg.dataset),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.global_step,
            "epoch": self.epoch,
            "samples_seen": self.samples_seen,
            "total_steps": self.steps_total,
            "world_size": self.info.world_size,
            "best": self.best,
            "last_validation": self.last_val,
            "schedule_stretches": [dataclasses.asdict(st) for st in self.stretches],
            "rng": rng_state(),
            "loss_window": window,
            "train_config": to_dict(self.cfg),
            "environment": run_environment(self.device),
            artifact.TRAIN_SETS_KEY: self.train_sets,
        }

    def _hparams(self) -> dict[str, bool | int | float | str]:
        """The run's settings for TensorBoard's HParams dashboard: config.json's, flattened, less the run folder's
        bookkeeping and the other task's network, with the run's length and data sizes as resolved."""
        settings = to_dict(self.cfg)
        for key in ("out", "resume", "overwrite", "stop_at_step", "detector" if self.cfg.task == "keypoints"
                    else "model"):
            settings.pop(key, None)
        return {**hparams(settings), "total_steps": self.steps_total, "train_samples": len(self.train_set),
                "val_samples": len(self.val_samples)}

    def _save_weights(self, path: Path, extra: dict[str, Any]) -> None:
        meta = {"step": str(self.global_step), **{k: json.dumps(v) for k, v in extra.items()}}
        if self.cfg.task == "detect":  # which images it held out (detection.held_out_check)
            meta[artifact.SPLIT_RULE_KEY] = str(self.cfg.split_rule)
        if self.train_sets:
            meta[artifact.TRAIN_SETS_KEY] = json.dumps(self.train_sets)
        atomic_write(path, lambda tmp: artifact.save_weights(self.model, tmp, meta, self.cfg.dataset))

    def _newest_ckpt(self) -> Path | None:
        found = list_checkpoints(self.ckpt_dir)
        return found[-1] if found else None

    def _last_ckpt(self) -> str:
        newest = self._newest_ckpt()
        return "(none written yet)" if newest is None else str(newest)


def check_resumable_state(state: dict[str, Any], path: Path) -> None:
    """ValueError naming ``path`` when a checkpoint's parts are not of their kinds (a damaged or crafted file): the
    weights a state dict of finite tensors, ``step`` (and ``samples_seen``) whole numbers from 0, the optimizer,
    schedule and random states dicts."""
    artifact.check_finite(state["model"], path)
    for key in ("step", "samples_seen"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"--resume {path}: not a usable checkpoint ({key!r} is {value!r:.40})")
    for key in ("optimizer", "scheduler", "rng"):
        if not isinstance(state.get(key), dict):
            raise ValueError(f"--resume {path}: not a usable checkpoint ({key!r} is a {type(state.get(key)).__name__})")


def _filled_config(stored: Any, cls: type, path: Path) -> Any:
    """A checkpoint's stored model (or detector) config as a dict with the fields an earlier version had not yet
    (``output_stride``, added 2026-11-27) at their defaults, which is how that version built the model; ``stored``
    unchanged where it does not read as ``cls`` (the comparison then names it)."""
    try:
        return to_dict(from_dict(cls, dict(stored)))
    except (TypeError, ValueError):
        return stored


def resume_command(out: str | Path, world_size: int) -> str:
    """The command that continues run ``out`` with as many processes as it had (per node, and nodes, under a
    multi-node torchrun: ``LOCAL_WORLD_SIZE``)."""
    if world_size <= 1:
        return f"handpose train --resume {out}"
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size) or world_size)
    nodes = f" --nnodes {world_size // local}" if 0 < local < world_size else ""
    per_node = local if 0 < local < world_size else world_size
    return f"torchrun{nodes} --nproc_per_node {per_node} -m handpose train --resume {out}"


def settings_changed(saved: dict[str, Any], cfg: TrainConfig) -> str | None:
    """The optimizer and learning-rate schedule settings a resumed run changes (given with ``--resume``), in words,
    or None. The schedule's own settings count only where the schedule uses them (``--min-lr-ratio`` the cosine,
    ``--lr-step-size`` / ``--lr-gamma`` the step schedule)."""
    keys = [("lr", "--lr"), ("weight_decay", "--weight-decay")] + ([("momentum", "--momentum")]
                                                                   if cfg.optimizer == "sgd" else [])
    keys += [("schedule", "--schedule"), ("warmup_steps", "--warmup-steps")]
    keys += {"cosine": [("min_lr_ratio", "--min-lr-ratio")],
             "step": [("lr_step_size", "--lr-step-size"), ("lr_gamma", "--lr-gamma")]}.get(cfg.schedule, [])

    def shown(value: Any) -> str:
        return "its default" if value is None else value if isinstance(value, str) else f"{float(value):g}"

    words = [f"{flag} {shown(getattr(cfg, key))} instead of {shown(saved[key])}" for key, flag in keys
             if key in saved and shown(saved[key]) != shown(getattr(cfg, key))]
    return ", ".join(words) or None


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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_json(path, data, sort_keys=True)
