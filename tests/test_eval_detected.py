"""Keypoints through the detector (``evaluate_detected``): the matching rule, found / false-positive counts and
the miss rule on a stub detector with known boxes, equality with the ground-truth-box path when the detector
returns those boxes, and the ``handpose eval --detector`` command on the real photos with tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import DotBackend, dot_hand_keypoints, draw_dot_hands
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.config import DataConfig, DetectorConfig
from handpose.data.formats import load_splits
from handpose.data.sample import Sample
from handpose.detection.detector import Detection
from handpose.evaluate_detected import detect_hands, detected_metrics, evaluate_detected, match_by_iou
from handpose.evaluate_sets import evaluate_sets
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.refine import RefineConfig

WIDE, NARROW = (320, 200), (300, 200)  # two images told apart by their width
HANDS = {WIDE: [(70.0, 100.0), (240.0, 90.0)], NARROW: [(160.0, 100.0)]}


def gt_box(centre: tuple[float, float]) -> list[float]:
    """The annotated box of a dot hand (its dots span 36 x 40 px around the centre)."""
    return [centre[0] - 24.0, centre[1] - 26.0, 48.0, 52.0]


def write_dot_coco(root: Path, lefts: tuple[bool, ...] = (False, False, False)) -> Path:
    """A COCO keypoint json over two PNG images of dot hands: two hands in the wide one, one in the narrow one."""
    root.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id, (size, centres) in enumerate(HANDS.items()):
        name = f"scene{image_id}.png"
        kps = [dot_hand_keypoints(c) for c in centres]
        cv2.imwrite(str(root / name), draw_dot_hands(size, kps))
        images.append({"id": image_id, "file_name": name, "width": size[0], "height": size[1]})
        for c, kp in zip(centres, kps):
            flat = np.concatenate([kp, np.ones((21, 1))], axis=1).reshape(-1).tolist()
            annotations.append({"id": len(annotations), "image_id": image_id, "bbox": gt_box(c), "keypoints": flat,
                                "num_keypoints": 21, "is_left": lefts[len(annotations)], "category_id": 1})
    path = root / "hands.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1}]}))
    return path


def all_samples(path: Path) -> list[Sample]:
    splits = load_splits(path, val_fraction=0.0)
    return splits.train + splits.val


class BoxesByWidth:
    """A stub detector: the detections listed for an image of that width (best first)."""

    def __init__(self, answers: dict[int, list[Detection]]) -> None:
        self.answers = answers
        self.calls = 0

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        self.calls += 1
        return self.answers[image_bgr.shape[1]]


def det(box: list[float], score: float = 0.9, is_left: bool = False) -> Detection:
    return Detection(np.asarray(box, np.float64), score, is_left, 0.8 if is_left else 0.2)


def tiny_models(folder: Path, tiny_cpm: TinyCpm) -> tuple[Path, Path]:
    """A tiny random keypoint model and a tiny random detector (every score kept, 5 hands an image) in ``folder``."""
    import torch

    from handpose.detection.model import build_detector
    from handpose.model.artifact import save_weights

    kp, dt = folder / "kp.safetensors", folder / "det.safetensors"
    save_weights(tiny_cpm(0), kp)
    torch.manual_seed(0)
    save_weights(build_detector(DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16,
                                               input_size=64, max_hands=5, score_threshold=0.0)).eval(), dt)
    return kp, dt


def test_matching_is_greedy_by_iou_not_by_score() -> None:
    # boxes 10 x 10 on one row; IoU of a shift s is (10 - s) / (10 + s)
    g1, g2 = [0, 0, 10, 10], [3, 0, 10, 10]
    a, b = [1, 0, 10, 10], [0.5, 0, 10, 10]  # a: IoU 0.82 with g1, 0.67 with g2; b: 0.90 with g1, 0.60 with g2
    # by IoU: b-g1 (0.90) then a-g2 (0.67); score order (a first, taking its best, g1) would pair a-g1, b-g2
    np.testing.assert_array_equal(match_by_iou(np.array([a, b]), np.array([g1, g2])), [1, 0])
    far = [6, 0, 10, 10]  # IoU 0.25 with g1
    np.testing.assert_array_equal(match_by_iou(np.array([far]), np.array([g1])), [-1])
    np.testing.assert_array_equal(match_by_iou(np.zeros((0, 4)), np.array([g1, g2])), [-1, -1])


def test_found_false_positives_and_the_miss_rule(tmp_path: Path) -> None:
    samples = all_samples(write_dot_coco(tmp_path / "d"))
    (h0, h1), (h2,) = HANDS[WIDE], HANDS[NARROW]
    shifted_far = np.add(gt_box(h1), [30, 0, 0, 0]).tolist()  # IoU 18/78 = 0.23: h1 missed, the box is a false positive
    shifted_near = np.add(gt_box(h2), [6, 0, 0, 0]).tolist()  # IoU 42/54 = 0.78: h2 found
    detector = BoxesByWidth({WIDE[0]: [det(gt_box(h0)), det(shifted_far, 0.8)],
                             NARROW[0]: [det(shifted_near), det([10, 10, 30, 30], 0.5)]})  # nothing at (10, 10)
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5))  # type: ignore[arg-type]
    o = detect_hands(predictor, samples, detector)
    m = detected_metrics(o)
    assert detector.calls == 2  # once per image, not per hand
    assert (m["num_hands"], m["num_found"], m["num_images"], m["num_detections"]) == (3, 2, 2, 4)
    assert m["false_positives"] == 2 and m["FP_per_image"] == 1.0
    missed = o.gt[~o.found][:, :, :2].mean(axis=1)  # (1, 2) the keypoints' centre of the one missed hand
    np.testing.assert_allclose(missed, [dot_hand_keypoints(h1).mean(axis=0)])
    found_only = m["found_only"]
    assert found_only["PCK@0.2"] == 1.0 and found_only["EPE"] < 1.0  # the stub network reads the dots back
    # the miss rule: h1's 21 visible keypoints are misses, so every keypoint is right on 2 of its 3 hands
    assert m["per_keypoint_PCK@0.2"] == pytest.approx([2 / 3] * 21, abs=1e-12)
    assert m["PCK@0.2"] == pytest.approx(2 / 3, abs=1e-12)
    assert m["AUC"] == pytest.approx(2 / 3 * found_only["AUC"], abs=1e-12)
    assert m["EPE"] == found_only["EPE"] and m["num_keypoints"] == 63
    assert np.isinf(o.pred[~o.found]).all() and np.isfinite(o.pred[o.found]).all()


def test_a_detection_whose_crop_lies_off_the_image_leaves_the_other_hands_keypoints_in_place(tmp_path: Path) -> None:
    """A refined detection reads its keypoints in its crop box, which may lie off the image while its hand box does
    not: that hand has no keypoints, and the next hand keeps its own (it used to take the one before it's place)."""
    samples = all_samples(write_dot_coco(tmp_path / "d"))
    (h0, h1), _ = HANDS[WIDE], HANDS[NARROW]
    off = Detection(np.asarray(gt_box(h0), np.float64), 0.9, False, 0.2,
                    crop_box=np.array([-120.0, 100.0, 40.0, 20.0]), side_settled=True)
    detector = BoxesByWidth({WIDE[0]: [off, det(gt_box(h1), 0.8)], NARROW[0]: []})
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5))  # type: ignore[arg-type]
    o = detect_hands(predictor, samples, detector)
    wide = [i for i, s in enumerate(samples) if s.image_path.name == "scene0.png"]
    first, second = sorted(wide, key=lambda i: samples[i].keypoints[:, 0].mean())  # h0 lies left of h1
    assert not o.found[first] and o.found[second]
    np.testing.assert_allclose(o.pred[second], samples[second].keypoints[:, :2], atol=1.0)  # its own dots
    # the report's records name that detection as the hand's match (not a false positive), with no keypoints: they
    # named neither, and so implied one false positive more than the report counted
    m, hands = detected_metrics(o), [h for r in o.images for h in r["hands"]]
    off_hand = next(h for h in hands if h["detection"] == 0)
    assert off_hand["keypoints"] is None and off_hand["iou"] == 1.0
    named = sum(h["detection"] is not None for h in hands)
    assert sum(len(r["boxes"]) for r in o.images) - named == m["false_positives"] == 0
    assert sum(h["keypoints"] is not None for h in hands) == m["num_found"] == 1


