"""`handpose predict` with several sources, as a shell passes an unquoted glob: every image once, in the order
given; a video or webcam only alone; exactly one of SOURCE and --source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from dot_hands import dot_hand_keypoints, draw_dot_hands
from stub_predict import stop_stub_predict

from handpose.cli import main
from handpose.config import DataConfig, to_dict
from handpose.export import sample_crops
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def test_predict_several_sources_as_a_shell_expands_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `handpose predict shots/*.jpg more/` arrives as several SOURCE arguments: every image once, in the order given
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    shots, more = tmp_path / "shots", tmp_path / "more"
    shots.mkdir()
    more.mkdir()
    crops = sample_crops(64, 3, seed=11)
    for folder, name, img in ((shots, "a.jpg", crops[0]), (shots, "b.jpg", crops[1]), (more, "c.png", crops[2])):
        cv2.imwrite(str(folder / name), cv2.resize(img, (80, 60)))
    out = tmp_path / "out"
    sources = [str(shots / "a.jpg"), str(shots / "b.jpg"), str(more), str(shots / "a.jpg")]  # a.jpg twice
    # options between the sources, as a user appends to a command line: `predict a.jpg --out x b.jpg`
    assert main(["predict", "--model", str(weights), sources[0], "--out", str(out), *sources[1:], "--no-maps",
                 "--detector", "none"]) == 0
    assert "3 hands in 3 images" in capsys.readouterr().out
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert [Path(im["file_name"]).name for im in images] == ["a.jpg", "b.jpg", "c.png"]
    assert sorted(p.name for p in out.glob("?.json")) == ["a.json", "b.json", "c.json"]


def test_predict_video_beside_other_sources_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), sample_crops(64, 1, seed=2)[0])
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")  # named as a video: refused before it is opened
    assert main(["predict", str(image), str(video), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "a video or webcam is read alone" in err and "clip.mp4" in err
    assert not (tmp_path / "out").exists()
    assert main(["predict", str(image), "--source", str(image), "--out", str(tmp_path / "out")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["predict", "--out", str(tmp_path / "out")]) == 2
    assert "give a source" in capsys.readouterr().err


def test_the_default_keypoint_model_is_the_int8_export_for_video_only() -> None:
    """Video runs the shipped int8 export by default (the speed of BENCHMARKS.md's video figures), images the float
    model; --model still wins."""
    from handpose.cli import build_parser
    from handpose.commands.predict import load_predictor

    args = build_parser().parse_args(["predict", "clip.mp4", "--detector", "none", "--device", "cpu"])
    assert "int8" in load_predictor(args, video=True).name
    assert "int8" not in load_predictor(args, video=False).name
    args = build_parser().parse_args(["predict", "clip.mp4", "--detector", "none", "--device", "cpu", "--model",
                                      "pretrained:lite"])
    assert "int8" not in load_predictor(args, video=True).name


def test_a_model_that_does_not_load_leaves_no_empty_output_folder(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), sample_crops(64, 1)[0])
    out = tmp_path / "never"
    assert main(["predict", str(image), "--model", str(tmp_path / "missing.safetensors"), "--out", str(out)]) == 2
    assert "missing.safetensors" in capsys.readouterr().err and not out.exists()


def test_a_save_video_path_under_a_file_is_named_before_work_and_no_empty_folder_stays(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 64))
    for _ in range(3):
        writer.write(sample_crops(64, 1)[0])
    writer.release()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = tmp_path / "out"
    assert main(["predict", str(clip), "--out", str(out), "--save-video", str(blocker / "v.mp4"),
                 "--detector", "none"]) == 2
    err = capsys.readouterr().err
    assert "--save-video" in err and "is a file, not a folder" in err and not out.exists()


def test_bad_scales_are_named_as_their_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    for scales, words in (("5", "scales must be numbers in (0, 4]"), ("1,1,1,1,1,1,1,1,1", "at most 8 scales")):
        args = ["predict", str(image), "--box", "0,0,32,32", "--scales", scales, "--out", str(tmp_path / "o")]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"error: --scales: {words}" in err and "--model" not in err


@pytest.mark.slow
@pytest.mark.parametrize("name, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_on_a_folder_writes_the_coco_files_of_the_images_done(tmp_path: Path, name: str, code: int) -> None:
    """A real `handpose predict` process over a folder, stopped part way: the image in hand is finished, and
    coco_images.json lists exactly the images whose NAME.json was written (it used to end with 'interrupted' and no
    COCO files)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(400):
        cv2.imwrite(str(folder / f"{i:04d}.png"), draw_dot_hands((320, 200), [dot_hand_keypoints((160, 100))]))
    out = tmp_path / "out"
    code_seen, err = stop_stub_predict([str(folder), "--out", str(out), "--no-maps"], out / "0003.json", [name])
    assert code_seen == code, err
    assert f"stopped by {name} after" in err
    done = sorted(p.stem for p in out.glob("[0-9]*.json"))
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert 4 <= len(images) < 400 and sorted(Path(im["file_name"]).stem for im in images) == done
    results = json.loads((out / "coco_results.json").read_text())
    assert {r["image_id"] for r in results} <= {im["id"] for im in images}


def test_a_second_predict_into_a_folder_being_written_stops_before_its_work(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    """Two predicts into one --out: the second used to process every image, then fail at coco_results.json ("a file
    predict did not write") and lose its COCO results. It now stops at once, naming the holder's PID."""
    from handpose.folder_lock import LOCK_NAME

    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), draw_dot_hands((320, 200), [dot_hand_keypoints((160, 100))]))
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from handpose.folder_lock import "
                               "RunLock; RunLock(sys.argv[1], 'prediction folder').acquire(); print('held', "
                               "flush=True); time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["predict", str(image), "--out", str(out), "--box", "0,0,320,200"]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"another handpose process (PID {holder.pid}) is writing this prediction folder" in err
    assert {p.name for p in out.iterdir()} == {LOCK_NAME}  # nothing predicted, nothing written
    assert main(["predict", str(image), "--out", str(out), "--box", "0,0,320,200", "--no-maps"]) == 0  # free again
    assert not (out / LOCK_NAME).exists()  # a predict's lock file goes with it

