"""The autotune log line names the cache file only where the choice is in it: a trial on a busy machine, which is not
cached (its warning says so), ends "(not cached)" instead of naming the file it was kept out of."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_autotune_contention import KEY, BusyMeasure

from handpose.autotune import contention
from handpose.autotune.choice import Choice, choose, write_cache


def _summary(caplog: pytest.LogCaptureFixture) -> str:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("autotune train lite")]
    assert len(lines) == 1
    return lines[0]


@pytest.mark.skipif(not contention.STAT.exists(), reason="no /proc/stat on this system")
def test_a_trial_not_cached_does_not_name_the_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "autotune.json"
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        assert choose(KEY, BusyMeasure(spin_s=1.0), path=path) == Choice("bf16", True)
    assert not path.exists()
    line = _summary(caplog)
    assert line.endswith("(not cached)") and str(path) not in line


def test_a_cached_choice_names_the_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "autotune.json"
    rates = {"fp32": 100.0, "fp32+cl": 120.0, "bf16": 150.0, "bf16+cl": 200.0}
    write_cache(path, KEY, {name: {"samples_per_s": r, "sound": True} for name, r in rates.items()}, 1.0)
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        assert choose(KEY, None, path=path) == Choice("bf16", True)
    assert _summary(caplog).endswith(f"cached ({path})")
