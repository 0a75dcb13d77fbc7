"""``handpose.cli.main(argv)`` called in a Python process gives the caller its signal handlers back: a command
stopped by Ctrl-C ignores further stop signals while it exits, and in a notebook or a test run that ignoring stayed
(a later training run in the same process then took SIGINT as ignored on purpose, as under nohup, and ran on)."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from handpose.cli import main


def test_a_stopped_command_leaves_the_callers_handlers_in_place(monkeypatch: pytest.MonkeyPatch,
                                                                interactive_sigint: None) -> None:
    from handpose.commands import predict
    from handpose.training.signals import ignore_stop_signals

    def stopped_run(args: Any) -> int:  # as predict ends after a Ctrl-C, its files written
        ignore_stop_signals()
        return 130

    monkeypatch.setattr(predict, "run", stopped_run)
    before = signal.getsignal(signal.SIGINT)
    assert before is not signal.SIG_IGN
    assert main(["predict", "photo.jpg"]) == 130
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
