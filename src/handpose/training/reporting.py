"""What a training run reports: the log line (hand_detector_train's format), a progress bar, TensorBoard events.

On a terminal the bar stays at the bottom and every log record (the log line, validation, checkpoints) is printed
above it; elsewhere (files, pipes) there is no bar and records go out as configured.

The log line keeps the format of hand_detector_train's logs, so figures compare with them::

    epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468

with a true epoch (samples seen / training set size), the learning rate the logged step trained at, and losses
averaged over the steps since the last line.
TensorBoard tags: ``train/loss``, ``train/loss_ll_heat``, ``train/loss_stage<s>``, ``train/lr``,
``train/examples_per_sec``, ``train/epoch``; ``val/<metric>`` and the images ``val/sample<i>``; the run's settings
for the HParams dashboard (:func:`hparams`) and as text, ``settings/config`` (config.json) and ``settings/metrics``
(what each scalar means, with its unit), at the step the run started or resumed at.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

TRAIN_NOTES = ("- `train/loss`, `train/loss_<part>`: the loss (and its parts) averaged over the steps since the "
               "previous point\n"
               "- `train/lr`: the learning rate the logged step trained at\n"
               "- `train/examples_per_sec`: training examples per second over those steps (all processes), "
               "validation and checkpoint time left out\n"
               "- `train/epoch`: samples seen / training set size")


def format_fields_line(epoch: float, step: int, examples_per_sec: float, lr: float,
                       fields: list[tuple[str, float]]) -> str:
    """The log line with any task's losses: ``epoch=.. step=.., .. examples/sec lr=.., name=value, ...``."""
    losses = ", ".join(f"{name}={value:g}" for name, value in fields)
    return f"epoch={epoch:.2f} step={step:d}, {examples_per_sec:0.4f} examples/sec lr={rate_text(lr)}, {losses}"


STOP_FLAGS = {"stop_at_step": "--stop-at-step", "time_limit": "--time-limit"}  # summary.json's stopped -> its flag


def stop_cause(stopped: str) -> str:
    """What stopped a run, for a message: the flag for summary.json's ``stop_at_step`` / ``time_limit``, a signal's
    name (``SIGINT``) as it is."""
    return STOP_FLAGS.get(stopped, stopped)


def rate_text(lr: float) -> str:
    """``lr`` as a plain decimal: six places as the old script printed (``0.000100``), more where six would keep fewer
    than three significant digits (``0.00000450``, not ``0.000004``; ``0.000000`` only for a rate of 0)."""
    places = 6 if lr <= 0 or not math.isfinite(lr) else max(6, 2 - math.floor(math.log10(lr)))
    return f"{lr:.{places}f}"


@contextlib.contextmanager
def progress_bar(total: int, initial: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar over optimizer steps when ``enabled`` and stderr is a terminal, else None.

    While the bar is shown, log records go out through ``tqdm.write`` (``logging_redirect_tqdm``), so they print
    above the bar instead of through it."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=_console_loggers()):
        bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)
        try:
            yield bar
        finally:
            bar.close()


def _console_loggers() -> list[logging.Logger]:
    """handpose's logger and those of its ancestors that print to stdout or stderr (``basicConfig`` puts the
    handler on the root logger); only these are redirected, so no record is printed twice."""
    found: list[logging.Logger] = []
    logger: logging.Logger | None = logging.getLogger("handpose")
    while logger is not None:
        if any(isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.stderr) for h in logger.handlers):
            found.append(logger)
        logger = logger.parent if logger.propagate else None
    return found


