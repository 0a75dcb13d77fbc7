"""handpose.autotune's choice with fake timings injected: fastest sound candidate, explicit flags, the cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from handpose.autotune.choice import Choice, Trial, TrialKey, candidates, choose, cpu_identity, judge, read_cache

KEY = TrialKey("cpu", "Test CPU", "2.x", 2, "lite", 96, 16, "train")


@pytest.fixture(autouse=True)
def _quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake trials take no time, but a stall of the busy test machine within them would make the real meter
    read other work and keep the verdicts from the cache (``contention.unsteady``): the checks here are of the cache."""
    from handpose.autotune import choice

    monkeypatch.setattr(choice, "start_meter", lambda: (lambda: 0.0))


class FakeMeasure:
    """Seconds per step by candidate name; records which candidates each call measured."""

    def __init__(self, seconds: dict[str, float], finite: Sequence[str] = ()) -> None:
        self.seconds = seconds
        self.nonfinite = set(finite)
        self.calls: list[list[str]] = []

    def __call__(self, choices: Sequence[Choice]) -> dict[Choice, Trial]:
        self.calls.append([c.name for c in choices])
        return {c: Trial(self.seconds[c.name], finite=c.name not in self.nonfinite, loss=1.0, batch=16)
                for c in choices}


FAST_BF16_CL = {"fp32": 0.106, "fp32+cl": 0.075, "bf16": 0.066, "bf16+cl": 0.055}


def test_picks_the_fastest_and_caches_it(tmp_path: Path) -> None:
    cache = tmp_path / "autotune.json"
    measure = FakeMeasure(FAST_BF16_CL)
    assert choose(KEY, measure, path=cache) == Choice("bf16", True)
    assert measure.calls == [["fp32", "fp32+cl", "bf16", "bf16+cl"]]
    entry = read_cache(cache)[KEY.text()]
    assert entry["key"]["preset"] == "lite"
    assert entry["results"]["fp32"]["samples_per_s"] == pytest.approx(16 / 0.106, abs=1e-3)
    assert choose(KEY, measure, path=cache) == Choice("bf16", True)  # from the cache
    assert len(measure.calls) == 1


def test_another_key_measures_again(tmp_path: Path) -> None:
    cache = tmp_path / "autotune.json"
    measure = FakeMeasure(FAST_BF16_CL)
    choose(KEY, measure, path=cache)
    other = TrialKey(**{**KEY.__dict__, "batch_size": 32})
    slow_bf16 = FakeMeasure({"fp32": 0.1, "fp32+cl": 0.08, "bf16": 0.17, "bf16+cl": 0.15})
    assert choose(other, slow_bf16, path=cache) == Choice("fp32", True)
    assert len(slow_bf16.calls) == 1 and set(read_cache(cache)) == {KEY.text(), other.text()}


EPYC_AVX512 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma avx512f avx512_bf16 avx512_vnni\n"
EPYC_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx fma avx2\n"


def test_two_cpus_of_one_model_name_but_other_instruction_sets_are_measured_apart(tmp_path: Path) -> None:
    # two cloud machines both called "AMD EPYC": bf16 is fast on the one with AVX512-BF16, 20x slower without
    fast, slow = cpu_identity(EPYC_AVX512), cpu_identity(EPYC_AVX2)
    assert fast == "AMD EPYC [avx2 avx512f avx512_bf16 avx512_vnni]" and slow == "AMD EPYC [avx2]"
    cache = tmp_path / "autotune.json"
    choose(TrialKey(**{**KEY.__dict__, "hardware": fast}), FakeMeasure(FAST_BF16_CL), path=cache)
    no_bf16 = FakeMeasure({"fp32": 0.1, "fp32+cl": 0.09, "bf16": 2.0, "bf16+cl": 1.6})
    assert choose(TrialKey(**{**KEY.__dict__, "hardware": slow}), no_bf16, path=cache) == Choice("fp32", True)
    assert len(no_bf16.calls) == 1  # measured, not taken from the other machine's entry
    assert cpu_identity("model name : Some CPU\n") == "Some CPU"  # no flags listed: the name alone


