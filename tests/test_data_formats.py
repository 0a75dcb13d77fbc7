"""Readers of every format on real sample files and on tiny datasets written here; splits; bad annotations."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import hand_keypoints, write_coco, write_hand, write_image, write_panopticdb, write_synth

from handpose.data import formats as F
from handpose.data import skip_report as R
from handpose.data.formats import json_io
from handpose.data.formats.detect import detect
from handpose.data.split import hash_split, key_fraction

# ---------------------------------------------------------------------------------------------- real data


def test_realdata_hand_labels(realdata: Path) -> None:
    for path in (realdata / "hand_labels", realdata / "hand_labels" / "manual_test"):
        assert F.detect_format(path) == "hand_labels"
        splits = F.load_splits(path)
        assert splits.fmt == "hand_labels" and splits.train == [] and len(splits.val) == 4
        assert not splits.skipped
        for s in splits.val:
            assert s.keypoints.shape == (21, 3) and s.keypoints.dtype == np.float32
            assert s.is_left == s.key.endswith("_l")  # file names end in _l / _r
            assert s.head_size is not None and s.head_size > 0
            assert s.image_path.is_file()
    by_key = {s.key: s for s in F.load_splits(realdata / "hand_labels").val}
    assert by_key["manual_test/005880453_01_l"].head_size == pytest.approx(140.0)  # MPII
    assert by_key["manual_test/ex2_2.flv_000040_l"].head_size == pytest.approx(72.55, abs=0.01)  # NZSL


def test_realdata_cmu_box_matches_mmpose_coco_box(realdata: Path) -> None:
    """The CMU box (tight box of the visible keypoints, inclusive extent) is the bbox of MMPose's panoptic json."""
    cmu = {s.key.split("/")[-1]: s for s in F.load_splits(realdata / "hand_labels").val}
    coco = F.load_splits(realdata / "coco_panoptic")
    assert coco.fmt == "coco" and len(coco.val) == 4
    for s in coco.val:
        twin = cmu[s.key.split(".jpg#")[0]]
        np.testing.assert_allclose(twin.keypoints, s.keypoints, atol=1e-4)
        np.testing.assert_allclose(twin.box, s.box, atol=1e-3)
        assert twin.head_size == pytest.approx(s.head_size)
    mpii_left = cmu["005880453_01_l"]
    assert mpii_left.box[2] < 60 and mpii_left.box[3] < 40  # the tiny MPII hand (about 55 x 37 px)


def test_realdata_onehand10k(realdata: Path) -> None:
    for path in (realdata / "coco_onehand10k", realdata / "coco_onehand10k" / "test_onehand10k.json"):
        assert F.detect_format(path) == "coco"
        splits = F.load_splits(path)
        assert len(splits.val) == 4 and splits.train == []  # a *test* json is validation
        raw = json.loads((realdata / "coco_onehand10k" / "test_onehand10k.json").read_text())
        ann = {a["id"]: a for a in raw["annotations"]}
        for s in splits.val:
            a = ann[int(s.key.split("#")[1])]
            np.testing.assert_allclose(s.box, a["bbox"])
            np.testing.assert_allclose(s.keypoints.reshape(-1), a["keypoints"])
            assert s.head_size is None and s.image_path.is_file()
        assert (splits.val[0].keypoints[:, 2] == 0).any()  # OneHand10K has unlabelled points, kept with v = 0


# ---------------------------------------------------------------------------------------------- written here


