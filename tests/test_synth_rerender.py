"""Renders into folders synth wrote before: a user's file there is never replaced, a stopped scene render never
leaves the old labels beside new pictures, and its unlabelled images go on the next render; one-hand images and
scenes never share a folder; images carry synth's mark and are written whole; SIGTERM stops the workers too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest
from render_process import kill_render, render_under_way

from handpose.cli import main
from handpose.data.formats.detect import require_dataset_path
from handpose.synth import scenes as scenes_module
from handpose.synth.output_folder import MANIFEST_NAME, is_marked, mark_jpeg, synth_outputs
from handpose.synth.scenes import JSON_NAME

SCENES = ["--scenes", "--scene-size", "64x48"]


def _stopping_at(stop: int, render: Callable[..., Any]) -> Callable[..., Any]:
    """The scene renderer ``render``, interrupted (as by Ctrl-C) when it reaches scene ``stop``."""
    def stopping(seed: int, index: int, *args: object, **kw: object) -> Any:
        if index == stop:
            raise KeyboardInterrupt
        return render(seed, index, *args, **kw)

    return stopping


def test_images_carry_the_mark_and_still_decode(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--size", "64"]) == 0
    assert main(["synth", "--out", str(tmp_path), "--count", "2", *SCENES]) == 0
    for image in [tmp_path / "synth1" / "00000001.jpg", tmp_path / "scenes" / "images" / "00000001.jpg"]:
        assert is_marked(image)
        assert cv2.imread(str(image)) is not None
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), cv2.imread(str(tmp_path / "synth1" / "00000000.jpg")))
    assert not is_marked(photo)  # a user's JPEG has no such comment
    with pytest.raises(ValueError, match="not JPEG data"):
        mark_jpeg(b"GIF89a")


def test_a_users_files_in_a_folder_synth_wrote_are_never_replaced(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "synth1"
    assert main(["synth", "--out", str(tmp_path), "--count", "4", "--size", "64"]) == 0
    (target / "00000002.jpg").write_bytes(b"my photo")
    (target / "00000002.json").write_text(json.dumps({"hand_pts": []}))  # the user's label: no synth_version
    for extra in ([], ["--overwrite"]):
        assert main(["synth", "--out", str(tmp_path), "--count", "4", "--size", "64", "--seed", "3", *extra]) == 2
        assert "00000002.jpg" in capsys.readouterr().err
    assert (target / "00000002.jpg").read_bytes() == b"my photo"


def test_a_stopped_scene_render_leaves_no_old_labels_and_its_images_go_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "scenes"
    assert main(["synth", "--out", str(tmp_path), "--count", "6", *SCENES]) == 0
    old_json = (target / JSON_NAME).read_text()
    real = scenes_module.render_scene_image
    monkeypatch.setattr(scenes_module, "render_scene_image", _stopping_at(4, real))
    assert main(["synth", "--out", str(tmp_path), "--count", "10", "--seed", "1", *SCENES]) == 130
    assert not (target / JSON_NAME).exists() and old_json  # the seed-0 labels no longer stand beside seed-1 images
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert manifest["complete"] is False and manifest["seed"] == 1
    with pytest.raises(FileNotFoundError, match="was stopped before it wrote its labels"):
        require_dataset_path(target / JSON_NAME)
    for task in ("keypoints", "detect"):  # the folder given to train: said plainly, not a list of every format
        assert main(["train", "--task", task, "--data", str(target), "--out", str(tmp_path / f"run_{task}")]) == 2
        err = capsys.readouterr().err
        assert "scene render was stopped before the end" in err and "nothing here to train on" in err, err
        assert "cannot tell the dataset format" not in err and not (tmp_path / f"run_{task}").exists()
    monkeypatch.setattr(scenes_module, "render_scene_image", real)
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--seed", "1", *SCENES]) == 0
    assert sorted(os.listdir(target / "images")) == ["00000000.jpg", "00000001.jpg"]  # 2-5 were unlabelled: gone
    doc = json.loads((target / JSON_NAME).read_text())
    assert [im["file_name"] for im in doc["images"]] == ["00000000.jpg", "00000001.jpg"]
    assert {"images/00000000.jpg", "images/00000001.jpg", JSON_NAME} <= synth_outputs(target)


def test_a_scene_folder_of_an_older_handpose_can_be_rendered_again_after_a_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older render's images carry no mark (its json was their only proof of origin): they are marked before
    that json goes, so a stopped re-render can still be rendered again."""
    target = tmp_path / "scenes"
    assert main(["synth", "--out", str(tmp_path), "--count", "6", *SCENES]) == 0
    for image in (target / "images").iterdir():  # as an older handpose wrote them
        image.write_bytes(cv2.imencode(".jpg", cv2.imread(str(image)))[1].tobytes())
        assert not is_marked(image)
    real = scenes_module.render_scene_image
    monkeypatch.setattr(scenes_module, "render_scene_image", _stopping_at(2, real))
    assert main(["synth", "--out", str(tmp_path), "--count", "6", "--seed", "1", *SCENES]) == 130
    assert all(is_marked(image) for image in (target / "images").iterdir())
    monkeypatch.setattr(scenes_module, "render_scene_image", real)
    assert main(["synth", "--out", str(tmp_path), "--count", "6", "--seed", "1", *SCENES]) == 0
    assert len(json.loads((target / JSON_NAME).read_text())["images"]) == 6


