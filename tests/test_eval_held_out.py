"""`handpose eval --val-fraction`: a model fine-tuned with `train --val-fraction 0.01` is scored on the hands that
run held out, not on the default 10%, some of which it trained on; a model file that records a smaller fraction
than the evaluation's is warned about with the count of hands it trained on."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_data_helpers import write_coco

from handpose.cli import main
from handpose.config import DataConfig, DetectorConfig
from handpose.data.formats import load_splits
from handpose.detection.coco import read_detection_images, split_images
from handpose.detection.model import build_detector
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.eval_held_out import stored_split, trained_on
from handpose.evaluate import run_evaluation
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def _model(path: Path, val_fraction: float) -> Path:
    save_weights(build_model("tiny"), path, data_cfg=DataConfig(input_size=64, val_fraction=val_fraction))
    return path


def test_a_model_trained_holding_out_less_is_scored_on_its_own_held_out_hands(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 60)
    weights = _model(tmp_path / "ft.safetensors", 0.01)
    assert stored_split(weights) == (0.01, None) and stored_split("pretrained:lite")[0] == 0.1
    default = load_splits(data).val
    leaked = trained_on(default, 0.01)
    assert 0 < leaked < len(default)  # the hands between 0.01 and 0.1 of the hash: trained on, scored as unseen
    with caplog.at_level(logging.WARNING, logger="handpose"):
        report = run_evaluation(weights, data)
    warned = [r.getMessage() for r in caplog.records if "trained holding out 0.01" in r.getMessage()]
    assert len(warned) == 1 and f"{leaked} of the {len(default)} hands this evaluation holds out by hash" in warned[0]
    assert report["metrics"]["num_samples"] == len(default) and report["val_fraction"] == 0.1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):
        own = run_evaluation(weights, data, val_fraction=0.01)
    assert not [r for r in caplog.records if "trained holding out" in r.getMessage()]
    assert own["metrics"]["num_samples"] == len(load_splits(data, val_fraction=0.01).val) == len(default) - leaked
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):  # the dataset's own test part: no hash, no warning
        tagged = write_coco(tmp_path / "both" / "hands_test.json", tmp_path / "both" / "images", 5, prefix="t")
        assert run_evaluation(weights, tagged)["val_fraction"] is None
    assert not [r for r in caplog.records if "trained holding out" in r.getMessage()]


def test_beside_a_test_part_the_hash_split_hands_alone_are_counted(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A test json beside a json without a split word: the test part's hands are held out whatever the fraction,
    the other json's are divided by the hash, and those the run that held out less trained on are counted (the
    evaluation said nothing, and its report recorded no fraction, as if the fraction had not chosen them)."""
    folder = tmp_path / "both"
    write_coco(folder / "hands_test.json", folder / "images", 5, prefix="t")
    write_coco(folder / "more.json", folder / "images", 200)
    weights = _model(tmp_path / "ft.safetensors", 0.01)
    splits = load_splits(folder)
    assert splits.hashed and {s.key[0] for s in splits.hash_val} == {"i"}  # more.json's img*.jpg alone
    leaked = trained_on(splits.hash_val, 0.01)
    assert 0 < leaked == trained_on(splits.val, 0.01) - 5  # the 5 test hands would count as trained on
    with caplog.at_level(logging.WARNING, logger="handpose"):
        report = run_evaluation(weights, folder)
    warned = [r.getMessage() for r in caplog.records if "trained holding out 0.01" in r.getMessage()]
    assert len(warned) == 1 and f"{leaked} of the {len(splits.hash_val)} hands this evaluation holds out by hash" \
        in warned[0], warned
    assert report["val_fraction"] == 0.1 and report["metrics"]["num_samples"] == len(splits.val)

def test_the_shipped_model_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """pretrained:lite records 0.1 but trained on renders alone: scoring it on a user's 20% held out said that 36 of
    62 hands might be ones it trained on."""
    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 60)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        run_evaluation("pretrained:lite", data, val_fraction=0.5)
    assert not [r for r in caplog.records if "trained holding out" in r.getMessage()]


def test_the_flag_reaches_every_evaluation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 30)
    weights = _model(tmp_path / "kp.safetensors", 0.1)
    out = tmp_path / "eval"
    assert main(["eval", "--weights", str(weights), "--data", str(data), "--val-fraction", "0.4", "--out", str(out),
                 "--no-channels-last", "--threads", "1"]) == 0
    report = json.loads((out / "eval_report.json").read_text())
    assert report["metrics"]["num_samples"] == len(load_splits(data, val_fraction=0.4).val)
    assert "val split (0.4 held out by hash" in capsys.readouterr().out
    assert main(["eval", "--weights", str(weights), "--data", str(data), "--val-fraction", "0.4", "--split", "train",
                 "--no-channels-last", "--threads", "1"]) == 0
    assert "train split (all but 0.4 held out by hash" in capsys.readouterr().out  # it read "(0.4 held out by hash)"
    assert main(["eval", "--weights", str(weights), "--data", str(data), "--val-fraction", "1"]) == 2
    assert "--val-fraction must be from 0 up to 1" in capsys.readouterr().err

    scenes = write_toy_scenes(tmp_path / "scenes", count=12, seed=2)
    detector = tmp_path / "det.safetensors"
    save_weights(build_detector(DetectorConfig(input_size=64)), detector)
    det_out = tmp_path / "det_eval.json"
    assert main(["eval", "--task", "detect", "--weights", str(detector), "--data", str(scenes), "--val-fraction",
                 "0.5", "--detector-scales", "1", "--out", str(det_out), "--threads", "1"]) == 0
    held_out = split_images(read_detection_images(scenes), 0.5)[1]
    report = json.loads(det_out.read_text())
    assert report["num_images"] == len(held_out) > 0 and report["val_fraction"] == 0.5


