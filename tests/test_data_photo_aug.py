"""A poor camera's look in training (data.photo_aug, ``--photo-aug-prob``): only pixels change, reproducibly per
seed, and a run without it draws exactly the items it drew before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data_helpers import hand_keypoints, items_digest, write_image

from handpose.config import AugmentConfig, DataConfig, TrainConfig, from_dict, to_dict
from handpose.config_checks import check_config
from handpose.data import transforms as T
from handpose.data.dataset import HandDataset
from handpose.data.photo_aug import RANGES, motion_kernel, noise_ceiling, poor_camera
from handpose.data.sample import Sample


def _samples(tmp_path: Path, count: int = 4, suffix: str = "jpg") -> list[Sample]:
    samples = []
    for i in range(count):
        kp = hand_keypoints(80, 60, 40, seed=i)
        samples.append(Sample(write_image(tmp_path / f"{i}.{suffix}", kp, 160, 120, seed=i), kp, False,
                              T.visible_box(kp), None, f"k{i}"))
    return samples


def _config(prob: float) -> DataConfig:
    return DataConfig(input_size=64, augment=AugmentConfig(color_jitter=0.3, blur_prob=0.5, photo_aug_prob=prob))


def test_the_same_seed_gives_the_same_crop_and_another_seed_another() -> None:
    image = np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    a = poor_camera(image, np.random.default_rng(5))
    assert np.array_equal(a, poor_camera(image, np.random.default_rng(5)))
    assert not np.array_equal(a, poor_camera(image, np.random.default_rng(6)))
    assert a.shape == image.shape and a.dtype == np.uint8


def test_dark_draws_are_noisier_and_the_noise_stays_in_its_range() -> None:
    assert noise_ceiling(1.0) == noise_ceiling(2.0) == RANGES["noise_bright"][1]
    assert noise_ceiling(RANGES["gain"][0]) == pytest.approx(RANGES["noise_dark"][1])
    assert noise_ceiling(0.5) > noise_ceiling(0.9) > noise_ceiling(1.0)


def test_a_motion_kernel_is_a_normalised_line() -> None:
    k = motion_kernel(9, 0.0)
    assert k.shape == (9, 9) and k.sum() == pytest.approx(1.0)
    assert k[4].sum() == pytest.approx(1.0)  # horizontal: all of it on the middle row
    assert np.count_nonzero(k[4]) == 9  # the whole row, end to end
    assert np.allclose(motion_kernel(9, 90.0), k.T)  # upright: the same line down the middle column
    with pytest.raises(ValueError, match="odd"):
        motion_kernel(8, 0.0)


def test_the_draws_span_dark_bright_and_flat_crops() -> None:
    image = np.full((32, 32, 3), 128, np.uint8)
    image[:, 16:] = 200
    means = [poor_camera(image, np.random.default_rng(s)).mean() for s in range(60)]
    assert min(means) < 80 and max(means) > 180  # gain x0.25-2 with gamma reaches both


# sha256 of the items below (two epochs of 4, every tensor) as the dataset made them before photo_aug_prob existed
# (colour jitter, blur and edge cuts on: the draws after colour jitter would move had the new gate drawn at P = 0)
ITEMS_BEFORE = "c7a77ce5ae640abde3350ec1cfd540cb20cd335fc56c438ea8d515ef0a7f9685"


def test_probability_zero_leaves_every_item_as_before(tmp_path: Path) -> None:
    """P = 0 draws nothing from the item's random stream: the items are byte for byte the ones made before the
    augmentation existed, and the ones of a stored config without the field."""
    samples = _samples(tmp_path, suffix="png")  # lossless: the digest does not hang on a JPEG encoder
    cfg = DataConfig(input_size=64, augment=AugmentConfig(color_jitter=0.3, blur_prob=0.5, edge_cut_prob=0.5))
    assert cfg.augment.photo_aug_prob == 0.0
    assert items_digest(HandDataset(samples, cfg, train=True, seed=3)) == ITEMS_BEFORE
    stored = to_dict(cfg)
    del stored["augment"]["photo_aug_prob"]
    assert items_digest(HandDataset(samples, from_dict(DataConfig, stored), train=True, seed=3)) == ITEMS_BEFORE
    harsh = dataclasses.replace(cfg, augment=dataclasses.replace(cfg.augment, photo_aug_prob=1.0))
    assert items_digest(HandDataset(samples, harsh, train=True, seed=3)) != ITEMS_BEFORE


def test_probability_one_changes_the_image_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(tmp_path)
    plain = HandDataset(samples, _config(0.0), train=True, seed=3)
    harsh = HandDataset(samples, _config(1.0), train=True, seed=3)
    called: list[tuple[int, ...]] = []
    import handpose.data.dataset as dataset_module

    def counted(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        called.append(image.shape)
        return poor_camera(image, rng)

    monkeypatch.setattr(dataset_module, "poor_camera", counted)
    for i in range(len(samples)):
        a, b = plain[i], harsh[i]
        assert b["image"].shape == a["image"].shape == (3, 64, 64) and b["image"].dtype == a["image"].dtype
        assert not torch.equal(a["image"], b["image"])
        for key in ("targets", "weights", "matrix", "keypoints", "box"):
            assert torch.equal(a[key], b[key]), key  # the crop's geometry and labels are drawn before the pixels
        assert torch.equal(b["image"], harsh[i]["image"])  # reproducible per (seed, epoch, index)
    assert called == [(64, 64, 3)] * (2 * len(samples))
    evaluation = HandDataset(samples, _config(1.0), train=False)  # no augmentation at evaluation
    assert torch.equal(evaluation[0]["image"], HandDataset(samples, _config(0.0), train=False)[0]["image"])


def test_the_probability_is_checked_and_resumed_runs_without_it_read_zero() -> None:
    cfg = TrainConfig()
    bad = dataclasses.replace(cfg, dataset=dataclasses.replace(
        cfg.dataset, augment=dataclasses.replace(cfg.dataset.augment, photo_aug_prob=1.5)))
    with pytest.raises(ValueError, match="photo_aug_prob"):
        check_config(bad)
    stored = to_dict(cfg)
    del stored["dataset"]["augment"]["photo_aug_prob"]  # a run's config.json from before the field
    assert from_dict(TrainConfig, stored).dataset.augment.photo_aug_prob == 0.0


def test_the_train_flag_sets_it_and_every_recipe_leaves_it_off() -> None:
    from handpose.cli import build_parser
    from handpose.commands.train import config_from_args

    def cfg(*argv: str) -> TrainConfig:
        return config_from_args(build_parser().parse_args(["train", "--data", "/d", *argv]), speed=False)

    assert cfg("--preset", "lite", "--photo-aug-prob", "0.3").dataset.augment.photo_aug_prob == 0.3
    assert cfg("--preset", "lite").dataset.augment.photo_aug_prob == 0.0
    assert cfg("--preset", "openpose").dataset.augment.photo_aug_prob == 0.0


def test_a_run_stored_before_the_field_resumes_without_it_and_takes_it_when_given(tmp_path: Path) -> None:
    from handpose.cli import build_parser
    from handpose.commands.train import config_from_args
    from handpose.training.checkpoints import save_checkpoint
    from handpose.training.setup import check_config as check_run

    stored = to_dict(TrainConfig(data="/d", max_steps=100, out=str(tmp_path)))
    del stored["dataset"]["augment"]["photo_aug_prob"]  # the checkpoint of a run from before the field
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": stored}, tmp_path / "checkpoints", 10, keep=2)
    argv = ["train", "--resume", str(tmp_path)]
    cfg = config_from_args(build_parser().parse_args(argv), speed=False)
    check_run(cfg)
    assert cfg.dataset.augment.photo_aug_prob == 0.0 and cfg.max_steps == 100
    again = config_from_args(build_parser().parse_args([*argv, "--photo-aug-prob", "0.3"]), speed=False)
    assert again.dataset.augment.photo_aug_prob == 0.3