def test_explicit_flags_narrow_or_skip_the_trial(tmp_path: Path) -> None:
    cache = tmp_path / "autotune.json"
    measure = FakeMeasure(FAST_BF16_CL)
    assert choose(KEY, measure, amp=True, channels_last=False, path=cache) == Choice("bf16", False)
    assert measure.calls == [] and not cache.exists()
    assert choose(KEY, measure, amp=False, path=cache) == Choice("fp32", True)
    assert measure.calls == [["fp32", "fp32+cl"]]
    # the bf16 candidates are measured (beside the fp32 reference) only when first allowed
    assert choose(KEY, measure, channels_last=False, path=cache) == Choice("bf16", False)
    assert measure.calls[1] == ["fp32", "bf16"]


def test_unsound_candidates_are_never_chosen(tmp_path: Path) -> None:
    measure = FakeMeasure(FAST_BF16_CL, finite=("bf16", "bf16+cl"))
    assert choose(KEY, measure, path=tmp_path / "a.json") == Choice("fp32", True)
    results = read_cache(tmp_path / "a.json")[KEY.text()]["results"]
    assert results["bf16+cl"] == {"samples_per_s": pytest.approx(16 / 0.055, abs=1e-3), "sound": False,
                                  "why": "non-finite output"}


def test_keypoint_shift_and_loss_change_judge_soundness() -> None:
    ref = np.zeros((2, 21, 2), np.float32)
    trials = {Choice(): Trial(1.0, keypoints=ref), Choice("bf16"): Trial(0.5, keypoints=ref + [0.3, 0.3]),
              Choice("bf16", True): Trial(0.4, keypoints=ref + [0.0, 0.6])}
    out = judge(trials, Choice())
    assert out["bf16"]["sound"] and not out["bf16+cl"]["sound"] and "0.60 px" in out["bf16+cl"]["why"]
    losses = judge({Choice(): Trial(1.0, loss=100.0), Choice("bf16"): Trial(0.5, loss=108.0)}, Choice())
    assert not losses["bf16"]["sound"] and "loss" in losses["bf16"]["why"]


def test_candidates_per_device_and_mode() -> None:
    names = [c.name for c in candidates("cpu", "infer")]
    assert names == ["fp32", "fp32+cl", "bf16", "bf16+cl"]
    assert {c.precision for c in candidates("cuda", "infer")} == {"fp32", "tf32", "bf16", "fp16"}
    assert {c.precision for c in candidates("cuda", "train")} == {"tf32", "bf16"}  # no fp16 without loss scaling
    assert [c.name for c in candidates("cuda", "train", amp=True, channels_last=True)] == ["bf16+cl"]


def test_a_damaged_cache_is_measured_again(tmp_path: Path) -> None:
    cache = tmp_path / "autotune.json"
    cache.write_text("{not json")
    measure = FakeMeasure(FAST_BF16_CL)
    assert choose(KEY, measure, path=cache) == Choice("bf16", True) and len(measure.calls) == 1
    assert KEY.text() in read_cache(cache)


def test_torchrun_peers_without_a_measurement_get_none(tmp_path: Path) -> None:
    assert choose(KEY, None, path=tmp_path / "autotune.json") is None