def test_a_model_that_held_out_nothing_is_not_sent_to_an_empty_split(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A run with --val-fraction 0 trained on every hand: the warning told to give --val-fraction 0, and eval with it
    stops at once ('the val split is empty'); it says that every held-out hand may be one it trained on instead."""
    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 60)
    weights = _model(tmp_path / "all.safetensors", 0.0)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        report = run_evaluation(weights, data)
    warned = [r.getMessage() for r in caplog.records if "trained holding out" in r.getMessage()]
    held_out = report["metrics"]["num_samples"]
    assert len(warned) == 1 and f"all {held_out} hands this evaluation holds out by hash" in warned[0], warned
    assert "give --val-fraction" not in warned[0]  # no remedy that scores nothing
    with pytest.raises(ValueError, match="the val split is empty"):
        run_evaluation(weights, data, val_fraction=0.0)


def test_a_folder_of_sets_and_a_detector_run_are_warned_about_too(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The warning came from the one-dataset evaluation alone: the same model on the same hands, evaluated as a
    folder of datasets or through a detector (eval --detector), said nothing."""
    write_coco(tmp_path / "sets" / "a" / "hands.json", tmp_path / "sets" / "a" / "images", 60)
    weights = _model(tmp_path / "ft.safetensors", 0.01)
    detector = tmp_path / "det.safetensors"
    save_weights(build_detector(DetectorConfig(input_size=64)), detector)
    flags = ["--no-channels-last", "--threads", "1"]
    through = ["--detector", str(detector)]
    for data, extra in ((tmp_path / "sets", []), (tmp_path / "sets" / "a" / "hands.json", through),
                        (tmp_path / "sets", through)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="handpose"):
            assert main(["eval", "--weights", str(weights), "--data", str(data), *flags, *extra]) == 0
        assert len([r for r in caplog.records if "trained holding out 0.01" in r.getMessage()]) == 1, (data, extra)


def test_an_onnx_export_records_the_fraction_only_of_a_model_that_recorded_one(tmp_path: Path) -> None:
    """Weights that record no training split (``handpose convert``'s, which trained elsewhere) were exported with the
    default crop settings' val_fraction 0.1, so an evaluation of the ONNX file at --val-fraction 0.2 warned that the
    model 'was trained holding out 0.1 by hash' and counted hands it had never seen; the shipped models' exports
    likewise, which eval does not warn about as weights. A trained model's export keeps its fraction."""
    converted = tmp_path / "converted.safetensors"
    save_weights(build_model("tiny"), converted, metadata={"converted_from": "pose_iter_102000.caffemodel"})
    trained = _model(tmp_path / "trained.safetensors", 0.05)
    for weights, expected in ((converted, None), (trained, 0.05), ("pretrained:lite", None)):
        out = tmp_path / f"{Path(str(weights)).stem.replace(':', '_')}.onnx"
        assert main(["export", "--weights", str(weights), "--out", str(out)]) == 0
        assert stored_split(out)[0] == expected, weights


def test_weights_from_before_the_image_split_are_warned_about_with_the_hands_they_trained_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Until 2026-12-06 the hash split took hand by hand (``img3.jpg#1003``), now whole images (``img3.jpg``): a
    model of then, scored at its own fraction, is scored on hands it trained on. Its file records no training
    datasets (as ``save_weights`` alone writes it); one that records them (training since 2026-12-07) is not."""
    from handpose.data.split import image_key, is_val

    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 60)
    held_out = load_splits(data).val
    leaked = sum(not is_val(s.key, 0.1) for s in held_out)
    assert all(is_val(image_key(s.key), 0.1) for s in held_out) and leaked > 0
    weights = _model(tmp_path / "old.safetensors", 0.1)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        run_evaluation(weights, data)
    warned = [r.getMessage() for r in caplog.records if "before 2026-12-06" in r.getMessage()]
    assert len(warned) == 1 and f"{leaked} of the {len(held_out)} hands this evaluation holds out" in warned[0]
    caplog.clear()
    recent = tmp_path / "recent.safetensors"
    save_weights(build_model("tiny"), recent, {"train_sets": json.dumps(["0123456789abcdef"])},
                 DataConfig(input_size=64, val_fraction=0.1))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        run_evaluation(recent, data)
    assert not [r for r in caplog.records if "before 2026-12-06" in r.getMessage()]


def test_one_evaluation_reads_a_model_files_records_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """stored_split, the old-split warning and stored_train_sets each asked the file: a training checkpoint (its
    optimizer state too) was loaded three times; it is read again only once the file changes."""
    from handpose import eval_held_out

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in")
    reads: list[Path] = []
    monkeypatch.setattr(eval_held_out, "_read_recorded", lambda p: reads.append(p) or ({"val_fraction": 0.2}, 1, None))
    monkeypatch.setattr(eval_held_out, "_LAST", [None, None])
    assert eval_held_out.stored_split(weights) == (0.2, 1)
    assert eval_held_out.stored_train_sets(weights) == set()
    assert len(reads) == 1
    weights.write_bytes(b"another stand-in")  # changed: read again
    eval_held_out.stored_split(weights)
    assert len(reads) == 2
