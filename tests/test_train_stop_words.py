"""A run that --stop-at-step or --time-limit stopped says so by the flag's name (it said ``stop_at_step`` and
``time_limit``, summary.json's values, in its warning and its closing lines); summary.json keeps its values."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.training.reporting import stop_cause


def test_stop_causes_read_as_the_flags_and_signals_that_stopped_the_run() -> None:
    assert stop_cause("stop_at_step") == "--stop-at-step"
    assert stop_cause("time_limit") == "--time-limit"
    assert stop_cause("SIGINT") == "SIGINT"


def test_a_run_stopped_at_a_step_names_the_flag(synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    argv = ["train", "--data", str(synth_data), "--preset", "tiny", "--input-size", "64", "--batch-size", "4",
            "--max-steps", "6", "--stop-at-step", "2", "--workers", "0", "--val-every", "0", "--amp", "off",
            "--channels-last", "off", "--threads", "1", "--out", str(out)]
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "stopped by --stop-at-step at step 2 of 6" in printed
    assert "stopped (--stop-at-step) at step 2 of 6" in caplog.text
    assert "stop_at_step" not in printed + caplog.text
    assert json.loads((out / "summary.json").read_text())["stopped"] == "stop_at_step"
