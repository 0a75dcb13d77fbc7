"""Hostile and damaged input files: a pickle that asks for gigabytes, a FIFO or a device where a file belongs, a
checkpoint whose parts are not what they claim, weights of the wrong number kind, and TF .npy layers that are not
numbers. Each is refused in one line naming the file; nothing hangs, nothing is allocated beyond the file's size."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from handpose.config import to_dict
from handpose.data import skip_report as R
from handpose.data.formats.checks import BadAnnotationError
from handpose.data.formats.json_io import load_json
from handpose.data.images import ImageError, load_image
from handpose.model.artifact import load_model, load_state_strict
from handpose.model.cpm import build_model
from handpose.model.importers import init_weights
from handpose.model.safe_pickle import PickleRefusedError, restricted_loads
from handpose.regular_files import NotRegularFileError, read_regular


class _Alloc:
    """Pickles as ``kind(size)``: a few bytes that would ask for ``size`` bytes."""

    def __init__(self, kind: Any, *args: Any) -> None:
        self.kind, self.args = kind, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.kind, self.args


def test_a_small_pickle_cannot_ask_for_gigabytes() -> None:
    for bomb in (_Alloc(bytearray, 1_500_000_000), _Alloc(bytes, 10**10), _Alloc(np.ndarray, (10**9,))):
        data = pickle.dumps({"conv1_1": {"weights": bomb}}, protocol=2)
        with pytest.raises(PickleRefusedError, match="refusing"):
            restricted_loads(data, "bomb.npy")
    reconstruct = np.zeros(1).__reduce__()[0]  # numpy's own array rebuilder: numpy.core (1.x) or numpy._core (2.x)
    with pytest.raises(PickleRefusedError, match="an array of 4,000,000,000 bytes"):
        restricted_loads(pickle.dumps(_Alloc(reconstruct, np.ndarray, (10**9,), "f4"), protocol=2), "big.npy")
    import codecs

    doubled: Any = "x"
    for _ in range(27):  # each hex round doubles: 134 MB from a pickle of a few hundred bytes
        doubled = _Alloc(codecs.encode, doubled, "hex")
    with pytest.raises(PickleRefusedError, match="_codecs.encode with 'hex'"):
        restricted_loads(pickle.dumps(doubled, protocol=2))
    block = _Alloc(bytes, np.int64(50_000_000))  # a numpy integer as the size
    with pytest.raises(PickleRefusedError, match="bytes of 50,000,000 bytes"):
        restricted_loads(pickle.dumps([block], protocol=2))
    one_mb = _Alloc(list, _Alloc(bytes, 1 << 17))  # each list() of the same 128 KB makes 1 MB anew
    with pytest.raises(PickleRefusedError, match="in all for a file of its size"):
        restricted_loads(pickle.dumps([one_mb] * 60, protocol=2))
    weights = np.arange(24, dtype=np.float32).reshape(2, 3, 4)  # an honest array still loads
    assert np.array_equal(restricted_loads(pickle.dumps({"w": weights}, protocol=2))["w"], weights)


def test_the_allocation_budget_is_four_bytes_a_byte_plus_a_mib() -> None:
    """An array of exactly 4 x the pickle's length + 1 MiB loads; one byte more is refused."""
    reconstruct = np.zeros(1).__reduce__()[0]

    def payload(n: int) -> bytes:
        return pickle.dumps(_Alloc(reconstruct, np.ndarray, (n,), "u1"), protocol=2)

    limit = 4 * len(payload(1 << 20)) + (1 << 20)  # the length is the same for any n below 2**31 (4-byte int)
    assert restricted_loads(payload(limit)).nbytes == limit
    with pytest.raises(PickleRefusedError, match="in all for a file of its size"):
        restricted_loads(payload(limit + 1))


def test_other_codecs_and_persistent_ids_are_refused() -> None:
    """_codecs.encode is allowed for latin-1 text only (utf-16 doubles it); a persistent id names outside data."""
    import codecs
    import io

    with pytest.raises(PickleRefusedError, match="_codecs.encode with 'utf-16'"):
        restricted_loads(pickle.dumps(_Alloc(codecs.encode, "abc", "utf-16"), protocol=2))

    class _Outside(pickle.Pickler):
        def persistent_id(self, obj: Any) -> str | None:
            return "storage/0" if isinstance(obj, bytes) else None

    buf = io.BytesIO()
    _Outside(buf, protocol=2).dump({"w": b"abc"})
    with pytest.raises(PickleRefusedError, match="persistent id"):
        restricted_loads(buf.getvalue())


