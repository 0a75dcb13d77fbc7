"""A training run whose data-loading worker is killed (the out-of-memory killer sends SIGKILL) stops with one line
saying where it stands: the step, its last checkpoint, the command that continues it and why a worker is most often
killed; PyTorch's own message said only that the worker was killed. The worker here kills itself with SIGKILL, as
the system would, once it has made enough items for the run to have written checkpoints."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from handpose.cli import main
from handpose.data.dataset import HandDataset
from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints
from handpose.training.worker_death import LateWorkerReports, dead_worker_error, worker_died


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("rendered")
    write_dataset(root, count=24, seed=5, size=96)
    return root


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this system")
def test_a_killed_worker_stops_the_run_saying_how_to_continue(
        rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    made = [0]
    load = HandDataset._load

    def load_then_die(self: HandDataset, i: int, rng: object) -> dict:
        if torch.utils.data.get_worker_info() is not None:  # in the worker (forked: it has this stand-in too)
            made[0] += 1
            if made[0] > 40:
                os.kill(os.getpid(), signal.SIGKILL)
        return load(self, i, rng)

    monkeypatch.setattr(HandDataset, "_load", load_then_die)
    run = tmp_path / "run"
    rc = main(["-q", "train", "--data", str(rendered), "--out", str(run), "--preset", "tiny", "--input-size", "64",
               "--batch-size", "4", "--val-every", "0", "--workers", "1", "--device", "cpu", "--threads", "1",
               "--no-amp", "--max-steps", "30", "--ckpt-every", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    newest = list_checkpoints(run / "checkpoints")[-1]
    step = load_checkpoint(newest)["step"]
    assert 2 <= step < 30
    # PyTorch says either, by which of its checks sees the dead worker first
    assert ("is killed by signal: Killed: the run stopped at step " in err
            or "exited unexpectedly: the run stopped at step " in err), err
    assert f"its last checkpoint is {newest}; continue with: handpose train --resume {run}." in err
    assert "out-of-memory killer: fewer --workers (now 1) or a smaller --batch-size (now 4)" in err


def test_other_errors_are_left_as_they_are() -> None:
    assert worker_died(RuntimeError("shape mismatch"), 3, "c.pt", "r", 1, 4) is None
    assert worker_died(KeyboardInterrupt(), 3, "c.pt", "r", 1, 4) is None
    gone = worker_died(RuntimeError("DataLoader worker (pid(s) 77) exited unexpectedly"), 3, None, "r", 2, 8)
    assert gone is not None and "stopped at step 3; it wrote no checkpoint yet: start it again." in str(gone)
    assert "out-of-memory killer: fewer --workers (now 2)" in str(gone)
    crashed = worker_died(RuntimeError("DataLoader worker (pid 78) is killed by signal: Segmentation fault."), 3,
                          "c.pt", "r", 2, 8)
    assert crashed is not None and "out-of-memory" not in str(crashed)  # a crash: no guess at why


def _killed_process() -> multiprocessing.process.BaseProcess:
    """A real process that SIGKILL ended, joined."""
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    proc.start()
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    return proc


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this system")
def test_a_lost_connection_from_a_dead_worker_is_read_as_its_death() -> None:
    """A worker killed while it hands a batch over can first show as a lost connection: the loader's ended worker
    turns it into the report worker_died reads; other errors, and a lost connection while every worker lives, stay."""
    from types import SimpleNamespace

    dead = _killed_process()
    batches = SimpleNamespace(_workers=[dead])  # what a DataLoader iterator holds: its worker processes
    report = dead_worker_error(ConnectionResetError(104, "Connection reset by peer"), batches)
    assert isinstance(report, RuntimeError)
    assert str(report) == f"DataLoader worker (pid {dead.pid}) is killed by signal: Killed."
    assert "out-of-memory killer" in str(worker_died(report, 3, "c.pt", "r", 1, 4))
    other = ValueError("bad shape")
    assert dead_worker_error(other, batches) is other
    lost = EOFError()
    assert dead_worker_error(lost, SimpleNamespace(_workers=[])) is lost
    assert dead_worker_error(lost, object()) is lost  # a loader without workers


def test_a_late_report_of_the_dead_worker_does_not_replace_the_first_error() -> None:
    with LateWorkerReports() as late:
        raise RuntimeError("DataLoader worker (pid 5) is killed by signal: Killed.")
    assert late.report is not None and "pid 5" in str(late.report)
    with pytest.raises(RuntimeError, match="shape"), LateWorkerReports():
        raise RuntimeError("shape mismatch")
    with LateWorkerReports() as quiet:
        pass
    assert quiet.report is None


def test_a_late_report_cutting_the_events_close_short_loses_no_event(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from handpose.training.reporting import TrainWriter
    from handpose.training.worker_death import close_through_late_reports

    events = TrainWriter(tmp_path)
    for step in range(1, 201):
        events.writer.add_scalar("train/loss", 1.0 / step, step)
    summary, calls = events.writer, []
    real_flush = summary.flush

    def flush_cut_short() -> None:  # as PyTorch's SIGCHLD handler does: its report raised in the middle of the close
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("DataLoader worker (pid 9) is killed by signal: Killed.")
        real_flush()

    summary.flush = flush_cut_short
    report = close_through_late_reports(events.close)
    assert report is not None and "pid 9" in str(report) and len(calls) == 2
    assert events.writer is None  # closed: a further close does nothing
    written = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0}).Reload().Scalars("train/loss")
    steps = [event.step for event in written]
    assert steps == list(range(1, 201))
    assert close_through_late_reports(events.close) is None


def test_a_late_report_in_the_events_files_own_close_is_not_a_write_error(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The report can come while TensorBoard's writer waits for its thread to end, after it marked itself closed:
    the close called again finishes it (every event kept) instead of raising 'Writer is closed' as a write error."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.summary.writer import event_file_writer

    from handpose.training.reporting import TrainWriter
    from handpose.training.worker_death import close_through_late_reports

    events = TrainWriter(tmp_path)
    for step in range(1, 201):
        events.writer.add_scalar("train/loss", 1.0 / step, step)
    stops = []

    def stop_cut_short(thread: event_file_writer._AsyncWriterThread) -> None:  # the report raised in its join
        stops.append(1)
        thread._queue.put(thread._shutdown_signal)
        raise RuntimeError("DataLoader worker (pid 9) is killed by signal: Killed.")

    monkeypatch.setattr(event_file_writer._AsyncWriterThread, "stop", stop_cut_short)
    report = close_through_late_reports(events.close)  # raise_errors: as the run's own end calls it
    assert report is not None and "pid 9" in str(report) and len(stops) == 1
    assert events.writer is None
    written = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0}).Reload().Scalars("train/loss")
    assert [event.step for event in written] == list(range(1, 201))
