"""The detector at several letterbox scales: each scale's boxes come back through its own letterbox, boxes of one hand
found at two scales become one, scales above 2 only on images that hold their pixels, and the flag's defaults (two
scales for images, one for video) and errors."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
import torch
from torch import nn

from handpose.commands.detection_flags import add_detector_scales_flag, detector_scales_from_args
from handpose.config import DetectorConfig
from handpose.detection.detector import IMAGE_SCALES, HandDetector, check_scales

CFG = DetectorConfig(input_size=64, stride=4, score_threshold=0.1, nms_iou=0.6)


class CentrePeak(nn.Module):
    """A stand-in network with a known answer: one hand at the centre cell of any input, its box ``side`` input px
    square (or ``side_share`` of the input's side), its logit ``logit_per_px`` times the input side."""

    def __init__(self, side: float | None = None, side_share: float | None = None,
                 logit_per_px: float = 0.0) -> None:
        super().__init__()
        self.config = CFG
        self.side, self.side_share, self.logit_per_px = side, side_share, logit_per_px
        self.unused = nn.Parameter(torch.zeros(1))  # a parameter, so the detector finds the network's device

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        n, _, s, _ = x.shape  # (N, 3, S, S)
        h = s // CFG.stride
        heat = torch.full((n, 1, h, h), -10.0)  # (N, 1, h, h) logits
        heat[:, :, h // 2, h // 2] = 1.0 + self.logit_per_px * s
        side = self.side if self.side is not None else self.side_share * s
        size = torch.full((n, 2, h, h), math.log(side / CFG.stride))  # (N, 2, h, h) log cells
        return {"heatmap": heat, "size": size, "offset": torch.zeros(n, 2, h, h), "left": torch.zeros(n, 1, h, h)}


def test_each_scale_maps_its_boxes_back_through_its_own_letterbox() -> None:
    image = np.zeros((100, 200, 3), np.uint8)  # letterboxed: 64 / 200 = 0.32 input px per pixel at scale 1
    detector = HandDetector.from_model(CentrePeak(side=8.0), scales=(1.0, 2.0))
    assert [detector.scaled_size(s) for s in (1.0, 1.5, 2.0, 1.3)] == [64, 96, 128, 96]
    hands = detector.detect(image)
    sides = sorted(float(d.box[2]) for d in hands)
    # 8 input px are 25 image px at scale 1 and 12.5 at scale 2; both about the image centre, so both kept
    assert len(hands) == 2 and sides == pytest.approx([12.5, 25.0], abs=0.01)
    for d in hands:
        centre = d.box[:2] + d.box[2:] / 2
        assert np.allclose(centre, [100.0, 50.0], atol=2.0)
    one = HandDetector.from_model(CentrePeak(side=8.0)).detect(image)  # the default: the network's size alone
    assert len(one) == 1 and float(one[0].box[2]) == pytest.approx(25.0, abs=0.01)


def test_one_hand_found_at_two_scales_is_one_box_with_the_better_score() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    # a quarter of the input side at every scale: the same image box, scored higher in the larger input
    detector = HandDetector.from_model(CentrePeak(side_share=0.25, logit_per_px=0.01), scales=(1.0, 2.0))
    (hand,) = detector.detect(image)
    assert hand.score == pytest.approx(1.0 / (1.0 + math.exp(-(1.0 + 0.01 * 128))), abs=1e-6)
    assert float(hand.box[2]) == pytest.approx(50.0, abs=0.01)
    batch = detector.detect_batch([image, np.zeros((60, 40, 3), np.uint8)])
    assert [len(hands) for hands in batch] == [1, 1]


def test_scales_above_two_run_only_on_images_as_large_as_their_letterbox() -> None:
    detector = HandDetector.from_model(CentrePeak(side=8.0), scales=(1.0, 2.0, 4.0))  # letterboxes 64, 128, 256
    assert detector.scales_for(200, 100) == (1.0, 2.0)  # scale 2 upsamples, and runs on every image
    assert detector.scales_for(40, 30) == (1.0, 2.0)
    assert detector.scales_for(255, 90) == (1.0, 2.0)
    assert detector.scales_for(90, 256) == (1.0, 2.0, 4.0)  # the longer side holds the 256 px letterbox
    assert HandDetector.from_model(CentrePeak(side=8.0), scales=(3.0,)).scales_for(50, 50) == (3.0,)  # never none
    small, large = np.zeros((100, 200, 3), np.uint8), np.zeros((150, 300, 3), np.uint8)
    assert [b[0].shape[0] for b in detector.letterbox_scales(small)] == [64, 128]
    assert [b[0].shape[0] for b in detector.letterbox_scales(large)] == [64, 128, 256]
    # one batch of images that run different scales gives each image what it gives alone
    batch = detector.detect_batch([small, large, small])
    alone = [detector.detect(small), detector.detect(large), detector.detect(small)]
    assert [len(h) for h in batch] == [2, 3, 2]
    for got, want in zip(batch, alone):
        assert [d.box.tolist() for d in got] == [d.box.tolist() for d in want]
        assert [d.score for d in got] == [d.score for d in want]


@pytest.mark.parametrize("bad", [[], [0.5], [1.0, float("nan")], [100.0], ["x"]])
def test_bad_scales_are_refused(bad: list[float]) -> None:
    """A scale of 100 letterboxes to 32,000 px: it used to be taken and exhaust the memory."""
    with pytest.raises(ValueError, match=r"detector scales must be one or more numbers in \[1, 8\]"):
        check_scales(bad)
    with pytest.raises(ValueError, match="at most 4 detector scales"):
        check_scales([1, 2, 3, 4, 5])
    assert check_scales(2) == (2.0,)  # one number is one scale
    assert check_scales("2") == (2.0,)  # a text is one number: "12" was read as the scales 1 and 2
    with pytest.raises(ValueError, match=r"in \[1, 8\]"):
        check_scales("12")


def test_the_flag_defaults_to_two_scales_for_images_and_one_for_video() -> None:
    parser = argparse.ArgumentParser()
    add_detector_scales_flag(parser, video_note=True)
    args = parser.parse_args([])
    assert tuple(detector_scales_from_args(args)) == IMAGE_SCALES == (1.0, 2.0)
    assert tuple(detector_scales_from_args(args, video=True)) == (1.0,)
    given = parser.parse_args(["--detector-scales", "1,1.5"])
    assert tuple(detector_scales_from_args(given, video=True)) == (1.0, 1.5)
    with pytest.raises(ValueError, match="--detector-scales '0.5'"):
        detector_scales_from_args(parser.parse_args(["--detector-scales", "0.5"]))
    with pytest.raises(ValueError, match="--detector-scales 'x'"):
        detector_scales_from_args(parser.parse_args(["--detector-scales", "x"]))


def test_predict_runs_the_shipped_detector_at_two_scales_on_images_and_one_on_video() -> None:
    from handpose.cli import build_parser
    from handpose.commands.predict import load_predictor

    parser = build_parser()
    images = load_predictor(parser.parse_args(["predict", "photo.jpg", "--device", "cpu"]))
    assert images.detector is not None and images.detector.scales == IMAGE_SCALES
    video = load_predictor(parser.parse_args(["predict", "clip.mp4", "--device", "cpu"]), video=True)
    assert video.detector is not None and video.detector.scales == (1.0,)
    given = load_predictor(parser.parse_args(["predict", "clip.mp4", "--device", "cpu", "--detector-scales", "1,2"]),
                           video=True)
    assert given.detector.scales == (1.0, 2.0)
    plain = parser.parse_args(["predict", "photo.jpg", "--device", "cpu", "--detector", "none"])
    assert load_predictor(plain).detector is None
    boxed = parser.parse_args(["predict", "photo.jpg", "--device", "cpu", "--box", "1,2,3,4"])
    assert load_predictor(boxed).detector is None
