"""`handpose demo` end to end with a tiny budget: every step runs and leaves its files where it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handpose.cli import main


@pytest.mark.slow
def test_demo_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--count", "40", "--test-count", "8", "--size", "96", "--steps", "3",
               "--input-size", "64", "--pictures", "2", "--minutes", "5", "--workers", "1"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["skipped"] == []
    assert len(list((out / "data" / "synth1").glob("*.jpg"))) == 40
    assert len(list((out / "test" / "synth1").glob("*.jpg"))) == 8
    assert summary["train_steps"] == 3 and summary["train_stopped"] == "completed"
    assert Path(summary["weights"]).is_file() and (out / "train" / "config.json").is_file()
    assert list((out / "train").glob("events.out.tfevents.*"))
    report = json.loads((out / "eval" / "eval_report.json").read_text())
    assert report["metrics"]["num_samples"] == 8 == summary["test_metrics"]["num_samples"]
    assert 0.0 <= summary["test_metrics"]["PCK@0.2"] <= 1.0
    assert (out / "model.onnx").is_file() and summary["onnx_max_abs_diff"] < 1e-3
    assert len([p for p in summary["pictures"] if p.endswith("_overlay.png")]) == 2
    assert all(Path(p).is_file() for p in summary["pictures"])
    for where in ("held-out test:", "PCK@0.2=", str(out / "model.onnx"), str(out / "predictions"), "tensorboard"):
        assert where in printed, printed
