"""Training's parts on their own: log line, schedule, checkpoints, random states, data order, signals, CLI config."""

from __future__ import annotations

import argparse
import io
import logging
import math
import os
import random
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.cli import build_parser
from handpose.commands.train import config_from_args
from handpose.config import TrainConfig, to_dict
from handpose.files import atomic_torch_save
from handpose.model.artifact import load_checkpoint
from handpose.model.cpm import preset
from handpose.training.checkpoints import find_checkpoint, list_checkpoints, rng_state, save_checkpoint, set_rng_state
from handpose.training.reporting import format_fields_line, progress_bar
from handpose.training.sampler import EpochIndexed, StreamSampler, epoch_permutation
from handpose.training.schedule import lr_factor
from handpose.training.setup import side_warning, total_steps
from handpose.training.signals import StopRequest
from handpose.training.speed import channels_last_default, native_bf16
from handpose.training.trainer import weights_digest

# ------------------------------------------------------------------------------------------------- log line


def test_log_line_matches_the_old_script() -> None:
    line = format_fields_line(0.5273, 1000, 40.95231, 0.0001, [("loss", 155.03), ("loss_ll_heat", 30.5468)])
    assert line == "epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468"
    pattern = r"^epoch=\d+\.\d\d step=\d+, \d+\.\d{4} examples/sec lr=\d+\.\d{6}, loss=\S+, loss_ll_heat=\S+$"
    assert re.match(pattern, format_fields_line(12.0, 7, 1234.5, 3e-3, [("loss", 1e-5), ("loss_ll_heat", 2.0)]))


def test_log_line_keeps_small_learning_rates_readable() -> None:
    """A cosine schedule's last steps, or a fine-tune at lr 4e-7, read ``lr=0.000000`` (six places, the old
    script's format): as if training had stopped. Rates are plain decimals with at least three significant digits;
    where six places already give them the line is unchanged."""
    cases = {4e-7: "0.000000400", 4.5e-6: "0.00000450", 1.234e-9: "0.00000000123", 2.5e-5: "0.0000250",
             1e-4: "0.000100", 0.02: "0.020000", 0.0: "0.000000"}
    for lr, text in cases.items():
        line = format_fields_line(1.0, 5, 10.0, lr, [("loss", 1.0)])
        assert f" lr={text}, " in line, (lr, line)
        assert float(text) == pytest.approx(lr, rel=5e-3, abs=0), text


def test_progress_bar_prints_log_records_above_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    handler = logging.StreamHandler(sys.stderr)  # as the CLI's logging.basicConfig makes (there on the root logger)
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    logger = logging.getLogger("handpose")
    logger.addHandler(handler)
    try:
        with progress_bar(10, 0, enabled=True) as bar:
            assert bar is not None and handler not in logger.handlers
            bar.update(1)
            logging.getLogger("handpose.training.trainer").warning("checkpoint written")
            bar.update(1)
        assert handler in logger.handlers and len(logger.handlers) == 1  # put back when the bar closed
    finally:
        logger.removeHandler(handler)
    text = sys.stderr.getvalue()
    logged = [line for line in text.split("\n") if "checkpoint written" in line]
    assert [line.split("\r")[-1] for line in logged] == ["LOG checkpoint written"]  # its own line, not in the bar
    assert "2/10" in text.rsplit("LOG checkpoint written", 1)[1]  # the bar goes on below it
    with progress_bar(10, 0, enabled=False) as bar:
        assert bar is None


# ------------------------------------------------------------------------------------------------- schedule


def test_lr_schedules() -> None:
    assert lr_factor(0, 100, "constant") == 1.0
    assert lr_factor(0, 100, "cosine") == pytest.approx(1.0)
    assert lr_factor(50, 100, "cosine") == pytest.approx(0.5)
    assert lr_factor(100, 100, "cosine") == pytest.approx(0.0)
    assert lr_factor(100, 100, "cosine", min_factor=0.1) == pytest.approx(0.1)
    # warmup: linear up to 1, then the schedule over the remaining steps
    assert [lr_factor(s, 100, "cosine", warmup_steps=4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 100, "cosine", warmup_steps=4) == pytest.approx(1.0)
    assert lr_factor(52, 100, "cosine", warmup_steps=4) == pytest.approx(0.5)
    assert lr_factor(29, 90, "step", gamma=0.1) == 1.0
    assert lr_factor(30, 90, "step", gamma=0.1) == pytest.approx(0.1)
    assert lr_factor(65, 90, "step", step_size=20, gamma=0.5) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="schedule"):
        lr_factor(0, 10, "linear")