def test_synth_any_subset_and_bad_point_counts(tmp_path: Path) -> None:
    root = write_synth(tmp_path / "hand_labels_synth", {"synth2": 6, "synth3": 5})
    bad = hand_keypoints(80, 60, 40)[:17]  # the synth1 defect: fingertips missing
    write_hand(root / "synth1", "00000000", bad)
    (root / "output_viz_synth").mkdir()
    write_image(root / "output_viz_synth" / "x.jpg", None)
    assert F.detect_format(root) == "hand_labels_synth"
    splits = F.load_splits(root, val_fraction=0.3)
    assert len(splits.train) + len(splits.val) == 11 and splits.val and splits.train
    assert splits.skipped.counts == {R.WRONG_POINT_COUNT: 1}
    assert "synth1/00000000.json" in splits.skipped.examples[R.WRONG_POINT_COUNT][0]
    only = F.load_splits(root / "synth3")
    assert F.detect_format(root / "synth3") == "hand_labels_synth"
    assert sorted(s.key for s in only.train + only.val) == [f"synth3/{i:08d}" for i in range(5)]
    s = sorted(splits.train + splits.val, key=lambda s: s.key)[1]
    assert s.is_left and s.head_size is None and s.image_path.suffix == ".jpg"


def test_an_output_folder_named_like_a_synth_folder_is_read_through_its_synth_folders(tmp_path: Path) -> None:
    # `handpose synth --out synth2000` writes synth2000/synth1/: the outer name matched synthN and was read as empty
    root = write_synth(tmp_path / "synth2000", {"synth1": 4})
    assert F.detect_format(root) == "hand_labels_synth"
    splits = F.load_splits(root, val_fraction=0.0)
    assert sorted(s.key for s in splits.train) == [f"synth1/{i:08d}" for i in range(4)]


def test_hand_labels_split_folders_and_unknown_keys(tmp_path: Path) -> None:
    root = tmp_path / "hand_labels"
    for i in range(3):
        write_hand(root / "manual_train", f"00000{i}_01_l", hand_keypoints(80, 60, 30, i), True, 120.0,
                   mpii_body_pts=[[1, 2, 3]], head_box=[[1, 2], [3, 4]], is_mpii=1)
    write_hand(root / "manual_test", "Alex.flv_000115_r", hand_keypoints(50, 50, 20), False, 72.55)
    splits = F.load_splits(root)
    assert splits.fmt == "hand_labels" and len(splits.train) == 3 and len(splits.val) == 1
    assert splits.val[0].head_size == pytest.approx(72.55) and not splits.val[0].is_left
    train_only = F.load_splits(root / "manual_train", val_fraction=0.5)
    assert len(train_only.train) + len(train_only.val) == 3  # no test split here: hash split
    test_only = F.load_splits(root / "manual_test")
    assert test_only.train == [] and len(test_only.val) == 1


def test_panopticdb(tmp_path: Path) -> None:
    root = write_panopticdb(tmp_path / "hand143_panopticdb", 6)
    obj = json.loads((root / "hands_v143_14817.json").read_text())
    obj["root"].append({"img_paths": "imgs/missing.jpg", "joint_self": hand_keypoints(1, 1, 1).tolist()})
    obj["root"].append({"img_paths": "imgs/00000000.jpg", "joint_self": [[1, 2, 1]] * 20})
    (root / "hands_v143_14817.json").write_text(json.dumps(obj))
    for path in (root, root / "hands_v143_14817.json"):
        assert F.detect_format(path) == "panopticdb"
        splits = F.load_splits(path, val_fraction=0.5)
        assert len(splits.train) + len(splits.val) == 6
        assert splits.skipped.counts == {R.MISSING_IMAGE: 1, R.WRONG_POINT_COUNT: 1}
    s = min(splits.train + splits.val, key=lambda s: s.key)
    assert s.key == "imgs/00000000.jpg" and s.image_path == root / "imgs" / "00000000.jpg"
    np.testing.assert_allclose(s.keypoints, hand_keypoints(80, 60, 40, seed=100))
    vis = s.keypoints[:, :2]
    np.testing.assert_allclose(s.box[:2], vis.min(axis=0))
    np.testing.assert_allclose(s.box[2:], vis.max(axis=0) - vis.min(axis=0) + 1, rtol=1e-5)