def test_the_ground_truth_boxes_as_detections_give_the_ground_truth_figures(tmp_path: Path, tiny_cpm: TinyCpm,
                                                                            one_torch_thread: None) -> None:
    lefts = (False, True, True)
    samples = all_samples(write_dot_coco(tmp_path / "d", lefts))
    answers: dict[int, list[Detection]] = {}
    for s in samples:  # each annotated box, with its side
        width = 320 if s.image_path.name == "scene0.png" else 300
        answers.setdefault(width, []).append(det(s.box.tolist(), is_left=bool(s.is_left)))
    predictor = Predictor.from_model(tiny_cpm(3), DataConfig(input_size=64, mirror_left=True))
    result = evaluate_detected(predictor, samples, BoxesByWidth(answers), batch_size=2)
    through = result["detector"]
    assert through["num_found"] == 3 and through["false_positives"] == 0
    assert result["num_samples"] == 3 and result["num_skipped"] == 0
    for key in ("PCK@0.2", "AUC", "EPE", "per_keypoint_PCK@0.2", "num_keypoints"):
        assert through[key] == result[key], key  # the same crops: exactly the same figures
    assert 0.0 < result["EPE"]  # a random network: the comparison is not trivially of perfect scores


def test_identical_image_files_are_one_image(tmp_path: Path) -> None:
    """CMU hand_labels stores a two-hand frame twice (``_l`` and ``_r``): one image, one detector run."""
    path = write_dot_coco(tmp_path / "d")
    obj = json.loads(path.read_text())
    (tmp_path / "d" / "copy.png").write_bytes((tmp_path / "d" / "scene0.png").read_bytes())
    obj["images"].append({"id": 9, "file_name": "copy.png", "width": 320, "height": 200})
    obj["annotations"][1]["image_id"] = 9  # the second hand of scene0 annotated on the copy
    path.write_text(json.dumps(obj))
    (h0, h1), (h2,) = HANDS[WIDE], HANDS[NARROW]
    detector = BoxesByWidth({320: [det(gt_box(h0)), det(gt_box(h1))], 300: [det(gt_box(h2))]})
    predictor = Predictor(DotBackend(), CropSpec(input_size=64))  # type: ignore[arg-type]
    m = detected_metrics(detect_hands(predictor, all_samples(path), detector))
    assert detector.calls == 2 and m["num_images"] == 2
    assert m["num_found"] == 3 and m["false_positives"] == 0