def test_total_steps_from_epochs_or_max_steps() -> None:
    assert total_steps(TrainConfig(max_steps=7, epochs=100), 1000, 1) == 7
    assert total_steps(TrainConfig(epochs=1.5, batch_size=10), 95, 1) == 15  # ceil(142.5 / 10)
    assert total_steps(TrainConfig(epochs=1.0, batch_size=10), 95, 2) == 5
    with pytest.raises(ValueError, match="epochs"):
        total_steps(TrainConfig(), 10, 1)


# ------------------------------------------------------------------------------------------------- checkpoints


def test_checkpoints_keep_the_newest(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        save_checkpoint({"step": step, "w": torch.full((3,), float(step))}, tmp_path, step, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["ckpt-00000030.pt", "ckpt-00000040.pt"]
    assert find_checkpoint(tmp_path) == tmp_path / "ckpt-00000040.pt"
    assert torch.load(find_checkpoint(tmp_path), weights_only=True)["w"].tolist() == [40.0] * 3
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
    save_checkpoint({"step": 15}, tmp_path, 15, keep=1)  # older than the newest: still kept, the rest pruned
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-00000015.pt", "ckpt-00000040.pt"]


def test_atomic_write_failure_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "ckpt-00000001.pt"
    atomic_torch_save({"v": torch.tensor(1)}, target)
    before = target.read_bytes()

    class Unsaveable:  # torch.save fails half-way (pickling this object raises)
        def __reduce__(self) -> tuple:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_torch_save({"big": torch.zeros(1000), "bad": Unsaveable()}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # the temporary file was removed


def test_two_threads_writing_one_file_each_use_their_own_temporary(tmp_path: Path) -> None:
    """Writers of the same target in two threads of one process: each renames its own whole file; and a killed
    process's temporaries (of either name form) are recognised as stale."""
    import threading

    from handpose.files import atomic_write, remove_stale_temporaries

    target, inside = tmp_path / "out.bin", threading.Barrier(2)
    seen: list[Path] = []

    def write(tmp: Path, payload: bytes) -> None:
        seen.append(tmp)
        tmp.write_bytes(payload[:4])
        inside.wait(timeout=10)  # both temporaries exist at once
        with tmp.open("ab") as f:
            f.write(payload[4:])

    threads = [threading.Thread(target=atomic_write, args=(target, lambda t, b=b: write(t, b)))
               for b in (b"A" * 64, b"B" * 64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2 and target.read_bytes() in (b"A" * 64, b"B" * 64)
    dead = subprocess_pid()
    stale = [tmp_path / f".out.tmp-{dead}.bin", tmp_path / f".out.tmp-{dead}-7.bin",
             tmp_path / f".out.tmp-{os.getpid()}-9.bin"]
    for path in stale:
        path.write_bytes(b"partial")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale[:2])  # this process's own stays


def subprocess_pid() -> int:
    """The id of a process that has ended."""
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_find_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_checkpoint(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        find_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    save_checkpoint({"x": 1}, tmp_path / "checkpoints", 5, keep=3)
    assert find_checkpoint(tmp_path).name == "ckpt-00000005.pt"
    with pytest.raises(ValueError, match="needs keys"):
        load_checkpoint(find_checkpoint(tmp_path))


def test_rng_state_round_trips_through_weights_only_load(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)  # noqa: NPY002 (the legacy global state is what is saved)
    torch.manual_seed(3)
    atomic_torch_save({"rng": rng_state()}, tmp_path / "r.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    random.random(), np.random.rand(), torch.rand(5)  # noqa: NPY002  (move every generator on)
    set_rng_state(torch.load(tmp_path / "r.pt", weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected  # noqa: NPY002


def test_an_apple_gpus_random_state_is_saved_and_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A random op of a run on mps draws from the MPS generator, which checkpoints left out (CUDA's were kept). No
    Apple GPU here: its generator is stood in for by a CPU one behind torch.mps's own functions."""
    generator = torch.Generator().manual_seed(5)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda device="mps": generator.get_state())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, device="mps": generator.set_state(state))
    atomic_torch_save({"rng": rng_state()}, tmp_path / "r.pt")
    expected = torch.rand(3, generator=generator)
    torch.rand(7, generator=generator)  # the run goes on
    set_rng_state(torch.load(tmp_path / "r.pt", weights_only=True)["rng"])
    assert torch.equal(torch.rand(3, generator=generator), expected)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)  # resumed where there is no Apple GPU
    set_rng_state(torch.load(tmp_path / "r.pt", weights_only=True)["rng"])


# ------------------------------------------------------------------------------------------------- weights digest


def test_weights_digest_ignores_batchnorm_statistics_but_not_parameters() -> None:
    """Under DDP each rank's BatchNorm running statistics follow its own batches; the digest that checks the
    ranks hold the same weights must not flag them."""

    def net() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))

    a, b = net(), net()
    a(torch.randn(2, 3, 8, 8))  # train mode: a's running mean / var / count move, its parameters do not
    b(torch.randn(2, 3, 8, 8) + 5)
    assert not torch.equal(a[1].running_mean, b[1].running_mean)
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        b[1].bias[2] += 1e-3
    assert weights_digest(a) != weights_digest(b)


# ------------------------------------------------------------------------------------------------- data order


def _take(sampler: StreamSampler, n: int) -> list[tuple[int, int]]:
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_stream_is_a_permutation_per_epoch_and_depends_only_on_seed_and_epoch() -> None:
    pairs = _take(StreamSampler(10, 3, seed=7), 30)
    for e in range(3):
        idx = [i for ep, i in pairs if ep == e]
        assert sorted(idx) == list(range(10))
        assert idx == epoch_permutation(7, e, 10).tolist()
    assert [i for _, i in pairs[:10]] != [i for _, i in pairs[10:20]]  # epochs are shuffled differently
    assert _take(StreamSampler(10, 3, seed=8), 10) != pairs[:10]


def test_stream_resumes_at_any_sample_count() -> None:
    full = _take(StreamSampler(10, 4, seed=1), 40)
    assert _take(StreamSampler(10, 4, seed=1, start_sample=12), 28) == full[12:]  # 3 steps of 4 consumed


def test_ranks_share_each_step_without_overlap() -> None:
    full = _take(StreamSampler(11, 6, seed=0), 60)  # one process, 6 per step
    r0 = _take(StreamSampler(11, 3, seed=0, rank=0, world_size=2), 30)
    r1 = _take(StreamSampler(11, 3, seed=0, rank=1, world_size=2), 30)
    for step in range(10):
        both = r0[3 * step : 3 * step + 3] + r1[3 * step : 3 * step + 3]
        assert both == full[6 * step : 6 * step + 6]


def test_epoch_indexed_sets_the_items_epoch() -> None:
    class Recorder:
        epoch = 0

        def set_epoch(self, e: int) -> None:
            self.epoch = e

        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> tuple[int, int]:
            return self.epoch, i

    ds = EpochIndexed(Recorder())
    assert ds[(3, 4)] == (3, 4) and ds[(0, 1)] == (0, 1) and len(ds) == 5


# ------------------------------------------------------------------------------------------------- signals


def test_stop_request_catches_sigterm_and_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        assert stop.reason is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.reason == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before


# ------------------------------------------------------------------------------------------------- CLI config


def _args(*argv: str) -> object:
    return build_parser().parse_args(["train", *argv])


def test_cli_options_reach_the_config() -> None:
    cfg = config_from_args(_args("--data", "/d", "--preset", "tiny", "--input-size", "96", "--batch-size", "3",
                                 "--lr", "0.01", "--schedule", "step", "--max-steps", "9", "--no-augment",
                                 "--no-flip", "--rotation", "12", "--mirror-left", "--seed", "5", "--log-every", "2",
                                 "--val-every", "3", "--ckpt-every", "4", "--keep", "1", "--no-amp",
                                 "--no-channels-last", "--compile", "--device", "cpu", "--workers", "0",
                                 "--init", "w.npy", "--sigma", "1.5", "--out", "runs/x"))
    assert cfg.model.preset == "tiny" and cfg.model.input_size == 96 and cfg.dataset.input_size == 96
    assert (cfg.batch_size, cfg.lr, cfg.schedule, cfg.max_steps, cfg.seed) == (3, 0.01, "step", 9, 5)
    aug = cfg.dataset.augment
    assert not aug.enabled and aug.flip_prob == 0.0 and aug.rotation_deg == 12.0 and cfg.dataset.mirror_left
    assert (cfg.log_every, cfg.val_every, cfg.ckpt_every, cfg.keep_checkpoints) == (2, 3, 4, 1)
    assert (cfg.amp, cfg.channels_last, cfg.compile, cfg.device, cfg.workers) == (False, False, True, "cpu", 0)
    # input paths are stored absolute: a run resumed from another folder reads the same files
    assert (cfg.init, cfg.dataset.sigma, cfg.out, cfg.data) == (os.path.abspath("w.npy"), 1.5, "runs/x", "/d")
    assert config_from_args(_args("--init", "pretrained:lite"), speed=False).init == "pretrained:lite"
    with pytest.raises(FileNotFoundError, match="pretrained:lite"):  # a bare shipped name: pointed to, not made a path
        config_from_args(_args("--init", "lite"), speed=False)


def test_cli_defaults() -> None:
    from handpose.autotune.choice import Trial

    def bf16_cl_fastest(choices: list) -> dict:  # --amp / --channels-last auto: fake timings (tests/test_autotune*.py)
        return {c: Trial(0.1 / (1 + c.amp + c.channels_last), loss=1.0) for c in choices}

    with_data = config_from_args(_args("--data", "/d"), measure=bf16_cl_fastest)
    assert with_data.model.preset == "openpose" and with_data.dataset.input_size == 368
    assert with_data.log_every == 500 and with_data.ckpt_every == 2000 and with_data.epochs == 100.0
    assert with_data.amp is True and with_data.channels_last is True
    embedded = config_from_args(_args(), measure=bf16_cl_fastest)
    assert embedded.channels_last
    assert embedded.data is None and embedded.model.preset == "lite"
    assert embedded.model.input_size == embedded.dataset.input_size < 368 and embedded.max_steps


def test_naming_the_preset_keeps_its_recipe() -> None:
    """`--preset lite` trains exactly what the default run trains, and with --data only the data changes."""
    default, named = config_from_args(_args()), config_from_args(_args("--preset", "lite"))
    assert to_dict(default) == to_dict(named)
    on_data = config_from_args(_args("--preset", "lite", "--data", "/d"))
    assert to_dict(on_data) == {**to_dict(named), "data": "/d"}
    data = named.dataset
    assert (named.lr, data.sigma, data.box_padding, data.mirror_left) == (4e-3, 2.0, 1.3, True)
    assert named.max_steps == 3700 and named.dataset.input_size == 96
    lr_given = config_from_args(_args("--preset", "lite", "--lr", "0.01"))
    assert lr_given.lr == 0.01 and lr_given.dataset.sigma == 2.0  # an option given wins, the rest stays


def test_every_train_option_maps_to_a_config_field() -> None:
    """The option table is derived from the dataclasses: each flag sets the field of its name (or its renamed one)."""
    from handpose.commands.train import _NOT_FIELDS, _field_of

    parser = build_parser()
    train_parser = next(a for a in parser._subparsers._group_actions[0].choices.values()
                        if a.prog.endswith(" train"))
    dests = {a.dest for a in train_parser._actions if a.dest not in ("help", "verbose", "quiet")}  # -v / -q: logging
    assert all(_field_of(d) is not None for d in dests - _NOT_FIELDS)
    assert _field_of("keep") == ("", "keep_checkpoints") and _field_of("rotation") == ("augment", "rotation_deg")


def test_cli_resume_takes_the_stored_settings(tmp_path: Path) -> None:
    stored = TrainConfig(data="/d", batch_size=7, lr=0.5, max_steps=100, stop_at_step=10, out=str(tmp_path))
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": to_dict(stored)}, tmp_path / "checkpoints", 10, keep=2)
    cfg = config_from_args(_args("--resume", str(tmp_path), "--max-steps", "200"))
    assert (cfg.batch_size, cfg.lr, cfg.max_steps, cfg.stop_at_step) == (7, 0.5, 200, None)
    assert cfg.resume == str(tmp_path / "checkpoints" / "ckpt-00000010.pt") and cfg.out == str(tmp_path)
    by_epochs = config_from_args(_args("--resume", str(tmp_path), "--epochs", "3"), speed=False)
    assert (by_epochs.epochs, by_epochs.max_steps) == (3.0, None)  # the stored 100 steps no longer decide
    moved = config_from_args(_args("--resume", str(tmp_path), "--data", "rel/data"), speed=False)
    assert moved.data == os.path.abspath("rel/data")  # given again on resume: stored absolute as well
    with pytest.raises(ValueError, match="preset"):
        config_from_args(_args("--resume", str(tmp_path), "--preset", "tiny"))


# ------------------------------------------------------------------------------------------------- embedded data


def test_embedded_dataset_is_rendered_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.data.formats import load_splits
    from handpose.training.data import cache_root, embedded_dataset

    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    from handpose.synth import RENDERER_VERSION, resolve_renderer

    folder = embedded_dataset(seed=2, count=6, size=64)
    renderer = resolve_renderer("auto")
    # the renderer and its version are in the name: a new renderer makes new renders
    assert folder == tmp_path / "cache" / "synth" / f"2-6-64-{renderer}-v{RENDERER_VERSION}"
    files = sorted(folder.rglob("*.json"))
    assert len(files) == 6 and not [p for p in folder.parent.iterdir() if "tmp" in p.name]
    stamp = files[0].stat().st_mtime_ns
    assert embedded_dataset(seed=2, count=6, size=64) == folder and files[0].stat().st_mtime_ns == stamp
    splits = load_splits(folder)
    assert len(splits.train) + len(splits.val) == 6


def test_speed_defaults_follow_the_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    # bf16 autocast: AVX512-BF16 without AMX measured slower than fp32, AMX is what makes it pay
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not native_bf16(cpu)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert native_bf16(cpu)
    # channels_last: always for MobileNet and CUDA; VGG on a CPU only with AVX-512
    lite, openpose = preset("lite"), preset("openpose")
    assert channels_last_default(cpu, lite) and channels_last_default(cuda, openpose)
    for capability, expected in (("AVX512", True), ("AVX2", False), ("DEFAULT", False)):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert channels_last_default(cpu, openpose) is expected


def test_mirrored_left_hands_with_random_flips_are_warned_about() -> None:
    """--mirror-left with the openpose recipe's random flip: half the hands mirrored back, so the network sees both
    sides; the lite recipe (no flip) and --no-flip are quiet."""
    warning = side_warning(config_from_args(_args("--preset", "openpose", "--mirror-left"), speed=False))
    assert "--no-flip" in warning
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    train_flags = {flag for action in commands.choices["train"]._actions for flag in action.option_strings}
    assert set(re.findall(r"--[a-z][a-z-]*", warning)) <= train_flags  # it names only flags train has
    no_flip = config_from_args(_args("--preset", "openpose", "--mirror-left", "--no-flip"), speed=False)
    assert side_warning(no_flip) is None
    assert side_warning(config_from_args(_args("--preset", "lite"), speed=False)) is None  # mirrors, never flips
    assert side_warning(config_from_args(_args("--preset", "openpose"), speed=False)) is None  # no mirroring


def test_checkpoints_set_aside_twice_from_one_step_keep_both_branches(tmp_path: Path) -> None:
    from handpose.training.checkpoints import set_aside_later

    for branch in (1, 2):
        for step in (1, 2, 3):
            save_checkpoint({"step": step, "branch": branch}, tmp_path, step, keep=5)
        (tmp_path / "ckpt-00000001.pt").unlink()
        save_checkpoint({"step": 1, "branch": branch}, tmp_path, 1, keep=5)
        assert set_aside_later(tmp_path, 1) is not None
    firsts = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [p.name for p in firsts] == ["after-00000001", "after-00000001-2"]
    assert [torch.load(d / "ckpt-00000002.pt", weights_only=True)["branch"] for d in firsts] == [1, 2]


def test_epochs_given_alone_win_over_the_recipes_steps(caplog: pytest.LogCaptureFixture) -> None:
    """`--epochs 2` on the lite preset (whose recipe is 3700 steps) or the detector trained the recipe's steps: the
    option given was ignored in silence. Alone it now sets the length; beside --max-steps it is said to be unused."""
    for flags in (("--preset", "lite"), ("--task", "detect"), ("--init", "pretrained:lite")):
        cfg = config_from_args(_args(*flags, "--epochs", "2"), speed=False)
        assert (cfg.epochs, cfg.max_steps) == (2.0, None), flags
        assert total_steps(cfg, 58, 1) == math.ceil(2 * 58 / cfg.batch_size)
    with caplog.at_level(logging.WARNING, logger="handpose.commands.train"):
        both = config_from_args(_args("--preset", "lite", "--epochs", "2", "--max-steps", "9"), speed=False)
    assert both.max_steps == 9 and "--max-steps decides the run's length" in caplog.text


@pytest.mark.skipif(torch.xpu.is_available(), reason="this machine has an XPU")
def test_train_refuses_a_device_torch_was_built_without_before_anything(tmp_path: Path) -> None:
    """train(device="xpu") moved the model there and met torch's AssertionError (no one-line message: the CLI
    reports ValueError, OSError and RuntimeError); it is a ValueError before the run folder or data are touched.
    A resumed run with both speed flags given reaches train() without the command's own device check."""
    from handpose.training.distributed import DistInfo, resolve_device
    from handpose.training.trainer import train

    with pytest.raises(ValueError, match="--device xpu: no xpu device to run on here"):
        resolve_device("xpu", DistInfo())
    cfg = TrainConfig(device="xpu", out=str(tmp_path / "run"), max_steps=1)
    with pytest.raises(ValueError, match="--device xpu: no xpu device to run on here"):
        train(cfg)
    assert not (tmp_path / "run").exists()
    assert resolve_device("auto", DistInfo()).type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_bf16_rule_on_cuda_asks_the_given_gpu_for_bf16_tensor_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule (torchrun without a cached trial, --task detect's --amp auto) turned bf16 on by
    torch.cuda.is_bf16_supported(): True on a V100 or T4, which only emulate bf16, and asked of the current
    device, not the one training. No GPU here: the capability lookup is replaced, the rule's own code runs."""
    asked: list[torch.device] = []
    capability = {0: (7, 5), 1: (8, 0)}  # cuda:0 a T4, cuda:1 an A100

    def device_capability(device: torch.device) -> tuple[int, int]:
        asked.append(device)
        return capability[device.index]

    monkeypatch.setattr(torch.cuda, "get_device_capability", device_capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what it says on a T4
    monkeypatch.setattr(torch.version, "hip", None)
    assert not native_bf16(torch.device("cuda", 0))
    assert native_bf16(torch.device("cuda", 1))
    assert asked == [torch.device("cuda", 0), torch.device("cuda", 1)]


def test_torchrun_refuses_one_named_gpu_for_every_process_of_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """--device cuda:0 under torchrun --nproc_per_node 2 on a 2-GPU node put both processes on cuda:0, which NCCL
    refuses ("Duplicate GPU detected") after the start, and the failure read as a lost peer. No GPU here: CUDA's
    answers (available, 2 devices) are replaced, and set_device records what it was given."""
    from handpose.training.distributed import DistInfo, resolve_device

    chosen: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    second = DistInfo(rank=1, world_size=2, local_rank=1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="--device cuda:0: under torchrun the 2 processes of this node"):
        resolve_device("cuda:0", second)
    assert resolve_device("cuda", second) == torch.device("cuda", 1)  # each its own
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")  # one process per node: the GPU named is its own
    assert resolve_device("cuda:1", DistInfo(rank=1, world_size=2, local_rank=0)) == torch.device("cuda", 1)
    assert resolve_device("cuda:1", DistInfo()) == torch.device("cuda", 1)  # one process
    assert chosen == [torch.device("cuda", 1)] * 3