def test_coco_images_are_found_where_most_of_them_are_not_where_the_first_ones_are(tmp_path: Path) -> None:
    """The first 10 images of the json are missing: the folder holding the other 12 is still the one read (it used
    to be chosen from the first 10 names alone, and every image was then 'missing')."""
    jpath = write_coco(tmp_path / "d" / "hands.json", tmp_path / "d" / "images", 22)
    doc = json.loads(jpath.read_text())
    for im in doc["images"][:10]:
        (tmp_path / "d" / "images" / im["file_name"]).unlink()
    splits = F.load_splits(jpath, val_fraction=0.0)
    assert len(splits.train) == 12 and splits.skipped.counts == {R.MISSING_IMAGE: 10}
    assert all(s.image_path.parent == tmp_path / "d" / "images" for s in splits.train)


@pytest.mark.parametrize("layout", ["beside", "images_dir", "mmpose"])
def test_coco_image_folders(tmp_path: Path, layout: str) -> None:
    if layout == "beside":
        jpath = write_coco(tmp_path / "d" / "hands.json", tmp_path / "d", 4)
    elif layout == "images_dir":
        jpath = write_coco(tmp_path / "d" / "hands.json", tmp_path / "d" / "images", 4)
    else:  # data/onehand10k/annotations/onehand10k_{train,test}.json, images under data/onehand10k/
        jpath = write_coco(tmp_path / "d" / "annotations" / "onehand10k_train.json", tmp_path / "d", 5, "tr")
        write_coco(tmp_path / "d" / "annotations" / "onehand10k_test.json", tmp_path / "d", 2, "te")
    path = tmp_path / "d"
    assert F.detect_format(path) == "coco" and F.detect_format(jpath) == "coco"
    splits = F.load_splits(path, val_fraction=0.0)
    assert not splits.skipped
    if layout == "mmpose":
        assert len(splits.train) == 5 and len(splits.val) == 2
        assert all(s.image_path.name.startswith("te") for s in splits.val)
    else:
        assert len(splits.train) == 4 and splits.val == []
    s = min(splits.train, key=lambda s: s.key)
    assert s.image_path.is_file() and s.head_size == 50.0 and s.box[2:].tolist() == [46.0, 47.0]


def test_bad_annotations_each_reason(tmp_path: Path) -> None:
    folder = tmp_path / "synth2"
    for i in range(3):
        write_hand(folder, f"good{i}", hand_keypoints(80, 60, 40, i))
    write_hand(folder, "count", hand_keypoints(80, 60, 40)[:20])
    nan = hand_keypoints(80, 60, 40)
    nan[3, 0] = np.nan
    (folder / "nan.json").write_text(json.dumps({"hand_pts": nan.tolist(), "is_left": 0}).replace("NaN", "NaN"))
    write_image(folder / "nan.jpg", None)
    inf = hand_keypoints(80, 60, 40)
    inf[5, 1] = np.inf
    (folder / "inf.json").write_text(json.dumps({"hand_pts": inf.tolist(), "is_left": 0}))
    write_image(folder / "inf.jpg", None)
    hidden = hand_keypoints(80, 60, 40)
    hidden[:, 2] = 0
    write_hand(folder, "hidden", hidden)
    nan_hidden = hand_keypoints(80, 60, 40)
    nan_hidden[7] = (np.nan, np.nan, 0)  # an unlabelled point with no coordinates is fine
    (folder / "nanhidden.json").write_text(json.dumps({"hand_pts": nan_hidden.tolist(), "is_left": 0}))
    write_image(folder / "nanhidden.jpg", None)
    (folder / "malformed.json").write_text('{"hand_pts": [[1, 2, 1], ')
    write_image(folder / "malformed.jpg", None)
    (folder / "nokey.json").write_text('{"points": []}')
    write_image(folder / "nokey.jpg", None)
    (folder / "strings.json").write_text(json.dumps({"hand_pts": [["a", "b", "c"]] * 21}))
    write_image(folder / "strings.jpg", None)
    ragged = hand_keypoints(80, 60, 40).tolist()
    ragged[4] = ragged[4][:2]
    (folder / "ragged.json").write_text(json.dumps({"hand_pts": ragged, "is_left": 0}))
    write_image(folder / "ragged.jpg", None)
    (folder / "pairs.json").write_text(json.dumps({"hand_pts": hand_keypoints(80, 60, 40)[:, :2].tolist()}))
    write_image(folder / "pairs.jpg", None)  # [x, y] only: all labelled
    write_image(folder / "lonely.jpg", None)  # an image without its json
    write_hand(folder, "noimage", hand_keypoints(80, 60, 40), image=False)
    splits = F.load_splits(tmp_path / "synth2", val_fraction=0.0)
    keys = sorted(s.key for s in splits.train)
    assert keys == ["synth2/good0", "synth2/good1", "synth2/good2", "synth2/nanhidden", "synth2/pairs"]
    pairs = [s for s in splits.train if s.key.endswith("pairs")][0]
    assert (pairs.keypoints[:, 2] == 1).all()
    assert dict(splits.skipped.counts) == {
        R.WRONG_POINT_COUNT: 2, R.NON_FINITE: 2, R.NO_VISIBLE: 1, R.BAD_JSON: 1, R.BAD_ANNOTATION: 2,
        R.MISSING_JSON: 1, R.MISSING_IMAGE: 1,
    }
    nh = [s for s in splits.train if s.key.endswith("nanhidden")][0]
    assert np.isfinite(nh.keypoints).all() and nh.keypoints[7, 2] == 0
    text = splits.skipped.summary("annotations")
    assert "skipped 10 annotations" in text and "malformed.json" in text


