"""ONNX export: parity with PyTorch, dynamic batch and size, metadata, the export command, int8."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.config import DataConfig
from handpose.data.transforms import PREPROCESS
from handpose.export import export_onnx, sample_crops
from handpose.keypoints import NAMES
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model
from handpose.quantize import quantize_int8


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, tiny_cpm: TinyCpm
) -> tuple[torch.nn.Module, Path, Path]:
    model = tiny_cpm(0)
    root = tmp_path_factory.mktemp("export")
    weights = root / "tiny.safetensors"
    save_weights(model, weights)
    onnx_path = root / "tiny.onnx"
    cfg = DataConfig(input_size=64, box_padding=1.7, mirror_left=True)
    report = export_onnx(model, onnx_path, cfg)
    assert report.max_abs_diff < 1e-4
    return model, weights, onnx_path


def test_parity_dynamic_batch_and_size(tiny: tuple[torch.nn.Module, Path, Path]) -> None:
    model, _, path = tiny
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["image"] and [o.name for o in sess.get_outputs()] == ["out"]
    for shape in [(1, 3, 64, 64), (3, 3, 64, 64), (2, 3, 96, 72), (1, 3, 41, 57)]:
        x = np.random.default_rng(1).normal(0, 0.2, shape).astype(np.float32)
        out = sess.run(["out"], {"image": x})[0]
        with torch.no_grad():
            ref = model(torch.from_numpy(x))[-1].numpy()
        assert out.shape == (shape[0], 22, -(-shape[2] // 8), -(-shape[3] // 8))
        assert np.abs(out - ref).max() < 1e-4
        assert np.abs(ref).max() > 1e-2  # the comparison is not between two near-zero maps


def test_metadata(tiny: tuple[torch.nn.Module, Path, Path]) -> None:
    _, _, path = tiny
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["preprocess"]) == json.loads(json.dumps(PREPROCESS))
    assert json.loads(meta["model_config"])["preset"] == "tiny"
    data = json.loads(meta["data_config"])
    assert data["input_size"] == 64 and data["box_padding"] == 1.7 and data["mirror_left"] is True
    assert meta["stride"] == "8" and json.loads(meta["keypoint_names"]) == list(NAMES)
    # a runtime without handpose tells the file from a detector's, and finds the crop and the decoding in the file
    assert meta["task"] == "keypoints" and meta["handpose_format"] == "handpose-cpm-onnx"
    assert "box_padding" in meta["crop"] and "mirror_left" in meta["crop"] and "pad_value" in meta["crop"]
    assert "parabola" in meta["decode"] and "(cell + 0.5) * stride - 0.5" in meta["decode"]


def test_parity_failure_raises(tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path) -> None:
    model, _, _ = tiny
    with pytest.raises(RuntimeError, match="parity check failed"):
        export_onnx(model, tmp_path / "x.onnx", tolerance=-1.0)


def test_export_command(
    tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, weights, _ = tiny
    out = tmp_path / "cli.onnx"
    assert main(["export", "--weights", str(weights), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and "largest absolute difference" in text
    assert main(["export", "--weights", str(out), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "already an ONNX file" in capsys.readouterr().err


def test_export_refuses_a_file_that_is_no_weights_without_offering_onnx(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    # a run's config.json was refused with "expected weights (...) or an exported .onnx file", and export then
    # refused the .onnx file it had offered
    config = tmp_path / "config.json"
    config.write_text("{}")
    assert main(["export", "--weights", str(config), "--out", str(tmp_path / "y.onnx")]) == 2
    err = capsys.readouterr().err
    assert "export needs PyTorch weights (.safetensors, .pt, .pth, .ckpt)" in err and ".onnx file" not in err


def test_int8_runs_and_reports_difference(tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path) -> None:
    _, _, path = tiny
    report = quantize_int8(path, tmp_path / "tiny_int8.onnx", sample_crops(64, 6), fmt="qoperator")
    assert report.path.is_file() and report.calib_count == 5 and report.check_count == 1  # one crop held out
    assert "held-out" in report.checked_on
    assert np.isfinite(report.keypoint_diff_px) and report.keypoint_diff_px >= 0
    proto = onnx.load(str(report.path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert "int8" in meta and "model_config" in meta and meta["task"] == "keypoints" and "decode" in meta
    assert "QLinearConv" in {n.op_type for n in proto.graph.node}
    # only the domains its nodes use are stamped: an older onnxruntime refuses a newer opset of an unused one
    assert {op.domain for op in proto.opset_import} == {n.domain for n in proto.graph.node} | {""}


def test_export_int8_command_on_real_crops(
    tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from handpose.inference.predictor import Predictor

    _, weights, _ = tiny
    out = tmp_path / "m.onnx"
    args = ["export", "--weights", str(weights), "--out", str(out), "--int8"]
    assert main(args + ["--calib-data", str(realdata / "hand_labels"), "--calib-count", "2"]) == 0
    text = capsys.readouterr().out
    assert "calibrated on 2 crops" in text and "int8 vs fp32 keypoints on 2 held-out crops not used for" in text
    assert "measured on 2 crops only" in caplog.text  # a figure on two crops is said to say little
    p = Predictor.from_file(tmp_path / "m_int8.onnx")
    (r,) = p.predict(realdata / "coco_onehand10k" / "9.jpg")  # no box: a list of hands (the whole image)
    assert np.isfinite(r.keypoints).all()
    assert main(args + ["--calib-data", "synthetic", "--calib-count", "3", "--overwrite"]) == 0  # replaces both
    text = capsys.readouterr().out
    assert "calibrated on 3 crops from synthetic" in text and "on 2 held-out crops" in text


def test_export_int8_on_one_real_hand_says_it_checked_the_calibration_crop(
    tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, weights, _ = tiny
    one_hand = realdata / "mediapipe_labelled" / "mediapipe_samples"  # 1 labelled hand: nothing to hold out
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "m.onnx"), "--int8",
                 "--calib-data", str(one_hand)]) == 0
    assert "int8 vs fp32 keypoints on the 1 calibration crop (too few" in capsys.readouterr().out
    assert "measured on the 1 calibration crop only, none being left to hold out" in caplog.text
    assert "0 crops" not in caplog.text  # it was measured on one crop, not on none


def test_export_leaves_the_callers_model_as_it_was(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = build_model("tiny").to(torch.bfloat16).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx(model, tmp_path / "m.onnx", tolerance=1.0)  # bf16 weights: parity is not the point here
    assert model.training and all(m.training for m in model.modules())
    assert next(model.parameters()).dtype == torch.bfloat16
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_int8_difference_is_measured_on_held_out_crops(
    tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handpose.quantize as quantize
    from handpose.data.codec import decode
    from handpose.data.transforms import to_network_input
    from handpose.inference.backends import OnnxBackend

    _, _, path = tiny
    seen: list[np.ndarray] = []

    class SpyReader(quantize._Reader):
        def __init__(self, name: str, x: np.ndarray) -> None:
            seen.append(x)
            super().__init__(name, x)

    monkeypatch.setattr(quantize, "_Reader", SpyReader)
    calib, held = sample_crops(64, 4, seed=1), sample_crops(64, 3, seed=2)
    report = quantize_int8(path, tmp_path / "q.onnx", calib, check_crops=held)
    assert report.calib_count == 4 and report.check_count == 3 and "3 held-out crops" in report.checked_on
    assert len(seen) == 1 and np.array_equal(seen[0], to_network_input(calib))  # calibration never saw `held`
    x = to_network_input(held)
    ref, got = OnnxBackend(path)(x)[0], OnnxBackend(report.path)(x)[0]
    expected = np.linalg.norm(decode(got)[0] - decode(ref)[0], axis=-1)  # (3, 21)
    assert report.keypoint_diff_px == pytest.approx(float(expected.mean()))
    one = quantize_int8(path, tmp_path / "one.onnx", calib[:1])  # nothing to hold out: said so
    assert one.calib_count == 1 and one.checked_on.startswith("the 1 calibration crop (too few")
    single = quantize_int8(path, tmp_path / "single.onnx", calib, check_crops=held[:1])  # one crop, no plural
    assert single.checked_on == "1 held-out crop not used for calibration"


def test_synthetic_calibration_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from handpose.quantize import calibration_crops

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    crops = calibration_crops("synthetic", 2, DataConfig(input_size=64))
    assert crops.shape == (2, 64, 64, 3) and crops.dtype == np.uint8
    assert list(scratch.iterdir()) == []


def test_calibration_takes_the_validation_split_then_the_training_split(synth_data: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    # it took the validation split alone: 4 of these 40 hands for --calib-count 64, without a word
    from handpose.data.formats import load_splits
    from handpose.quantize import calibration_crops

    splits = load_splits(synth_data)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        crops = calibration_crops(synth_data, 72, DataConfig(input_size=64))
    assert len(crops) == len(splits.train) + len(splits.val) > len(splits.val)
    assert f"gave {len(crops)} crops of the 72 asked for" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert len(calibration_crops(synth_data, 8, DataConfig(input_size=64))) == 8
    assert "asked for" not in caplog.text


def test_calibration_reads_a_folder_of_datasets(synth_data: Path, tmp_path: Path) -> None:
    # train and eval read a folder of several datasets; export's calibration refused one
    from handpose.quantize import calibration_crops

    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "a").symlink_to(synth_data)
    (tmp_path / "sets" / "b").symlink_to(synth_data)
    assert len(calibration_crops(tmp_path / "sets", 60, DataConfig(input_size=64))) == 60  # 40 hands in each

def test_output_stride_4_exports_with_parity_at_odd_sizes(tmp_path: Path) -> None:
    """The 2x upsampling's crop to ceil(H/4) must stay exact in the ONNX graph (a negative floor division exported
    as a truncating one made the graph one cell short at odd widths)."""
    from dataclasses import replace

    from handpose.model.cpm import preset

    model = build_model(replace(preset("tiny"), output_stride=4)).eval()
    report = export_onnx(model, tmp_path / "s4.onnx", DataConfig(input_size=64, stride=4))
    assert report.max_abs_diff < 1e-4 and (1, 3, 52, 43) in report.shapes_checked


def test_export_help_gives_the_output_size_by_the_files_stride(tmp_path: Path) -> None:
    # the help said the maps are ceil(H/8) x ceil(W/8); a model trained with --output-stride 4 gives ceil(H/4)
    from dataclasses import replace

    from handpose.commands import export as export_command
    from handpose.model.cpm import preset

    help_text = " ".join((export_command.__doc__ or "").split())
    said = "(N x 22 x ceil(H/s) x ceil(W/s), s the file's `stride`: 8, or 4 for a model trained with --output-stride 4)"
    assert said in help_text
    model = build_model(replace(preset("tiny"), output_stride=4)).eval()
    export_onnx(model, tmp_path / "s4.onnx", DataConfig(input_size=64, stride=4))
    session = ort.InferenceSession(str(tmp_path / "s4.onnx"), providers=["CPUExecutionProvider"])
    s = int(session.get_modelmeta().custom_metadata_map["stride"])
    out = session.run(["out"], {"image": np.zeros((1, 3, 37, 70), np.float32)})[0]  # (1, 22, h, w)
    assert s == 4 and out.shape == (1, 22, -(-37 // s), -(-70 // s))


def test_int8_of_a_stride_4_model_keeps_onnxruntimes_per_tensor_warnings_quiet(tmp_path: Path,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    # onnxruntime's quantizer printed several lines per upsampling tensor it could not type, on the root logger
    from dataclasses import replace

    from handpose.model.cpm import preset
    from handpose.quantize import quantize_int8

    model = build_model(replace(preset("tiny"), output_stride=4)).eval()
    export_onnx(model, tmp_path / "s4.onnx", DataConfig(input_size=64, stride=4))
    crops = sample_crops(64, 6, seed=2)
    with caplog.at_level(logging.DEBUG):
        quantize_int8(tmp_path / "s4.onnx", tmp_path / "s4_int8.onnx", crops[:4], check_crops=crops[4:])
    assert "Inference failed or unsupported type" not in caplog.text
    assert "tensors of unknown type left in float" in caplog.text  # they happened, and were counted
    assert (tmp_path / "s4_int8.onnx").is_file()


def test_an_export_that_fails_its_parity_check_keeps_the_earlier_file(tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier export")
    with pytest.raises(RuntimeError, match="nothing was written there"):
        export_onnx(build_model("tiny").eval(), out, DataConfig(input_size=64), tolerance=-1.0)  # nothing passes
    assert out.read_bytes() == b"an earlier export" and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_onnx_metadata_is_read_without_onnx_as_onnx_reads_it(tmp_path: Path) -> None:
    from handpose import pretrained
    from handpose.model.artifact import read_onnx_metadata
    from handpose.model.onnx_proto import onnx_metadata_props

    shipped = pretrained.resolve("pretrained:lite-int8")
    expected = {p.key: p.value for p in onnx.load(str(shipped), load_external_data=False).metadata_props}
    assert onnx_metadata_props(Path(shipped).read_bytes()) == expected == read_onnx_metadata(shipped)
    assert onnx_metadata_props(b"\x0a\xff\xff") is None  # a length running past the end
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07not onnx")
    with pytest.raises(ValueError, match="junk.onnx: "):
        read_onnx_metadata(tmp_path / "junk.onnx")


def test_an_onnx_file_with_nan_weights_is_refused(tmp_path: Path) -> None:
    from onnx import numpy_helper

    from handpose import pretrained
    from handpose.model.artifact import read_onnx_metadata
    from handpose.model.onnx_proto import non_finite_weights

    proto = onnx.load(str(pretrained.resolve("pretrained:lite-int8")))
    assert non_finite_weights(proto.SerializeToString()) == []
    index, first = next((i, t) for i, t in enumerate(proto.graph.initializer) if t.data_type == onnx.TensorProto.FLOAT)
    values = numpy_helper.to_array(first).copy()
    values.reshape(-1)[0] = np.nan
    proto.graph.initializer[index].CopyFrom(numpy_helper.from_array(values, first.name))
    onnx.save(proto, str(tmp_path / "nan.onnx"))
    with pytest.raises(ValueError, match=r"nan.onnx: non-finite \(NaN or infinite\) weights in ") as refused:
        read_onnx_metadata(tmp_path / "nan.onnx")
    assert str(refused.value).endswith(first.name)


def test_a_tolerance_that_is_not_a_number_is_refused(tiny: tuple[torch.nn.Module, Path, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    # --tolerance nan passed every export (no difference is above NaN), and a negative one exported, then failed
    model, weights, _ = tiny
    for tolerance in ("nan", "-1", "-0.001"):
        out = tmp_path / "t.onnx"
        assert main(["export", "--weights", str(weights), "--out", str(out), "--tolerance", tolerance]) == 2
        assert f"--tolerance {tolerance}: give a number >= 0" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match="tolerance nan"):
        export_onnx(model, tmp_path / "t.onnx", tolerance=float("nan"))
    from handpose.detection.model import build_detector
    from handpose.detection.onnx_export import export_detector_onnx

    with pytest.raises(ValueError, match="tolerance nan"):
        export_detector_onnx(build_detector().eval(), tmp_path / "d.onnx", tolerance=float("nan"))
    assert list(tmp_path.iterdir()) == []
