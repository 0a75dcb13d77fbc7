"""Data safety of training runs: no fresh run over a finished one, one writer per run folder, resume past a
truncated checkpoint, stale temporaries removed, a full disk reported in one line with the last checkpoint kept."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest
import torch

from handpose.cli import main
from handpose.folder_lock import LOCK_NAME, RunFolderBusyError, RunLock
from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints
from handpose.training.run_folder import check_run_folder

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--threads", "1", "--no-amp", "--log-every", "1"]


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("rendered")
    write_dataset(root, count=24, seed=5, size=96)
    return root


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["-q", "train", "--data", str(data), "--out", str(out), *TINY, *extra])


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def _error_line(err: str, command: str = "train") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(f"handpose {command}: error: "), err
    return lines[0]


def _steps(run: Path) -> list[int]:
    return [int(p.stem.split("-")[1]) for p in list_checkpoints(run / "checkpoints")]


def test_a_fresh_run_into_a_finished_run_is_refused_and_overwrite_clears_only_run_files(
        synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _train(synth_data, run, "--max-steps", "4", "--ckpt-every", "1") == 0
    assert _steps(run) == [2, 3, 4]
    (run / "notes.txt").write_text("mine")
    before = _digests(run)
    capsys.readouterr()

    assert _train(synth_data, run, "--max-steps", "2", "--ckpt-every", "1") == 2
    line = _error_line(capsys.readouterr().err)
    assert f"--resume {run}" in line and "--overwrite" in line and "already holds a training run" in line
    assert _digests(run) == before  # nothing of the finished run was touched

    assert _train(synth_data, run, "--max-steps", "2", "--ckpt-every", "1", "--overwrite") == 0
    assert _steps(run) == [1, 2]  # the new run's own checkpoints, not rotated away by the old ones
    assert (run / "notes.txt").read_text() == "mine"
    assert load_checkpoint(list_checkpoints(run / "checkpoints")[-1])["total_steps"] == 2
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_the_lock_names_its_holder_and_is_free_again_after_release(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
        with pytest.raises(RunFolderBusyError, match=rf"{tmp_path} is in use: .* \(PID {os.getpid()}\)"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # released at the end of the block


_FORKING_WRITER = """
import os, sys, time
from handpose.training.data import init_worker
from handpose.folder_lock import RunLock
RunLock(sys.argv[1]).acquire()
child = os.fork()
if child == 0:  # a DataLoader worker: it outlives a killed parent by the seconds it takes to notice
    if sys.argv[2] == "drop":
        init_worker(0)  # the DataLoader workers' start
    print(os.getpid(), flush=True)  # said by the worker once it has started: the test reads its state after this
    time.sleep(30)
    os._exit(0)
