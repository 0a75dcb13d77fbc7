"""Shared test fixtures: real sample photographs (skipped when absent), rendered hands, tiny models, one thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
CHECKED_IN_HANDS = Path(__file__).resolve().parent / "data" / "pretrained_check" / "hands"


@pytest.fixture(scope="session")
def checked_in_hands() -> list:
    """The 32 rendered hands checked in with the shipped models' expected figures (15 left), in key order."""
    from handpose.data.formats import load_splits

    splits = load_splits(CHECKED_IN_HANDS)
    return sorted(splits.train + splits.val, key=lambda s: s.key)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of real annotated hand photographs; tests using it skip where it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample data not found at {REALDATA}")
    return REALDATA


@pytest.fixture(autouse=True)
def threads_as_they_were() -> Iterator[None]:
    """Every test leaves PyTorch's thread count as it found it, and no thread governor behind (``handpose predict``
    runs with ``--threads auto``, which sets both)."""
    import torch

    from handpose.autotune import free_cores

    before = torch.get_num_threads()
    yield
    free_cores._GOVERNOR, free_cores._TORCH_CEILING, free_cores._PROCESS_DEFAULT = None, None, None
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def stop_signals_as_they_were() -> Iterator[None]:
    """Every test leaves the stop signals' handlers as it found them, and fails where it did not: a command that ends
    after a Ctrl-C ignores SIGINT while its process exits, and a test that left it so made a later training run in
    the same session take SIGINT as ignored on purpose (as under nohup) and run on."""
    import signal

    names = [n for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    before = {n: signal.getsignal(getattr(signal, n)) for n in names}
    yield
    changed = [n for n in names if signal.getsignal(getattr(signal, n)) is not before[n]]
    for n in changed:
        signal.signal(getattr(signal, n), before[n])
    if changed:
        pytest.fail(f"the test left the handlers of {', '.join(changed)} changed (put back now)")


@pytest.fixture
def interactive_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as a run started at a terminal has it: a test session started as a
    script's background job (``pytest &``, ``nohup``) has SIGINT ignored, which handpose keeps on purpose (the nohup
    case, tested apart), so a test of what a Ctrl-C does would see none."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread for the test: on a shared 2-core machine two OpenMP threads stall each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 rendered hands at 96 px (hand_labels_synth layout), made once per test session."""
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("rendered")
    write_dataset(root, count=40, seed=3, size=96)
    return root


@pytest.fixture(scope="session")
def tiny_cpm() -> Callable[[int], Any]:
    """A factory: ``tiny_cpm(seed)`` is the tiny preset in eval mode with its biases shaken (a fresh network's maps
    are near zero everywhere, which would make parity checks trivial)."""

    def make(seed: int) -> Any:
        import torch

        from handpose.model.cpm import build_model

        torch.manual_seed(seed)
        model = build_model("tiny").eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.add_(torch.randn_like(p) * 0.1)
        return model

    return make


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point $HANDPOSE_CACHE (rendered datasets, autotune.json) at a folder of this test session, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HANDPOSE_CACHE", str(tmp_path_factory.mktemp("handpose-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def toy_detector(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Any, float, float]:
    """A small hand detector trained 200 steps (one thread, no augmentation) on 8 toy scenes until it knows them:
    (model in eval mode, its TrainConfig, its DetectTask, first loss, last loss). For tests of the pipeline around
    a detector, not of its skill."""
    import torch

    from handpose.config import DetectorConfig, TrainConfig
    from handpose.detection.task import DetectTask
    from handpose.detection.toy_scenes import write_toy_scenes

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        data = write_toy_scenes(tmp_path_factory.mktemp("scenes"), 8, seed=5, width=160, height=120, min_side=14,
                                max_hands=2)
        cfg = TrainConfig(data=str(data), task="detect", batch_size=8, detector=DetectorConfig(
            width=0.25, backbone_repeats=1, neck_channels=32, head_channels=32, input_size=128))
        cfg.dataset.val_fraction = 0.0
        cfg.dataset.augment.enabled = False
        task = DetectTask()
        train_set, held_out, cfg = task.prepare_data(cfg, None)
        assert held_out == [] and len(train_set) == 8
        model = task.build_model(cfg)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
        batch = {k: torch.stack([train_set[i][k] for i in range(len(train_set))]) for k in train_set[0]}
        losses = []
        for _ in range(200):
            total, parts = task.loss(model(batch["image"]), batch)
            assert len(parts) == len(task.loss_names)
            losses.append(float(total.detach()))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        return model.eval(), cfg, task, losses[0], losses[-1]
    finally:
        torch.set_num_threads(before)
