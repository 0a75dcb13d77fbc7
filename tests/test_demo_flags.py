"""`handpose demo` refuses a step count, batch, input size, render count or render size below 1 as it parses its
flags: these were taken in, then refused by training after minutes of rendering, naming train's flags (--steps -5
came back as --max-steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.cli import main


@pytest.mark.parametrize("flag, value", [("--steps", "-5"), ("--batch-size", "0"), ("--input-size", "0"),
                                         ("--count", "-1"), ("--size", "0"), ("--steps", "many"),
                                         ("--threads", "0"), ("--threads", "some")])
def test_a_flag_below_one_is_refused_before_anything_renders(flag: str, value: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "--out", str(out), flag, value])
    assert stopped.value.code == 2
    assert f"argument {flag}:" in capsys.readouterr().err
    assert not out.exists()  # nothing rendered, no folder made


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "gpu"])
def test_a_device_this_machine_lacks_is_refused_before_anything_renders(device: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """demo --device cuda on a machine without CUDA rendered its training and test images (minutes), then failed in
    the training stage with torch's AssertionError (a traceback); --device gpu with torch's RuntimeError."""
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip(f"this machine has {device}")
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out), "--device", device, "--count", "2", "--test-count", "2"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"handpose demo: error: --device {device}: "), lines
    assert not out.exists()  # nothing rendered, no folder made