time.sleep(60)
"""


@pytest.mark.parametrize("worker", ["drop", "keep"])
def test_a_killed_writers_workers_do_not_hold_its_lock(worker: str, tmp_path: Path) -> None:
    # a resume right after `kill -9` of the trainer was refused for 1-3 s, the lock held by its orphaned workers
    writer = subprocess.Popen([sys.executable, "-c", _FORKING_WRITER, str(tmp_path), worker], stdout=subprocess.PIPE,
                              text=True)
    child = int(writer.stdout.readline())
    try:
        with pytest.raises(RunFolderBusyError):
            RunLock(tmp_path).check_free()  # the writer holds it
        writer.kill()
        writer.wait(10)
        if worker == "drop":
            RunLock(tmp_path).check_free()  # free at once: the worker closed its copy
        else:
            with pytest.raises(RunFolderBusyError):  # the copy a worker inherits holds the lock, as it did
                RunLock(tmp_path).check_free()
    finally:
        writer.kill()
        os.kill(child, signal.SIGKILL)


def test_training_workers_start_by_dropping_the_inherited_lock() -> None:
    from handpose.config import TrainConfig
    from handpose.training.data import init_worker, train_loader
    from handpose.training.distributed import DistInfo

    loader = train_loader(list(range(8)), TrainConfig(workers=1, batch_size=2), DistInfo(), 0, torch.device("cpu"))
    assert loader.worker_init_fn.func is init_worker  # which the test above runs in its forked worker


def test_the_resume_probe_names_the_writer_and_changes_nothing(tmp_path: Path) -> None:
    RunLock(tmp_path / "never_run").check_free()  # no lock file: free, and none is made
    assert not (tmp_path / "never_run").exists()
    (tmp_path / "user_folder").mkdir()
    check_run_folder(tmp_path / "user_folder")  # the early check of `train --out` leaves an existing folder alone
    assert list((tmp_path / "user_folder").iterdir()) == []
    with RunLock(tmp_path):
        with pytest.raises(RunFolderBusyError, match=rf"\(PID {os.getpid()}\)"):
            RunLock(tmp_path).check_free()
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())  # the holder's PID left in place
    RunLock(tmp_path).check_free()
    os.chmod(tmp_path / LOCK_NAME, 0o444)  # a read-only lock file (a run folder shared read-only) is probed too
    try:
        RunLock(tmp_path).check_free()
    finally:
        os.chmod(tmp_path / LOCK_NAME, 0o644)


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_a_second_writer_is_refused_while_the_first_trains_on(synth_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    base = [sys.executable, "-m", "handpose", "train", "--data", str(synth_data), "--out", str(run), *TINY]
    first = subprocess.Popen([*base, "--max-steps", "100000", "--ckpt-every", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=_env())
    assert first.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    for line in first.stdout:  # until the first run has written a checkpoint
        seen.append(line)
        if "checkpoint " in line or time.monotonic() > deadline:
            break
    if not any("checkpoint " in line for line in seen):
        first.kill()
        pytest.fail("".join(seen))
    try:
        config = (run / "config.json").read_bytes()
        for extra in (["--max-steps", "3"], ["--max-steps", "3", "--overwrite"]):
            second = subprocess.run([*base, *extra], capture_output=True, text=True, env=_env(), timeout=120)
            assert second.returncode == 2, second.stderr
            line = _error_line(second.stderr)
            assert f"{run} is in use" in line and f"PID {first.pid}" in line
        resumed = subprocess.run([sys.executable, "-m", "handpose", "train", "--resume", str(run)],
                                 capture_output=True, text=True, env=_env(), timeout=120)
        assert resumed.returncode == 2 and f"PID {first.pid}" in _error_line(resumed.stderr)
        assert (run / "config.json").read_bytes() == config
        assert first.poll() is None  # still training
    finally:
        first.send_signal(signal.SIGTERM)
        rest = first.communicate(timeout=120)[0]
    assert first.returncode == 0, "".join(seen) + rest
    assert "stopped (SIGTERM)" in rest
    steps = _steps(run)
    last = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert last["step"] == steps[-1] and last["train_config"]["max_steps"] == 100000  # the first run's own
    assert (run / "model.safetensors").is_file() and (run / "summary.json").is_file()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_resume_passes_over_a_truncated_newest_checkpoint_and_removes_stale_temporaries(
        synth_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "run"
    assert _train(synth_data, run, "--max-steps", "6", "--stop-at-step", "3", "--ckpt-every", "1") == 0
    newest = list_checkpoints(run / "checkpoints")[-1]
    assert newest.name == "ckpt-00000003.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a copy cut short, a disk error
    pid = _dead_pid()
    stale = [run / f".model.tmp-{pid}.safetensors", run / "checkpoints" / f".ckpt-00000004.tmp-{pid}.pt"]
    for path in stale:
        path.write_bytes(b"partial")
    with caplog.at_level(logging.INFO, logger="handpose"):
        assert main(["train", "--resume", str(run)]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    passed_over = [m for m in warned if str(newest) in m and "truncated" in m and "ckpt-00000002.pt" in m]
    assert len(passed_over) == 1, warned  # said once: the run's settings and the run read the same checkpoint
    assert any(f"resuming from {run / 'checkpoints' / 'ckpt-00000002.pt'} (step 2)" in r.getMessage()
               for r in caplog.records)
    assert not any(p.exists() for p in stale)
    assert load_checkpoint(list_checkpoints(run / "checkpoints")[-1])["step"] == 6


def test_a_full_disk_is_one_line_and_the_last_good_checkpoint_stays(
        synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    real_save = torch.save

    def save(obj: object, f: BinaryIO, *args: object, **kw: object) -> None:  # files.atomic_torch_save: an open file
        if "ckpt-00000003" in str(f.name):
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, f, *args, **kw)

    monkeypatch.setattr(torch, "save", save)
    assert _train(synth_data, run, "--max-steps", "5", "--ckpt-every", "1", "--keep", "2") == 2
    line = _error_line(capsys.readouterr().err)
    assert f"{run / 'checkpoints' / 'ckpt-00000003.pt'}: the disk is full" in line
    assert _steps(run) == [1, 2] and load_checkpoint(run / "checkpoints" / "ckpt-00000002.pt")["step"] == 2
    assert not [p for p in (run / "checkpoints").iterdir() if ".tmp-" in p.name]
    RunLock(run).acquire().release()  # the failed run let go of the folder


def test_a_full_disk_from_safetensors_keeps_the_final_checkpoint(
        synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from handpose.model import artifact

    def full(*args: object, **kw: object) -> None:  # the weights file's write, as a full disk fails it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifact, "save_stable", full)
    run = tmp_path / "run"
    assert _train(synth_data, run, "--max-steps", "2", "--ckpt-every", "1") == 2
    line = _error_line(capsys.readouterr().err)
    assert f"{run / 'model.safetensors'}: the disk is full" in line
    assert not (run / "model.safetensors").exists() and not (run / "summary.json").exists()
    assert load_checkpoint(list_checkpoints(run / "checkpoints")[-1])["step"] == 2  # resumable from the end


def test_resuming_from_an_earlier_checkpoint_sets_the_later_ones_aside(
        synth_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A branch from step 2 of a run that reached step 6: the new checkpoints are kept (the old step-6 file used to
    out-rank them, and pruning deleted each new one as it was written), the old branch's files are moved, not lost."""
    run = tmp_path / "run"
    assert _train(synth_data, run, "--max-steps", "6", "--ckpt-every", "2", "--keep", "1") == 0
    assert _steps(run) == [6]
    assert _train(synth_data, tmp_path / "other", "--max-steps", "6", "--ckpt-every", "2", "--stop-at-step", "2",
                  "--keep", "5") == 0
    early = run / "checkpoints" / "ckpt-00000002.pt"
    early.write_bytes((tmp_path / "other" / "checkpoints" / "ckpt-00000002.pt").read_bytes())
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(["-q", "train", "--resume", str(early), "--stop-at-step", "4"]) == 0
    assert _steps(run) == [2, 4]  # the branch's own (it keeps 5, as the run it came from)
    aside = run / "checkpoints" / "after-00000002"
    assert [p.name for p in list_checkpoints(aside)] == ["ckpt-00000006.pt"]
    assert any("moved to" in r.getMessage() and str(aside) in r.getMessage() for r in caplog.records)
    assert load_checkpoint(list_checkpoints(run / "checkpoints")[-1])["step"] == 4