def test_no_usable_sample_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "synth1"
    write_hand(folder, "00000000", hand_keypoints(80, 60, 40)[:19])
    with pytest.raises(ValueError, match=r"synth1: no usable hand_labels_synth sample; expected .*hand_pts"):
        F.load_splits(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: cannot tell the dataset format"):
        F.load_splits(tmp_path / "empty")
    with pytest.raises(ValueError, match="no usable hand_labels sample"):
        F.load_splits(tmp_path / "empty", fmt="hand_labels")
    with pytest.raises(FileNotFoundError):
        F.load_splits(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown dataset format"):
        F.load_splits(folder, fmt="voc")
    (tmp_path / "panoptic").mkdir()
    with pytest.raises(ValueError, match=r"panoptic: no hands_v143_\*.json here; expected .*joint_self"):
        F.load_splits(tmp_path / "panoptic", fmt="panopticdb")
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "broken_train.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"coco: no usable coco sample; expected .*63 'keypoints'(.|\n)*broken_train"):
        F.load_splits(tmp_path / "coco", fmt="coco")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="x.json: not readable as JSON .*JSONDecodeError: Expecting property name"):
        F.detect_format(tmp_path / "x.json")


def test_format_override_and_plain_folders(tmp_path: Path) -> None:
    folder = tmp_path / "my_hands"  # no telling name: the keys of one json decide
    for i in range(3):
        write_hand(folder, f"h{i}", hand_keypoints(80, 60, 40, i), head_size=80.0)
    assert F.detect_format(folder) == "hand_labels"
    as_synth = F.load_splits(folder, fmt="hand_labels_synth", val_fraction=0.0)
    assert len(as_synth.train) == 3 and as_synth.train[0].head_size is None and as_synth.fmt == "hand_labels_synth"


def test_process_pool_reads_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_synth(tmp_path / "s", {"synth2": 9})
    write_hand(root / "synth2", "bad", hand_keypoints(80, 60, 40)[:3])
    serial = F.load_splits(root, val_fraction=0.2, workers=1)
    monkeypatch.setattr(json_io, "POOL_MIN_FILES", 1)
    monkeypatch.setattr(json_io, "CHUNK", 4)
    pooled = F.load_splits(root, val_fraction=0.2, workers=2)
    assert [s.key for s in pooled.train] == [s.key for s in serial.train] and len(pooled.val) == len(serial.val)
    for a, b in zip(pooled.train, serial.train):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.box, b.box)
    assert pooled.skipped.counts == serial.skipped.counts == {R.WRONG_POINT_COUNT: 1}


