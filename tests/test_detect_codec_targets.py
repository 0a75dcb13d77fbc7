"""The box codec's targets and decoded boxes against values worked out by hand from its stated geometry (a round
trip alone forgives a mistake made the same way both ways, or one under a pixel)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handpose.detection.codec import RADIUS_PER_SIDE, BoxCodec


def test_targets_of_one_box_by_hand() -> None:
    """Box [10, 18, 8, 4] at stride 4: centre (14, 20) = cell units (3.5, 5.0): cell (3, 5), offset (0.5, 0),
    flat index 5 * 16 + 3, log size (log 2, log 1)."""
    t = BoxCodec(input_size=64, stride=4, max_hands=3).encode(np.array([[10, 18, 8, 4]]), np.array([True]))
    assert t["index"].tolist() == [83, 0, 0] and t["mask"].tolist() == [1, 0, 0]
    np.testing.assert_allclose(t["offset"][0], [0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(t["size"][0], [math.log(2.0), 0.0], atol=1e-7)
    assert t["left"].tolist() == [1, 0, 0]
    assert t["heatmap"][0, 5, 3] == 1.0 and t["heatmap"].max() == 1.0


def test_the_heatmap_gaussian_follows_the_shorter_side() -> None:
    """Box 160 x 100 centred on (100, 80) at stride 4: sigma = (2 * 0.0925 * 100 / 4 + 1) / 6 = 0.9375 cells, drawn
    out to ceil(3 sigma) = 3 cells."""
    t = BoxCodec(input_size=256, stride=4).encode(np.array([[20, 30, 160, 100]]))
    heat = t["heatmap"][0]
    sigma = (2 * RADIUS_PER_SIDE * 100 / 4 + 1) / 6
    assert sigma == pytest.approx(0.9375)
    for d in (1, 2, 3):
        assert heat[20, 25 + d] == pytest.approx(math.exp(-d * d / (2 * sigma * sigma)), rel=1e-5)
        assert heat[20 - d, 25] == pytest.approx(math.exp(-d * d / (2 * sigma * sigma)), rel=1e-5)
    assert heat[20, 25 + 4] == 0.0 and heat[20 + 4, 25] == 0.0


def test_a_box_centred_on_the_far_edge_has_no_target() -> None:
    """Centre x = 64 of a 64 px input is cell 16 of 16: off the map, no peak and no slot (not cell 0 of the next
    row)."""
    t = BoxCodec(input_size=64, stride=4, max_hands=2).encode(np.array([[54, 10, 20, 20]]))
    assert t["mask"].sum() == 0 and t["heatmap"].max() == 0.0


def test_hands_of_unknown_side_train_no_side() -> None:
    t = BoxCodec(input_size=64, stride=4, max_hands=3).encode(
        np.array([[4, 4, 8, 8], [30, 30, 8, 8]]), np.array([True, False]), np.array([False, True]))
    assert t["mask"].tolist() == [1, 1, 0] and t["left_mask"].tolist() == [0, 1, 0]


def test_decode_one_peak_by_hand() -> None:
    """Heatmap logit 3 at row 5, col 3 of a 16 x 16 map (stride 4), offset (0.5, 0.5), log size 0, left logit 1:
    centre (3.5 * 4, 5.5 * 4) = (14, 22), side 4, box [12, 20, 4, 4]; score sigmoid(3), left sigmoid(1)."""
    n = 16
    heat = torch.full((1, 1, n, n), -9.0)
    heat[0, 0, 5, 3] = 3.0
    left = torch.zeros(1, 1, n, n)
    left[0, 0, 5, 3] = 1.0
    outputs = {"heatmap": heat, "size": torch.zeros(1, 2, n, n), "offset": torch.full((1, 2, n, n), 0.5),
               "left": left}
    identity = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    (found,) = BoxCodec(input_size=64, stride=4, max_hands=5).decode(outputs, identity, [(64, 64)], threshold=0.5)
    assert len(found) == 1
    np.testing.assert_allclose(found.boxes[0], [12, 20, 4, 4], atol=1e-5)
    assert found.scores[0] == pytest.approx(1 / (1 + math.exp(-3)), abs=1e-6)
    assert found.left[0] == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-6)


def _peaks(n: int, cells: list[tuple[int, int]], log_side: float) -> dict[str, torch.Tensor]:
    """Outputs with a heatmap logit 3 at each (col, row), offset 0, the same log size everywhere, right hands."""
    heat = torch.full((1, 1, n, n), -9.0)
    for col, row in cells:
        heat[0, 0, row, col] = 3.0 - 0.1 * len([c for c in cells if c < (col, row)])  # distinct scores
    return {"heatmap": heat, "size": torch.full((1, 2, n, n), log_side), "offset": torch.zeros(1, 2, n, n),
            "left": torch.full((1, 1, n, n), -9.0)}


def test_decode_keeps_up_to_max_hands_and_drops_overlaps() -> None:
    """8 peaks 4 cells apart with 8 px boxes: all 8 come back. Two peaks 2 cells (8 px) apart with 40 px boxes
    overlap by 32 * 40 / (2 * 1600 - 1280) = 2/3 > nms_iou 0.6: the weaker goes; with nms_iou 1 both stay."""
    identity = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    many = [(4 * i + 1, 4 * j + 1) for i in range(4) for j in range(2)]
    (found,) = BoxCodec(64, 4, max_hands=20).decode(_peaks(16, many, math.log(2.0)), identity, [(64, 64)])
    assert len(found) == 8
    pair = [(5, 5), (7, 5)]
    (found,) = BoxCodec(64, 4, max_hands=20, nms_iou=0.6).decode(_peaks(16, pair, math.log(10.0)), identity,
                                                                 [(64, 64)])
    assert len(found) == 1 and found.boxes[0][0] == pytest.approx(4 * 5 - 20)
    (found,) = BoxCodec(64, 4, max_hands=20, nms_iou=1.0).decode(_peaks(16, pair, math.log(10.0)), identity,
                                                                 [(64, 64)])
    assert len(found) == 2


def test_from_config_takes_every_setting() -> None:
    from handpose.config import DetectorConfig

    c = BoxCodec.from_config(DetectorConfig(input_size=256, stride=8, max_hands=7, nms_iou=0.3))
    assert (c.input_size, c.stride, c.max_hands, c.nms_iou, c.map_size) == (256, 8, 7, 0.3, 32)