def test_a_pickle_repeating_one_array_is_refused_before_it_grows(tmp_path: Path) -> None:
    block = np.zeros((3, 3, 3, 64), np.float32)
    path = tmp_path / "repeat.npy"
    path.write_bytes(pickle.dumps({"conv1_1": {"weights": [block] * 200}}, protocol=2))  # 7 KB -> 5.5 MB
    with pytest.raises(ValueError, match="hold more numbers than a file of its size can"):
        init_weights(build_model("tiny"), path)
    for value, words in (({"a": 1}, "layer 'conv1_1' weights are not a numeric array"),
                         (block.astype(np.complex64), "weights are not a numeric array .*kind complex64"),
                         ("hello", "layer 'conv1_1' weights are not a numeric array")):
        path.write_bytes(pickle.dumps({"conv1_1": {"weights": value}}, protocol=2))
        with pytest.raises(ValueError, match=words):
            init_weights(build_model("tiny"), path)
    nested: Any = []
    for _ in range(6):
        nested = [nested] * 20  # 20**6 lists from a few hundred bytes: refused before unpickling (pickle_shape)
    path.write_bytes(pickle.dumps({"conv1_1": {"weights": nested}}, protocol=2))
    with pytest.raises(ValueError, match="holds more than .* objects .* more than a file of its size can"):
        init_weights(build_model("tiny"), path)
    deep: Any = [1.0]
    for _ in range(12):
        deep = [deep]
    path.write_bytes(pickle.dumps({"conv1_1": {"weights": deep}}, protocol=2))
    with pytest.raises(ValueError, match="nested deeper than 8 levels"):
        init_weights(build_model("tiny"), path)
    path.write_bytes(pickle.dumps({b"\xff\xfe": {"weights": block}}, protocol=2))
    with pytest.raises(ValueError, match="a layer name is not UTF-8 text"):
        init_weights(build_model("tiny"), path)


def test_fifos_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "labels.json"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="is a FIFO"):
        read_regular(fifo)
    with pytest.raises(BadAnnotationError) as bad:
        load_json(fifo)
    assert bad.value.reason == R.BAD_JSON
    zero = tmp_path / "photo.jpg"
    zero.symlink_to("/dev/zero")
    with pytest.raises(ImageError, match="is a device"):
        load_image(zero)


def test_a_checkpoint_of_wrong_parts_is_refused_in_one_line(tmp_path: Path) -> None:
    config = to_dict(build_model("tiny").config)
    for model, words in (([1, 2], "its weights are a list, not a state dict"),
                         ({"a": 1}, r"not a state dict of tensors: 'a' \(int\)")):
        torch.save({"model": model, "model_config": config}, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=words):
            load_model(tmp_path / "bad.pt")


def test_weights_of_another_number_kind_do_not_fit() -> None:
    model = build_model("tiny")
    state = {k: v.to(torch.int64) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"number kinds that differ .*file torch.int64 vs model torch.float32"):
        load_state_strict(build_model("tiny"), state, "int.safetensors")


def test_a_damaged_checkpoint_is_refused_on_resume(synth_data: Path, tmp_path: Path) -> None:
    import dataclasses

    from handpose.config import DataConfig, TrainConfig
    from handpose.model.cpm import preset
    from handpose.training.trainer import train

    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path / "run"), model=preset("tiny"),
                      dataset=DataConfig(input_size=64), batch_size=2, max_steps=4, stop_at_step=2, workers=0,
                      val_every=0, amp=False, threads=1)
    train(cfg)
    ckpt = tmp_path / "run" / "checkpoints" / "ckpt-00000002.pt"
    good = torch.load(ckpt, weights_only=True)
    resume = dataclasses.replace(cfg, resume=str(ckpt), stop_at_step=None)
    nan = {k: v.clone() for k, v in good["model"].items()}
    next(v for v in nan.values() if v.is_floating_point()).fill_(float("nan"))
    for change, words in (({"optimizer": {"state": 5}}, "not a usable checkpoint .*optimizer"),
                          ({"rng": "garbage"}, r"not a usable checkpoint \('rng' is a str\)"),
                          ({"step": -5}, r"not a usable checkpoint \('step' is -5\)"),
                          ({"rng": {**good["rng"], "python": {**good["rng"]["python"], "state": [2**70] * 625}}},
                           "not a usable checkpoint .*OverflowError"),
                          ({"model": nan}, "non-finite")):
        torch.save({**good, **change}, ckpt)
        with pytest.raises(ValueError, match=words):
            train(resume)