def test_hash_split_is_stable_when_files_are_added(tmp_path: Path) -> None:
    root = write_synth(tmp_path / "s", {"synth2": 30})
    before = F.load_splits(root, val_fraction=0.3)
    write_synth(tmp_path / "s", {"synth2": 45, "synth4": 10})
    after = F.load_splits(root, val_fraction=0.3)
    assert {s.key for s in before.val} <= {s.key for s in after.val}
    assert {s.key for s in before.train} <= {s.key for s in after.train}
    again = F.load_splits(root, val_fraction=0.3, workers=1)
    assert [s.key for s in again.val] == [s.key for s in after.val]
    fr = [key_fraction(f"k{i}") for i in range(2000)]
    assert 0.45 < np.mean(fr) < 0.55 and min(fr) >= 0 and max(fr) < 1
    assert len(hash_split(before.train + before.val, 0.0)[1]) == 0


def test_the_hands_of_one_image_fall_on_one_side_of_the_split() -> None:
    """Hands are keyed image#annotation; the split hashes the image part, so no image is both trained and validated
    on (two hands of one photo used to be split apart)."""
    from handpose.data.sample import Sample

    kp = np.zeros((21, 3), np.float32)
    samples = [Sample(Path(f"p{i}.jpg"), kp, bool(j), np.array([0, 0, 9, 9], np.float32), None, f"p{i}.jpg#{j}")
               for i in range(60) for j in range(2)]
    train, val = hash_split(samples, 0.3)
    assert 0 < len(val) < len(samples)
    assert not {s.key.split("#")[0] for s in train} & {s.key.split("#")[0] for s in val}


# ---------------------------------------------------------------------------------------------- audit findings

_HUGE_INT = "1" + "0" * 400  # a json integer literal beyond float64: numpy refuses it with OverflowError


def _hand_json(kp: np.ndarray, **extra: object) -> dict[str, object]:
    return {"hand_pts": kp.tolist(), "is_left": 0, **extra}


