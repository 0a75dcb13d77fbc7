"""Inference threads that follow the cores other processes leave free (``autotune.free_cores``): the rule, the
governor's re-measuring, PyTorch and onnxruntime following it with unchanged results, real busy processes, and the
command line's ``--threads``."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fixture_types import Governed

from handpose import pretrained
from handpose.autotune import free_cores
from handpose.autotune.free_cores import FreeCores, SessionsByThreads, check_threads, others_cores, threads_for
from handpose.cli import main
from handpose.inference.predictor import Predictor


def fake_meter(shares: list[float | None]) -> Callable[[], Callable[[], float | None]]:
    """A meter factory whose readings, whichever meter takes them, are ``shares`` in turn, then None (a window too
    short to judge)."""
    readings = iter(shares)

    def start() -> Callable[[], float | None]:
        return lambda: next(readings, None)

    return start


@pytest.fixture
def governed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[float | None]], FreeCores]]:
    """Install a process governor on 2 cores, ceiling 2, measuring at every call, reading the given shares in
    turn; PyTorch's thread count is restored afterwards."""
    before = torch.get_num_threads()

    def install(shares: list[float | None]) -> FreeCores:
        gov = FreeCores(cores=2, interval=0.0, meter=fake_meter(shares))
        monkeypatch.setattr(free_cores, "_GOVERNOR", gov)
        monkeypatch.setattr(free_cores, "_TORCH_CEILING", None)
        return gov

    yield install
    torch.set_num_threads(before)


def test_the_rule_leaves_the_cores_others_keep_busy() -> None:
    assert others_cores(0.5, 2) == 1 and others_cores(0.2, 2) == 0 and others_cores(0.24, 2) == 0
    assert others_cores(0.25, 2) == 1  # half a core rounds up: a thread there would wait for it
    assert threads_for(None, 2, 2) == 2  # unknown: the ceiling
    assert threads_for(0.0, 2, 2) == 2
    assert threads_for(0.5, 2, 2) == 1
    assert threads_for(1.0, 2, 2) == 1  # never fewer than one
    assert threads_for(0.0, 16, 4) == 4  # the ceiling caps (OMP_NUM_THREADS, torch.set_num_threads)
    assert threads_for(0.5, 16, 16) == 8


def test_the_governor_measures_again_after_its_interval_and_says_when_it_changes(
        caplog: pytest.LogCaptureFixture) -> None:
    gov = FreeCores(cores=2, interval=0.0, meter=fake_meter([None, 0.6, None, 0.05]))
    assert gov.free == 2
    with caplog.at_level(logging.INFO, logger="handpose.autotune.free_cores"):
        assert gov.current() == 2  # the first window cannot judge (None): the ceiling stays
        assert gov.current() == 1  # others kept one core of two busy
        assert "threads follow the free cores, 2 -> 1" in caplog.text
        assert gov.current() == 1  # a window that cannot judge keeps the count
        assert gov.current() == 2  # the machine is quiet again
    slow = FreeCores(cores=2, interval=3600.0, meter=fake_meter([0.9, 0.9]))
    assert slow.current() == 2  # within its interval it does not measure


def test_only_this_processs_cpus_count_and_sessions_stay_few() -> None:
    from handpose.autotune.contention import parse_stat

    stat = ("cpu  300 0 100 100 0 0 0 0 0 0\n"  # the machine: CPUs 2 and 3 busy, 0 and 1 idle
            "cpu0 0 0 0 100 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n"
            "cpu2 150 0 50 0 0 0 0 0 0 0\ncpu3 150 0 50 0 0 0 0 0 0 0\n")
    assert parse_stat(stat) == (400.0, 4)
    assert parse_stat(stat, frozenset({0, 1})) == (0.0, 2)  # a process pinned to CPUs 0-1 sees them idle
    assert parse_stat(stat, frozenset({2, 3})) == (400.0, 2)
    assert parse_stat(stat, frozenset({9})) is None
    assert [free_cores.session_threads(n, 2) for n in (1, 2)] == [1, 2]
    assert [free_cores.session_threads(n, 64) for n in (64, 63, 57, 56, 9, 8, 7, 5, 4, 3, 1)] == [
        64, 56, 56, 56, 8, 8, 4, 4, 4, 2, 1]  # a core of background load costs 8 of 64, not half
    assert len({free_cores.session_threads(n, 64) for n in range(1, 65)}) <= 12


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "two", "2"])
def test_a_bad_thread_setting_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="threads must be a positive whole number, 'auto' or None"):
        check_threads(bad)
    assert check_threads(None) is None and check_threads("auto") == "auto" and check_threads(3) == 3


def test_pytorch_follows_the_governor_only_when_asked(governed: Governed) -> None:
    governed([0.6])
    torch.set_num_threads(2)
    free_cores.sync_torch(None)
    free_cores.sync_torch(2)
    assert torch.get_num_threads() == 2  # a number or None leaves PyTorch's threads to the process
    free_cores.sync_torch("auto")
    assert torch.get_num_threads() == 1