def test_evaluate_sets_through_a_detector_pools_the_sets(tmp_path: Path) -> None:
    write_dot_coco(tmp_path / "sets" / "a")
    write_dot_coco(tmp_path / "sets" / "b")
    (h0, _), (h2,) = HANDS[WIDE], HANDS[NARROW]
    detector = BoxesByWidth({320: [det(gt_box(h0))], 300: [det(gt_box(h2)), det([10, 10, 30, 30])]})
    predictor = Predictor(DotBackend(), CropSpec(input_size=64))  # type: ignore[arg-type]
    result = evaluate_sets(predictor, [tmp_path / "sets"], detector=detector)
    assert sorted(result["sets"]) == ["a", "b"] and detector.calls == 4  # "all" pools, it does not detect again
    for m in [*result["sets"].values(), result["all"]]:
        assert m["PCK@0.2"] == 1.0  # the ground-truth-box column, as without a detector
        assert m["detector"]["PCK@0.2"] == pytest.approx(2 / 3, abs=1e-12)
    everything = result["all"]["detector"]
    assert (everything["num_hands"], everything["num_found"], everything["false_positives"]) == (6, 4, 2)
    assert everything["num_images"] == 4 and everything["FP_per_image"] == 0.5


def test_detector_with_task_detect_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["eval", "--task", "detect", "--weights", "w.safetensors", "--detector", "d.safetensors",
            "--data", str(tmp_path)]
    assert main(args) != 0
    assert "--detector goes with --task keypoints" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--keypoints", "kp.safetensors"], "--keypoints goes with --task detect"),
    (["--detector", "d.safetensors", "--refine-passes", "-1"], "--refine-passes must be >= 0"),
    (["--detector", "d.safetensors", "--hand-threshold", "1.5"], "--hand-threshold must lie in"),
    (["--detector", "d.safetensors", "--max-proposals", "0"], "--max-proposals must be at least 1"),
    (["--detector", "d.safetensors", "--merge-cover", "1.5"], "--merge-cover must lie in [0, 1]"),
    (["--detector", "d.safetensors", "--merge-points", "-0.1"], "--merge-points must lie in [0, 1]"),
    (["--task", "detect", "--keypoints", "kp.safetensors", "--refine-passes", "0"],
     "--refine-passes must be at least 1"),
])
def test_refinement_flags_are_checked(flags: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "--weights", "w.safetensors", "--data", str(tmp_path), *flags]) != 0
    assert message in capsys.readouterr().err


