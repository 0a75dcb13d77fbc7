"""The detector's side of the corruption benchmark (``benchmarks/bench_corruptions_detect.py``): a scene turned whole
keeps each hand box and crowd region on the pixels that turned with it, and a corrupted scene is a new PNG drawn the
same for the same seed, its labels untouched."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from handpose.detection.coco import DetectionImage

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark, imported as the script imports it (its folder on the path)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("corruptions", "bench_refine", "bench_corruptions_detect"):
        sys.modules.pop(name, None)
    import bench_corruptions_detect

    return bench_corruptions_detect


def _scene(tmp_path: Path) -> DetectionImage:
    """A 60 x 40 scene: a white hand box (30, 5, 20, 10) and a grey crowd region (0, 20, 10, 20), on black."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[5:15, 30:50] = 255
    image[20:40, 0:10] = 128
    path = tmp_path / "scene.jpg"
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 100])
    return DetectionImage(path, np.array([[30, 5, 20, 10]], np.float32), np.array([True]), np.array([True]),
                          size=(60, 40), key="scene", crowd=np.array([[0, 20, 10, 20]], np.float32))


def _box_where(image: np.ndarray, lo: int, hi: int) -> tuple[float, ...]:
    ys, xs = np.nonzero((image[..., 0] >= lo) & (image[..., 0] <= hi))
    return float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min())


@pytest.mark.parametrize("degrees", [90, 180])
def test_a_turned_scene_keeps_its_hand_and_crowd_boxes_on_their_pixels(bench: ModuleType, tmp_path: Path,
                                                                       degrees: int) -> None:
    (turned,) = bench.turned_items([_scene(tmp_path)], degrees, tmp_path / "turned")
    image = cv2.imread(str(turned.path))
    assert turned.path.suffix == ".png" and image.shape[:2] == ((60, 40) if degrees == 90 else (40, 60))
    assert turned.size == (image.shape[1], image.shape[0]) and turned.key == "scene" and turned.is_left[0]
    assert tuple(turned.boxes[0]) == pytest.approx(_box_where(image, 200, 255), abs=0.01)
    assert tuple(turned.crowd[0]) == pytest.approx(_box_where(image, 100, 160), abs=0.01)
    assert turned.boxes.dtype == np.float32 and turned.crowd.dtype == np.float32


def test_a_scene_turns_only_by_quarters(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole quarters.*got 45"):
        bench.turned_items([_scene(tmp_path)], 45, tmp_path / "turned")


def test_a_corrupted_scene_is_a_new_png_the_same_for_the_same_seed_with_its_labels(bench: ModuleType,
                                                                                  tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    (a,) = bench.corrupted_items([scene], "gaussian_noise", 3, tmp_path / "a", seed=7)
    (b,) = bench.corrupted_items([scene], "gaussian_noise", 3, tmp_path / "b", seed=7)
    (c,) = bench.corrupted_items([scene], "gaussian_noise", 3, tmp_path / "c", seed=8)
    first, second, other = (cv2.imread(str(x.path)) for x in (a, b, c))
    assert a.path.suffix == ".png" and a.path != scene.path
    assert np.array_equal(first, second) and not np.array_equal(first, other)
    assert not np.array_equal(first, cv2.imread(str(scene.path)))
    assert np.array_equal(a.boxes, scene.boxes) and np.array_equal(a.crowd, scene.crowd) and a.size == scene.size
