"""Setting a training run up: its checked settings, data, length, optimizer, initial weights and resume report."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from handpose.config import TrainConfig
from handpose.config_checks import check_config as check_model_config
from handpose.data.sample import Sample
from handpose.training.distributed import DistInfo, barrier
from handpose.training.held_out import FEW_HANDS, warn_if_few
from handpose.training.settings_checks import check_train_settings

if TYPE_CHECKING:
    from handpose.data.formats.load import Splits

LOG = logging.getLogger(__name__)


def total_steps(cfg: TrainConfig, train_size: int, world_size: int) -> int:
    """Optimizer steps of the whole run: ``max_steps``, else ``ceil(epochs * train_size / (batch * world))``."""
    if cfg.max_steps is not None:
        if cfg.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {cfg.max_steps}")
        return int(cfg.max_steps)
    if cfg.epochs is None or cfg.epochs <= 0:
        raise ValueError("give the run's length: epochs > 0 or max_steps >= 1 (--epochs / --max-steps)")
    return max(1, math.ceil(cfg.epochs * train_size / (cfg.batch_size * world_size)))


def resumed_total_steps(cfg: TrainConfig, state: dict[str, Any], train_size: int, world_size: int) -> int:
    """Optimizer steps of a resumed run: a run of ``max_steps`` keeps them; a run sized in epochs keeps its epochs:
    the checkpoint's step, then the samples still to go (``epochs * train_size`` less the samples seen) at this
    run's samples per step. With the batch it was saved with that is :func:`total_steps`; with another (once or
    several times) the run still ends at its epochs, where re-counting it all at the new batch would not."""
    if cfg.max_steps is not None:
        return total_steps(cfg, train_size, world_size)
    step = int(state["step"])
    old_batch, old_world = saved_step_size(state, cfg, world_size)
    seen = int(state.get("samples_seen", step * old_batch * old_world))
    to_go = max(0.0, float(cfg.epochs or 0) * train_size - seen)
    return step + math.ceil(to_go / (cfg.batch_size * world_size))


def saved_step_size(state: dict[str, Any], cfg: TrainConfig, world_size: int) -> tuple[int, int]:
    """(batch size, process count) a checkpoint was written with (this run's where it does not say)."""
    return (int(state.get("train_config", {}).get("batch_size", cfg.batch_size)),
            int(state.get("world_size", world_size)))


def warmup_warning(cfg: TrainConfig, steps_total: int) -> str | None:
    """Why the learning rate never reaches ``cfg.lr`` (the warmup is not shorter than the run's ``steps_total``
    steps), or None. A warmup of the recipe's length is called the recipe's, as ``--warmup-steps`` need not have been
    given (a fine-tune of 20 steps with the lite recipe's 50)."""
    if cfg.warmup_steps < steps_total:
        return None
    from handpose.training.recipes import DETECT_RECIPE, RECIPES

    recipe = DETECT_RECIPE if cfg.task == "detect" else RECIPES.get(cfg.model.preset, {})
    name = "detector" if cfg.task == "detect" else cfg.model.preset
    default = recipe.get("train", {}).get("warmup_steps", TrainConfig().warmup_steps)
    what = (f"the {name} recipe's warmup of {cfg.warmup_steps} steps" if cfg.warmup_steps == default
            else f"--warmup-steps {cfg.warmup_steps}")
    return (f"{what} is not shorter than the run's {steps_total} steps: the learning rate never reaches {cfg.lr:g} "
            f"(give --warmup-steps under {steps_total})")


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay) or SGD with momentum (L2 weight decay, as Caffe)."""
    params = [p for p in model.parameters() if p.requires_grad]
    # fused kernels: one pass over all parameters instead of ~10 small ops per tensor (measured: the per-tensor
    # loop was ~13% of a lite-preset step on the 2-core CPU)
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=True)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose 'adam' or 'sgd'")


def initial_weights(model: torch.nn.Module, path: str, report: bool = True) -> None:
    """Load ``--init`` weights into ``model`` (handpose weights / checkpoints of the same architecture, the
    TensorFlow VGG-16 ``.npy`` of hand_detector_train, torchvision VGG-19, OpenPose caffemodel:
    ``handpose.model.importers.init_weights``). ``report``: log what was loaded, and the importer's warnings (False
    for the check ahead of the run, which would say them a second time)."""
    from handpose import pretrained
    from handpose.model.importers import init_weights, nothing_loaded

    # pretrained:NAME is a shipped model; FileNotFoundError / ValueError name what did not fit
    loaded = init_weights(model, pretrained.resolve(path), warn=report)
    if not loaded.loaded:  # training would start from random weights, which --init did not ask for
        raise ValueError("--init " + nothing_loaded(path, getattr(model.config, "preset", "?"), loaded))
    if report:
        LOG.info("initial weights from %s: %d layers loaded, %d left random", path, len(loaded.loaded),
                 len(loaded.random))


def resume_changes(state: dict[str, Any], cfg: TrainConfig, world_size: int, steps_total: int, train_size: int,
                   samples_seen: int) -> str | None:
    """What resuming checkpoint ``state`` with another batch size or process count changes, or None.

    The samples per step (batch x processes) change, the data order goes on from ``samples_seen``; a run sized in
    epochs keeps its epochs, so its remaining steps are re-counted at the new batch (:func:`resumed_total_steps`)
    and its schedule spread over them, a run of ``max_steps`` keeps its steps and covers more or fewer epochs. The
    learning rate is not scaled with the batch.
    """
    old_batch, old_world = saved_step_size(state, cfg, world_size)
    if (old_batch, old_world) == (cfg.batch_size, world_size):
        return None
    what = []
    if old_batch != cfg.batch_size:
        what.append(f"batch size {cfg.batch_size} instead of {old_batch}")
    if old_world != world_size:
        what.append(f"{world_size} process{'es' if world_size != 1 else ''} instead of {old_world}")
    per_step, old_per_step = cfg.batch_size * world_size, old_batch * old_world
    old_total = int(state.get("total_steps", steps_total))
    step = int(state["step"])
    epochs = (samples_seen + max(0, steps_total - step) * per_step) / train_size
    old_epochs = (samples_seen + max(0, old_total - step) * old_per_step) / train_size
    length = (f"the run now lasts {steps_total} steps instead of {old_total}, the learning-rate schedule is "
              f"spread over them" if steps_total != old_total else f"the run still lasts {steps_total} steps")
    end = (f"it will end after {epochs:.2f} epochs instead of {old_epochs:.2f}"
           if f"{epochs:.2f}" != f"{old_epochs:.2f}" else f"it still ends after {epochs:.2f} epochs")
    return (f"resuming with {' and '.join(what)}: each step now takes {per_step} samples instead of "
            f"{old_per_step} (the data order continues); {length}, and {end}; --lr stays {cfg.lr:g} (not scaled "
            "with the batch)")


# crop and target settings a resumed run may change (each with its flag): said in a warning, as the weights file
# records the last ones (``predict`` crops as they say) though most steps trained with the earlier ones
_CROP_SETTINGS = (("sigma", "--sigma"), ("box_padding", "--box-padding"), ("mirror_left", "--mirror-left"))


def crop_changes(saved: dict[str, Any], cfg: TrainConfig) -> str | None:
    """The crop and target settings (``--sigma``, ``--box-padding``, ``--mirror-left``) a resumed run changes from
    its checkpoint's ``train_config`` ``saved``, in words, or None."""
    data = saved.get("dataset") if isinstance(saved.get("dataset"), dict) else {}
    words = [f"{flag} {getattr(cfg.dataset, key)} instead of {data[key]}" for key, flag in _CROP_SETTINGS
             if key in data and data[key] != getattr(cfg.dataset, key)]
    return ", ".join(words) or None


