"""One Predictor called from several threads at once: the same keypoints as one call at a time, and a caller's network
in training mode runs every call in eval mode and is given back in training mode (``inference/eval_mode``)."""

from __future__ import annotations

import copy
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fixture_types import TinyCpm
from torch import nn

from handpose.config import DataConfig
from handpose.inference.predictor import Predictor

WAIT_S = 30  # a step of the choreography below that takes longer has hung


class Choreographed(nn.Module):
    """A CPM whose forward says it started, then waits for its go; it notes the training flag at start and end."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.steps: list[tuple[threading.Event, threading.Event]] = []  # (started, go) per call, in call order
        self.flags: list[tuple[bool, bool]] = []
        self._lock = threading.Lock()

    def forward(self, x: torch.Tensor) -> Any:
        with self._lock:
            started, go = self.steps.pop(0)
        at_start = self.training
        started.set()
        assert go.wait(WAIT_S)
        out = self.inner(x)
        self.flags.append((at_start, self.training))
        return out


def overlap(model: Choreographed, first_predictor: Predictor, second_predictor: Predictor) -> None:
    """A call of each predictor from two threads, the first ending while the second is inside the network."""
    image = np.random.default_rng(0).integers(0, 255, (80, 90, 3), dtype=np.uint8)
    (a_started, a_go), (b_started, b_go) = model.steps[:] = [(threading.Event(), threading.Event()) for _ in "ab"]

    def call(predictor: Predictor) -> np.ndarray:
        return predictor.predict(image, box=(10, 10, 60, 60), is_left=False, keep_maps=False).keypoints

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call, first_predictor)
        assert a_started.wait(WAIT_S)
        second = pool.submit(call, second_predictor)
        assert b_started.wait(WAIT_S)
        a_go.set()
        first.result(WAIT_S)  # the first call has ended while the second is still inside the network
        b_go.set()
        second.result(WAIT_S)


def test_overlapping_calls_run_in_eval_mode_and_give_training_mode_back(tiny_cpm: TinyCpm) -> None:
    # each call switched to eval and back on its own: the first call's end put training mode back while the second
    # still ran (batch norm on the batch's statistics), and the second left the network in eval mode for good
    model = Choreographed(tiny_cpm(0)).train()
    predictor = Predictor.from_model(model, DataConfig(input_size=64))
    overlap(model, predictor, predictor)
    assert model.flags == [(False, False), (False, False)]
    assert model.training and model.inner.training


def test_threads_give_the_keypoints_of_one_call_at_a_time(tiny_cpm: TinyCpm) -> None:
    predictor = Predictor.from_model(tiny_cpm(2), DataConfig(input_size=64))
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (60 + 10 * i, 80, 3), dtype=np.uint8) for i in range(4)]
    alone = [predictor.predict(im, box=(5, 5, 50, 50), keep_maps=False) for im in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda i: predictor.predict(images[i % 4], box=(5, 5, 50, 50), keep_maps=False),
                                 range(24)))
    for i, got in enumerate(together):
        np.testing.assert_allclose(got.keypoints, alone[i % 4].keypoints, atol=1e-3)
        assert got.is_left == alone[i % 4].is_left


def test_a_torch_predictor_still_pickles_and_copies(tiny_cpm: TinyCpm) -> None:
    predictor = Predictor.from_model(tiny_cpm(3), DataConfig(input_size=64))
    image = np.random.default_rng(2).integers(0, 255, (70, 70, 3), dtype=np.uint8)
    expected = predictor.predict(image, box=(5, 5, 50, 50), keep_maps=False).keypoints
    for other in (pickle.loads(pickle.dumps(predictor)), copy.deepcopy(predictor)):
        np.testing.assert_allclose(other.predict(image, box=(5, 5, 50, 50), keep_maps=False).keypoints, expected,
                                   atol=1e-4)


def test_two_predictors_on_one_network_share_the_switch(tiny_cpm: TinyCpm) -> None:
    """Predictor.from_model called twice on one network: each backend counted its own calls, so the first call's
    end put training mode back while the other predictor's call still ran, which then left eval mode for good."""
    model = Choreographed(tiny_cpm(4)).train()
    overlap(model, *(Predictor.from_model(model, DataConfig(input_size=64)) for _ in "ab"))
    assert model.flags == [(False, False), (False, False)]
    assert model.training and model.inner.training


def test_layers_the_caller_held_in_eval_mode_stay_there(tiny_cpm: TinyCpm) -> None:
    """A network fine-tuned with some layers held in eval mode (frozen batch norm): the call gave back the top flag
    to every layer (model.train(True)), so the held layers trained on from then on."""
    model = tiny_cpm(5).train()
    model.conv1_1.eval()  # held: the caller's frozen layer
    before = {name: m.training for name, m in model.named_modules()}
    assert before["conv1_1"] is False and before[""] is True
    image = np.random.default_rng(3).integers(0, 255, (70, 70, 3), dtype=np.uint8)
    Predictor.from_model(model, DataConfig(input_size=64)).predict(image, box=(5, 5, 50, 50), keep_maps=False)
    assert {name: m.training for name, m in model.named_modules()} == before


def test_the_shipped_onnx_models_give_the_same_hands_from_four_threads() -> None:
    """The service case: one Predictor.from_pretrained, calls with and without a box and of every side from four
    threads at once (onnxruntime for both networks, the detector's hands refined by the keypoint network)."""
    import cv2

    scenes = sorted((Path(__file__).parent / "data" / "pretrained_check" / "scenes" / "images").glob("*.jpg"))[:3]
    images = [cv2.imread(str(path)) for path in scenes]
    predictor = Predictor.from_pretrained("lite-int8", detector="detector-onnx")
    calls = [(i, None, None) for i in range(3)] + [(i, (200.0, 150.0, 160.0, 160.0), side)
                                                   for i, side in enumerate((None, True, False))]

    def call(k: int) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        i, box, side = calls[k % len(calls)]
        found = predictor.predict(images[i], box=box, is_left=side, keep_maps=k % 2 == 0)
        return [(h.keypoints, h.box, h.is_left) for h in (found if box is None else [found])]

    alone = [call(k) for k in range(len(calls))]
    assert sum(len(hands) for hands in alone[:3]) >= 3  # the scenes' hands were found
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(call, range(len(calls), 3 * len(calls))))
    for k, hands in enumerate(together):
        expected = alone[k % len(calls)]
        assert len(hands) == len(expected)
        for (keypoints, box, is_left), (want_keypoints, want_box, want_left) in zip(hands, expected):
            np.testing.assert_allclose(keypoints, want_keypoints, atol=1e-5)
            np.testing.assert_allclose(box, want_box, atol=1e-5)
            assert is_left == want_left
