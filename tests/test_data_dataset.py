"""HandDataset: crops and targets agree with the keypoints, augmentation is reproducible, bad images are skipped."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_data_helpers import hand_keypoints, write_image

from handpose.config import AugmentConfig, DataConfig
from handpose.data import codec
from handpose.data import formats as F
from handpose.data import skip_report as R
from handpose.data import transforms as T
from handpose.data.dataset import HandDataset
from handpose.data.sample import Sample


def _samples(tmp_path: Path, n: int, w: int = 160, h: int = 120) -> list[Sample]:
    out = []
    for i in range(n):
        kp = hand_keypoints(w / 2, h / 2, 40, seed=i)
        path = write_image(tmp_path / f"{i}.jpg", kp, w, h, seed=i)
        out.append(Sample(path, kp, bool(i % 2), T.visible_box(kp), 60.0 if i % 3 else None, f"k{i}"))
    return out


def _no_colour(cfg: DataConfig) -> DataConfig:
    return dataclasses.replace(cfg, augment=dataclasses.replace(cfg.augment, color_jitter=0.0, blur_prob=0.0))


def _decoded_original(item: dict[str, torch.Tensor], stride: int) -> np.ndarray:
    """Keypoints decoded from the item's targets, mapped back to original pixels through the inverse matrix."""
    xy, _ = codec.decode(item["targets"][None], stride)
    return T.apply_affine(xy[0], T.invert_affine(item["matrix"].numpy().astype(np.float64)))


