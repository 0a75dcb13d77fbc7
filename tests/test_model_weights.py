"""Model files: safetensors and training checkpoints round trip exactly; foreign or mismatched files fail loudly."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from handpose.config import to_dict
from handpose.model.artifact import load_model, load_state_strict, read_metadata, save_weights
from handpose.model.cpm import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_safetensors_round_trip(name: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = build_model(name).train()
    model(torch.randn(2, 3, 64, 64))  # moves BN running statistics away from their init
    model.eval()
    path = tmp_path / "m.safetensors"
    save_weights(model, path, metadata={"step": 7})
    meta = read_metadata(path)
    assert meta["step"] == "7" and json.loads(meta["model_config"]) == to_dict(model.config)
    loaded = load_model(path)
    assert loaded.config == model.config and not loaded.training
    x = torch.randn(1, 3, 72, 64)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = build_model("tiny").eval()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "model_config": to_dict(model.config), "step": 3, "optimizer": {}}, path)
    loaded = load_model(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)[-1], loaded(x)[-1])


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path: Path) -> None:
    model = build_model("tiny")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    del state["conv1_2.bias"]
    state["extra_layer.weight"] = torch.zeros(3)
    state["conv6_2_CPM.weight"] = torch.zeros(5, 32, 1, 1)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path), metadata={"model_config": json.dumps(to_dict(model.config))})
    with pytest.raises(ValueError) as info:
        load_model(path)
    msg = str(info.value)
    assert "conv1_2.bias" in msg and "extra_layer.weight" in msg and "conv6_2_CPM.weight" in msg
    assert str(path) in msg


def test_config_mismatch_fails(tmp_path: Path) -> None:
    """Weights of one preset under another preset's config: every difference is reported."""
    path = tmp_path / "mixed.safetensors"
    state = build_model("tiny").state_dict()
    save_file(state, str(path), metadata={"model_config": json.dumps(to_dict(build_model("lite").config))})
    with pytest.raises(ValueError, match="missing keys.*unexpected keys"):
        load_model(path)
    with pytest.raises(ValueError, match="does not fit"):
        load_state_strict(build_model("lite"), state)


def test_foreign_files_fail_clearly(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="model_config"):
        load_model(plain)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="safetensors"):
        load_model(garbage)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.safetensors")
    no_config = tmp_path / "noconfig.pt"
    torch.save({"model": build_model("tiny").state_dict()}, no_config)
    with pytest.raises(ValueError, match="model_config"):
        load_model(no_config)


class _Payload:
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (print, ("a pickled object ran",))


def test_checkpoint_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    model = build_model("tiny")
    torch.save(
        {"model": model.state_dict(), "model_config": to_dict(model.config), "x": _Payload()},
        path,
        pickle_protocol=pickle.DEFAULT_PROTOCOL,
    )
    with pytest.raises(ValueError, match="pickled") as err:  # named as code where torch's reader says GLOBAL
        load_model(path)
    assert "nothing from it was run" in str(err.value)
    assert "weights_only" not in str(err.value)  # torch's own text advised weights_only=False, which runs the code
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02" + bytes(range(120, 220)))  # a pickle header, then bytes no pickle holds
    with pytest.raises(ValueError, match="corrupt, not a torch file") as err:
        load_model(corrupt)
    assert "weights_only" not in str(err.value)


def test_saved_tensors_are_plain(tmp_path: Path) -> None:
    model = build_model("tiny").to(memory_format=torch.channels_last)
    path = tmp_path / "cl.safetensors"
    save_weights(model, path)  # channels_last parameters are written contiguous
    assert set(load_file(str(path))) == set(model.state_dict())


def test_compiled_or_ddp_prefixed_checkpoint_loads(tmp_path: Path) -> None:
    model = build_model("tiny").eval()
    path = tmp_path / "compiled.pt"
    state = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": state, "model_config": to_dict(model.config)}, path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(load_model(path)(x)[-1], model(x)[-1])
    partly = dict(model.state_dict())
    partly["module.extra"] = torch.zeros(1)  # a prefix on some keys only is not a wrapper: named as unexpected
    with pytest.raises(ValueError, match="module.extra"):
        load_state_strict(build_model("tiny"), partly)