def test_a_users_own_config_json_is_never_replaced_and_a_run_without_checkpoints_is_not_offered_resume(
        synth_data: Path, tmp_path: Path) -> None:
    from handpose.training.run_folder import RunExistsError, run_files

    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "best.txt").write_text("my best ideas")
    assert run_files(mine) == []  # not a run's: --overwrite deletes neither ...
    with pytest.raises(RunExistsError, match="holds config.json that handpose did not write"):
        check_run_folder(mine, overwrite=True)  # ... and no run writes over the user's config.json
    assert _train(synth_data, mine, "--max-steps", "1", "--overwrite") == 2
    assert (mine / "config.json").read_text() == '{"my": "settings"}' and (mine / "best.txt").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": {}, "dataset": {}, "out": "run"}')  # killed before step 1
    with pytest.raises(RunExistsError, match="wrote no checkpoint .* cannot be resumed; start a new one there with "
                                             "--overwrite"):
        check_run_folder(run)


def test_a_run_stopped_between_the_best_record_and_weights_leaves_no_mismatched_pair(
        synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The second of the two best files at step 4 fails (as a kill or a full disk there would stop it); the resume
    from step 2 must not keep a best.json and best.safetensors of different steps."""
    import json

    from handpose import files
    from handpose.model.artifact import read_metadata
    from handpose.training import trainer, validation

    real = files.atomic_write
    best_writes: list[str] = []

    def write(path: Path, *args: object, **kw: object) -> Path:
        if Path(path).name in ("best.json", "best.safetensors") and (Path(path).parent / "checkpoints" /
                                                                      "ckpt-00000002.pt").exists():
            best_writes.append(Path(path).name)
            if len(best_writes) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kw)

    monkeypatch.setattr(files, "atomic_write", write)
    monkeypatch.setattr(trainer, "atomic_write", write)
    # every validation a new best, so that step 4 writes the pair whatever its PCK: whether 4 tiny-preset steps beat
    # 2 depends on the library versions (numpy 1.24.2 with OpenCV 4.8.0.76 render other pixels than numpy 2.4 with
    # OpenCV 5.1, and with those step 4 was no better)
    monkeypatch.setattr(validation, "better", lambda metrics, best: True)
    run = tmp_path / "run"
    assert _train(synth_data, run, "--max-steps", "6", "--ckpt-every", "2", "--val-every", "2",
                  "--val-fraction", "0.3") == 2
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["-q", "train", "--resume", str(run), "--stop-at-step", "3"]) == 0
    assert sorted(best_writes) == ["best.json", "best.safetensors"]  # step 4 was better, and its second write failed
    record, weights = run / "best.json", run / "best.safetensors"
    if record.exists() or weights.exists():  # a pair of one step, or none (moved aside, nothing lost)
        assert int(json.loads(record.read_text())["step"]) == int(read_metadata(weights)["step"])
    assert (run / "checkpoints" / "after-00000002" / "best.safetensors").exists()


def _paused_at_its_first_checkpoint(data: Path, run: Path, steps: int) -> tuple[subprocess.Popen, list[str]]:
    """A real training run (``steps`` steps, a checkpoint every 2) stopped with SIGSTOP once it has written its
    first checkpoint, and the lines it printed so far."""
    proc = subprocess.Popen([sys.executable, "-m", "handpose", "train", "--data", str(data), "--out", str(run), *TINY,
                             "--max-steps", str(steps), "--ckpt-every", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env())
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if "checkpoint " in line:
            break
    proc.send_signal(signal.SIGSTOP)
    return proc, seen


def _go_on(proc: subprocess.Popen) -> str:
    """Let the paused run ``proc`` go on to its end; its remaining output (it is killed if it outlasts 2 minutes)."""
    try:
        proc.send_signal(signal.SIGCONT)
        return proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("made_again", [True, False])
def test_a_run_whose_folder_was_moved_stops_and_writes_nothing_at_its_old_path(
        made_again: bool, synth_data: Path, tmp_path: Path) -> None:
    run, moved = tmp_path / "run", tmp_path / "moved"
    first, seen = _paused_at_its_first_checkpoint(synth_data, run, 100000)
    try:
        run.rename(moved)
        if made_again:
            run.mkdir()
        with RunLock(run) if made_again else contextlib.nullcontext():  # another run's folder at the path
            rest = _go_on(first)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 2, "".join(seen) + rest
    assert f"{run} was moved or removed while this run wrote it: the run stopped at step" in rest
    assert "continue with: handpose train --resume FOLDER" in rest
    if made_again:
        assert {p.name for p in run.iterdir()} == {LOCK_NAME}  # nothing written there, and the folder not removed
    else:
        assert not run.exists()  # not made again
    assert _steps(moved) and (moved / "config.json").is_file()
    assert main(["-q", "train", "--resume", str(moved), "--max-steps", str(_steps(moved)[-1] + 2)]) == 0


def test_a_run_whose_lock_file_alone_was_deleted_takes_it_again_and_goes_on(synth_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first, seen = _paused_at_its_first_checkpoint(synth_data, run, 30)
    (run / LOCK_NAME).unlink()  # a clean-up of hidden files, the folder left where it is
    rest = _go_on(first)
    assert first.returncode == 0, "".join(seen) + rest
    assert f"its lock file {LOCK_NAME} was deleted while the run wrote the folder; made and taken again" in rest
    assert _steps(run)[-1] == 30 and (run / "model.safetensors").is_file() and (run / LOCK_NAME).is_file()
