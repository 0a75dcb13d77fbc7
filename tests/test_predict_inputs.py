"""The inputs a user has: BGR / RGB arrays and PIL images agree, EXIF-rotated JPEGs are turned upright, globs,
box formats, and the Python API's top-level names."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_types import TinyCpm

from handpose.config import DataConfig, to_dict
from handpose.data.images import apply_orientation, exif_orientation, load_image
from handpose.export import sample_crops
from handpose.inference.inputs import image_files, to_bgr, webcam_index
from handpose.inference.predictor import Predictor
from handpose.model.artifact import save_weights


@pytest.fixture(scope="module")
def predictor(tiny_cpm: TinyCpm) -> Predictor:
    return Predictor.from_model(tiny_cpm(1), DataConfig(input_size=64))


@pytest.fixture
def photo() -> np.ndarray:
    """(90, 120, 3) BGR uint8: a hand-like crop, not square, so a turn shows."""
    return np.ascontiguousarray(cv2.resize(sample_crops(96, 1, seed=4)[0], (120, 90)))


def test_bgr_rgb_and_pil_give_the_same_keypoints(predictor: Predictor, photo: np.ndarray) -> None:
    pil = pytest.importorskip("PIL.Image")
    box = (20, 10, 70, 60)
    bgr = predictor.predict(photo, box=box)
    rgb = predictor.predict(np.ascontiguousarray(photo[..., ::-1]), box=box, color="rgb")
    from_pil = predictor.predict(pil.fromarray(np.ascontiguousarray(photo[..., ::-1])), box=box)
    swapped = predictor.predict(np.ascontiguousarray(photo[..., ::-1]), box=box)  # RGB taken as BGR: differs
    assert np.array_equal(bgr.keypoints, rgb.keypoints) and np.array_equal(bgr.keypoints, from_pil.keypoints)
    assert np.array_equal(bgr.scores, from_pil.scores)
    assert not np.array_equal(bgr.stage_maps, swapped.stage_maps)
    xyxy = predictor.predict(photo, box=(20, 10, 90, 70), box_format="xyxy")
    assert np.array_equal(xyxy.keypoints, bgr.keypoints) and list(xyxy.box) == [20, 10, 70, 60]
    with pytest.raises(ValueError, match="color must be one of"):
        to_bgr(photo, color="hsv")
    with pytest.raises(ValueError, match="box_format must be one of"):
        predictor.predict(photo, box=box, box_format="cxcywh")


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpeg_is_read_upright(predictor: Predictor, photo: np.ndarray, tmp_path: Path,
                                           orientation: int) -> None:
    pil = pytest.importorskip("PIL.Image")
    upright_path = tmp_path / "upright.png"  # lossless: the reference pixels
    cv2.imwrite(str(upright_path), photo)
    # store the pixels as a phone does: the sensor's grid, with the tag saying how to turn it upright
    stored = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}[orientation]
    sensor = cv2.rotate(photo, stored)
    exif = pil.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    pil.fromarray(np.ascontiguousarray(sensor[..., ::-1])).save(buf, "JPEG", quality=100, subsampling=0, exif=exif)
    rotated_path = tmp_path / "phone.jpg"
    rotated_path.write_bytes(buf.getvalue())
    assert exif_orientation(buf.getvalue()) == orientation
    assert load_image(rotated_path)[0].shape == sensor.shape  # the dataset reader keeps the stored grid
    upright = to_bgr(rotated_path)
    assert upright.shape == photo.shape and np.abs(upright.astype(int) - photo).mean() < 3  # JPEG noise only
    (a,) = predictor.predict(upright_path)
    (b,) = predictor.predict(rotated_path)
    assert np.abs(a.keypoints - b.keypoints).max() < 2.0, np.abs(a.keypoints - b.keypoints).max()


def test_orientation_turns_match_their_definition() -> None:
    img = np.repeat(np.arange(6, dtype=np.uint8).reshape(2, 3, 1), 3, axis=2)  # channel 0: [[0 1 2], [3 4 5]]
    assert apply_orientation(img, 1) is img
    assert apply_orientation(img, 6)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]  # 90 degrees clockwise
    assert apply_orientation(img, 8)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert apply_orientation(img, 2)[..., 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert exif_orientation(b"\xff\xd8\xff\xda") == 1 and exif_orientation(b"") == 1


def test_globs_folders_and_webcam_indices(tmp_path: Path, photo: np.ndarray) -> None:
    for name in ("b.jpg", "a.png", "notes.txt"):
        cv2.imwrite(str(tmp_path / name), photo) if name != "notes.txt" else (tmp_path / name).write_text("x")
    assert [p.name for p in image_files(tmp_path)] == ["a.png", "b.jpg"]
    assert [p.name for p in image_files(str(tmp_path / "*.jpg"))] == ["b.jpg"]
    with pytest.raises(ValueError, match="no images .* match"):
        image_files(str(tmp_path / "*.gif"))
    assert webcam_index("0") == 0 and webcam_index(2) == 2 and webcam_index("clip.mp4") is None


def test_top_level_api_is_lazy_and_predicts(tiny_cpm: TinyCpm, photo: np.ndarray,
                                            tmp_path: Path) -> None:
    code = "import sys, handpose; print('torch' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    import handpose

    weights = tmp_path / "tiny.safetensors"
    save_weights(tiny_cpm(1), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    assert handpose.Predictor is Predictor
    hands = handpose.predict(photo, model=weights, detector=None)  # no detector: the whole image is one hand
    assert len(hands) == 1 and hands[0].keypoints.shape == (21, 2)
    drawn = hands.plot()
    assert drawn.shape == photo.shape and drawn.dtype == np.uint8 and not np.array_equal(drawn, photo)
    saved = hands.save(tmp_path / "hands.png")
    assert cv2.imread(str(saved)).shape == photo.shape
    assert json.loads(hands.save(tmp_path / "hands.json").read_text())["hands"][0]["box"] == [0, 0, 120, 90]


def test_a_folder_whose_subfolders_hold_images_says_how_to_read_them(tmp_path: Path, photo: np.ndarray,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A labelling tool's export keeps images in subfolders (images/session_a/...): the folder's top is read, as
    before, and a warning names the subfolders and the glob that reads them; they were skipped in silence."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "empty").mkdir()
    for name in ("top.jpg", "a/one.jpg", "b/two.png"):
        cv2.imwrite(str(tmp_path / name), photo)
    with caplog.at_level(logging.WARNING, logger="handpose.inference.inputs"):
        assert [p.name for p in image_files(tmp_path)] == ["top.jpg"]
    assert "its subfolders a, b hold images" in caplog.text and str(tmp_path / "**" / "*") in caplog.text
    assert [p.name for p in image_files(str(tmp_path / "**" / "*"))] == ["one.jpg", "two.png", "top.jpg"]
    (tmp_path / "top.jpg").unlink()
    with pytest.raises(ValueError, match="no images .* in folder .*; its subfolders a, b hold images"):
        image_files(tmp_path)


def test_a_hidden_subfolder_is_not_named(tmp_path: Path, photo: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    """A viewer's .thumbnails beside the photos: the warning named it and the glob "**/*", which reads no hidden
    folder, so the glob it said would read the images below read none more."""
    (tmp_path / ".thumbnails").mkdir()
    cv2.imwrite(str(tmp_path / "top.jpg"), photo)
    cv2.imwrite(str(tmp_path / ".thumbnails" / "top.png"), photo)
    with caplog.at_level(logging.WARNING, logger="handpose.inference.inputs"):
        assert [p.name for p in image_files(tmp_path)] == ["top.jpg"]
    assert caplog.text == ""
    assert [p.name for p in image_files(str(tmp_path / "**" / "*"))] == ["top.jpg"]  # what the glob would read


def test_more_subfolders_than_named_are_said_and_one_image_is_one(tmp_path: Path, photo: np.ndarray,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Past three subfolders the warning says there are others (it named three as if they were all), and one image
    at the top is "1 image ... is read" (it said "1 images ... are read")."""
    for name in ("top.jpg", "a/1.jpg", "b/2.jpg", "c/3.jpg", "d/4.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), photo)
    with caplog.at_level(logging.WARNING, logger="handpose.inference.inputs"):
        image_files(tmp_path)
    assert "1 image at the top of" in caplog.text and " is read, not those" in caplog.text
    assert "its subfolders a, b, c and others hold images" in caplog.text
    caplog.clear()
    for name in ("b", "c", "d"):
        (tmp_path / name / f"{'bcd'.index(name) + 2}.jpg").unlink()
        (tmp_path / name).rmdir()
    with caplog.at_level(logging.WARNING, logger="handpose.inference.inputs"):
        image_files(tmp_path)
    assert "its subfolder a holds images" in caplog.text
