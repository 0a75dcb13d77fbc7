"""FreiHAND in its own layout: a tiny root written here (real JPEGs; 3D joints that are known 2D points lifted
through known, per-sample intrinsics) is read back to those points; image i shows annotation i mod N; the versions
of one sample stay on one side of the split; bad files are refused and bad entries counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_image

from handpose.data import skip_report as R
from handpose.data.formats import detect_format, load_splits
from handpose.data.formats.freihand_labels import project

SIDE = 224  # FreiHAND's images are 224 x 224


def intrinsics(j: int) -> np.ndarray:
    """(3, 3) K of annotation j: a different focal length and principal point for each."""
    return np.array([[400.0 + 10 * j, 0.0, 111.5 + j], [0.0, 410.0 + 7 * j, 112.0 - j], [0.0, 0.0, 1.0]])


def hand_2d(j: int) -> np.ndarray:
    """(21, 2) pixels of annotation j, inside the image; annotation 0's little fingertip lies outside it."""
    rng = np.random.default_rng(j)
    xy = rng.uniform(40, 180, (21, 2))
    if j == 0:
        xy[20] = (230.25, 100.5)  # beyond the right edge: labelled but outside
    return xy


def lift(xy: np.ndarray, k: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(21, 2) pixels at (21,) depths in metres -> (21, 3) camera-space joints that K projects there."""
    uv1 = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)  # (21, 3)
    return (uv1 @ np.linalg.inv(k).T) * depth[:, None]  # K^-1 [u, v, 1]^T, scaled to the depth


def write_part(root: Path, part: str, n: int, versions: int, images: bool = True) -> np.ndarray:
    """``{part}_xyz.json`` + ``{part}_K.json`` of n annotations and ``{part}/rgb/%08d.jpg`` (n * versions images, one
    JPEG copied); returns the (n, 21, 2) true pixels."""
    truth = np.stack([hand_2d(j + (100 if part == "evaluation" else 0)) for j in range(n)])  # (n, 21, 2)
    ks = [intrinsics(j) for j in range(n)]
    xyz = [lift(truth[j], ks[j], np.linspace(0.55, 0.7, 21)) for j in range(n)]
    (root / f"{part}_xyz.json").write_text(json.dumps([x.tolist() for x in xyz]))
    (root / f"{part}_K.json").write_text(json.dumps([k.tolist() for k in ks]))
    rgb = root / part / "rgb"
    first = write_image(rgb / "00000000.jpg", None, SIDE, SIDE)
    if images:
        for i in range(1, n * versions):
            shutil.copyfile(first, rgb / f"{i:08d}.jpg")
    return truth


def test_keypoints_are_the_projection_and_image_i_shows_annotation_i_mod_n(tmp_path: Path) -> None:
    n = 5
    truth = write_part(tmp_path, "training", n, 4)
    assert detect_format(tmp_path) == "freihand"
    splits = load_splits(tmp_path, val_fraction=0.0)
    assert splits.fmt == "freihand" and not splits.skipped and splits.val == []
    samples = {int(s.image_path.stem): s for s in splits.train}
    assert sorted(samples) == list(range(4 * n))  # every version of every sample
    for i, s in samples.items():
        j = i % n  # image 32,560 + j shows annotation j in the real set
        assert s.key == f"training/{j:08d}#rgb/{i:08d}.jpg"
        np.testing.assert_allclose(s.keypoints[:, :2], truth[j], atol=1e-4)
        assert (s.keypoints[:, 2] == 1).all()  # every joint labelled
        assert not s.is_left and s.side_known and s.head_size is None
        lo, hi = truth[j].min(axis=0), truth[j].max(axis=0)
        np.testing.assert_allclose(s.box, [*lo, *(hi - lo + 1)], atol=1e-3)  # tight box, inclusive extent
    outside = samples[0].keypoints[20]
    assert outside[0] > SIDE and outside[2] == 1  # labelled though outside the image, as CMU's readers keep it


def test_projection_is_k_times_xyz_divided_by_the_third_coordinate() -> None:
    k = np.array([[[500.0, 0.0, 100.0], [0.0, 400.0, 120.0], [0.0, 0.0, 1.0]]])  # (1, 3, 3)
    xyz = np.zeros((1, 21, 3))
    xyz[0, :, 2] = 0.5
    xyz[0, 3] = (0.1, -0.05, 0.5)
    xy, depth = project(k, xyz)
    assert xy.shape == (1, 21, 2) and depth.shape == (1, 21)
    np.testing.assert_allclose(xy[0, 3], (500 * 0.1 / 0.5 + 100, 400 * -0.05 / 0.5 + 120))
    np.testing.assert_allclose(xy[0, 0], (100, 120))


def test_the_versions_of_a_sample_never_straddle_the_split(tmp_path: Path) -> None:
    n = 40
    write_part(tmp_path, "training", n, 4)
    splits = load_splits(tmp_path, val_fraction=0.3)
    assert splits.val and splits.train and len(splits.train) + len(splits.val) == 4 * n
    group = {"train": [int(s.image_path.stem) % n for s in splits.train],
             "val": [int(s.image_path.stem) % n for s in splits.val]}
    assert not set(group["train"]) & set(group["val"])
    assert all(group["val"].count(j) == 4 for j in set(group["val"]))  # all 4 versions on the validation side


def test_the_evaluation_set_is_the_validation_split(tmp_path: Path) -> None:
    write_part(tmp_path, "training", 4, 4)
    truth = write_part(tmp_path, "evaluation", 3, 1)
    splits = load_splits(tmp_path, val_fraction=0.5)
    assert len(splits.train) == 16 and all(s.key.startswith("training/") for s in splits.train)
    assert len(splits.val) == 3 and all(s.key.startswith("evaluation/") for s in splits.val)
    for s in splits.val:
        np.testing.assert_allclose(s.keypoints[:, :2], truth[int(s.image_path.stem)], atol=1e-4)
    # one of the json files: its part alone (a test part alone is all validation, as for other formats)
    for name, train, val in (("evaluation_xyz.json", 0, 3), ("training_K.json", None, None)):
        assert detect_format(tmp_path / name) == "freihand"
        one = load_splits(tmp_path / name, val_fraction=0.5)
        if train is None:
            assert {s.key.split("/")[0] for s in one.train + one.val} == {"training"}
        else:
            assert (len(one.train), len(one.val)) == (train, val)


def test_detection_and_the_parts_found_are_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_part(tmp_path, "training", 3, 4)
    (tmp_path / "evaluation_K.json").write_text(json.dumps([intrinsics(0).tolist()]))  # the first download: no labels
    (tmp_path / "training" / "mask").mkdir()
    with caplog.at_level("INFO", logger="handpose"):
        splits = load_splits(tmp_path, fmt="freihand")
    assert len(splits.train) + len(splits.val) == 12
    assert "training (3 annotations, 12 images: 4 versions each)" in caplog.text
    assert "evaluation_K.json without evaluation_xyz.json: the evaluation images are unlabelled" in caplog.text
    assert "validation is a hash split of the training annotations" in caplog.text
    (tmp_path / "training_xyz.json").unlink()
    assert detect_format(tmp_path) == "freihand"
    with pytest.raises(ValueError, match="no training_xyz.json or evaluation_xyz.json .*unlabelled"):
        load_splits(tmp_path)


def test_a_count_mismatch_and_broken_files_are_refused_in_one_line(tmp_path: Path) -> None:
    write_part(tmp_path, "training", 6, 1)
    k_path = tmp_path / "training_K.json"
    k_path.write_text(json.dumps(json.loads(k_path.read_text())[:5]))
    with pytest.raises(ValueError) as refused:
        load_splits(tmp_path)
    assert str(refused.value) == (f"{k_path}: 5 intrinsics for the 6 annotations of training_xyz.json; the two files "
                                  "must have one entry per annotation (both from one FreiHAND download)")
    k_path.write_text('[[[1, 0, 0], [0, 1, 0]')  # cut short
    with pytest.raises(ValueError, match=rf"^{k_path}: unreadable or malformed json \(JSONDecodeError: [^\n]*$"):
        load_splits(tmp_path)
    k_path.write_text('{"K": []}')
    with pytest.raises(ValueError, match=rf"^{k_path}: a json dict, expected a list of 3 x 3 camera intrinsics$"):
        load_splits(tmp_path)
    k_path.unlink()
    with pytest.raises(ValueError, match=rf"^{k_path}: not found; training_xyz.json needs it"):
        load_splits(tmp_path)
    write_part(tmp_path, "training", 6, 1)
    shutil.rmtree(tmp_path / "training" / "rgb")
    with pytest.raises(ValueError, match=r"rgb: no such folder; the images of training_xyz.json are expected there"):
        load_splits(tmp_path)


def test_malformed_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    n = 8
    write_part(tmp_path, "training", n, 4)
    xyz_path, k_path = tmp_path / "training_xyz.json", tmp_path / "training_K.json"
    xyz, ks = json.loads(xyz_path.read_text()), json.loads(k_path.read_text())
    xyz[1][4][2] = -0.3  # a joint behind the camera
    xyz[2] = xyz[2][:20]  # 20 joints
    xyz[3] = "junk"
    ks[4][0][0] = float("nan")
    ks[5] = [[1.0, 0.0], [0.0, 1.0]]
    xyz_path.write_text(json.dumps(xyz))
    k_path.write_text(json.dumps(ks))
    for i in (6, 6 + n, 6 + 2 * n, 6 + 3 * n):  # no image shows annotation 6
        (tmp_path / "training" / "rgb" / f"{i:08d}.jpg").unlink()
    splits = load_splits(tmp_path, val_fraction=0.0)
    assert sorted({int(s.image_path.stem) % n for s in splits.train}) == [0, 7]
    assert len(splits.train) == 8  # the 4 versions of each of the two good annotations
    assert dict(splits.skipped.counts) == {R.BAD_ANNOTATION: 3, R.WRONG_POINT_COUNT: 1, R.NON_FINITE: 1,
                                           R.MISSING_IMAGE: 1}  # once per annotation, not per image
    text = splits.skipped.summary("annotations")
    for words in (f"{xyz_path}[1] (joint 4 is not in front of the camera (depth -0.3))",
                  f"{xyz_path}[2] (xyz has shape 20x3, expected 21 x 3)", f"{xyz_path}[3] (xyz is not 21 x 3 numbers)",
                  f"{xyz_path}[4] (K)", f"{xyz_path}[5] (K has shape 2x2, expected 3 x 3)",
                  "00000006.jpg (no image of training_xyz.json[6])"):
        assert words in text, text


def test_a_hand_wholly_outside_its_images_is_counted(tmp_path: Path) -> None:
    write_part(tmp_path, "training", 3, 1)
    xyz_path = tmp_path / "training_xyz.json"
    xyz = np.array(json.loads(xyz_path.read_text()))  # (3, 21, 3)
    xyz[1, :, 0] += 2.0  # 2 m to the right: about 900 px beyond the edge
    xyz_path.write_text(json.dumps(xyz.tolist()))
    splits = load_splits(tmp_path, val_fraction=0.0)
    assert len(splits.train) == 2 and dict(splits.skipped.counts) == {R.BAD_BOX: 1}
    assert "lies outside the 224 x 224 images" in splits.skipped.summary()


@pytest.mark.slow
def test_train_and_eval_run_on_a_freihand_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.cli import main

    root = tmp_path / "FreiHAND_pub_v2"
    root.mkdir()
    write_part(root, "training", 4, 4)
    write_part(root, "evaluation", 3, 1)
    run = tmp_path / "run"
    assert main(["-q", "train", "--data", str(root), "--format", "freihand", "--preset", "tiny", "--input-size", "64",
                 "--batch-size", "4", "--max-steps", "2", "--workers", "0", "--device", "cpu", "--no-amp",
                 "--no-channels-last", "--out", str(run)]) == 0
    assert (run / "model.safetensors").is_file()
    out = tmp_path / "eval"
    assert main(["-q", "eval", "--weights", str(run / "model.safetensors"), "--data", str(root), "--device", "cpu",
                 "--out", str(out)]) == 0
    report = json.loads((out / "eval_report.json").read_text())
    metrics = report["metrics"]
    assert report["format"] == "freihand" and metrics["num_samples"] == 3 and metrics["num_keypoints"] == 63
    assert "PCK@0.2" in metrics and "PCKh@0.7" not in metrics  # no head size: PCK by the box, as for CMU's synth data
    capsys.readouterr()
    (root / "evaluation_K.json").write_text("[]")  # 0 intrinsics for 3 annotations: one error line, no traceback
    assert main(["-q", "eval", "--weights", str(run / "model.safetensors"), "--data", str(root)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "evaluation_K.json: 0 intrinsics for the 3 annotations" in err[0], err