def hparams(config: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """A nested settings dict (``config.json``'s) flattened for TensorBoard's HParams dashboard: keys joined with
    ``.`` (``dataset.input_size``), lists and other values as text, None left out (HParams has no null)."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = str(value)
    return flat


class LossWindow:
    """Losses (total and per stage) and throughput over the steps since the last log line."""

    def __init__(self, stages: int, device: torch.device, clock: Callable[[], float] = time.perf_counter) -> None:
        self.acc = torch.zeros(stages + 1, device=device)  # sums of (total, stage 1..S) losses
        self.steps, self.samples, self.excluded = 0, 0, 0.0
        self.clock = clock
        self.start = clock()
        self.run_samples, self.run_seconds = 0, 0.0  # the windows taken so far, for the run's own rate

    def _seconds(self) -> float:
        """Training seconds of the open window: its time less what was excluded."""
        return max(self.clock() - self.start - self.excluded, 0.0)

    def run_rate(self) -> float:
        """Examples/sec over every step this process trained (the open window too), validation and checkpoint
        time left out: the run's figure, where :meth:`take`'s is the last window's (it may rest on one step)."""
        seconds = self.run_seconds + self._seconds()
        return (self.run_samples + self.samples) / seconds if seconds > 0 else 0.0

    def add(self, loss: torch.Tensor, per_stage: list[torch.Tensor], samples: int) -> None:
        """One step's losses (no device sync) and the samples it took on every rank."""
        self.acc += torch.stack([loss.detach()] + [s.detach() for s in per_stage])
        self.steps += 1
        self.samples += samples

    def exclude(self, seconds: float) -> None:
        """Time that does not count against examples/sec (validation, checkpoints)."""
        self.excluded += seconds

    def state(self, info: Any) -> dict[str, Any]:
        """The losses summed since the last log line, for a checkpoint: a run resumed from it logs the same means at
        its next line as the uninterrupted run. Under DDP every rank calls this: the sums become the ranks' mean on
        each (``take`` averages over ranks again, which keeps that mean)."""
        if info.enabled:
            torch.distributed.all_reduce(self.acc)
            self.acc /= info.world_size
        return {"sums": self.acc.tolist(), "steps": self.steps}

    def restore(self, state: Any) -> None:
        """Take up a checkpoint's :meth:`state`; one from before it was saved, or not of its form, is left out (the
        next line then averages the steps trained since the resume). Its samples are not counted: examples/sec is
        this process's."""
        if not isinstance(state, dict):
            return
        sums, steps = state.get("sums"), state.get("steps")
        if (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0 and isinstance(sums, list)
                and len(sums) == len(self.acc) and all(isinstance(v, float) and math.isfinite(v) for v in sums)):
            self.acc = torch.tensor(sums, dtype=self.acc.dtype, device=self.acc.device)
            self.steps = steps

    def take(self, info: Any) -> tuple[float, list[float]]:
        """(examples/sec, mean losses [total, stage 1..S]) of the window, averaged over every rank; then reset."""
        seconds = self._seconds()
        rate = self.samples / max(seconds, 1e-9)
        self.run_samples, self.run_seconds = self.run_samples + self.samples, self.run_seconds + seconds
        if info.enabled:
            torch.distributed.all_reduce(self.acc)
            self.acc /= info.world_size
        means = (self.acc / max(self.steps, 1)).tolist()
        self.acc.zero_()
        self.steps, self.samples, self.excluded = 0, 0, 0.0
        self.start = self.clock()
        return rate, means


EVENTS_PREFIX = "events.out.tfevents."


def _after_earlier_events(log_dir: Path) -> None:
    """Wait (a second at most, where a run of the folder started within this second) until the clock is past the
    start second that every events file of ``log_dir`` has in its name. TensorBoard reads a folder's events files in
    the order of their names, ``events.out.tfevents.<second>.<host>.<pid>.<n>``: a resumed run started in the same
    second and process as the earlier one (``train()`` called twice from Python) could sort before it (``.10``
    before ``.9``), so its curve read back to front and the earlier file's steps were not purged."""
    seconds = []
    for path in log_dir.glob(EVENTS_PREFIX + "*") if log_dir.is_dir() else ():
        stamp = path.name[len(EVENTS_PREFIX):].split(".", 1)[0]
        if stamp.isdigit():
            seconds.append(int(stamp))
    latest = max(seconds, default=None)
    if latest is not None and latest - time.time() < 2:  # a file stamped far ahead (another clock) is not waited on
        while int(time.time()) <= latest:
            time.sleep(max(0.01, latest + 1 - time.time()))


class TrainWriter:
    """TensorBoard events of one run (rank 0 only); every method is a no-op when ``enabled`` is False.

    A write of the events file that fails (a full disk, a file over ``ulimit -f``) raises an OSError naming the file
    (:class:`~handpose.files.DiskFullError` for a full disk), whether it failed in the call or in TensorBoard's
    writer thread, which hands its error on to the next call; that thread's own traceback is not printed."""

    def __init__(self, log_dir: str | Path, enabled: bool = True, purge_step: int | None = None) -> None:
        """``purge_step``: events at this step and later, written by an earlier writer of the folder, are dropped by
        TensorBoard (a run resumed from a checkpoint older than its last logged step)."""
        self.writer = None
        self.log_dir = Path(log_dir)
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            _hush_events_thread()
            _after_earlier_events(self.log_dir)
            with self._named():
                self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def events_file(self) -> Path:
        """The events file written (the run folder where TensorBoard does not say)."""
        name = getattr(getattr(getattr(self.writer, "file_writer", None), "event_writer", None), "_file_name", None)
        return Path(name) if name else self.log_dir

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """An OSError of the events file raised inside as one naming the file."""
        from handpose.files import disk_full, full_disk, named_error

        try:
            yield
        except OSError as exc:
            where = self.events_file()
            if disk_full(exc):
                raise full_disk(where, " writing TensorBoard events") from exc
            raise named_error(exc, where, note="; the TensorBoard events written before it are kept") from exc

    def train_scalars(self, step: int, scalars: dict[str, float]) -> None:
        """``train/<name>`` for each scalar (losses, lr, examples_per_sec, epoch)."""
        if self.writer is None:
            return
        with self._named():
            for name, value in scalars.items():
                self.writer.add_scalar(f"train/{name}", value, step)

    def settings(self, step: int, config: dict[str, Any], run_hparams: dict[str, bool | int | float | str],
                 metric_notes: str) -> None:
        """The run's settings: ``run_hparams`` for the HParams dashboard (one session, this run; its metrics are the
        run's scalars), ``config`` as json text (``settings/config``), and what each scalar means
        (``settings/metrics``: :data:`TRAIN_NOTES` and the task's ``metric_notes``)."""
        if self.writer is None:
            return
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb
        from tensorboard.plugins.text.summary_v2 import text_pb

        config_text = "    " + json.dumps(config, indent=1, sort_keys=True).replace("\n", "\n    ")  # markdown code
        with self._named():
            for summary in (hparams_pb(run_hparams), text_pb("settings/config", config_text),
                            text_pb("settings/metrics", f"{TRAIN_NOTES}\n{metric_notes}")):
                self.writer.file_writer.add_summary(summary, step)

    def validation(self, step: int, metrics: dict[str, Any], images: list[np.ndarray], keys: tuple[str, ...]) -> None:
        """``val/<key>`` for the metrics in ``keys`` that are present and finite, and RGB uint8 (H, W, 3) images."""
        if self.writer is None:
            return
        with self._named():
            for key in keys:
                value = metrics.get(key)
                if isinstance(value, (int, float)) and np.isfinite(value):
                    self.writer.add_scalar(f"val/{key}", float(value), step)
            for i, img in enumerate(images):
                self.writer.add_image(f"val/sample{i}", img, step, dataformats="HWC")

    def close(self, raise_errors: bool = True) -> None:
        """Write what is pending and close the file; a failed write raises (named) unless ``raise_errors`` is False,
        when another error already stops the run and is the one to report. Closing twice does nothing; a close cut
        short by any other exception (one a signal handler raised) can be called again and finishes the writing."""
        if self.writer is None:
            return
        try:
            with self._named():
                _finish_closes_cut_short(self.writer)  # a retry: an events file that had begun to close
                self.writer.flush()  # raises what the writer's thread met (close alone would drop it)
                self.writer.close()
        except OSError:
            self.writer = None
            if raise_errors:
                raise
        else:
            self.writer = None


def _finish_closes_cut_short(writer: Any) -> None:
    """Finish the closing of each events file of the SummaryWriter ``writer`` whose close was cut short after it
    marked itself closed (TensorBoard's ``_AsyncWriter``: a flush or a second close of it would raise 'Writer is
    closed'), and drop it from ``writer``: its thread writes what was queued and ends, then its file is flushed and
    closed. The others are left to ``writer.flush()`` and ``writer.close()``."""
    writers = getattr(writer, "all_writers", None) or {}
    for key, file_writer in list(writers.items()):
        events = getattr(getattr(file_writer, "event_writer", None), "_async_writer", None)
        if not getattr(events, "_closed", False):
            continue
        events._worker.join()
        if not events._writer.closed:
            events._writer.flush()
            events._writer.close()
        del writers[key]


def _hush_events_thread() -> None:
    """Keep TensorBoard's writer thread from printing the traceback of a failed write (a full disk): the writer
    hands that error on to the next call, where :class:`TrainWriter` names the file. Other threads' errors, and
    that thread's other errors, are printed as before."""
    import threading

    if getattr(threading.excepthook, "_handpose_events", False):
        return
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, OSError) and type(args.thread).__module__.startswith("tensorboard."):
            return
        previous(args)

    hook._handpose_events = True  # type: ignore[attr-defined]
    threading.excepthook = hook
