"""A training run says when other processes used a large share of the CPUs while it trained, with the remedy."""

from __future__ import annotations

import logging

import pytest

from handpose.autotune.contention import BUSY_SHARE
from handpose.training import busy_machine


def test_a_quiet_or_unknown_machine_is_recorded_without_a_word(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose.training.busy_machine"):
        assert busy_machine.report(None, 100, 50.0, auto_threads=False, on_cpu=True) is None
        assert busy_machine.report(0.12345, 100, 50.0, auto_threads=False, on_cpu=True) == 0.123
        assert busy_machine.report(BUSY_SHARE, 100, 50.0, auto_threads=False, on_cpu=True) == BUSY_SHARE
    assert caplog.text == ""


@pytest.mark.parametrize("auto_threads, on_cpu, remedy", [(False, True, True), (True, True, False),
                                                          (False, False, False)])
def test_a_busy_machine_is_named_with_the_remedy_where_it_helps(auto_threads: bool, on_cpu: bool, remedy: bool,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose.training.busy_machine"):
        assert busy_machine.report(0.6789, 92, 3.25, auto_threads=auto_threads, on_cpu=on_cpu) == 0.679
    assert "other processes used 68% of the CPUs while this run trained (92 steps at 3.2 examples/s)" in caplog.text
    assert ("--threads auto" in caplog.text) == remedy


def test_several_ranks_are_not_metered() -> None:
    """Under torchrun the other ranks would read as other processes: not known, rather than busy."""
    assert busy_machine.start(2)() is None
