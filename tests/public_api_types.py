"""The public Python API as a caller writes it (README's examples), for a type checker to read: ``make typecheck``.

Never run (pytest collects only ``test_*.py``) and never imported: the functions below hold calls that are valid
and whose results are annotated with the types README promises, so a hint that rejects a valid call, or types a
result more loosely or otherwise than it is, fails the check. The lines marked ``type: ignore`` are calls the hints
must refuse (``--warn-unused-ignores`` fails the check where they stop being errors, e.g. when a result becomes
``Any``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import handpose
from handpose import Predictor
from handpose.config import TrainConfig
from handpose.detection.detector import Detection, HandDetector
from handpose.evaluate import evaluate
from handpose.inference import Prediction
from handpose.inference.results import Hands
from handpose.inference.tracking import HandTracker
from handpose.training import NonFiniteLossError, train


def readme_example(photo: str) -> None:
    """README's "Python" section, line by line."""
    p = Predictor.from_pretrained()
    hands: Hands = p.predict(photo)
    picture: np.ndarray = hands.plot()
    hands.save("overlay.png")
    hand: Prediction = p.predict(photo, box=(120, 80, 200, 220))
    keypoints: np.ndarray = hand.keypoints
    scores: np.ndarray = hand.scores
    score: float | None = hands[0].score
    hand.plot(photo)
    hand.save("hand.png", photo)
    result: dict[str, Any] = hand.to_coco(image_id=1)
    print(picture, keypoints, scores, score, result)


def results(p: Predictor, image: np.ndarray) -> None:
    """The results' types: a list of hands without a box, one hand with one, in every form of the call."""
    hands = p.predict(image, color="rgb")
    first: Prediction = hands[0]
    some: Hands = hands[1:]
    sides: list[bool] = [h.is_left for h in hands]
    as_coco: list[dict[str, Any]] = hands.to_coco("photo")  # image ids may be file names
    one: Prediction = p.predict(image, [1.0, 2.0, 30.0, 40.0], True, box_format="xyxy")
    one_coco: dict[str, Any] = one.to_coco("photo")
    through_detector: Hands = p.find_hands(image)
    batch: list[Prediction] = p.predict_batch([image, image], [None, np.array([1.0, 2.0, 30.0, 40.0])])
    stacked = p.predict_batch(np.stack([image, image]), np.array([[1.0, 2.0, 30.0, 40.0], [5.0, 6.0, 7.0, 8.0]]))
    print(first, some, sides, as_coco, one_coco, through_detector, batch, stacked)
    not_one = p.predict(image).keypoints  # type: ignore[attr-defined]  # no box: a list of hands, not one
    not_many = p.predict(image, box=(1, 2, 3, 4))[0]  # type: ignore[index]  # a box: one hand, not a list
    print(not_one, not_many)


def one_line(image: np.ndarray) -> None:
    """``handpose.predict``: the same rule, the box given by keyword or in its place."""
    hands: Hands = handpose.predict(image)
    hand: Prediction = handpose.predict(image, box=(1, 2, 3, 4), color="rgb")
    placed: Prediction = handpose.predict(image, "pretrained:lite", None, (1, 2, 3, 4))
    print(hands, hand, placed)
    not_one = handpose.predict(image).keypoints  # type: ignore[attr-defined]
    print(not_one)


def loading(path: str) -> None:
    """Loading with the options README names."""
    p = Predictor.from_file(path, detector="det.safetensors", device="cuda", threads="auto", detector_scales=(1.0,))
    q = Predictor.from_pretrained("lite-int8", detector=None, flip_test=False)
    detector = HandDetector.from_file("det.safetensors")
    found: list[Detection] = detector.detect(np.zeros((8, 8, 3), np.uint8))
    tracker = HandTracker(p)
    followed: Hands = tracker.update(np.zeros((8, 8, 3), np.uint8), 0.0)
    print(q, found, followed)


def training(cfg: TrainConfig, p: Predictor) -> None:
    """Training and evaluation as functions."""
    try:
        summary: dict[str, Any] = train(cfg)
    except NonFiniteLossError as exc:
        print(exc)
        return
    metrics: dict[str, Any] = evaluate(p, [])
    print(summary, metrics)
