"""Bad flags and unusable outputs end in one line naming the flag or file (the traceback only with -v), before any
work; export does not replace existing files without --overwrite."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.cli import main
from handpose.config_checks import cap_workers
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model, preset


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("safety")
    write_dataset(root / "data", count=6, seed=6, size=96)
    torch.manual_seed(0)
    save_weights(build_model(preset("tiny")), root / "tiny.safetensors")
    (root / "a_file").write_text("not a folder")
    (root / "folder.onnx").mkdir()
    cv2.imwrite(str(root / "photo.jpg"), np.full((120, 160, 3), 90, np.uint8))
    (root / "photo.gif").write_bytes(b"GIF89a" + bytes(64))  # a format handpose does not decode
    (root / "clip.mp4").write_bytes(b"checked before it is opened")
    (root / "det.json").write_text('{"an earlier": "detector report"}')
    return {"root": root, "data": root / "data", "weights": root / "tiny.safetensors"}


def _train(*flags: str) -> list[str]:
    return ["train", "--data", "{data}", "--preset", "tiny", "--input-size", "64", "--max-steps", "1", "--workers",
            "0", "--device", "cpu", "--out", "{root}/run", *flags]


def _eval(*flags: str) -> list[str]:
    return ["eval", "--weights", "{weights}", "--data", "{data}", *flags]


def _predict(*flags: str) -> list[str]:
    return ["predict", "--model", "{weights}", "--detector", "none", "--out", "{root}/pred", *flags]


def _export(*flags: str) -> list[str]:
    return ["export", "--weights", "{weights}", "--out", "{root}/m.onnx", *flags]


CASES = {
    "sigma 0": (_train("--sigma", "0"), "sigma"),
    "box padding 0": (_train("--box-padding", "0"), "box_padding"),
    "box padding -1": (_train("--box-padding", "-1"), "box_padding"),
    "input size 7": (_train("--input-size", "7"), "input_size"),
    "rotation nan": (_train("--rotation", "nan"), "rotation_deg"),
    "color jitter nan": (_train("--color-jitter", "nan"), "color_jitter"),
    "warmup -10": (_train("--warmup-steps", "-10"), "--warmup-steps must be at least 0"),
    "train workers -1": (_train("--workers", "-1"), "--workers must be at least 0"),
    "train device cuda": (_train("--device", "cuda"), "--device cuda"),
    "train out is a file": (_train("--out", "{root}/a_file"), "--out"),
    "train out under a file": (_train("--out", "{root}/a_file/run"), "--out"),
    "eval batch 0": (_eval("--batch-size", "0"), "--batch-size"),
    "eval workers -1": (_eval("--workers", "-1"), "--workers"),
    "eval device cuda": (_eval("--device", "cuda"), "--device cuda"),
    "eval out is a file": (_eval("--out", "{root}/a_file"), "--out"),
    "eval out under a file": (_eval("--out", "{root}/a_file/eval"), "--out"),
    "export opset 1": (_export("--opset", "1"), "--opset 1"),
    "export opset 21": (_export("--opset", "21"), "--opset 21"),
    "export out is a folder": (["export", "--weights", "{weights}", "--out", "{root}/folder.onnx"], "--out"),
    "export out under a file": (["export", "--weights", "{weights}", "--out", "{root}/a_file/m.onnx"], "--out"),
    "predict scales 0": (_predict("{root}/photo.jpg", "--scales", "0,1"), "error: --scales: '0' must be positive"),
    # eval's --scales named no flag past 4 or 8 scales, and called NaN not positive
    "eval scales 5": (_eval("--scales", "1,5"), "error: --scales: scales must be numbers in (0, 4]"),
    "eval nine scales": (_eval("--scales", ",".join(["1"] * 9)), "error: --scales: at most 8 scales"),
    "eval scales nan": (_eval("--scales", "1,nan"), "error: --scales: 'nan' is not a finite number"),
    "predict xyxy box backwards": (_predict("{root}/photo.jpg", "--box", "90,80,10,20", "--box-format", "xyxy"),
                                   "box 90,80,10,20 (xyxy) has no area"),
    "predict a gif": (_predict("{root}/photo.gif"), "image format not supported (a GIF file"),
    "synth scene size 0x0": (["synth", "--scenes", "--scene-size", "0x0", "--count", "2", "--out", "{root}/s"],
                             "--scene-size must be between 32"),
    "predict max frames 0": (_predict("{root}/clip.mp4", "--max-frames", "0"), "--max-frames must be at least 1"),
    "predict track score 2": (_predict("{root}/clip.mp4", "--track-min-score", "2"), "--track-min-score is a mean"),
    "predict lost frames -1": (_predict("{root}/clip.mp4", "--track-lost-frames", "-1"),
                               "--track-lost-frames must be 0"),
    "predict confirm frames 0": (_predict("{root}/clip.mp4", "--track-confirm-frames", "0"),
                                 "--track-confirm-frames must be 1"),
    "predict detect every -1": (_predict("{root}/clip.mp4", "--detect-every", "-1"), "--detect-every must be 0"),
    "eval detect report file taken": (["eval", "--task", "detect", "--weights", "{weights}", "--data", "{data}",
                                       "--out", "{root}/det.json"], "already holds an evaluation (det.json)"),
    "synth count 0": (["synth", "--out", "{root}/s0", "--count", "0"], "--count must be between 1"),
    "eval detect with flip": (["eval", "--task", "detect", "--weights", "{weights}", "--data", "{data}", "--flip"],
                              "--flip and --scales are the keypoint model's"),
    "eval detect with scales": (["eval", "--task", "detect", "--weights", "{weights}", "--data", "{data}",
                                 "--scales", "0.8,1"], "--task detect scores the detector"),
    "synth out under /proc": (["synth", "--out", "/proc/handpose-test", "--count", "2"],
                              "nothing can be written under /proc"),  # it said "needs 0.0 GiB and 0.0 GiB is free"
    # of two model files, the flag says which one is missing (it said "model file not found: X" alone)
    "predict detector missing": (["predict", "--model", "{weights}", "--detector", "{root}/no_det.onnx", "--out",
                                  "{root}/pred", "{root}/photo.jpg"], "--detector: model file not found: "),
    "eval detector missing": (_eval("--detector", "{root}/no_det.onnx"), "--detector: model file not found: "),
    "eval weights a folder": (["eval", "--weights", "{data}", "--data", "{data}"], "--weights: "),
    "export weights missing": (["export", "--weights", "{root}/no.safetensors", "--out", "{root}/m.onnx"],
                               "--weights: model file not found: "),
    "train init missing": (_train("--init", "{root}/no.npy"), "--init: model file not found: "),
    "convert from missing": (["convert", "--from", "{root}/no.caffemodel", "--out", "{root}/c.safetensors"],
                             "--from: model file not found: "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_flag_is_one_line_naming_it(case: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    argv, named = CASES[case]
    if "cuda" in case and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if "/proc" in case and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    argv = [a.format(**files) for a in argv]
    assert main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"handpose {argv[0]}: error: ") and named in lines[0], lines[0]
    assert not (files["root"] / "run").exists() and not (files["root"] / "m.onnx").exists()  # nothing started


def test_verbose_shows_the_traceback(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "eval", "--weights", str(files["weights"]), "--data", str(files["data"]), "--batch-size",
                 "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("got 0")


def test_eval_checks_its_output_before_evaluating(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import handpose.evaluate

    def evaluated(*args: object, **kw: object) -> None:
        raise AssertionError("evaluated before checking --out")

    monkeypatch.setattr(handpose.evaluate, "run_evaluation", evaluated)
    out = files["root"] / "a_file" / "eval"
    assert main(["eval", "--weights", str(files["weights"]), "--data", str(files["data"]), "--out", str(out)]) == 2
    assert f"--out {out}: cannot write there" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_refused_before_training(files: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    argv = [a.format(**files) for a in _train("--out", str(locked / "run"))]
    assert main(argv) == 2
    assert f"--out {locked / 'run'}: cannot write there" in capsys.readouterr().err


def test_workers_above_the_cpu_count_are_capped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    cpus = len(os.sched_getaffinity(0))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert cap_workers(cpus + 50) == cpus
        assert cap_workers(0) == 0
    assert [r.getMessage() for r in caplog.records] == [f"--workers {cpus + 50} is more than the {cpus} CPUs here; "
                                                        f"using {cpus}"]


def test_export_does_not_replace_files_without_overwrite(files: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out, int8 = tmp_path / "m.onnx", tmp_path / "m_int8.onnx"
    int8.write_bytes(b"an earlier int8 model")
    argv = ["export", "--weights", str(files["weights"]), "--out", str(out), "--int8"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{int8} already exists; add --overwrite" in err and "Traceback" not in err
    assert int8.read_bytes() == b"an earlier int8 model" and not out.exists()

    assert main(["export", "--weights", str(files["weights"]), "--out", str(out)]) == 0  # a plain export
    first = out.read_bytes()
    assert main(["export", "--weights", str(files["weights"]), "--out", str(out)]) == 2
    assert f"{out} already exists" in capsys.readouterr().err and out.read_bytes() == first
    assert main(["export", "--weights", str(files["weights"]), "--out", str(out), "--opset", "13",
                 "--overwrite"]) == 0
    assert out.read_bytes() != first  # replaced (another opset)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize("name", ["eval_report.json", "eval_detected.json", "detection_eval.json"])
def test_eval_does_not_replace_an_earlier_report_without_overwrite(name: str, files: dict[str, Path],
                                                                   tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # eval replaced whatever report lay in --out, where train, export, synth and predict refuse
    out = tmp_path / "ev"
    out.mkdir()
    (out / name).write_text('{"mine": 1}')
    argv = ["eval", "--weights", str(files["weights"]), "--data", str(files["data"]), "--split", "all", "--out",
            str(out)]
    assert main(argv) == 2
    assert f"already holds an evaluation ({name}); add --overwrite" in capsys.readouterr().err
    assert (out / name).read_text() == '{"mine": 1}'
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "eval_report.json").exists() and (out / "pck_curve.png").exists()
