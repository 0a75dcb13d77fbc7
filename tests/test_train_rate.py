"""A run's examples/sec: each log window's (validation and checkpoint time left out), and the run's own over every
window, which summary.json records beside the last window's (a single window may rest on one or two steps)."""

from __future__ import annotations

import torch

from handpose.training.distributed import env_info
from handpose.training.reporting import LossWindow


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_run_rate_counts_every_window_and_leaves_out_excluded_time() -> None:
    clock, info = Clock(), env_info()
    window = LossWindow(1, torch.device("cpu"), clock=clock)
    loss = torch.tensor(1.0)
    for _ in range(10):  # 10 steps of 8 examples in 4 s, 1 s of it validation
        window.add(loss, [loss], 8)
    clock.now += 4.0
    window.exclude(1.0)
    rate, _ = window.take(info)
    assert rate == 80 / 3.0
    window.add(loss, [loss], 8)  # one slow step: 8 examples in 2 s
    clock.now += 2.0
    rate, _ = window.take(info)
    assert rate == 4.0
    assert window.run_rate() == 88 / 5.0  # not the last window's 4
    window.add(loss, [loss], 8)  # an open window counts as well
    clock.now += 1.0
    assert window.run_rate() == 96 / 6.0
