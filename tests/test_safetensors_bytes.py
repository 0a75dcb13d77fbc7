"""Weights files hold the same bytes for the same weights: the safetensors header's metadata in sorted order."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open

from handpose.model import artifact
from handpose.model.cpm import build_model
from handpose.model.safetensors_bytes import stable_bytes


def test_the_same_weights_give_the_same_file_bytes(tmp_path: Path) -> None:
    """Two runs with bit-identical weights wrote model.safetensors files that differed (metadata in hash order)."""
    torch.manual_seed(0)
    model = build_model("tiny")
    meta = {f"key{i}": str(i) for i in range(8)}
    files = [tmp_path / f"w{i}.safetensors" for i in range(6)]
    for path in files:
        artifact.save_weights(model, path, metadata=meta)
    assert len({p.read_bytes() for p in files}) == 1
    loaded = load_file(str(files[0]))
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())
    with safe_open(str(files[0]), "pt") as f:
        assert f.metadata()["key3"] == "3"


def test_stable_bytes_pads_the_header_to_eight_bytes() -> None:
    from safetensors.torch import save

    data = stable_bytes(save({"x": torch.arange(3.0)}, metadata={"b": "1", "a": "22"}))
    size = int.from_bytes(data[:8], "little")
    assert size % 8 == 0
    assert data[8:8 + size].index(b'"a"') < data[8:8 + size].index(b'"b"')
