"""An autotune.json's verdicts that do not hold for good are measured again (out of memory; judged without the
reference's numbers), and a layout this version does not write (a damaged file, another version's) is measured
again instead of ending the command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from handpose.autotune.choice import Choice, Trial, TrialKey, choose, read_cache

KEY = TrialKey("cuda", "Test GPU", "2.x", 1, "lite", 96, 16, "train")
SECONDS = {"tf32": 0.07, "tf32+cl": 0.08, "bf16": 0.05, "bf16+cl": 0.06}  # CUDA training; tf32 is the reference


class Measure:
    """Seconds per step by candidate name; ``broken`` candidates give non-finite output; records each call."""

    def __init__(self, broken: Sequence[str] = ()) -> None:
        self.broken = set(broken)
        self.calls: list[list[str]] = []

    def __call__(self, choices: Sequence[Choice]) -> dict[Choice, Trial]:
        self.calls.append([c.name for c in choices])
        return {c: Trial(SECONDS[c.name], finite=c.name not in self.broken, loss=1.0, batch=16) for c in choices}


def verdict(rate: float, sound: bool = True, why: str = "") -> dict[str, Any]:
    return {"samples_per_s": rate, "sound": sound, **({"why": why} if why else {})}


def cache_with(tmp_path: Path, entry: Any) -> Path:
    path = tmp_path / "autotune.json"
    path.write_text(json.dumps({"version": 1, "entries": {KEY.text(): entry}}), encoding="utf-8")
    return path


def test_an_out_of_memory_verdict_in_the_cache_is_measured_again(tmp_path: Path) -> None:
    # bf16 ran out of memory (another job held the GPU then): kept as rejected, the fastest would never be tried again
    path = cache_with(tmp_path, {"trial_seconds": 3.0, "results": {
        "tf32": verdict(229.0), "tf32+cl": verdict(200.0), "bf16": verdict(0.0, False, "out of memory"),
        "bf16+cl": verdict(267.0)}})
    measure = Measure()
    assert choose(KEY, measure, path=path) == Choice("bf16", False)
    assert measure.calls == [["tf32", "bf16"]]  # the reference, to judge it against, and bf16 alone
    stored = read_cache(path)[KEY.text()]["results"]
    assert stored["bf16"] == verdict(320.0) and stored["bf16+cl"] == verdict(267.0)  # the other verdicts kept


def test_verdicts_judged_without_the_reference_are_measured_again(tmp_path: Path) -> None:
    # the reference (tf32) ran out of memory, so the others were judged sound without being compared with it: bf16
    # was cached sound, but its output is not finite
    path = cache_with(tmp_path, {"results": {
        "tf32+cl": verdict(200.0), "bf16": verdict(320.0), "bf16+cl": verdict(267.0)}})
    measure = Measure(broken=["bf16"])
    assert choose(KEY, measure, path=path) == Choice("bf16", True)
    assert measure.calls == [["tf32", "tf32+cl", "bf16", "bf16+cl"]]
    assert read_cache(path)[KEY.text()]["results"]["bf16"]["sound"] is False


@pytest.mark.parametrize("entry", [
    [160.0, 320.0],  # an entry that is not an object
    {"results": {"tf32": 229.0, "tf32+cl": 200.0, "bf16": 320.0, "bf16+cl": 267.0}},
    {"results": "tf32 229.0, bf16 320.0"},
    {"results": {name: {"seconds": seconds} for name, seconds in SECONDS.items()}},  # verdicts without a rate
    {"trial_seconds": "3 s", "results": {}},
], ids=["entry-list", "rates-as-numbers", "results-text", "no-rate", "trial-seconds-text"])
def test_a_cache_entry_of_another_layout_is_measured_again(tmp_path: Path, entry: Any) -> None:
    path = cache_with(tmp_path, entry)
    measure = Measure()
    assert choose(KEY, measure, path=path) == Choice("bf16", False)
    assert len(measure.calls) == 1 and len(measure.calls[0]) == 4
    assert read_cache(path)[KEY.text()]["results"]["bf16"] == verdict(320.0)


def test_a_detector_runtime_verdict_of_another_layout_is_timed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    from handpose.autotune.choice import cache_path, write_cache
    from handpose.detection import runtime_choice
    from handpose.detection.detector import HandDetector

    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime_choice, "start_meter", lambda: (lambda: 0.0))  # a quiet machine: the verdict is kept
    HandDetector.from_file("pretrained:detector", scales=(1.0,))  # timed, cached in this version's layout
    (key_text, entry), = read_cache(cache_path()).items()
    key = TrialKey(**entry["key"])
    assert key.text() == key_text
    for results in ([["PyTorch", 0.07], ["onnxruntime", 0.02]],  # a list of pairs
                    {"PyTorch": {"seconds": "70 ms"}, "onnxruntime": {"seconds": "20 ms"}},  # text
                    {"PyTorch": {"seconds": float("nan")}, "onnxruntime": {"seconds": 0.02}},
                    {"PyTorch": 0.07, "onnxruntime": 0.02}):  # seconds without their dict
        write_cache(cache_path(), key, results, 1.0)  # type: ignore[arg-type]
        caplog.clear()
        with caplog.at_level("INFO", logger="handpose.detection.runtime_choice"):
            HandDetector.from_file("pretrained:detector", scales=(1.0,))
        assert "measured on this machine" in caplog.text, results
        stored = read_cache(cache_path())[key_text]["results"]
        assert all(isinstance(stored[n]["seconds"], float) for n in ("PyTorch", "onnxruntime"))