def _write_raw(folder: Path, stem: str, text: str) -> None:
    """A per-hand json with the given text beside a plain image (no keypoint dots: they may be far outside)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(text)
    write_image(folder / f"{stem}.jpg", None)


def test_coordinates_beyond_float32_are_infinite_in_every_reader(tmp_path: Path) -> None:
    """1e300 is finite as float64 but inf as the stored float32: skipped as NaN/infinite, never kept with an inf box."""
    folder = tmp_path / "synth2"
    write_hand(folder, "good", hand_keypoints(80, 60, 40))
    huge = hand_keypoints(80, 60, 40).astype(np.float64)
    huge[4, 0] = 1e300
    _write_raw(folder, "huge", json.dumps(_hand_json(huge)))
    wide = hand_keypoints(80, 60, 40).astype(np.float64)
    wide[0, 0], wide[1, 0] = -3e38, 3e38  # each fits float32, the box's width does not
    _write_raw(folder, "wide", json.dumps(_hand_json(wide)))
    hidden = hand_keypoints(80, 60, 40).astype(np.float64)
    hidden[6] = (1e300, 1e300, 0)  # an unlabelled point: its coordinates are dropped, the hand is kept
    _write_raw(folder, "hidden", json.dumps(_hand_json(hidden)))
    for workers, pool_min in ((1, json_io.POOL_MIN_FILES), (2, 1)):  # in this process and on a process pool
        json_io.POOL_MIN_FILES, saved = pool_min, json_io.POOL_MIN_FILES
        try:
            splits = F.load_splits(folder, val_fraction=0.0, workers=workers)
        finally:
            json_io.POOL_MIN_FILES = saved
        assert sorted(s.key for s in splits.train) == ["synth2/good", "synth2/hidden"]
        assert dict(splits.skipped.counts) == {R.NON_FINITE: 2}
        assert all(np.isfinite(s.keypoints).all() and np.isfinite(s.box).all() for s in splits.train)

    pan = write_panopticdb(tmp_path / "hand143_panopticdb", 2)
    obj = json.loads((pan / "hands_v143_14817.json").read_text())
    obj["root"][0]["joint_self"] = huge.tolist()
    (pan / "hands_v143_14817.json").write_text(json.dumps(obj))
    splits = F.load_splits(pan, val_fraction=0.0)
    assert len(splits.train) == 1 and dict(splits.skipped.counts) == {R.NON_FINITE: 1}

    jpath = write_coco(tmp_path / "coco" / "hands.json", tmp_path / "coco", 3)
    obj = json.loads(jpath.read_text())
    obj["annotations"][0]["keypoints"] = huge.reshape(-1).tolist()
    obj["annotations"][1]["bbox"] = [1e300, 0.0, 10.0, 10.0]  # an unusable bbox: skipped, as a bad box
    obj["annotations"][2]["head_size"] = 1e300
    jpath.write_text(json.dumps(obj))
    splits = F.load_splits(jpath, val_fraction=0.0)
    assert len(splits.train) == 1 and dict(splits.skipped.counts) == {R.NON_FINITE: 1, R.BAD_BOX: 1}
    assert splits.train[0].image_path.name == "img2.jpg" and splits.train[0].head_size is None
    with pytest.raises(F.BadAnnotationError) as info:
        F.parse_keypoints(huge.tolist())
    assert info.value.reason == R.NON_FINITE


def test_bad_values_that_crashed_indexing_are_counted(tmp_path: Path) -> None:
    """A 400-digit integer, an infinite is_left and a json nested 100000 deep are skips, not exceptions."""
    folder = tmp_path / "synth2"
    write_hand(folder, "good", hand_keypoints(80, 60, 40))
    kp = hand_keypoints(80, 60, 40)
    text = json.dumps(_hand_json(kp))
    _write_raw(folder, "bigint", text.replace(json.dumps(float(kp[0, 0])), _HUGE_INT, 1))
    _write_raw(folder, "bigint_head", json.dumps(_hand_json(kp, head_size=0)).replace('"head_size": 0',
                                                                                     f'"head_size": {_HUGE_INT}'))
    _write_raw(folder, "inf_left", json.dumps(_hand_json(kp, is_left=float("inf"))))
    _write_raw(folder, "deep", "[" * 100_000)
    assert json.loads((folder / "bigint.json").read_text())["hand_pts"][0][0] == int(_HUGE_INT)
    splits = F.load_splits(folder, val_fraction=0.0)
    assert sorted(s.key for s in splits.train) == ["synth2/bigint_head", "synth2/good"]
    assert splits.train[0].head_size is None  # a head size beyond float32 is dropped, the hand kept
    assert dict(splits.skipped.counts) == {R.NON_FINITE: 1, R.BAD_ANNOTATION: 1, R.BAD_JSON: 1}
    assert "nested too deeply" in splits.skipped.summary()
    hidden = [[int(_HUGE_INT), 5, 0]] + hand_keypoints(80, 60, 40)[1:].tolist()  # unlabelled: coordinates dropped
    assert F.parse_keypoints(hidden)[0].tolist() == [0.0, 0.0, 0.0]


def test_coco_unhashable_ids_and_huge_numbers_are_counted(tmp_path: Path) -> None:
    jpath = write_coco(tmp_path / "coco" / "hands_train.json", tmp_path / "coco", 5)
    obj = json.loads(jpath.read_text())
    obj["images"][0]["id"] = [1]  # a list: unhashable
    obj["annotations"][1]["image_id"] = {"id": 2}
    obj["annotations"][2]["bbox"] = [0, 0, 10, 10]
    text = json.dumps(obj).replace('"bbox": [0, 0, 10, 10]', f'"bbox": [0, 0, {_HUGE_INT}, 10]')
    kps = obj["annotations"][3]["keypoints"]
    text = text.replace(json.dumps(kps), json.dumps(kps).replace(str(kps[0]), _HUGE_INT, 1))
    jpath.write_text(text)
    splits = F.load_splits(jpath.parent, val_fraction=0.0)
    assert [s.image_path.name for s in splits.train] == ["img4.jpg"]  # img2's bbox is 1e400 wide: a bad box
    assert dict(splits.skipped.counts) == {R.BAD_ANNOTATION: 3, R.NON_FINITE: 1, R.BAD_BOX: 1}
    text = splits.skipped.summary()
    assert "images[0] ('id' is a list)" in text and "'image_id' is a dict" in text
    deep = tmp_path / "deep" / "hands_train.json"
    deep.parent.mkdir()
    deep.write_text("[" * 100_000)
    with pytest.raises(ValueError, match=r"deep: no usable coco sample(.|\n)*hands_train.json \(nested too deeply\)"):
        F.load_splits(deep.parent, fmt="coco")
    with pytest.raises(ValueError, match="not readable as JSON .*nested too deeply"):
        F.detect_format(deep)


@pytest.mark.parametrize(("stem", "tag"), [
    ("onehand10k_test", "val"), ("test_onehand10k", "val"), ("person_keypoints_val2017", "val"),
    ("hands-validation", "val"), ("coco_wholebody_minival", "val"), ("onehand10k_train", "train"),
    ("onehand_trainval", "train"), ("Hands.Training", "train"), ("interval_hands", None), ("contest", None),
    ("hands", None),
])
def test_split_tag_matches_whole_words(stem: str, tag: str | None) -> None:
    assert F.split_tag(stem) == tag


def test_trainval_json_is_training(tmp_path: Path) -> None:
    write_coco(tmp_path / "d" / "onehand_trainval.json", tmp_path / "d", 4, "tv")
    write_coco(tmp_path / "d" / "onehand_test.json", tmp_path / "d", 2, "te")
    splits = F.load_splits(tmp_path / "d")
    assert len(splits.train) == 4 and len(splits.val) == 2


def test_hand143_panopticdb_is_an_alias(tmp_path: Path) -> None:
    root = write_panopticdb(tmp_path / "hand143_panopticdb", 3)
    splits = F.load_splits(root, fmt="hand143_panopticdb", val_fraction=0.0)
    assert splits.fmt == "panopticdb" and len(splits.train) == 3
    assert F.canonical_format("hand143_panopticdb") == "panopticdb"
    with pytest.raises(ValueError, match=r"'voc'; known formats: .*panopticdb \(or hand143_panopticdb\), coco"):
        F.load_splits(root, fmt="voc")


def test_dataset_json_is_parsed_once_and_handed_to_its_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection parses a COCO json to read its keys; the reader gets that parse as an argument, not a re-read."""
    jpath = write_coco(tmp_path / "d" / "hands_train.json", tmp_path / "d", 3)
    parses: list[int] = []

    class CountingJson:
        @staticmethod
        def loads(data: bytes) -> object:
            parses.append(len(data))
            return json.loads(data)

    monkeypatch.setattr(json_io, "json", CountingJson)
    splits = F.load_splits(jpath, val_fraction=0.0)
    assert len(splits.train) == 3 and len(parses) == 1
    fmt, parsed = detect(jpath)
    assert fmt == "coco" and parsed is not None and parsed.matches(jpath)
    jpath.write_text(jpath.read_text() + " ")  # changed since detection: read again, not taken from the parse
    assert not parsed.matches(jpath)


