"""The image corruptions and the in-plane turn of ``benchmarks/bench_corruptions.py`` (``benchmarks/corruptions.py``):
each corruption keeps the image's shape and dtype, severity 0 is the image itself, a turned keypoint lands where the
rotation puts it and on the pixel that turned with it, and a turned hand is boxed by its turned keypoints."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from handpose.data.sample import Sample

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark's modules, imported as the script imports them (its folder on the path)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("corruptions", "bench_corruptions"):
        sys.modules.pop(name, None)
    import bench_corruptions

    return bench_corruptions


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (0, 0), 2.0)  # (H, W, 3)
    image[10:30, 20:40] = (40, 160, 220)  # a patch with edges, for the blurs to act on
    return image


def test_each_corruption_keeps_shape_and_dtype_changes_the_image_and_severity_0_is_the_image(bench: ModuleType) -> None:
    from corruptions import CORRUPTIONS, SEVERITIES, corrupt

    image = _image()
    assert set(CORRUPTIONS) == set(SEVERITIES)
    for name in CORRUPTIONS:
        same = corrupt(image, name, 0, np.random.default_rng(1))
        assert same is not image and np.array_equal(same, image), name
        changes = []
        for severity in (1, 2, 3):
            out = corrupt(image, name, severity, np.random.default_rng(1))
            assert out.shape == image.shape and out.dtype == np.uint8, (name, severity)
            changes.append(np.abs(out.astype(int) - image).mean())
            again = corrupt(image, name, severity, np.random.default_rng(1))
            assert np.array_equal(out, again), f"{name} {severity} differs with the same seed"
        assert min(changes) > 0, f"{name} left the image unchanged: {changes}"
        assert changes[2] > changes[0], f"{name} severity 3 is not harsher than 1: {changes}"


def test_corrupt_refuses_an_unknown_name_a_severity_out_of_range_and_a_float_image(bench: ModuleType) -> None:
    from corruptions import corrupt

    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(_image(), "fog", 1, rng)
    with pytest.raises(ValueError, match="severity of jpeg must be 0..3, got 4"):
        corrupt(_image(), "jpeg", 4, rng)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(_image().astype(np.float32), "jpeg", 1, rng)


@pytest.mark.parametrize("angle", [90.0, 45.0, 180.0])
def test_a_turned_keypoint_lands_where_the_rotation_puts_it_and_on_its_pixel(bench: ModuleType, angle: float) -> None:
    from corruptions import rotate_hand

    image = np.zeros((40, 60, 3), np.uint8)
    centre = np.array([25.0, 18.0])
    keypoints = np.zeros((21, 3), np.float32)
    keypoints[:, :2] = centre
    keypoints[0] = (35.0, 18.0, 1.0)  # 10 px right of the centre
    image[18, 35] = 255
    turned, kp, M = rotate_hand(image, keypoints, centre, angle)
    new_centre = M[:, :2] @ centre + M[:, 2]
    a = np.radians(angle)  # counter-clockwise as seen, y pointing down
    assert kp[0, :2] == pytest.approx(new_centre + 10.0 * np.array([np.cos(a), -np.sin(a)]), abs=1e-4)
    assert kp[0, 2] == 1.0 and np.allclose(kp[1:, :2], new_centre, atol=1e-4)
    y, x = np.unravel_index(np.argmax(turned[..., 0]), turned.shape[:2])
    assert np.hypot(x - kp[0, 0], y - kp[0, 1]) <= 0.75  # the bright pixel moved with its keypoint
    h, w = image.shape[:2]  # nothing cut off: every corner of the image is on the canvas
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64) @ M[:, :2].T + M[:, 2]
    assert corners.min() >= -1e-6 and (corners.max(axis=0) <= np.array(turned.shape[1::-1]) - 1 + 1e-6).all()


def test_a_turned_hand_is_boxed_by_its_turned_visible_keypoints(bench: ModuleType, tmp_path: Path) -> None:
    from handpose.data.formats.checks import box_of

    path = tmp_path / "hand.png"
    cv2.imwrite(str(path), np.full((80, 100, 3), 90, np.uint8))
    kp = np.zeros((21, 3), np.float32)
    kp[:, 0] = np.linspace(30.0, 69.0, 21)  # 40 px wide, 20 px high: x 30..69, y 40..59
    kp[:, 1] = np.linspace(40.0, 59.0, 21)
    kp[:, 2] = 1.0
    kp[5] = (90.0, 5.0, 0.0)  # not visible: outside every box
    hand = Sample(path, kp, box=box_of(kp), key="hand")
    (turned,) = bench.turned_samples([hand], 90.0, tmp_path / "turned")
    assert Path(turned.image_path).is_file() and turned.key == "hand"
    visible = turned.keypoints[turned.keypoints[:, 2] > 0]
    x, y, w, h = turned.box
    assert (w, h) == pytest.approx((20.0, 40.0), abs=1e-3)  # a 40 x 20 hand turned a quarter is 20 x 40
    assert (x, y) == pytest.approx(tuple(visible[:, :2].min(axis=0)), abs=1e-4)
    image = cv2.imread(str(turned.image_path))
    assert image.shape[:2] == (100, 80)  # the 80 x 100 canvas turned a quarter, nothing cut


def _patch_image(h: int = 40, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """An (h, w, 3) black image with one white patch, and the patch's xywh box in pixel edges (2, 1)."""
    image = np.zeros((h, w, 3), np.uint8)
    image[5:15, 30:50] = 255  # rows 5..14, columns 30..49: box (30, 5, 20, 10)
    return image, np.array([[30.0, 5.0, 20.0, 10.0], [0.0, 0.0, float(w), float(h)]])