# augmentation settings a resumed run may change (each with its flag): said in a warning, as the data it trains on
# from the resumed step differs from the steps before
_AUGMENT_SETTINGS = (("enabled", "--augment"), ("scale_min", "--scale-min"), ("scale_max", "--scale-max"),
                     ("rotation_deg", "--rotation"), ("translate", "--translate"), ("flip_prob", "--no-flip"),
                     ("color_jitter", "--color-jitter"), ("blur_prob", "--blur-prob"),
                     ("edge_cut_prob", "--edge-cut-prob"), ("photo_aug_prob", "--photo-aug-prob"))


def augment_changes(saved: dict[str, Any], cfg: TrainConfig) -> str | None:
    """The augmentation settings a resumed run changes from its checkpoint's ``train_config`` ``saved``, in words
    (``--rotation 10.0 instead of 40.0``), or None."""
    data = saved.get("dataset") if isinstance(saved.get("dataset"), dict) else {}
    old = data.get("augment") if isinstance(data.get("augment"), dict) else {}
    now = cfg.dataset.augment
    words = [f"{flag} {getattr(now, key)} instead of {old[key]}" for key, flag in _AUGMENT_SETTINGS
             if key in old and old[key] != getattr(now, key)]
    return ", ".join(words) or None


def check_config(cfg: TrainConfig) -> None:
    """ValueError naming the first setting that cannot work (the run's own settings by their flags, the model and
    data configs field by field)."""
    check_train_settings(cfg)
    check_model_config(cfg.model, "model settings")
    check_model_config(cfg.dataset, "data settings")
    if cfg.task == "detect":
        check_model_config(cfg.detector, "detector settings")
        cells = (cfg.detector.input_size // 32) ** 2  # of the backbone's last, stride-32 map
        if cfg.batch_size * cells < 2:  # batch norm in training needs two values per channel
            raise ValueError(f"--batch-size {cfg.batch_size} at --input-size {cfg.detector.input_size}: the "
                             "detector's stride-32 batch-norm layers would see a single value per channel (one "
                             "1 x 1 map) and cannot train; give --batch-size 2 or more, or --input-size 64 or more")
    if cfg.task == "keypoints" and cfg.dataset.stride != cfg.model.output_stride:
        raise ValueError(f"the targets' stride ({cfg.dataset.stride}) must equal the model's output stride "
                         f"({cfg.model.output_stride}); set both with --output-stride")
    if cfg.negatives is not None and cfg.task != "keypoints":
        raise ValueError(f"--negatives trains the keypoint task only (boxes holding no hand); the {cfg.task} task "
                         "has its own negatives (every scene pixel outside a hand box)")
    if cfg.negatives is not None and not Path(cfg.negatives).exists():
        raise ValueError(f"--negatives {cfg.negatives}: no such file or folder (expected a COCO json of boxes that "
                         "hold no hand, e.g. from scripts/hard_negatives.py)")
    if cfg.dataset.input_size != cfg.model.input_size:
        LOG.info("training the %s preset (designed for %d px) at %d px", cfg.model.preset, cfg.model.input_size,
                 cfg.dataset.input_size)


def side_warning(cfg: TrainConfig) -> str | None:
    """Why a keypoint run's left-hand mirroring will not hold, or None: with ``mirror_left`` the network is meant to
    see right hands only (so a crop's side can be told at test time by running it both ways), and a random flip
    mirrors half the hands back."""
    if cfg.task != "keypoints" or not cfg.dataset.mirror_left or cfg.dataset.augment.flip_prob <= 0:
        return None
    return (f"left hands are mirrored to right ones (--mirror-left) but random flips (probability "
            f"{cfg.dataset.augment.flip_prob:g}) mirror hands back: the network sees both sides and cannot tell a "
            "left hand from a right one, so hands of unknown side get a side by chance; give --no-flip to keep the "
            "sides apart")


def no_training_message(data: str, splits: Splits, val_fraction: float) -> str:
    """Why ``data`` left nothing to train on: its own test or validation part took every sample (a COCO json named
    for val or test, CMU's manual_test, ...), or the hash split of ``--val-fraction`` did."""
    n = len(splits.val)
    own = n - len(splits.hash_val)
    if own == n:
        return (f"{data}: no training samples: all {n} are in the dataset's own test or validation part (a COCO json "
                "whose name holds val or test, CMU's manual_test, FreiHAND's evaluation set), which training holds "
                "out; point --data at a dataset with a training part (a json of your training hands named without "
                "val or test)")
    return (f"{data}: no training samples: all {n} are held out ({own} in the dataset's own test or validation part, "
            f"{n - own} by the hash split of --val-fraction {val_fraction:g}); lower --val-fraction or add samples")


def prepare_data(cfg: TrainConfig, info: DistInfo) -> tuple[Any, list[Sample], TrainConfig]:
    """The training HandDataset, the held-out samples and ``cfg`` with the data path and format resolved (the
    embedded renders are made by local rank 0 while the others wait)."""
    from handpose.data.dataset import HandDataset
    from handpose.data.formats import load_splits
    from handpose.data.formats.several import SEVERAL, is_several, load_several
    from handpose.training.data import embedded_dataset

    data = cfg.data
    if data is None:
        if info.local_rank == 0:
            embedded_dataset(cfg.seed, cfg.synth_count, cfg.synth_size, workers=max(1, cfg.workers))
        barrier()
        data = str(embedded_dataset(cfg.seed, cfg.synth_count, cfg.synth_size))
        cfg = dataclasses.replace(cfg, data_format=cfg.data_format or "hand_labels_synth")
    by_image = cfg.split_rule >= 1  # rule 0: a run started before 2026-12-06 held out hand by hand
    if cfg.data_format is None and is_several(data):  # a folder of datasets: all of them, each its own format
        splits = load_several(data, cfg.dataset.val_fraction, keypoint_order=cfg.keypoint_order, by_image=by_image)
    else:
        splits = load_splits(data, cfg.data_format, cfg.dataset.val_fraction, keypoint_order=cfg.keypoint_order,
                             by_image=by_image)
    if not splits.train:
        raise ValueError(no_training_message(data, splits, cfg.dataset.val_fraction))
    train = splits.train
    if cfg.negatives is not None:
        from handpose.data.formats.negatives import read_negatives
        from handpose.data.skip_report import SkipReport

        report = SkipReport()
        negatives = read_negatives(cfg.negatives, report)
        if report.total:
            LOG.warning("%s: %s", cfg.negatives, report.summary("negative boxes"))
        LOG.info("hard negatives %s: %d boxes holding no hand (%.0f%% of the training samples)", cfg.negatives,
                 len(negatives), 100.0 * len(negatives) / (len(negatives) + len(train)))
        train = train + negatives
    train_set = HandDataset(train, cfg.dataset, train=True, seed=cfg.seed)
    val = splits.val if cfg.val_limit is None else splits.val[: cfg.val_limit]
    cfg = dataclasses.replace(cfg, data=str(data), data_format=None if splits.fmt == SEVERAL else splits.fmt)
    LOG.info("data %s (%s): %d training samples, %d held-out for validation", data, splits.fmt, len(train_set),
             len(val))
    if not val and cfg.val_every > 0 and info.rank == 0:
        why = ("--val-fraction 0 holds none out" if cfg.dataset.val_fraction <= 0 else
               "the hash split put none there; raise --val-fraction, or give a dataset with a val/test part")
        LOG.warning("%s: no sample is held out for validation, so no validation runs and no best.safetensors is "
                    "written (%s)", data, why)
    elif cfg.val_every > 0 and info.rank == 0 and (cfg.val_limit is None or len(splits.val) < FEW_HANDS):
        # --val-limit is a choice of how many to score; a held-out part that small by itself is warned about
        warn_if_few(str(data), len(val), cfg.dataset.val_fraction, own_part=not splits.hash_val)
    return train_set, val, cfg


