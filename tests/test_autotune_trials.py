"""The speed trials' measurements (``autotune.trials``): timings that wait for an asynchronous device."""

from __future__ import annotations

import time

import pytest
import torch

from handpose.autotune import trials
from handpose.autotune.choice import Choice

QUEUED_S = 0.05  # how long a fake device takes to finish what a step queued on it


@pytest.mark.parametrize("kind", ["mps", "xpu"])
def test_a_timed_step_waits_for_the_devices_queue(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On MPS and XPU a step returns once its work is queued; the trial waits for the device through the backend's
    own synchronize, so a step whose work takes 50 ms is timed at 50 ms or more, not at the queueing's microseconds."""
    waited: list[object] = []

    def synchronize(*device: object) -> None:
        waited.append(device)
        time.sleep(QUEUED_S)

    monkeypatch.setattr(getattr(torch, kind), "synchronize", synchronize)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: pytest.fail("CUDA synchronised for another device"))
    seconds = trials._rounds({Choice(): lambda: None}, {Choice(): QUEUED_S}, 0.0, torch.device(kind),
                             time.perf_counter())
    assert seconds[Choice()] >= QUEUED_S and waited