def test_a_format_named_wrongly_says_what_the_data_reads_as(synth_data: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # the skips of the wrong reader went out as a warning and again inside the error
    with caplog.at_level(logging.WARNING), pytest.raises(ValueError) as err:
        F.load_splits(synth_data, "hand_labels")
    assert "no usable hand_labels sample" in str(err.value)
    assert "it reads as hand_labels_synth: leave --format out or give --format hand_labels_synth" in str(err.value)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_impossible_hands_are_skipped_and_counted(tmp_path: Path) -> None:
    """A hand whose visible keypoints all sit on one pixel is skipped when read; one wholly off its image (its
    size known only once the image is open) is skipped by evaluation and by the training set, all counted."""
    from handpose.config import DataConfig
    from handpose.data.dataset import HandDataset
    from handpose.evaluate import evaluate
    from handpose.inference.predictor import Predictor
    from handpose.model.cpm import build_model

    root = write_synth(tmp_path / "d", {"synth1": 6})
    one_pixel = np.ones((21, 3), np.float32) * [50.0, 40.0, 1.0]
    off_image = hand_keypoints(-5000, -5000, 40, seed=9)
    write_hand(root / "synth1", "00000006", one_pixel)
    write_hand(root / "synth1", "00000007", off_image)
    splits = F.load_splits(root, val_fraction=0.0)
    samples = splits.train + splits.val
    assert splits.skipped.counts[R.BAD_BOX] == 1 and len(samples) == 7  # the one-pixel hand; the image is unread
    off = [i for i, s in enumerate(samples) if s.image_path.stem == "00000007"]

    cfg = DataConfig(input_size=64)
    result = evaluate(Predictor.from_model(build_model("tiny"), cfg), samples)
    assert result["num_samples"] == 6 and result["skipped"] == {"outside the image": 1}

    from handpose.evaluate import run_evaluation
    from handpose.model.artifact import save_weights

    save_weights(build_model("tiny"), tmp_path / "tiny.safetensors", data_cfg=cfg)
    report = run_evaluation(tmp_path / "tiny.safetensors", root, split="all")  # the reader's skips reported too
    assert report["skipped_annotations"] == {R.BAD_BOX: 1} and report["metrics"]["skipped"] == {"outside the image": 1}

    no_aug = dataclasses.replace(cfg, augment=dataclasses.replace(cfg.augment, enabled=False))
    train_set = HandDataset(samples, no_aug, train=True, seed=0)
    item = train_set[off[0]]  # a replacement, and the bad one counted
    assert int(item["index"]) != off[0] and train_set.skipped.counts[R.BAD_BOX] == 1


def test_format_detection_looks_past_a_stray_json_and_prefers_hand_files(tmp_path: Path) -> None:
    # detection parsed the first json the file system listed: a stray one made the folder unreadable, and a
    # COCO person_keypoints json listed before a COCO-WholeBody one made it read as plain COCO
    from handpose.data.formats.detect import _candidate_jsons

    root = tmp_path / "sets"
    write_coco(root / "onehand10k_test.json", root / "images", 3)
    (root / "aaa_dataset_info.json").write_text('{"description": "not a dataset"}')
    assert detect(root)[0] == "coco"
    for name in ("person_keypoints_val2017.json", "coco_wholebody_val_v1.0.json", "captions_val2017.json"):
        (tmp_path / name).write_text("{}")
    order = [p.name for p in _candidate_jsons([tmp_path])]
    assert order == ["coco_wholebody_val_v1.0.json", "person_keypoints_val2017.json", "captions_val2017.json"]


def test_coco_keypoints_far_outside_their_bbox_are_skipped_and_named(tmp_path: Path) -> None:
    """A hand whose keypoints were shifted 1,000 px off its box used to be scored at an EPE of 1,000 px."""
    jpath = write_coco(tmp_path / "d" / "hands.json", tmp_path / "d", 4)
    doc = json.loads(jpath.read_text())
    kp = np.asarray(doc["annotations"][1]["keypoints"], np.float64).reshape(21, 3)
    kp[:, 0] += 1000
    doc["annotations"][1]["keypoints"] = kp.reshape(-1).tolist()
    jpath.write_text(json.dumps(doc))
    splits = F.load_splits(jpath, val_fraction=0.0)
    assert len(splits.train) == 3 and splits.skipped.counts == {R.BAD_ANNOTATION: 1}
    assert "far outside the bbox" in splits.skipped.examples[R.BAD_ANNOTATION][0]
