"""The CPM network: OpenPose's layout and parameter count, output shapes, gradients, channels_last, bf16, ONNX."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from handpose.config import ModelConfig, from_dict, to_dict
from handpose.model.cpm import PRESETS, build_model, count_parameters, preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_openpose_parameter_count_and_layer_names() -> None:
    model = build_model("openpose")
    assert count_parameters(model) == 36_832_324
    keys = set(model.state_dict())
    for name in ["conv1_1", "conv4_4", "conv5_1", "conv5_2", "conv5_3_CPM", "conv6_1_CPM", "conv6_2_CPM"]:
        assert f"{name}.weight" in keys and f"{name}.bias" in keys
    for s in range(2, 7):
        for m in range(1, 8):
            assert f"Mconv{m}_stage{s}.weight" in keys
    assert "Mconv1_stage7.weight" not in keys and "Mconv8_stage2.weight" not in keys
    sd = model.state_dict()
    assert tuple(sd["conv5_3_CPM.weight"].shape) == (128, 512, 3, 3)
    assert tuple(sd["conv6_1_CPM.weight"].shape) == (512, 128, 1, 1)  # stage 1 is 1x1 (not 3x3)
    assert tuple(sd["conv6_2_CPM.weight"].shape) == (22, 512, 1, 1)
    assert tuple(sd["Mconv1_stage2.weight"].shape) == (128, 150, 7, 7)  # 22 maps + 128 features
    assert tuple(sd["Mconv6_stage4.weight"].shape) == (128, 128, 1, 1)
    assert tuple(sd["Mconv7_stage6.weight"].shape) == (22, 128, 1, 1)
    assert len(sd) == 2 * (14 + 1 + 2 + 5 * 7)  # 14 VGG convs, conv5_3_CPM, 2 stage-1 convs, 5 x 7 Mconvs


def test_stage_input_is_previous_maps_then_features() -> None:
    """concat_stageN = [previous stage's 22 maps, conv5_3_CPM features] (OpenPose's order)."""
    model = build_model("tiny").eval()
    x = torch.randn(1, 3, 64, 64)
    seen = {}
    first = model.get_submodule("Mconv1_stage2_a")

    def keep_input(mod: torch.nn.Module, inp: tuple, out: torch.Tensor) -> None:
        seen["in"] = inp[0].clone()

    first.register_forward_hook(keep_input)
    with torch.no_grad():
        maps = model(x)
        feats = model.features(x)
    assert torch.equal(seen["in"][:, :22], maps[0])
    assert torch.equal(seen["in"][:, 22:], feats)


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_stage_shapes(name: str) -> None:
    model = build_model(name).eval()
    for size in (64, 100, 57, 96, 1):
        with torch.no_grad():
            out = model(torch.randn(2, 3, size, size + 8))
        assert len(out) == model.config.stages
        for maps in out:
            assert tuple(maps.shape) == (2, 22, math.ceil(size / 8), math.ceil((size + 8) / 8))


def test_openpose_shapes_368_and_odd() -> None:
    """Shapes on the meta device (no arithmetic): 368 -> 46, and ceil-mode pooling for sizes not divisible by 8."""
    with torch.device("meta"):
        model = build_model("openpose").eval()
        out = model(torch.empty(1, 3, 368, 368))
        assert len(out) == 6 and all(tuple(o.shape) == (1, 22, 46, 46) for o in out)
        out = model(torch.empty(1, 3, 100, 36))
        assert all(tuple(o.shape) == (1, 22, 13, 5) for o in out)


def test_openpose_small_input_shapes_and_gradients() -> None:
    model = build_model("openpose")
    out = model(torch.randn(1, 3, 20, 28))  # 20 -> 10 -> 5 -> 3 with ceil-mode pools
    assert [tuple(o.shape) for o in out] == [(1, 22, 3, 4)] * 6
    sum(o.square().mean() for o in out).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert no_grad == []


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = build_model(name).train()
    out = model(torch.randn(2, 3, 64, 64))
    loss = sum(((o - 0.1) ** 2).mean() for o in out)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


def test_tiny_training_steps_lower_the_loss() -> None:
    model = build_model("tiny").train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randn(2, 3, 96, 96), torch.rand(2, 22, 12, 12)
    losses = []
    for _ in range(4):
        loss = sum(((o - y) ** 2).mean() for o in model(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", ["tiny", "lite", pytest.param("openpose", marks=pytest.mark.slow)])
def test_channels_last_and_bf16_autocast(name: str) -> None:
    model = build_model(name).eval()
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        ref = model(x)[-1]
        cl_model = build_model(name).eval()
        cl_model.load_state_dict(model.state_dict())
        cl_model = cl_model.to(memory_format=torch.channels_last)
        cl = cl_model(x.to(memory_format=torch.channels_last))[-1]
        torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = model(x)[-1]
    assert bf.dtype == torch.bfloat16
    scale = ref.abs().max().item() + 1e-6
    assert (bf.float() - ref).abs().max().item() < 0.1 * scale


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_onnx_export_matches(name: str, tmp_path: Path) -> None:
    import onnxruntime
    model = build_model(name).eval()
    x = torch.randn(1, 3, 72, 64)
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["image"],
        output_names=[f"stage{i + 1}" for i in range(model.config.stages)],
        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}},
        opset_version=17,
        dynamo=False,
    )
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x2 = torch.randn(2, 3, 100, 60)  # another size: no shape was baked in
    got = sess.run(None, {"image": x2.numpy()})
    with torch.no_grad():
        ref = model(x2)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == tuple(r.shape) == (2, 22, 13, 8)
        assert abs(g - r.numpy()).max() < 1e-4


def test_presets_rebuild_from_config_dict() -> None:
    for name in PRESETS:
        cfg = preset(name)
        assert cfg.preset == name
        assert from_dict(ModelConfig, to_dict(cfg)) == cfg
    a = preset("lite")
    a.stages = 9
    assert PRESETS["lite"].stages != 9  # preset() hands out copies


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown model preset"):
        build_model("huge")
    with pytest.raises(ValueError, match="backbone"):
        build_model(dataclasses.replace(preset("tiny"), backbone="resnet"))
    with pytest.raises(ValueError, match="stage_kernel"):
        build_model(dataclasses.replace(preset("tiny"), stage_kernel=5))


@pytest.mark.parametrize("size", [96, 100])
def test_output_stride_4_gives_every_stage_finer_maps(size: int) -> None:
    """With output_stride 4 every stage's maps are ceil(S/4) cells (the last stage runs on 2x upsampled features),
    every parameter still learns, and the maps stay aligned with the codec's cell centres."""
    from dataclasses import replace

    from handpose.model.cpm import preset

    model = build_model(replace(preset("tiny"), output_stride=4))
    x = torch.randn(2, 3, size, size)
    outs = model(x)
    side = -(-size // 4)
    assert [tuple(o.shape) for o in outs] == [(2, 22, side, side)] * model.config.stages
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())
    # a blob seen at stride 8 lands on the same image pixel at stride 4: upsampling keeps the cell-centre convention
    from handpose.model.cpm import _up2

    coarse = torch.zeros(1, 1, 12, 12)
    coarse[0, 0, 5, 7] = 1.0  # cell (x=7, y=5) at stride 8 is pixel ((7 + 0.5) * 8 - 0.5, (5 + 0.5) * 8 - 0.5)
    fine = _up2(coarse, torch.zeros(1, 3, 96, 96))[0, 0]  # (24, 24)
    ys, xs = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    cx, cy = float((fine * xs).sum() / fine.sum()), float((fine * ys).sum() / fine.sum())
    assert abs(((cx + 0.5) * 4 - 0.5) - 59.5) < 1e-4 and abs(((cy + 0.5) * 4 - 0.5) - 43.5) < 1e-4