def test_overlapping_cuda_precision_blocks_leave_tf32_as_they_found_it() -> None:
    """Two threads predicting at once on CUDA (TorchBackend's default fp32 turns TF32 off for its call): each block
    put back the flags it had found, so the second, which found the first's "off", left TF32 off for the rest of
    the process (cuDNN's fp32 convolutions several times slower on an A100 or H100). The flags are plain switches,
    set here without a GPU; the blocks are entered and left in the threads' order by hand."""
    import torch

    from handpose.autotune.precision import precision

    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    before = tuple(f.allow_tf32 for f in flags)
    try:
        flags[0].allow_tf32, flags[1].allow_tf32 = True, False  # PyTorch's defaults
        first, second = precision("fp32", "cuda"), precision("fp32", "cuda")
        first.__enter__()
        second.__enter__()
        assert not flags[0].allow_tf32 and not flags[1].allow_tf32
        first.__exit__(None, None, None)
        assert not flags[0].allow_tf32  # the second block still runs in fp32
        second.__exit__(None, None, None)
        assert (flags[0].allow_tf32, flags[1].allow_tf32) == (True, False)
        with pytest.raises(KeyError):  # a block that raises restores them too
            with precision("tf32", "cuda"):
                assert flags[0].allow_tf32 and flags[1].allow_tf32
                raise KeyError("inside")
        assert (flags[0].allow_tf32, flags[1].allow_tf32) == (True, False)
    finally:
        flags[0].allow_tf32, flags[1].allow_tf32 = before


def test_a_precision_block_inside_another_gives_the_outer_its_tf32_back() -> None:
    """A tf32 block around a prediction (TorchBackend's fp32 block inside it, on CUDA): the inner block, not the last
    to leave, kept TF32 off for the rest of the outer tf32 block; the outer's setting comes back as the inner leaves,
    and the flags found before both as the outer leaves. Two overlapping threads of different precisions likewise:
    the one still running gets its own setting back."""
    import torch

    from handpose.autotune.precision import precision

    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    before = tuple(f.allow_tf32 for f in flags)

    def tf32() -> tuple[bool, bool]:
        return flags[0].allow_tf32, flags[1].allow_tf32

    try:
        flags[0].allow_tf32, flags[1].allow_tf32 = True, False  # PyTorch's defaults
        with precision("tf32", "cuda"):
            with precision("fp32", "cuda"):
                assert tf32() == (False, False)
            assert tf32() == (True, True)  # the outer block's tf32 again
        assert tf32() == (True, False)
        first, second = precision("fp32", "cuda"), precision("tf32", "cuda")  # two threads, in this order
        first.__enter__()
        second.__enter__()
        assert tf32() == (True, True)
        second.__exit__(None, None, None)
        assert tf32() == (False, False)  # the first thread still runs in fp32
        first.__exit__(None, None, None)
        assert tf32() == (True, False)
    finally:
        flags[0].allow_tf32, flags[1].allow_tf32 = before


def test_precision_blocks_follow_a_caller_who_set_tf32_through_pytorchs_new_api() -> None:
    """PyTorch's own advice since 2.9 is ``torch.backends.cuda.matmul.fp32_precision = "tf32"`` (and
    ``cudnn.conv.fp32_precision``); after that, reading the old ``allow_tf32`` flag of that switch raises ("mix of the
    legacy and new APIs"), so every prediction on CUDA failed in its fp32 block. The blocks now set each switch the
    way the caller did, and give back the settings found, strings and all."""
    import torch

    from handpose.autotune.precision import precision

    ops = torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn
    before = tuple(op.fp32_precision for op in ops)

    def now() -> tuple[str, ...]:
        return tuple(op.fp32_precision for op in ops)

    try:
        ops[0].fp32_precision, ops[1].fp32_precision = "tf32", "ieee"  # tf32 matmuls, exact convolutions
        found = now()
        with precision("fp32", "cuda"):
            assert now() == ("ieee", "ieee", "ieee")
            with precision("tf32", "cuda"):
                assert now() == ("tf32", "tf32", "tf32")
            assert now() == ("ieee", "ieee", "ieee")
        assert now() == found
        ops[1].fp32_precision = before[1]  # the matmuls' string alone: cuDNN's flag reads, and is set, as before
        with precision("fp32", "cuda"):
            assert ops[0].fp32_precision == "ieee" and not torch.backends.cudnn.allow_tf32
        assert ops[0].fp32_precision == "tf32" and torch.backends.cudnn.allow_tf32
    finally:
        for op, value in zip(ops, before):
            op.fp32_precision = value
