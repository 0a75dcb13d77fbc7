"""What eval reports and refuses: --overwrite leaves this run's report alone in --out, a detection eval with no
readable image is an error (not NaN figures and exit 0), an image with an unusable hand is left out whole, and the
terminal names the split and settings behind its figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_data_helpers import write_coco

from handpose import pretrained
from handpose.cli import main
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import read_detection_images
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.evaluate import run_evaluation


def test_a_detection_eval_with_no_readable_image_is_an_error(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = write_toy_scenes(tmp_path / "scenes", 3, seed=2, max_hands=1)  # two hands in three scenes
    for image in (tmp_path / "scenes" / "images").iterdir():
        image.write_bytes(b"\xff\xd8 not a picture: " + image.name.encode())  # three files, not three copies
    out = tmp_path / "report"
    assert main(["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(data), "--split",
                 "all", "--out", str(out)]) == 2
    assert "none of the 3 all images could be read" in capsys.readouterr().err
    assert not (out / "detection_eval.json").exists()


def test_overwrite_leaves_this_runs_report_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_toy_scenes(tmp_path / "scenes", 3, seed=1, max_hands=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "eval_report.json").write_text("{}")  # an earlier keypoint evaluation's report and curve
    (out / "pck_curve.png").write_bytes(b"png")
    (out / "notes.txt").write_text("mine")
    args = ["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(data), "--split", "all",
            "--out", str(out)]
    assert main(args) == 2
    assert "already holds an evaluation (eval_report.json, pck_curve.png)" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--flip"]) == 2  # refused: the earlier report stays
    assert (out / "eval_report.json").read_text() == "{}" and (out / "pck_curve.png").exists()
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["detection_eval.json", "notes.txt"]
    assert printed.startswith("all split: 3 images") and "the detector alone at scales 1, 2" in printed


def test_an_image_with_an_unusable_hand_is_left_out_whole(tmp_path: Path) -> None:
    data = write_toy_scenes(tmp_path / "scenes", 4, seed=3, max_hands=2)
    doc = json.loads(data.read_text())
    busy = [im["id"] for im in doc["images"] if sum(a["image_id"] == im["id"] for a in doc["annotations"]) >= 1]
    bad = next(a for a in doc["annotations"] if a["image_id"] == busy[0])
    bad["bbox"] = [5000, 5000, 10, 10]  # outside the image
    data.write_text(json.dumps(doc))
    report = SkipReport()
    items = read_detection_images(data, report)
    assert len(items) == len(doc["images"]) - 1  # that image's hand would be background to training and eval
    assert "image left out: one of its hands is unusable" in report.summary("annotations")


def test_an_annotation_with_an_unusable_image_id_is_counted_not_a_crash(tmp_path: Path) -> None:
    data = write_toy_scenes(tmp_path / "scenes", 2, seed=3, max_hands=1)
    doc = json.loads(data.read_text())
    doc["annotations"].append({"id": 999, "image_id": [2], "bbox": [1, 1, 5, 5]})  # a list: no image's id
    data.write_text(json.dumps(doc))
    report = SkipReport()
    assert len(read_detection_images(data, report)) == 2 and report.total == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA: the ONNX file may run there")
def test_an_onnx_evaluation_asked_for_cuda_records_the_cpu_it_ran_on(tmp_path: Path) -> None:
    """``run_evaluation(onnx_file, device="cuda")`` where onnxruntime cannot start CUDA runs the file on the CPU
    (warned), then failed writing its report: the environment was read for a CUDA device ("Torch not compiled with
    CUDA enabled"). The report records the device the network ran on."""
    data = write_coco(tmp_path / "hands.json", tmp_path / "images", 2)
    report = run_evaluation(pretrained.path("lite-int8"), data, split="all", device="cuda")
    assert report["metrics"]["num_samples"] == 2
    assert "gpu" not in report["environment"] and report["environment"]["torch_threads"] >= 1


def test_an_eval_into_a_folder_another_is_writing_is_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from handpose.folder_lock import LOCK_NAME, RunLock

    data = write_toy_scenes(tmp_path / "scenes", 3, seed=1, max_hands=2)
    out = tmp_path / "out"
    args = ["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(data), "--split", "all",
            "--out", str(out)]
    out.mkdir()
    with RunLock(out, "evaluation"):  # another evaluation writing the folder
        assert main(args) == 2
    assert f"another handpose process (PID {os.getpid()}) is writing this evaluation" in capsys.readouterr().err
    assert not (out / "detection_eval.json").exists()
    assert main(args) == 0  # free again; its lock file goes with it
    assert sorted(p.name for p in out.iterdir()) == ["detection_eval.json"] and LOCK_NAME not in os.listdir(out)