def test_coco_values_out_of_kind_are_counted_not_crashes(tmp_path: Path) -> None:
    import json

    import cv2

    from handpose.data.formats.load import read_samples

    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((60, 80, 3), 90, np.uint8))
    cv2.imwrite(str(tmp_path / "b.jpg"), np.full((60, 80, 3), 90, np.uint8))
    kp = [v for i in range(21) for v in (10 + i, 20 + i % 5, 2)]
    anns = [{"id": i, "image_id": image_id, "keypoints": kp, "bbox": [5, 5, 40, 40], **extra}
            for i, (image_id, extra) in enumerate([(1, {"is_left": "false"}), (1, {"is_left": [1]}),
                                                   (2, {}), (3, {"is_left": 1}), (1, {"is_left": None})])]
    images = [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60},
              {"id": 2, "file_name": "b.jpg", "width": 10**400, "height": 60},  # a size no image has
              {"id": 3, "file_name": "a.jpg"}, {"id": 3, "file_name": "b.jpg"}]  # one id, two images
    (tmp_path / "hands.json").write_text(json.dumps({"images": images, "annotations": anns}))
    samples, _, report = read_samples(tmp_path / "hands.json", workers=1)
    assert [(s.is_left, s.side_known) for s, _ in samples] == [(False, True), (False, False), (False, False)]
    assert report.counts[R.BAD_ANNOTATION] == 2  # the list as a side, the id of two images


def test_paths_that_are_no_file_say_what_they_are(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from handpose.cli import main
    from handpose.model.artifact import model_file_kind
    from handpose.regular_files import why_not_a_file

    loop = tmp_path / "loop.pt"
    loop.symlink_to(loop)
    (tmp_path / "dir.safetensors").mkdir()
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    assert why_not_a_file(loop) == "is a symlink loop" and why_not_a_file(tmp_path / "dir.safetensors") == "is a folder"
    with pytest.raises(ValueError, match="loop.pt is a symlink loop, not a file"):
        model_file_kind(loop)
    with pytest.raises(ValueError, match="dir.safetensors is a folder, not a file"):
        init_weights(build_model("tiny"), tmp_path / "dir.safetensors")
    assert main(["predict", str(fifo), "--out", str(tmp_path / "out")]) != 0
    assert "photo.jpg is a FIFO (named pipe): give an image file" in capsys.readouterr().err
    (tmp_path / "cut.json").write_text('{"images": [1, ')
    assert main(["eval", "--weights", "pretrained:lite", "--data", str(tmp_path / "cut.json")]) != 0
    assert "cut.json: not readable as JSON (unreadable or malformed json: JSONDecodeError: Expecting value" in (
        capsys.readouterr().err)


def test_a_fifo_or_device_standing_for_a_checkpoint_is_refused_without_blocking(synth_data: Path,
                                                                                 tmp_path: Path) -> None:
    from handpose.training.checkpoints import find_checkpoint

    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    torch.save({"model": {}}, run / "ckpt-00000002.pt")
    os.mkfifo(run / "ckpt-00000004.pt")  # the newest by name
    assert find_checkpoint(tmp_path / "run") == run / "ckpt-00000002.pt"  # passed over, not opened
    with pytest.raises(ValueError, match="ckpt-00000004.pt is a FIFO \\(named pipe\\), not a checkpoint"):
        find_checkpoint(run / "ckpt-00000004.pt")
    (tmp_path / "zero.pt").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="zero.pt is a device, not a checkpoint"):
        find_checkpoint(tmp_path / "zero.pt")