def test_refinement_flags_reach_the_config() -> None:
    import argparse

    from handpose.commands.detection_flags import add_refine_flags, refine_from_args

    parser = argparse.ArgumentParser()
    add_refine_flags(parser)
    cfg = refine_from_args(parser.parse_args(["--max-proposals", "3", "--hand-threshold", "0.5", "--merge-cover",
                                              "0.7", "--merge-points", "0.6"]))
    assert cfg is not None and cfg.max_proposals == 3 and cfg.hand_threshold == 0.5 and cfg.merge_cover == 0.7
    assert cfg.merge_points == 0.6
    assert refine_from_args(parser.parse_args([])).max_proposals == RefineConfig().max_proposals
    low = refine_from_args(parser.parse_args(["--hand-threshold", "0.1"]))  # pruning between passes follows it down
    assert low.hand_threshold == 0.1 and low.prune_threshold == 0.1
    assert refine_from_args(parser.parse_args([])).prune_threshold == RefineConfig().prune_threshold
    assert refine_from_args(parser.parse_args(["--refine-passes", "0"])) is None


@pytest.mark.slow  # 0.4-0.5 s with one torch thread (13 s with two on this shared 2-core machine): 17 real photos
def test_command_on_the_real_photos(realdata: Path, tmp_path: Path, tiny_cpm: TinyCpm, capsys: pytest.CaptureFixture,
                                    one_torch_thread: None) -> None:


    kp, dt = tiny_models(tmp_path, tiny_cpm)
    out = tmp_path / "out"
    assert main(["eval", "--weights", str(kp), "--detector", str(dt), "--data", str(realdata), "--split", "all",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "eval_detected.json").read_text())
    assert "FP/img" in printed and "hand_labels" in printed and "\nall " in printed
    sets = report["sets"]
    assert sets["hand_labels"]["num_hands"] == 4 and sets["hand_labels"]["num_images"] == 2  # _l/_r: one frame
    assert report["all"]["num_hands"] == sum(m["num_hands"] for m in sets.values())
    assert report["refine"]["passes"] == RefineConfig().passes  # refined by default, as predict does
    for m in [*sets.values(), report["all"]]:
        assert 0 <= m["num_found"] <= m["num_hands"]
        assert m["false_positives"] == m["num_detections"] - m["num_found"]
        assert m["num_detections"] <= 5 * m["num_images"]  # max_hands 5
    plain = evaluate_sets(Predictor.from_file(kp), [realdata])  # the ground-truth column is the existing path's
    assert report["all"]["gt_boxes"]["PCK@0.2"] == pytest.approx(plain["all"]["PCK@0.2"], abs=1e-12)


