"""Predictor.from_file (weights and ONNX), the predict command's files, clear messages for bad input, real photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.commands.predict_files import list_images
from handpose.config import DataConfig, to_dict
from handpose.data.crop import sample_box
from handpose.data.formats import load_splits
from handpose.export import export_onnx, sample_crops
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import read_image
from handpose.model.artifact import save_weights


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tiny_cpm: TinyCpm) -> tuple[Path, Path]:
    model = tiny_cpm(1)
    root = tmp_path_factory.mktemp("models")
    cfg = DataConfig(input_size=64, box_padding=1.6)
    weights = root / "tiny.safetensors"
    save_weights(model, weights, metadata={"data_config": json.dumps(to_dict(cfg))})
    onnx_path = root / "tiny.onnx"
    export_onnx(model, onnx_path, cfg)
    return weights, onnx_path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "hand.jpg"
    img = cv2.resize(sample_crops(96, 1)[0], (160, 120))
    cv2.imwrite(str(path), img)
    return path


def test_weights_and_onnx_agree(models: tuple[Path, Path], photo: Path) -> None:
    weights, onnx_path = models
    pt = Predictor.from_file(weights)
    ox = Predictor.from_file(onnx_path)
    assert pt.spec == ox.spec and pt.spec.box_padding == 1.6 and pt.spec.input_size == 64
    assert pt.stages == 2 and ox.stages == 1
    for box in [None, (30, 20, 60, 50)]:
        a = pt.predict(photo, box=box)
        b = ox.predict(photo, box=box)
        a, b = (a[0], b[0]) if box is None else (a, b)  # no box: a list of hands (here the whole image)
        assert np.abs(a.stage_maps[-1] - b.stage_maps[-1]).max() < 1e-4
        assert np.median(np.linalg.norm(a.keypoints - b.keypoints, axis=1)) < 0.01
        assert np.abs(a.scores - b.scores).max() < 1e-4
        assert a.stage_maps.shape == (2, 22, 8, 8) and b.stage_maps.shape == (1, 22, 8, 8)


def test_options_override_and_flip(models: tuple[Path, Path], photo: Path) -> None:
    weights, _ = models
    p = Predictor.from_file(weights, box_padding=2.0, mirror_left=True, scales=(1.0, 0.75))
    assert p.spec.box_padding == 2.0 and p.spec.mirror_left and p.spec.sizes() == [64, 48]
    r = p.predict(photo, box=(30, 20, 60, 50), is_left=True)
    assert np.isfinite(r.keypoints).all() and r.keypoints.shape == (21, 2)
    both = Predictor.from_file(weights, mirror_left=False, flip_test=True)  # a model of both sides: flip test
    assert np.isfinite(both.predict(photo, box=(30, 20, 60, 50)).keypoints).all()
    # a model of right hands alone: the mirrored crop is a left hand it never saw, so the flip test is refused
    with pytest.raises(ValueError, match="the flip test does not suit this model: it was trained on right hands "
                                         "only"):
        Predictor.from_file(weights, mirror_left=True, flip_test=True)
    with pytest.raises(ValueError, match="the flip test does not suit this model"):
        p.with_options(flip_test=True)


def test_predict_command_writes_files(models: tuple[Path, Path], photo: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    weights, onnx_path = models
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(photo.read_bytes())
    (folder / "b.png").write_bytes(cv2.imencode(".png", read_image(photo))[1].tobytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "out"
    assert main(["predict", "--model", str(weights), str(folder), "--out", str(out), "--detector", "none"]) == 0
    text = capsys.readouterr().out
    for stem in ("a", "b"):
        record = json.loads((out / f"{stem}.json").read_text())
        (hand,) = record["hands"]  # no detector, no box: the whole image is the one hand
        assert len(hand["keypoints"]) == 21 and hand["keypoints"][4]["name"] == "thumb4_tip"
        assert {"x", "y", "score"} <= set(hand["keypoints"][0]) and hand["score"] is None
        assert cv2.imread(str(out / f"{stem}_overlay.png")).shape == (120, 160, 3)
        maps = cv2.imread(str(out / f"{stem}_maps.png"))
        assert maps.shape[0] == 2 * 256  # one row per stage
    assert "skipped 1 of 3" in text and "broken.jpg" in text
    out2 = tmp_path / "out2"
    args = ["predict", "--model", str(onnx_path), str(photo), "--out", str(out2), "--box", "30,20,60,50", "--left"]
    assert main(args) == 0
    assert "only the last stage" in capsys.readouterr().out
    assert cv2.imread(str(out2 / "hand_maps.png")).shape[0] == 256
    (hand,) = json.loads((out2 / "hand.json").read_text())["hands"]
    assert hand["box"] == [30, 20, 60, 50] and hand["is_left"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bad_inputs_have_clear_messages(models: tuple[Path, Path], photo: Path, tmp_path: Path) -> None:
    weights, _ = models
    p = Predictor.from_file(weights)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read image .*bad.jpg"):
        p.predict(bad)
    with pytest.raises(FileNotFoundError, match="image not found: .*missing.jpg"):
        p.predict(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="is a folder, not an image"):  # not "image not found"
        p.predict(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images .* in folder .*empty"):
        list_images(empty)
    with pytest.raises(ValueError, match="lies outside the image .*160 x 120"):
        p.predict(photo, box=(500, 20, 50, 50))
    with pytest.raises(ValueError, match="no area"):
        p.predict(photo, box=(10, 20, 0, 50))
    with pytest.raises(ValueError, match="over 10x the image's longer side"):  # keypoints there could not be drawn
        p.predict(photo, box=(0, 0, 1e30, 1e30))
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="unsupported model file type '.txt'"):
        Predictor.from_file(txt)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not onnx")
    with pytest.raises(ValueError, match="junk.onnx"):
        Predictor.from_file(junk)
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(torch.nn.Conv2d(3, 4, 3), (torch.zeros(1, 3, 8, 8),), str(foreign), dynamo=False)
    with pytest.raises(ValueError, match="without handpose metadata"):
        Predictor.from_file(foreign)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        Predictor.from_file(tmp_path / "nope.safetensors")
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"0123456789")
    with pytest.raises(ValueError, match="fake.safetensors"):
        Predictor.from_file(fake)


def test_cli_errors_exit_2(models: tuple[Path, Path], photo: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture) -> None:
    weights, _ = models
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", "--model", str(weights), str(empty)]) == 2
    assert "no images" in capsys.readouterr().err
    assert main(["predict", "--model", str(weights), str(photo), "--box", "1,2,3"]) == 2
    assert "four numbers" in capsys.readouterr().err
    assert main(["predict", "--model", str(weights), str(photo), "--box", "900,900,10,10"]) == 2
    assert "outside the image" in capsys.readouterr().err


def test_real_photos(models: tuple[Path, Path], realdata: Path) -> None:
    weights, onnx_path = models
    for path in (weights, onnx_path):
        p = Predictor.from_file(path, flip_test=True)
        samples = load_splits(realdata / "hand_labels" / "manual_test").val
        assert len(samples) == 4
        results = p.predict_batch(
            [read_image(s.image_path) for s in samples], [sample_box(s) for s in samples], [s.is_left for s in samples]
        )
        for s, r in zip(samples, results):
            assert np.isfinite(r.keypoints).all()
            x, y, w, h = sample_box(s)
            # keypoints lie inside the crop around the box
            assert (np.abs(r.keypoints - [x + w / 2, y + h / 2]) <= 1.6 * max(w, h) / 2 + 1).all()
        for img in list_images(realdata / "coco_onehand10k"):
            (r,) = p.predict(img)  # no detector: the whole image is the one hand
            assert np.isfinite(r.keypoints).all() and r.stage_maps is not None
