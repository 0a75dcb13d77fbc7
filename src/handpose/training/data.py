"""Training data: the embedded synthetic dataset (rendered once into a cache) and the training DataLoader.

``handpose train`` without ``--data`` trains on hands rendered by ``handpose.synth.write_dataset`` into
``$HANDPOSE_CACHE/synth/<seed>-<count>-<size>`` (default cache: ``~/.cache/handpose``). The folder is rendered
under a temporary name and renamed when complete, so an interrupted render is never mistaken for a dataset.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch

from handpose.config import TrainConfig
from handpose.training.distributed import DistInfo
from handpose.training.sampler import EpochIndexed, StreamSampler
from handpose.training.signals import ignore_stop_signals_in_worker

LOG = logging.getLogger(__name__)

CACHE_ENV = "HANDPOSE_CACHE"


def cache_root() -> Path:
    """``$HANDPOSE_CACHE`` or ``~/.cache/handpose``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "handpose"


def embedded_dataset(seed: int, count: int, size: int, workers: int = 1, root: Path | None = None) -> Path:
    """The synthetic dataset of (seed, count, size), rendered on first use; returns its folder."""
    from handpose.synth import write_dataset

    target = (root or cache_root()) / "synth" / f"{seed}-{count}-{size}"
    if target.is_dir():
        return target
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    LOG.info("rendering the embedded synthetic dataset (%d images of %d px, seed %d) into %s", count, size, seed,
             target)
    write_dataset(tmp, count=count, seed=seed, size=size, workers=max(1, workers))
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished the same dataset first
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def train_loader(dataset: torch.utils.data.Dataset, cfg: TrainConfig, info: DistInfo, start_sample: int,
                 device: torch.device) -> torch.utils.data.DataLoader:
    """An endless loader of this rank's batches, starting at stream position ``start_sample`` (see train_sampler)."""
    sampler = StreamSampler(len(dataset), cfg.batch_size, cfg.seed, info.rank, info.world_size, start_sample)
    workers = max(0, int(cfg.workers))
    return torch.utils.data.DataLoader(
        EpochIndexed(dataset),
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=ignore_stop_signals_in_worker if workers > 0 else None,
    )


def embedded_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` set up for the embedded synthetic dataset: the lite preset at a small input size and a run length
    that learns the rendered hands in minutes on a CPU (the settings ``handpose demo`` uses)."""
    from dataclasses import replace

    from handpose.model.cpm import preset

    size = EMBEDDED["input_size"]
    model = replace(preset("lite"), input_size=size)
    data = replace(cfg.dataset, input_size=size, **EMBEDDED["dataset"],
                   augment=replace(cfg.dataset.augment, **EMBEDDED["augment"]))
    return replace(cfg, model=model, dataset=data, **EMBEDDED["train"])


# The embedded dataset's training settings (tuned with `handpose demo` on a 2-core CPU: sigma 2 learned fastest of
# the few settings tried; left hands mirrored to right (OpenPose's convention) and no random flips, so the network
# sees one chirality; mild augmentation, since the test renders come from the same generator). At equal training
# time, 112 px crops with box padding 1.3 (the hand as many pixels as 128 px at 1.5, less background) in batches of
# 16 (~64 examples/s vs ~46 at 128 px, batch 8) and 4000 rendered images instead of 1200 (less memorising) raised
# held-out PCK@0.2 from 0.54 to 0.60 (1000 extra test renders). fp32 channels_last instead of bf16 autocast on
# this AVX512-BF16 CPU (~100 examples/s instead of ~64) bought the steps from 1700 to 3000 in the same time
# (2300 steps: 0.63 on the demo's 1000 test renders). 8000 renders instead of 4000 (10 s more rendering) gave 0.67
# instead of 0.65 at 3000 steps: the model over-fits the renders (after 9000 steps on 4000: 0.92 on its training
# images, 0.75 on the test renders). 96 px crops train at ~120 examples/s instead of ~96: 3900 steps at 96 px gave
# 0.69 against 0.67 for 3000 at 112 in 6% more time; 3700 steps take the time 3000 took at 112.
EMBEDDED: dict = {
    "input_size": 96,
    "dataset": {"sigma": 2.0, "mirror_left": True, "box_padding": 1.3},
    "augment": {"flip_prob": 0.0, "rotation_deg": 15.0, "scale_min": 0.9, "scale_max": 1.1, "translate": 0.05,
                "color_jitter": 0.1, "blur_prob": 0.0},
    "train": {"batch_size": 16, "lr": 4e-3, "max_steps": 3700, "warmup_steps": 50, "val_every": 400,
              "log_every": 100, "ckpt_every": 400},
}  # the dataset's size and image side are TrainConfig's synth_count and synth_size (what --help shows)
