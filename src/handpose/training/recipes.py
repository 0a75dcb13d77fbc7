"""Each model preset's recommended training recipe: input size, targets, augmentation, optimiser and run length.

``handpose train`` starts from the recipe of the preset it trains (``--preset``, default ``lite`` without
``--data`` and ``openpose`` with it); ``--data`` decides only the data, and every option given still wins. The
``openpose`` recipe is TrainConfig's defaults (OpenPose's 368 px crops, sigma 1 cell, box padding 1.5, 100 epochs).
The ``lite`` recipe is what trains the embedded renders well on a 2-core CPU within the demo's 10 minutes (figures
in BENCHMARKS.md): 96 px crops at box padding 1.3, sigma 2 cells, left hands mirrored and no random flips, mild
augmentation, batch 16 at lr 4e-3 for 3700 steps. A run that fine-tunes one of handpose's own models (``--init``
its file) takes that model's preset, architecture and input settings instead, and a tenth of the recipe's learning
rate (:func:`recipe_from_init`, ``FINE_TUNE_LR``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from handpose.config import DetectorConfig, TrainConfig

LOG = logging.getLogger(__name__)

# a fine-tune's learning rate, as a share of its preset recipe's: fine-tuning the shipped lite model on 300 hands of
# rendered scenes and on 400 capsule-rendered hands at the recipe's 4e-3 gained nothing on their held-out hands and
# lost 0.08-0.14 PCK@0.2 on held-out renders; a tenth did best of 4e-3, 1e-3 and 4e-4 on both (BENCHMARKS.md,
# "Fine-tuning's learning rate")
FINE_TUNE_LR = 0.1

# per preset: {"input_size": px or None (the preset's), "dataset": DataConfig fields, "augment": AugmentConfig
# fields, "train": TrainConfig fields}
RECIPES: dict[str, dict[str, Any]] = {
    "openpose": {"input_size": None, "dataset": {}, "augment": {}, "train": {}},
    "lite": {
        "input_size": 96,
        "dataset": {"sigma": 2.0, "mirror_left": True, "box_padding": 1.3},
        "augment": {"flip_prob": 0.0, "rotation_deg": 15.0, "scale_min": 0.9, "scale_max": 1.1, "translate": 0.05,
                    "color_jitter": 0.1, "blur_prob": 0.0, "edge_cut_prob": 0.25,
                    "photo_aug_prob": 0.0},
        "train": {"batch_size": 16, "lr": 4e-3, "max_steps": 3700, "warmup_steps": 50, "val_every": 400,
                  "log_every": 100, "ckpt_every": 400},
    },
    "tiny": {"input_size": None, "dataset": {}, "augment": {}, "train": {}},  # for tests: TrainConfig's defaults
}


# the hand detector (``--task detect``) on whole images: hands of every size, so a wide zoom range; no rotation (a
# rotated box is not the box of the rotated hand)
DETECT_RECIPE: dict[str, Any] = {
    "augment": {"scale_min": 0.5, "scale_max": 2.0, "translate": 0.2, "flip_prob": 0.5, "color_jitter": 0.3,
                "blur_prob": 0.1, "edge_cut_prob": 0.0, "photo_aug_prob": 0.0},
    "train": {"batch_size": 16, "lr": 2e-3, "max_steps": 6000, "warmup_steps": 100, "val_every": 500,
              "log_every": 100, "ckpt_every": 500, "weight_decay": 1e-4},
}


def detect_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` set up for the hand detector with its recipe (``--task detect``)."""
    augment = dataclasses.replace(cfg.dataset.augment, **DETECT_RECIPE["augment"])
    data = dataclasses.replace(cfg.dataset, augment=augment)
    return dataclasses.replace(cfg, task="detect", dataset=data, **DETECT_RECIPE["train"])


def default_preset(has_data: bool) -> str:
    """The preset ``handpose train`` trains when none is named: openpose on a dataset, lite on the renders."""
    return "openpose" if has_data else "lite"


