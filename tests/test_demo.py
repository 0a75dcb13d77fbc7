"""`handpose demo` end to end with a tiny budget: every step runs and leaves its files where it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handpose.cli import main


@pytest.mark.slow
def test_demo_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.synth import write_dataset

    out = tmp_path / "demo"
    real = tmp_path / "photos"
    write_dataset(real / "set_a", count=3, seed=9, size=96)  # stands for a user's folder of labelled photos
    args = ["demo", "--out", str(out), "--count", "40", "--test-count", "8", "--size", "96", "--steps", "3",
            "--input-size", "64", "--pictures", "2", "--minutes", "5", "--workers", "1", "--real-data", str(real)]
    rc = main(args)
    printed = capsys.readouterr().out
    assert rc == 0, printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert len(list((out / "data" / "synth1").glob("*.jpg"))) == 40
    assert len(list((out / "test" / "synth1").glob("*.jpg"))) == 8
    assert summary["train_steps"] == 3 and summary["train_stopped"] == "completed"
    assert "train_others_cpu_share" in summary  # measured where /proc/stat is, else None
    assert Path(summary["weights"]).is_file() and (out / "train" / "config.json").is_file()
    assert list((out / "train").glob("events.out.tfevents.*"))
    report = json.loads((out / "eval" / "eval_report.json").read_text())
    assert report["metrics"]["num_samples"] == 8 == summary["test_metrics"]["num_samples"]
    assert 0.0 <= summary["test_metrics"]["PCK@0.2"] <= 1.0
    assert (out / "model.onnx").is_file() and summary["onnx_max_abs_diff"] < 1e-3
    assert len([p for p in summary["pictures"] if p.endswith("_overlay.png")]) == 2
    assert all(Path(p).is_file() for p in summary["pictures"])
    for where in ("held-out test:", "PCK@0.2=", str(out / "model.onnx"), str(out / "predictions"), "tensorboard",
                  "(2 hands: overlays and belief maps)", "real photos in"):
        assert where in printed, printed
    assert summary["real_photos"]["set_a"]["num_samples"] == 3 == summary["real_photos"]["all"]["num_samples"]
    assert main(args) == 0  # again into the same folder: the renders are reused, the training run is replaced


def test_demo_replaces_its_own_results_but_refuses_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """`demo --out runs` trained into runs/train with --overwrite set, deleting `handpose train`'s default run there,
    and replaced runs/eval's report (the README's `eval --out runs/eval`)."""
    from handpose.commands.demo import check_out_folder

    out = tmp_path / "runs"
    run = out / "train"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-00000013.pt").write_bytes(b"a checkpoint")
    config = {"model": {}, "dataset": {}, "task": "keypoints", "data": str(tmp_path / "hand_labels")}
    (run / "config.json").write_text(json.dumps(config))
    rc = main(["demo", "--out", str(out), "--count", "2", "--test-count", "1", "--workers", "1"])
    assert rc == 2 and not (out / "data").exists()  # refused before rendering
    assert (run / "checkpoints" / "ckpt-00000013.pt").is_file()
    err = capsys.readouterr().err
    assert f"--out {out}: {run} holds a training run that is not a demo's (it trained on {tmp_path}/hand_labels)" in err
    (out / "eval").mkdir()
    (out / "eval" / "eval_report.json").write_text("{}")
    (run / "config.json").write_text(json.dumps({**config, "data": str(out / "data")}))  # an earlier demo's run
    check_out_folder(out)
    check_out_folder(tmp_path / "fresh")
    other = tmp_path / "other"
    (other / "eval").mkdir(parents=True)
    (other / "eval" / "eval_report.json").write_text("{}")
    with pytest.raises(ValueError, match=r"holds .*eval_report.json, which no demo wrote"):
        check_out_folder(other)
    (other / "demo_summary.json").write_text("{}")  # a finished demo's folder
    check_out_folder(other)


def test_demo_knows_an_older_demos_run_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older demo recorded its data path as given (`demo --out runs/demo`: runs/demo/data, relative to where it
    ran); the same folder named from elsewhere is still that demo's."""
    from handpose.commands.demo import check_out_folder

    run = tmp_path / "runs" / "demo" / "train"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-00000013.pt").write_bytes(b"a checkpoint")
    config = {"model": {}, "dataset": {}, "task": "keypoints", "data": "runs/demo/data", "out": "runs/demo/train"}
    (run / "config.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path / "runs")
    check_out_folder(Path("demo"))
    check_out_folder(tmp_path / "runs" / "demo")
    (run / "config.json").write_text(json.dumps({**config, "data": "runs/demo/hands"}))  # not beside its run
    with pytest.raises(ValueError, match="not a demo's"):
        check_out_folder(Path("demo"))


def test_demo_summary_counts_one_picture_as_one_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`demo --pictures 1` printed '(1 hands: overlays and belief maps)'; the steps are stood in for (the smoke test
    above runs them), the summary lines are the command's own."""
    from handpose.commands import demo

    out = tmp_path / "demo"
    result = {"out": str(out), "timings_s": {"synth": 1.0, "total": 60.0}, "train": str(out / "train"),
              "train_stopped": "completed", "train_steps": 2, "weights": str(out / "train" / "best.safetensors"),
              "test_metrics": {"PCK@0.2": 0.5, "AUC": 0.4, "EPE": 9.0, "num_samples": 8},
              "eval": str(out / "eval"), "onnx": str(out / "model.onnx"), "onnx_max_abs_diff": 1e-8,
              "predictions": str(out / "predictions"), "predicted_hands": 1, "train_others_cpu_share": None}
    monkeypatch.setattr(demo, "run_demo", lambda args: result)
    assert main(["demo", "--out", str(out), "--pictures", "1"]) == 0
    printed = capsys.readouterr().out
    assert "(1 hand: overlays and belief maps)" in printed and "1 hands" not in printed
