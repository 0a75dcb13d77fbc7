"""The detector network's output shapes and gradients, and the box codec's round trip through the letterbox."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.config import DetectorConfig
from handpose.detection.codec import BoxCodec, suppress_overlaps
from handpose.detection.letterbox import augment_matrix, letterbox_matrix, transform_boxes
from handpose.detection.model import build_detector

SMALL = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)


@pytest.mark.parametrize("size", [64, 96])
def test_output_shapes_follow_the_input(size: int) -> None:
    model = build_detector(SMALL).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, size, size))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "heatmap": (2, 1, size // 4, size // 4), "size": (2, 2, size // 4, size // 4),
        "offset": (2, 2, size // 4, size // 4), "left": (2, 1, size // 4, size // 4)}
    # a fresh heatmap starts at the prior hand probability, not at 0.5
    assert float(torch.sigmoid(out["heatmap"]).mean()) == pytest.approx(0.01, abs=0.005)


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(0)
    model = build_detector(SMALL)
    out = model(torch.randn(2, 3, 64, 64))
    sum(v.float().square().mean() for v in out.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert missing == []


def _outputs_from_targets(t: dict[str, np.ndarray], n_map: int) -> dict[str, torch.Tensor]:
    """What a perfect network would output for one image's targets (batch of one)."""
    p = np.clip(t["heatmap"], 1e-4, 1 - 1e-4)
    heat = torch.from_numpy(np.log(p / (1 - p)))[None]  # (1, 1, h, w)
    maps = {"size": torch.zeros(1, 2, n_map * n_map), "offset": torch.zeros(1, 2, n_map * n_map),
            "left": torch.full((1, 1, n_map * n_map), -9.0)}
    for k in np.flatnonzero(t["mask"]):
        i = int(t["index"][k])
        maps["size"][0, :, i] = torch.from_numpy(t["size"][k])
        maps["offset"][0, :, i] = torch.from_numpy(t["offset"][k])
        maps["left"][0, 0, i] = 9.0 if t["left"][k] else -9.0
    out = {k: v.reshape(1, -1, n_map, n_map) for k, v in maps.items()}
    out["heatmap"] = heat
    return out


def test_encode_then_decode_gives_the_boxes_back_within_one_pixel() -> None:
    width, height = 640, 480
    boxes = np.array([[10, 20, 12, 14], [300, 200, 40, 55], [100, 300, 180, 150], [0, 0, 640, 480],
                      [600, 440, 30, 30]], dtype=np.float64)  # 12 px to the whole frame, one at the corner
    left = np.array([True, False, True, False, True])
    codec = BoxCodec(input_size=320, stride=4, max_hands=8, nms_iou=1.0)
    M = letterbox_matrix(width, height, codec.input_size)
    targets = codec.encode(transform_boxes(boxes, M), left)
    assert targets["heatmap"].shape == (1, 80, 80) and int(targets["mask"].sum()) == 5
    assert int((targets["heatmap"] == 1).sum()) == 5  # one exact peak per hand
    found = codec.decode(_outputs_from_targets(targets, codec.map_size), M[None], [(width, height)], 0.5)[0]
    assert len(found) == 5
    order = [int(np.argmin(np.abs(found.boxes - b).sum(axis=1))) for b in boxes]
    np.testing.assert_allclose(found.boxes[order], boxes, atol=1.0)
    np.testing.assert_array_equal(found.left[order] > 0.5, left)
    np.testing.assert_allclose(found.scores, 1.0, atol=1e-3)


def test_round_trip_through_a_zoomed_shifted_flipped_letterbox() -> None:
    boxes = np.array([[50, 60, 30, 40], [200, 100, 80, 60]], dtype=np.float64)
    codec = BoxCodec(input_size=128, stride=4, max_hands=4, nms_iou=1.0)
    M = augment_matrix(letterbox_matrix(320, 240, 128), 128, zoom=1.3, shift=(5.0, -3.0), flip=True)
    targets = codec.encode(transform_boxes(boxes, M), np.array([True, False]))
    found = codec.decode(_outputs_from_targets(targets, codec.map_size), M[None], [(320, 240)], 0.5)[0]
    order = [int(np.argmin(np.abs(found.boxes - b).sum(axis=1))) for b in boxes]
    np.testing.assert_allclose(found.boxes[order], boxes, atol=1.0)


def test_boxes_off_the_input_and_beyond_the_slots_are_left_out() -> None:
    codec = BoxCodec(input_size=64, stride=4, max_hands=2)
    t = codec.encode(np.array([[-50, 10, 20, 20], [5, 5, 10, 10], [30, 30, 10, 10], [40, 5, 10, 10]]))
    assert t["mask"].tolist() == [1.0, 1.0]  # the first is off the square, the fourth has no slot left
    assert t["index"][0] == (10 // 4) * 16 + (10 // 4)


def test_overlapping_boxes_are_suppressed_by_the_best() -> None:
    from handpose.detection.codec import Boxes

    codec = BoxCodec(nms_iou=0.5)
    found = codec.suppress(Boxes(np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10.0]]),
                                 np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.2, 0.3])))
    assert found.scores.tolist() == [0.9, 0.7]


def test_overlap_suppression_ranks_by_score_and_drops_only_by_overlap() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [80, 0, 10, 10]], np.float64)
    scores = np.array([0.2, 0.7, 0.0, -0.3])  # keypoint scores can be 0 or below; nothing is dropped for that
    keep = suppress_overlaps(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2, 3]  # box 0 overlaps the better box 1 (IoU 0.68); best first
    assert suppress_overlaps(boxes, scores, 0.9).tolist() == [1, 0, 2, 3]
    assert suppress_overlaps(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_drop_covering_keeps_the_better_of_two_boxes_one_inside_the_other_whichever_is_larger() -> None:
    from handpose.detection.codec import drop_covering

    boxes = np.array([[0, 0, 100, 100], [60, 10, 30, 40], [90, 0, 40, 40], [200, 200, 10, 10]], np.float64)
    # the small box 1 wholly inside box 0 goes when box 0 is better, and box 0 goes when box 1 is better
    np.testing.assert_array_equal(drop_covering(boxes, np.array([0.9, 0.5, 0.6, 0.1]), 0.7), [0, 2, 3])
    np.testing.assert_array_equal(drop_covering(boxes, np.array([0.4, 0.8, 0.6, 0.1]), 0.7), [1, 2, 3])
    # box 2 shares a quarter of its area with box 0: kept at 0.7, dropped at 0.2
    np.testing.assert_array_equal(drop_covering(boxes[[0, 2]], np.array([0.9, 0.6]), 0.2), [0])
    np.testing.assert_array_equal(drop_covering(boxes, np.array([0.9, 0.5, 0.6, 0.1]), 1.0), [0, 2, 1, 3])
    assert len(drop_covering(np.zeros((0, 4)), np.zeros(0), 0.7)) == 0