def _box_of_white(image: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(image[..., 0])
    return float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min())


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_whole_image_turned_by_quarters_keeps_its_boxes_on_its_pixels(bench: ModuleType, quarters: int) -> None:
    from corruptions import rotate_hand, turn_quarters

    image, boxes = _patch_image()
    turned, out = turn_quarters(image, boxes, quarters)
    h, w = image.shape[:2]
    assert turned.shape == ((w, h, 3) if quarters % 2 else (h, w, 3)) and turned.flags.c_contiguous
    assert tuple(out[0]) == pytest.approx(_box_of_white(turned))  # the patch's box is where its pixels went
    assert tuple(out[1]) == pytest.approx((0.0, 0.0, float(turned.shape[1]), float(turned.shape[0])))
    # the same turn as a hand's (counter-clockwise as seen), about the image's centre
    same, _, _ = rotate_hand(image, np.zeros((21, 3), np.float32), ((w - 1) / 2, (h - 1) / 2), 90.0 * quarters)
    assert np.array_equal(same, turned)


def test_four_quarters_give_the_image_and_boxes_back_and_a_part_turn_is_refused(bench: ModuleType) -> None:
    from corruptions import turn_quarters

    image, boxes = _patch_image()
    turned, out = turn_quarters(image, boxes, 4)
    assert np.array_equal(turned, image) and np.allclose(out, boxes)
    none, empty = turn_quarters(image, np.zeros((0, 4)), 1)
    assert empty.shape == (0, 4) and none.shape == (60, 40, 3)
    with pytest.raises(ValueError, match="whole quarters, got 1.5"):
        turn_quarters(image, boxes, 1.5)  # type: ignore[arg-type]


def test_run_set_scores_only_the_severities_asked_and_turns_only_when_asked(
        bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "hand.png"
    cv2.imwrite(str(image), _image())
    kp = np.array([[20.0 + i, 10.0 + i, 1.0] for i in range(21)], np.float32)  # (21, 3)
    samples = [Sample(image, kp, False, np.array([20.0, 10.0, 21.0, 21.0]), None, "k")]
    scored: list[str] = []

    def fake_score(predictor: object, made: list[Sample], threads: int) -> dict[str, float]:
        scored.append(made[0].image_path.parent.name if made[0].image_path != image else "clean")
        pck = 0.9 if made[0].image_path == image else 0.5 + 0.01 * len(scored)
        return {"PCK@0.2": pck, "AUC": 0.5, "EPE": 3.0, "hands": 1}

    monkeypatch.setattr(bench, "score", fake_score)
    bench.run_set("t", samples, None, tmp_path / "w", 0, 1, severities=(1, 2), turn=False)
    from corruptions import SEVERITIES

    assert scored == ["clean"] + [f"{name}{s}" for name in SEVERITIES for s in (1, 2)]  # no severity 3, no turns
    corrupted = [0.5 + 0.01 * n for n in range(2, len(scored) + 1)]
    out = capsys.readouterr().out
    assert f"mean PCK@0.2 of the {len(corrupted)} corrupted rows (severities 1,2): {np.mean(corrupted):.3f}" in out
    scored.clear()
    bench.run_set("t", samples, None, tmp_path / "w2", 0, 1, severities=(3,), turn=True)
    assert scored[1:len(SEVERITIES) + 1] == [f"{name}3" for name in SEVERITIES]
    assert scored[len(SEVERITIES) + 1:] == [f"turn{a}" for a in bench.ANGLES]