def test_reports_record_the_hash_fraction_only_where_it_chose_the_hands(tmp_path: Path, tiny_cpm: TinyCpm,
                                                                       one_torch_thread: None) -> None:
    """eval --detector's report recorded --val-fraction for --split all, where no hand was chosen by it, as the
    keypoint report does not; all the reports now record it where the hash split chose the hands scored alone."""


    data = write_dot_coco(tmp_path / "dots")
    kp, dt = tiny_models(tmp_path, tiny_cpm)
    for split, recorded in (("all", None), ("train", 0.3)):
        out = tmp_path / f"out_{split}"
        assert main(["-q", "eval", "--weights", str(kp), "--detector", str(dt), "--data", str(data), "--split", split,
                     "--val-fraction", "0.3", "--out", str(out)]) == 0
        assert json.loads((out / "eval_detected.json").read_text())["val_fraction"] == recorded
        assert main(["-q", "eval", "--weights", str(kp), "--data", str(data), "--split", split,
                     "--val-fraction", "0.3", "--out", str(out / "plain")]) == 0
        assert json.loads(next((out / "plain").glob("*.json")).read_text())["val_fraction"] == recorded


def test_a_folder_of_sets_records_the_fraction_only_where_the_hash_divided_a_set(tmp_path: Path,
                                                                                tiny_cpm: TinyCpm,
                                                                                one_torch_thread: None) -> None:
    """eval on a folder of datasets recorded --val-fraction for --split val even where every set had a val part of
    its own, which the hash does not divide."""
    from handpose.model.artifact import save_weights

    kp = tmp_path / "kp.safetensors"
    save_weights(tiny_cpm(0), kp)
    for name in ("a", "b"):
        write_dot_coco(tmp_path / "sets" / name).rename(tmp_path / "sets" / name / "hands_val.json")

    def recorded(split: str, out: str) -> object:
        assert main(["-q", "eval", "--weights", str(kp), "--data", str(tmp_path / "sets"), "--split", split,
                     "--val-fraction", "0.3", "--out", str(tmp_path / out)]) == 0
        return json.loads(next((tmp_path / out).glob("*.json")).read_text())["settings"]["val_fraction"]

    assert recorded("val", "own") is None
    (tmp_path / "sets" / "b" / "hands_val.json").rename(tmp_path / "sets" / "b" / "hands.json")
    assert recorded("train", "hashed") == 0.3  # a has no training part; b's is the hash's choice


@pytest.mark.slow  # 0.5 s on the shared 2-core machine: three evaluations of tiny models
def test_every_keypoint_evaluation_without_out_says_no_report_was_written(tmp_path: Path, tiny_cpm: TinyCpm,
                                                                          capsys: pytest.CaptureFixture,
                                                                          one_torch_thread: None) -> None:
    """README: "Without --out nothing is written, and the command says so". One dataset said it; a folder of
    datasets and eval --detector wrote nothing without a word."""


    data = write_dot_coco(tmp_path / "sets" / "a")
    write_dot_coco(tmp_path / "sets" / "b")
    kp, dt = tiny_models(tmp_path, tiny_cpm)
    runs = {"eval_report.json": ["--data", str(data)], "eval_sets.json": ["--data", str(tmp_path / "sets")],
            "eval_detected.json": ["--data", str(data), "--detector", str(dt)]}
    for name, flags in runs.items():
        assert main(["-q", "eval", "--weights", str(kp), "--split", "all", *flags]) == 0
        said = capsys.readouterr().out
        assert f"no report written: add --out FOLDER for {name}" in said, name
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["hands.json", "hands.json"]  # nothing written