@pytest.mark.parametrize("size", [368, 100])
def test_item_shapes_and_targets_match_keypoints(tmp_path: Path, size: int) -> None:
    cfg = DataConfig(input_size=size)
    ds = HandDataset(_samples(tmp_path, 4), cfg, train=True, seed=3)
    S = -(-size // 8)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, size, size) and item["image"].dtype == torch.float32
        assert item["targets"].shape == (22, S, S) and item["weights"].shape == (21,)
        assert item["matrix"].shape == (2, 3) and item["keypoints"].shape == (21, 3) and item["box"].shape == (4,)
        assert item["head_size"].shape == () and item["is_left"].dtype == torch.bool and int(item["index"]) == i
        assert float(item["image"].min()) >= -0.5 and float(item["image"].max()) < 0.5
        ok = item["weights"].numpy() > 0
        M = item["matrix"].numpy().astype(np.float64)
        in_crop = T.apply_affine(item["keypoints"][:, :2].numpy(), M)
        back = T.apply_affine(_decoded_original(item, 8), M)  # the decoded point, through M and back
        err_cells = np.abs(back - in_crop) / 8
        assert ok.sum() >= 15 and err_cells[ok].max() < 0.25  # every keypoint of weight 1, at the crop's edges too
    assert np.isnan(float(ds[0]["head_size"])) and float(ds[1]["head_size"]) == 60.0
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch["targets"].shape == (2, 22, S, S) and batch["head_size"].shape == (2,)


def test_bright_pixels_follow_keypoints_through_augmentation(tmp_path: Path) -> None:
    """With rotation, scale, shift and flips, the image's dot of keypoint k is where keypoint k's target peaks."""
    kp = np.zeros((21, 3), dtype=np.float32)
    kp[0] = (90.0, 70.0, 1)
    kp[1:, :2] = (70.0, 50.0)
    kp[1:, 2] = 1
    kp[2] = (112.0, 61.0, 1)  # spread the box
    img = np.zeros((120, 160, 3), np.uint8)
    img[70, 90] = 255  # keypoint 0 only
    cv2.imwrite(str(tmp_path / "dot.png"), img)
    sample = Sample(tmp_path / "dot.png", kp, True, T.visible_box(kp), None, "dot")
    cfg = _no_colour(DataConfig(input_size=96, mirror_left=True))
    ds = HandDataset([sample], cfg, train=True)
    flips = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        item = ds[0]
        M = item["matrix"].numpy().astype(np.float64)
        flips.add(bool(np.linalg.det(M[:, :2]) < 0))
        crop = (item["image"][0].numpy() + 0.5) * 256
        expected = T.apply_affine(kp[0, :2].astype(np.float64), M)
        y, x = np.unravel_index(np.argmax(crop), crop.shape)
        assert np.hypot(x - expected[0], y - expected[1]) < 1.5, epoch
        xy, _ = codec.decode(item["targets"][None])
        assert np.hypot(*(xy[0, 0] - expected)) < 2.0
    assert flips == {True, False}  # the random flip happened both ways


def test_augmentation_is_reproducible_and_eval_deterministic(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 3)
    a = HandDataset(samples, DataConfig(), train=True, seed=7)
    b = HandDataset(samples, DataConfig(), train=True, seed=7)
    a.set_epoch(2)
    b.set_epoch(2)
    assert torch.equal(a[1]["image"], b[1]["image"]) and torch.equal(a[1]["matrix"], b[1]["matrix"])
    b.set_epoch(3)
    assert not torch.equal(a[1]["matrix"], b[1]["matrix"])
    c = HandDataset(samples, DataConfig(), train=True, seed=8)
    c.set_epoch(2)
    assert not torch.equal(a[1]["matrix"], c[1]["matrix"])
    off = DataConfig(augment=AugmentConfig(enabled=False))
    for ds in (HandDataset(samples, off, train=True), HandDataset(samples, DataConfig(), train=False)):
        first = ds[2]
        ds.set_epoch(5)
        again = ds[2]
        assert torch.equal(first["image"], again["image"]) and torch.equal(first["matrix"], again["matrix"])
        center, side = T.square_box(samples[2].box, 1.5)
        np.testing.assert_allclose(first["matrix"].numpy(), T.crop_matrix(center, side, 368), rtol=1e-6)


def test_mirror_left_folds_into_the_matrix(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 2)  # sample 1 is a left hand
    eval_cfg = DataConfig(augment=AugmentConfig(enabled=False))
    plain = HandDataset(samples, eval_cfg, train=False)
    mirrored = HandDataset(samples, dataclasses.replace(eval_cfg, mirror_left=True), train=False)
    assert np.linalg.det(plain[1]["matrix"][:, :2].double().numpy()) > 0
    assert np.linalg.det(mirrored[1]["matrix"][:, :2].double().numpy()) < 0
    assert np.linalg.det(mirrored[0]["matrix"][:, :2].double().numpy()) > 0  # right hands are not mirrored
    # warp rounding only: OpenCV 4's warpAffine places pixels to 1/32 px, so a mirrored matrix can move a sharp
    # 0-255 edge by up to 255/32 grey levels (8 after rounding; a wrong mirror moves whole features); OpenCV 5 is exact
    assert (mirrored[1]["image"] - plain[1]["image"].flip(-1)).abs().max() <= 8.5 / 256
    ok = mirrored[1]["weights"].numpy() > 0
    np.testing.assert_allclose(_decoded_original(mirrored[1], 8)[ok], samples[1].keypoints[ok, :2], atol=0.8)


def test_realdata_tiny_mpii_hand(realdata: Path) -> None:
    """The MPII left hand is about 55 x 37 px in a 1280 x 720 frame: crop, targets and the way back are exact."""
    splits = F.load_splits(realdata / "hand_labels")
    ds = HandDataset(splits.val, DataConfig(augment=AugmentConfig(enabled=False)), train=False)
    for i in range(len(ds)):
        item = ds[i]
        assert item["weights"].sum() == 21
        err = np.abs(_decoded_original(item, 8) - splits.val[i].keypoints[:, :2])
        assert err.max() < 0.25 * 8 * float(ds.boxes[i, 2:].max()) * 1.5 / 368  # 0.25 cells in original px
        if splits.val[i].key.endswith("005880453_01_l"):
            assert ds.boxes[i, 2] < 60  # upscaled ~4.5x, not cropped as if 368 px


def test_bad_images_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    samples = _samples(tmp_path, 3)
    kp = samples[0].keypoints
    box = samples[0].box

    def extra(name: str, content: bytes | None = None, image: np.ndarray | None = None) -> Sample:
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        if image is not None:
            assert cv2.imwrite(str(path), image)
        return Sample(path, kp, False, box, None, name)

    good = samples[0].image_path.read_bytes()
    rng = np.random.default_rng(0)
    bad = [
        extra("corrupt.jpg", rng.bytes(3000)),
        extra("truncated.jpg", good[: len(good) // 2]),
        extra("missing.jpg"),
        extra("bomb.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (50000).to_bytes(4, "big") * 2 + b"\x08\x02\x00"),
    ]
    usable = [
        extra("gray.png", image=rng.integers(0, 255, (120, 160), dtype=np.uint8)),
        extra("rgba.png", image=rng.integers(0, 255, (120, 160, 4), dtype=np.uint8)),
        extra("deep.png", image=rng.integers(0, 65535, (120, 160, 3), dtype=np.uint16)),
    ]
    all_samples = samples + bad + usable
    ds = HandDataset(all_samples, DataConfig(), train=True)
    bad_idx = set(range(3, 7))
    with caplog.at_level("WARNING", logger="handpose.data.dataset"):
        for epoch in range(2):
            ds.set_epoch(epoch)
            returned = [int(ds[i]["index"]) for i in range(len(ds))]
            assert not bad_idx & set(returned)
            assert [returned[i] for i in (0, 1, 2, 7, 8, 9)] == [0, 1, 2, 7, 8, 9]  # usable ones are themselves
    assert dict(ds.skipped.counts) == {R.CORRUPT_IMAGE: 2, R.MISSING_IMAGE: 1, R.TOO_LARGE: 1}  # once each
    assert sum("skipping bad image" in r.message for r in caplog.records) == 3  # first of each reason only
    only_bad = HandDataset(bad, DataConfig(), train=False)
    with pytest.raises(RuntimeError, match="no loadable image") as info:
        only_bad[0]
    text = str(info.value)
    assert f"image {tmp_path / 'corrupt.jpg'}" in text and f"dataset images under {tmp_path})" in text
    assert "expected a readable JPEG, PNG or BMP file" in text and "skipped 4 images" in text
    with pytest.raises(ValueError):
        HandDataset([], DataConfig(), train=True)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataloader_workers_survive_bad_images(tmp_path: Path) -> None:
    """Forked workers skip a bad image, see set_epoch and match the main process."""
    samples = _samples(tmp_path, 6)
    samples[2] = Sample(tmp_path / "gone.jpg", samples[2].keypoints, False, samples[2].box, None, "gone")
    ds = HandDataset(samples, DataConfig(input_size=64), train=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context="fork")
    seen = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        for batch in loader:
            assert batch["image"].shape == (3, 3, 64, 64)
            seen += batch["index"].tolist()
        assert torch.equal(batch["matrix"][-1], ds[5]["matrix"])  # the worker used this epoch's augmentation
    assert len(seen) == 12 and 2 not in seen


def test_pickled_copy_gives_the_same_items(tmp_path: Path) -> None:
    """What spawn / forkserver DataLoader workers receive: a pickled copy that yields identical items."""
    ds = HandDataset(_samples(tmp_path, 3), DataConfig(input_size=64), train=True, seed=5)
    ds.set_epoch(4)
    copy = pickle.loads(pickle.dumps(ds))
    for i in range(3):
        a, b = ds[i], copy[i]
        assert all(torch.equal(a[k], b[k]) or (k == "head_size" and a[k].isnan() and b[k].isnan()) for k in a)


def test_sample_round_trip(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 3)
    ds = HandDataset(samples, DataConfig(), train=False)
    for i, s in enumerate(samples):
        back = ds.sample(i)
        assert back.image_path == s.image_path and back.key == s.key and back.is_left == s.is_left
        np.testing.assert_array_equal(back.keypoints, s.keypoints)
        assert back.head_size == s.head_size


def test_training_crop_without_augmentation_is_the_evaluation_crop(synth_data: Path) -> None:
    """The invariant that keeps training and evaluation aligned: with augmentation off, the dataset's crop matrix
    of a sample equals the predictor's (the one crop recipe, data.crop.CropRecipe), left hands mirrored alike."""
    from dataclasses import replace

    from handpose.data.crop import sample_box
    from handpose.data.formats import load_splits
    from handpose.inference.prepare import spec_from_config

    samples = load_splits(synth_data, "hand_labels_synth").train[:6]
    cfg = DataConfig(input_size=72, box_padding=1.4, mirror_left=True)
    samples[0] = replace(samples[0], is_left=True)
    no_aug = replace(cfg, augment=replace(cfg.augment, enabled=False))
    train_set = HandDataset(samples, no_aug, train=True, seed=3)
    spec = spec_from_config(cfg)
    for i, s in enumerate(samples):
        expected, _ = spec.matrices((10_000, 10_000), sample_box(s), bool(s.is_left), strict=False)
        np.testing.assert_array_equal(train_set.crop_matrix(i, train_set.rng(i)), expected[0])
    assert train_set.crop_matrix(0)[0, 0] < 0  # the left hand is mirrored in both
    augmented = HandDataset(samples, cfg, train=True, seed=3)
    assert not np.allclose(augmented.crop_matrix(1, augmented.rng(1)), train_set.crop_matrix(1))