def recipe_config(cfg: TrainConfig, preset_name: str) -> TrainConfig:
    """``cfg`` with the preset's model and its recipe's settings (the recipe of the lite preset is ``handpose
    demo``'s and the embedded run's)."""
    from handpose.model.presets import preset

    recipe = RECIPES[preset_name]
    model = preset(preset_name)
    size = int(recipe["input_size"] or model.input_size)
    model = dataclasses.replace(model, input_size=size)
    augment = dataclasses.replace(cfg.dataset.augment, **recipe["augment"])
    data = dataclasses.replace(cfg.dataset, input_size=size, augment=augment, **recipe["dataset"])
    return dataclasses.replace(cfg, model=model, dataset=data, **recipe["train"])


def detector_from_init(init: str | None) -> DetectorConfig | None:
    """The stored settings of a hand detector that ``--task detect --init`` fine-tunes (a handpose detector file or
    checkpoint, e.g. ``pretrained:detector``): its input size, architecture, score threshold and NMS, so a detector
    trained at ``--input-size 256`` trains on at 256 (``--input-size`` given still wins). None when ``init`` is not
    such a file (none given, or a keypoint model, whose front starts a detector of the default settings)."""
    from handpose import pretrained
    from handpose.model.artifact import TASK_DETECT, read_stored_configs

    if init is None:
        return None
    stored = read_stored_configs(pretrained.resolve(init))
    if stored is None or stored[0] != TASK_DETECT:
        return None
    detector = stored[1]
    assert isinstance(detector, DetectorConfig)
    LOG.info("--init %s: fine-tuning the hand detector at its %d px; --input-size given overrides it", init,
             detector.input_size)
    return detector


def recipe_from_init(init: str | None, preset_name: str | None) -> TrainConfig | None:
    """The settings of a keypoint run that fine-tunes a handpose model (``--init`` a ``.safetensors`` or checkpoint
    of handpose's own, e.g. ``pretrained:lite``): that model's preset recipe with its architecture, input size,
    output stride, sigma, box padding and left-hand mirroring (flags given still win). None when ``init`` is not
    such a file (none given, or foreign weights: a caffemodel, a ``.npy``, a VGG-19 state dict fill the preset
    named). ValueError when it is a hand detector or ``preset_name`` names another preset than the file's."""
    from handpose import pretrained
    from handpose.model.artifact import TASK_DETECT, read_stored_configs

    if init is None:
        return None
    stored = read_stored_configs(pretrained.resolve(init))
    if stored is None:
        return None
    task, model_cfg, data_cfg = stored
    if task == TASK_DETECT:
        raise ValueError(f"--init {init} is a hand detector, not a keypoint model (train it further with --task "
                         "detect)")
    if preset_name is not None and preset_name != model_cfg.preset:
        raise ValueError(f"--init {init} holds the {model_cfg.preset} preset, not {preset_name}: give --preset "
                         f"{model_cfg.preset} or leave --preset out")
    base = recipe_config(TrainConfig(), model_cfg.preset if model_cfg.preset in RECIPES else "tiny")
    data = dataclasses.replace(base.dataset, input_size=model_cfg.input_size, stride=model_cfg.output_stride)
    if data_cfg is not None:
        data = dataclasses.replace(data, input_size=data_cfg.input_size, sigma=data_cfg.sigma,
                                   box_padding=data_cfg.box_padding, mirror_left=data_cfg.mirror_left)
    lr = base.lr * FINE_TUNE_LR
    LOG.info("--init %s: fine-tuning its %s preset at %d px (sigma %g, box padding %g, left hands %s) at lr %g, a "
             "tenth of the recipe's; flags given override these", init, model_cfg.preset, data.input_size, data.sigma,
             data.box_padding, "mirrored" if data.mirror_left else "as they are", lr)
    model = dataclasses.replace(model_cfg, input_size=data.input_size)  # type: ignore[arg-type]
    return dataclasses.replace(base, model=model, dataset=data, lr=lr)
