"""evaluate() with a real (tiny) network on a synthetic set of real JPEGs; the `handpose eval` run and command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.cli import main
from handpose.config import DataConfig
from handpose.data.formats import load_splits
from handpose.evaluate import evaluate, run_evaluation
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def write_hand_labels(root: Path, count: int = 5, seed: int = 0) -> Path:
    """A CMU hand_labels-style folder (manual_test: jpg + json per hand, with head_size) of drawn hands."""
    folder = root / "manual_test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        w, h = 200 + 40 * i, 160
        img = np.full((h, w, 3), (60, 90, 120), np.uint8)
        c = np.array([rng.uniform(60, w - 60), rng.uniform(60, h - 60)])
        kp = np.zeros((21, 3))
        kp[0, :2] = c + (0, 30)
        for f in range(5):
            ang = np.radians(-150 + 30 * f)
            for j in range(4):
                kp[1 + 4 * f + j, :2] = kp[0, :2] + (j + 1) * 12 * np.array([np.cos(ang), np.sin(ang)])
        kp[:, 2] = 1
        if i == 1:
            kp[20, 2] = 0
        for a, b in [(0, k) for k in (1, 5, 9, 13, 17)] + [(k, k + 1) for k in range(1, 21) if k % 4]:
            cv2.line(img, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]), (150, 180, 220), 5)
        name = f"frame{i:02d}_{'l' if i % 2 else 'r'}"
        cv2.imwrite(str(folder / f"{name}.jpg"), img)
        (folder / f"{name}.json").write_text(
            json.dumps({"hand_pts": kp.tolist(), "is_left": i % 2, "head_size": 50.0 + i})
        )
    return folder


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("eval") / "tiny.safetensors"
    save_weights(build_model("tiny"), path)
    return path


def test_evaluate_returns_the_metrics(tmp_path: Path) -> None:
    folder = write_hand_labels(tmp_path)
    samples = load_splits(folder).val
    model = build_model("tiny").train()
    out = evaluate(model, samples, DataConfig(input_size=64), batch_size=2, flip_test=True)
    for key in ("PCK@0.2", "PCKh@0.7", "AUC", "EPE", "per_keypoint_PCK@0.2", "num_keypoints", "num_samples"):
        assert key in out
    assert out["num_samples"] == 5 and out["num_keypoints"] == 5 * 21 - 1 and out["num_skipped"] == 0
    assert 0 <= out["PCK@0.2"] <= 1 and 0 <= out["AUC"] <= 1 and out["EPE"] > 0
    assert len(out["per_keypoint_PCK@0.2"]) == 21
    assert model.training  # the caller's mode is restored


def test_evaluate_in_worker_processes_matches(tmp_path: Path) -> None:
    folder = write_hand_labels(tmp_path, count=4)
    samples = load_splits(folder).val
    model = build_model("tiny")
    a = evaluate(model, samples, DataConfig(input_size=64), batch_size=3, workers=0, keep_predictions=True)
    b = evaluate(model, samples, DataConfig(input_size=64), batch_size=3, workers=2, keep_predictions=True)
    assert a["EPE"] == pytest.approx(b["EPE"]) and a["predictions"] == b["predictions"]


def test_run_evaluation_writes_report_and_plot(tmp_path: Path, tiny_weights: Path) -> None:
    folder = write_hand_labels(tmp_path)
    report = run_evaluation(tiny_weights, folder, scales=(1.0, 1.5), out=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "eval_report.json").read_text())
    assert saved["metrics"]["num_samples"] == 5 and "PCKh@0.7" in saved["metrics"]
    assert set(saved["per_keypoint_PCK@0.2"]) >= {"wrist", "pinky4_tip"}
    assert len(saved["predictions"]) == 5 and len(saved["predictions"][0]["keypoints"]) == 21
    assert saved["curves"]["pixels"]["thresholds"][-1] == 30.0
    png = cv2.imread(str(tmp_path / "out" / "pck_curve.png"))
    assert png is not None and png.shape[1] > png.shape[0]
    assert "AUC" in report["summary"]


def test_eval_command(tmp_path: Path, tiny_weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_hand_labels(tmp_path, count=3)
    args = ["eval", "--weights", str(tiny_weights), "--data", str(folder), "--flip", "--out", str(tmp_path / "o")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "PCK@0.2" in text and "PCKh@0.7" in text and "EPE" in text and "index4_tip" in text
    # fp32 unless asked: the figures do not depend on a speed trial's timing (bf16 moves them a little)
    assert json.loads((tmp_path / "o" / "eval_report.json").read_text())["precision"] == "fp32"
    assert main(["eval", "--weights", str(tiny_weights), "--data", str(folder), "--scales", "1,x"]) == 2
    assert "--scales" in capsys.readouterr().err


def test_real_photos_evaluate(realdata: Path, tiny_weights: Path) -> None:
    report = run_evaluation(tiny_weights, realdata / "coco_panoptic" / "test_panoptic.json")
    assert report["metrics"]["num_samples"] == 4 and "PCKh@0.7" in report["metrics"]
    report = run_evaluation(tiny_weights, realdata / "coco_onehand10k")
    assert report["metrics"]["num_samples"] == 4 and "PCKh@0.7" not in report["metrics"]


def test_static_shape_onnx_evaluates_in_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.export import export_onnx

    torch.manual_seed(2)
    model = build_model("tiny")
    export_onnx(model, tmp_path / "dynamic.onnx")
    export_onnx(model, tmp_path / "static.onnx", dynamic=False)  # fixed 1 x 3 x S x S
    folder = write_hand_labels(tmp_path, count=3)
    a = run_evaluation(tmp_path / "static.onnx", folder, flip_test=True, batch_size=2)
    b = run_evaluation(tmp_path / "dynamic.onnx", folder, flip_test=True, batch_size=2)
    assert a["metrics"]["num_samples"] == 3 and a["metrics"]["EPE"] == pytest.approx(b["metrics"]["EPE"], abs=1e-3)
    args = ["eval", "--weights", str(tmp_path / "static.onnx"), "--data", str(folder), "--scales", "1,0.5"]
    assert main(args) == 2
    assert "fixed input shape" in capsys.readouterr().err


def test_pck_plot_title_names_the_data_split_and_metrics() -> None:
    from handpose.evaluate import curve_title

    title = curve_title("runs/x/best.safetensors", "/data/hand_labels", "val",
                        {"num_samples": 846, "PCK@0.2": 0.8123, "AUC": 0.61, "EPE": 9.87})
    assert title == "best.safetensors on hand_labels (val, 846 hands)\nPCK@0.2 0.812  AUC 0.610  EPE 9.9 px"


@pytest.mark.parametrize("name, magic", [("curve", b"\x89PNG"), ("curve.PNG", b"\x89PNG"), ("curve.pdf", b"%PDF")])
def test_the_pck_plot_takes_its_format_from_the_path(tmp_path: Path, name: str, magic: bytes) -> None:
    """A plot path without a suffix failed: matplotlib read the format from the temporary file's name. It is the
    path's suffix, PNG without one, and the file is written at the path given."""
    from handpose.evaluate import plot_pck

    curves = {"box": {"thresholds": [0.0, 0.1, 0.2], "pck": [0.0, 0.5, 0.9]}}
    out = plot_pck(curves, tmp_path / name)
    assert out == tmp_path / name and out.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_folder_of_datasets_is_evaluated_set_by_set_and_together(
    tmp_path: Path, tiny_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from handpose.cli import main
    from handpose.evaluate_sets import find_datasets
    from handpose.synth import write_dataset

    root = tmp_path / "sets"
    write_hand_labels(root / "cmu")
    write_dataset(root / "more" / "renders", count=5, seed=2, size=96)
    assert find_datasets(root) == [root / "cmu", root / "more" / "renders"]
    assert main(["eval", "--weights", str(tiny_weights), "--data", str(root), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in
             ("cmu", "more/renders", "all")}
    report = json.loads((tmp_path / "out" / "eval_sets.json").read_text())
    settings = report.pop("settings")
    assert set(table) == set(report) == {"cmu", "more/renders", "all"}
    assert settings == {"weights": str(tiny_weights), "data": str(root), "split": "val", "val_fraction": 0.1,
                        "precision": "fp32", "flip_test": False, "scales": [1.0]}
    for flags, words in ((["--keypoint-order", "rhd"], "--keypoint-order: --data"), (["--amp", "on"], "--amp:")):
        assert main(["eval", "--weights", str(tiny_weights), "--data", str(root), *flags]) == 2
        assert words in capsys.readouterr().err  # each set is read as it is: the flag would be ignored
    hands = {name: int(row[1]) for name, row in table.items()}
    assert hands["all"] == hands["cmu"] + hands["more/renders"] == report["all"]["num_samples"]

    # --split picks each set's part (it was ignored: every sample, training images included, whatever was asked)
    counts = {}
    for split in ("val", "train", "all"):
        assert main(["eval", "--weights", str(tiny_weights), "--data", str(root), "--split", split]) == 0
        printed = capsys.readouterr().out
        assert f"({split} samples of each, ground-truth boxes; fp32)" in printed
        counts[split] = {line.split()[0]: int(line.split()[1]) for line in printed.splitlines()
                         if line.split() and line.split()[0] in ("cmu", "more/renders", "all")}
    assert counts["val"]["cmu"] == 5 and "cmu" not in counts["train"]  # manual_test only: all validation
    assert counts["val"]["more/renders"] + counts["train"]["more/renders"] == counts["all"]["more/renders"] == 5
    assert counts["val"]["all"] + counts["train"]["all"] == counts["all"]["all"] == 10