def test_a_stride_4_model_without_crop_settings_decodes_at_stride_4(tmp_path: Path) -> None:
    """Crop settings left out (Predictor.from_model, save_weights, export) take the model's output stride: stride-4
    maps decoded at stride 8 put every keypoint twice as far from the crop's corner."""
    from handpose.config import DataConfig
    from handpose.inference.predictor import Predictor
    from handpose.model import artifact

    model = build_model(dataclasses.replace(preset("tiny"), output_stride=4)).eval()
    predictor = Predictor.from_model(model)
    assert predictor.spec.stride == 4
    assert predictor.spec.codec(64).map_size == model(torch.zeros(1, 3, 64, 64))[-1].shape[-1]  # 16 cells
    artifact.save_weights(model, tmp_path / "s4.safetensors")  # no data config given
    assert artifact.read_data_config(tmp_path / "s4.safetensors", model.config).stride == 4
    with pytest.raises(ValueError, match="stride 8 is not the tiny model's output stride 4"):
        Predictor.from_model(model, DataConfig(input_size=64))
    artifact.save_weights(model, tmp_path / "old.safetensors", data_cfg=DataConfig(input_size=64))  # a stale stride
    assert Predictor.from_file(tmp_path / "old.safetensors").spec.stride == 4  # decoded at the model's, with a warning