def test_one_hand_images_and_scenes_never_share_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--size", "64", "--folder", "data"]) == 0
    assert main(["synth", "--out", str(tmp_path), "--count", "2", *SCENES, "--folder", "data"]) == 2
    assert "holds a render of one-hand images; scenes go into a folder of their own" in capsys.readouterr().err
    assert not (tmp_path / "data" / "images").exists()


@pytest.mark.parametrize("name", ["..", ".", "", "a/b"])
def test_a_folder_name_must_be_plain(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path / "sub"), "--count", "1", "--size", "64", "--folder", name]) == 2
    assert "--folder must be a plain folder name" in capsys.readouterr().err


def test_a_full_disk_names_the_file_and_leaves_no_cut_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.name.startswith(".00000001.tmp-") and self.suffix == ".jpg":  # files.atomic_write's temporary
            real(self, data[:10])  # part of it reached the disk
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    assert main(["synth", "--out", str(tmp_path), "--count", "3", "--size", "64"]) == 2
    err = capsys.readouterr().err
    assert "00000001.jpg: the disk is full" in err
    names = os.listdir(tmp_path / "synth1")
    assert "00000001.jpg" not in names and not [n for n in names if ".tmp" in n]


@pytest.mark.slow
def test_sigterm_stops_the_render_and_its_workers(tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = render_under_way(out, 5000)
    try:
        assert proc.poll() is None, "the render ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_render(proc)
    assert proc.returncode == 143, err
    time.sleep(1.5)
    before = len(os.listdir(out / "synth1"))
    time.sleep(1.5)
    assert len(os.listdir(out / "synth1")) == before  # no worker writes on after its parent
    assert "BrokenPipeError" not in err
    assert json.loads((out / "synth1" / MANIFEST_NAME).read_text())["complete"] is False


def test_scenes_without_opengl_say_why(tmp_path: Path) -> None:
    """Without a GL context, scenes are refused with the reason, not pointed to the capsule renderer (it draws no
    scenes). A fresh process: the GL context is made once per process."""
    env = {**os.environ, "HANDPOSE_SYNTH_GL": "0"}
    for extra in ([], ["--renderer", "gl"]):
        run = subprocess.run([sys.executable, "-m", "handpose", "synth", "--out", str(tmp_path), "--count", "1",
                              *SCENES, *extra], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2
        assert "--scenes needs OpenGL and there is no context here" in run.stderr
        assert "--renderer fallback" not in run.stderr


def test_the_temporaries_of_a_killed_writer_go_at_the_next_render(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--size", "64"]) == 0
    # as a worker killed in the middle of a write leaves it (files.atomic_write's name, with a pid that cannot exist:
    # Linux's pid_max is at most 2**22)
    left = tmp_path / "synth1" / f".00000001.tmp-{2**22 + 1}-0.json"
    left.write_text('{"hand_pts": [')
    assert main(["synth", "--out", str(tmp_path), "--count", "2", "--size", "64"]) == 0
    assert not left.exists()


def test_a_scene_render_an_older_handpose_stopped_is_refused_saying_what_to_delete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A handpose before 2026-12-06 wrote unmarked images and the scenes json only at the end: a render it stopped
    left a manifest saying so beside unlabelled images that cannot be told from a user's. Running the same command
    again is refused naming them and saying to delete them, not calling them files handpose did not write."""
    target = tmp_path / "scenes"
    assert main(["synth", "--out", str(tmp_path), "--count", "4", *SCENES]) == 0
    for image in (target / "images").iterdir():  # as the older handpose wrote them
        image.write_bytes(cv2.imencode(".jpg", cv2.imread(str(image)))[1].tobytes())
    (target / JSON_NAME).unlink()  # written at the end: the stopped render never got there
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    manifest.pop("gl_driver", None)
    (target / MANIFEST_NAME).write_text(json.dumps({**manifest, "complete": False}, indent=1, sort_keys=True))
    capsys.readouterr()
    assert main(["synth", "--out", str(tmp_path), "--count", "4", *SCENES]) == 2
    err = capsys.readouterr().err
    assert "images/00000000.jpg" in err and "stopped before the end" in err and "delete them" in err
    assert "which handpose did not write" not in err
    assert len(os.listdir(target / "images")) == 4  # nothing replaced or removed