def test_a_pytorch_predictor_on_auto_sets_its_threads_and_reads_the_same_keypoints(governed: Governed) -> None:
    rng = np.random.default_rng(0)
    image = (rng.random((240, 320, 3)) * 255).astype(np.uint8)  # (240, 320, 3) BGR
    torch.set_num_threads(2)
    plain = Predictor.from_file("pretrained:lite").predict(image, box=(60, 40, 150, 150))
    governed([0.6])
    auto = Predictor.from_file("pretrained:lite", threads="auto")
    got = auto.predict(image, box=(60, 40, 150, 150))
    assert torch.get_num_threads() == 1
    np.testing.assert_allclose(got.keypoints, plain.keypoints, atol=1e-3)


def test_onnxruntime_keeps_a_session_per_thread_count_with_the_same_maps(governed: Governed) -> None:
    governed([0.0, 0.6, 0.6, 0.0])
    made: list[int | None] = []

    def make(n: int | None) -> str:
        made.append(n)
        return f"session({n})"

    sessions = SessionsByThreads(make, "auto")
    assert [sessions.session() for _ in range(4)] == ["session(2)", "session(1)", "session(1)", "session(2)"]
    assert made == [2, 1]  # each count's session made once, on first need
    fixed = SessionsByThreads(make, 3)
    assert fixed.session() == "session(3)" and made[-1] == 3
    on_gpu = SessionsByThreads(make, "auto", [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"])
    assert on_gpu.threads is None and on_gpu.session() == "session(None)"  # CUDA runs it: one default session

    governed([0.0, 0.6])
    from handpose.inference.backends import OnnxBackend

    backend = OnnxBackend(pretrained.path("lite-int8"), threads="auto")
    x = np.random.default_rng(1).random((2, 3, 128, 128), dtype=np.float32)  # (2, 3, 128, 128)
    two, one = backend(x), backend(x)  # (1, 2, 22, 16, 16) each
    assert set(backend.sessions._sessions) == {1, 2}
    assert backend.sessions._sessions[1].get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(one, two, atol=1e-5)


def test_threads_meeting_a_new_thread_count_at_once_make_its_session_once(governed: Governed) -> None:
    """A predictor shared by a service's threads: several calls at a new count each made a session (one kept)."""
    import threading

    governed([0.6] * 8)  # every call finds one core busy: count 1, new
    made: list[int | None] = []
    started = threading.Barrier(4)

    def make(n: int | None) -> str:
        made.append(n)
        if n == 1:
            time.sleep(0.2)  # a real session takes a while to make: the other threads arrive meanwhile
        return f"session({n})"

    sessions = SessionsByThreads(make, "auto")
    got: list[str] = []

    def call() -> None:
        started.wait()
        got.append(sessions.session())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert got == ["session(1)"] * 4 and made == [2, 1]


def _spin(stop: object) -> None:
    while not stop.is_set():  # type: ignore[attr-defined]
        sum(range(10000))


def _cpu_quota() -> bool:
    """Whether a cgroup CPU quota limits this process (then /proc/stat's CPUs are the host's, not ours)."""
    try:
        return Path("/sys/fs/cgroup/cpu.max").read_text().split()[0] != "max"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
def test_busy_processes_leave_their_cores() -> None:
    """Up to 4 processes spinning (a plain ``multiprocessing`` fork: nothing to import): the governor leaves at
    most the other cores to inference, at least one."""
    if not os.path.exists("/proc/stat") or _cpu_quota():
        pytest.skip("no /proc/stat, or a CPU quota under which it shows the host's CPUs")
    cores = len(free_cores.usable_cores())
    spin = min(cores, 4)
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    spinners = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(spin)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5)  # the spinners are running
        gov = FreeCores(interval=0.5)
        time.sleep(0.8)
        assert gov.current() <= max(1, cores - spin)  # other load can only take more
    finally:
        stop.set()
        for p in spinners:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


@pytest.mark.slow
def test_the_command_line_takes_a_thread_count(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "hand.png"
    import cv2

    cv2.imwrite(str(image), (np.random.default_rng(2).random((120, 160, 3)) * 255).astype(np.uint8))
    before = torch.get_num_threads()
    try:
        assert main(["predict", str(image), "--box", "20,20,80,80", "--threads", "1", "--out", str(tmp_path / "o"),
                     "--maps", "none"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "o" / "hand.json").is_file()
    with pytest.raises(SystemExit):
        main(["predict", str(image), "--threads", "0"])
    assert "expected 'auto' or at least 1 thread, got 0" in capsys.readouterr().err


def test_a_commands_threads_reach_every_network_it_makes_and_end_with_it(tmp_path: Path) -> None:
    """eval makes its predictors deep inside: --threads reaches them through the process default, which the command
    puts back when it ends (a program that runs a command keeps its own)."""
    from handpose.commands.threads_flag import command_threads
    from handpose.inference.backends import OnnxBackend, TorchBackend

    assert free_cores.process_default() is None
    with command_threads("auto"):
        assert Predictor.from_file("pretrained:lite").backend.threads == "auto"
        assert OnnxBackend(pretrained.path("lite-int8")).sessions.threads == "auto"
        assert TorchBackend(Predictor.from_file("pretrained:lite").backend.model, threads=3).threads == 3  # given
    assert free_cores.process_default() is None
    assert Predictor.from_file("pretrained:lite").backend.threads is None
    data = tmp_path / "data"
    from handpose.synth import write_dataset

    write_dataset(data, count=4, seed=1, size=96)
    assert main(["eval", "--weights", "pretrained:lite", "--data", str(data), "--split", "all", "--threads",
                 "auto"]) == 0
    assert free_cores.process_default() is None
