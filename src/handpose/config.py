"""Dataclass configurations: model, data (crop, targets, augmentation) and training.

Configs are plain dataclasses passed explicitly (no global or class-attribute configuration). They round-trip
through dictionaries (JSON, safetensors metadata, checkpoints) with :func:`to_dict` and :func:`from_dict`;
an unknown key is an error that names the key and the config, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class ModelConfig:
    """Hyperparameters that rebuild a CPM network from its weight file alone (see ``model/cpm.py`` presets)."""

    preset: str = "openpose"
    backbone: str = "vgg19"  # "vgg19" (OpenPose's front) or a lighter backbone named by model/cpm.py
    width: float = 1.0  # channel multiplier of the lighter backbones
    backbone_repeats: int = 4  # mobilenet: plain 512-wide (x width) units after the dilated one
    feature_channels: int = 128  # conv5_3_CPM output channels, fed to every stage
    stage1_layers: int = 0  # 3x3 convs (stage_channels wide) ahead of conv6_1_CPM in stage 1 (OpenPose: none)
    stage1_channels: int = 512  # conv6_1_CPM
    stages: int = 6
    stage_channels: int = 128  # Mconv1..Mconv6
    stage_kernel: int = 7  # 7: one 7x7 conv per layer (OpenPose); 3: three stacked 3x3 convs per layer
    stage_layers: int = 5  # Mconv1..Mconv5
    stage_block: str = "plain"  # "plain": stage_kernel convs; "residual": 1x1 + 3x3 + dilated 3x3 unit (Lightweight OP)
    num_maps: int = 22  # 21 keypoints + background
    input_size: int = 368  # the square crop size the model is meant to run at
    output_stride: int = 8  # 8, or 4: the last stage runs on features and maps upsampled 2x (finer maps)


@dataclass
class AugmentConfig:
    """Random training augmentation; ``enabled=False`` (evaluation) makes every crop deterministic."""

    enabled: bool = True
    scale_min: float = 0.75  # box scale factor range
    scale_max: float = 1.25
    rotation_deg: float = 40.0  # uniform in [-rotation_deg, rotation_deg]
    translate: float = 0.1  # centre shift, as a fraction of the box side
    flip_prob: float = 0.5  # horizontal flip (joint identities are not swapped)
    color_jitter: float = 0.3  # strength of brightness / contrast / saturation / hue jitter
    blur_prob: float = 0.2  # probability of a Gaussian blur
    blur_max_sigma: float = 1.5
    edge_cut_prob: float = 0.0  # probability of cutting the hand off by a straight image edge (data.edge_cut)
    photo_aug_prob: float = 0.0  # probability of a poor camera's exposure, noise, blur and JPEG (data.photo_aug)


@dataclass
class DataConfig:
    """How a labelled hand becomes a training input (crop, targets) and how datasets are split."""

    input_size: int = 368  # square crop side, model input pixels
    stride: int = 8  # output stride of the network
    sigma: float = 1.0  # Gaussian sigma of the belief maps, in output cells (8 input pixels at stride 8)
    box_padding: float = 1.5  # crop side = box_padding * the longer side of the visible keypoints' box
    mirror_left: bool = False  # OpenPose's convention: mirror left hands to right before the network
    val_fraction: float = 0.1  # held-out share where the dataset has no test split
    max_image_pixels: int = 100_000_000  # larger images (by their header) are skipped: decompression-bomb guard
    reduced_decode: bool = True  # decode JPEGs at 1/2, 1/4, 1/8 when the crop is that much smaller (exact matrix)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class DetectorConfig:
    """Hyperparameters that rebuild a hand detector (``detection/model.py``) from its weight file alone.

    A CenterNet-style network: MobileNet-v1 units (``model/blocks.py``) down to stride 32, a neck that upsamples
    back to ``stride`` adding the backbone's features on the way, and per-cell heads (hand centre, box size,
    sub-cell offset, left/right). It sees the whole image letterboxed to ``input_size`` square.
    """

    preset: str = "detect"
    width: float = 0.5  # channel multiplier of the MobileNet-v1 backbone
    backbone_repeats: int = 3  # plain units at stride 16 (MobileNet-v1: 5)
    neck_channels: int = 64  # channels of every neck level
    head_channels: int = 64  # 3x3 conv of each head before its 1x1 output
    stride: int = 4  # output stride of the maps
    input_size: int = 320  # letterboxed square side, input pixels
    max_hands: int = 20  # targets per image (training) and detections kept per image (decoding)
    score_threshold: float = 0.3  # default detection threshold of HandDetector
    nms_iou: float = 0.6  # boxes overlapping a higher-scored one by more than this are dropped (1: off)


TASKS = ("keypoints", "detect")  # what `handpose train --task` trains (handpose.training.tasks builds each)


@dataclass
class TrainConfig:
    """Everything ``handpose train`` resolves; saved in the output directory as JSON."""

    data: str | None = None  # dataset path; None renders the embedded synthetic dataset
    data_format: str | None = None  # None: detected from the path
    keypoint_order: str | None = None  # COCO json stored in another keypoint order (e.g. "rhd"); None: CMU's
    negatives: str | None = None  # json of boxes that hold no hand, added to keypoint training (formats.negatives)
    out: str = "runs/train"
    init: str | None = None  # initial weights (safetensors, .npy, torchvision VGG-19, caffemodel)
    resume: str | None = None
    seed: int = 0
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # "cosine", "step" or "constant"
    warmup_steps: int = 0
    epochs: float | None = None  # one of epochs / max_steps decides the run's length
    max_steps: int | None = None
    workers: int = 2
    log_every: int = 500
    val_every: int = 2000
    ckpt_every: int = 2000
    keep_checkpoints: int = 3
    amp: bool = True  # bf16 autocast
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DataConfig = field(default_factory=DataConfig)
    optimizer: str = "adam"  # "adam" (AdamW: decoupled weight decay) or "sgd" (momentum, L2 weight decay)
    momentum: float = 0.9  # SGD momentum
    min_lr_ratio: float = 0.0  # cosine: the last step's lr as a fraction of lr
    lr_step_size: int | None = None  # step schedule: steps between decays (None: a third of the run)
    lr_gamma: float = 0.1  # step schedule: decay factor
    grad_clip: float = 0.0  # clip the gradient norm to this (0: off)
    val_limit: int | None = None  # validate on the first N held-out samples only (None: all)
    val_images: int = 4  # validation images written to TensorBoard
    stop_at_step: int | None = None  # stop cleanly (checkpoint saved) at this step; the schedule still spans the run
    time_limit: float | None = None  # minutes; stop cleanly (checkpoint saved) when reached
    threads: int | str | None = None  # torch intra-op threads (None: torch's default; "auto": the free cores, as run)
    synth_count: int = 8000  # embedded dataset (no --data): number of rendered images
    synth_size: int = 256  # embedded dataset: rendered image side in pixels
    overwrite: bool = False  # a fresh run into a folder holding a run deletes that run's files (else: refused)
    task: str = "keypoints"  # "keypoints" (the CPM on hand crops) or "detect" (the hand detector on whole images)
    # the train/held-out split's rule, kept by a resumed run: 0 until 2026-12-06 (the keypoint hash split hand by hand,
    # not image by image), 1 until 2026-12-07 (a detector's lone *_train.json held nothing out), 2 since (it holds out
    # its hash share, as the keypoint task's); a run that records none is 1, or 0 (training.stored_settings)
    split_rule: int = 2
    detector: DetectorConfig = field(default_factory=DetectorConfig)  # the detector's architecture (task "detect")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A nested plain dictionary of a config dataclass (JSON-safe)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from a (possibly nested) dictionary; unknown keys raise ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value)  # type: ignore[arg-type]
        kwargs[name] = value
    return cls(**kwargs)
