"""Full-size UniVS variants on the meta device against the official keys, conversion and
checkpoint (re)loading under torch >= 2.6."""
import math
import pickle
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from univs_bench.models.univs.checkpoint import (
    build_variant,
    convert_checkpoint_file,
    convert_official_state_dict,
    install_mmengine_loader,
    load_checkpoint_file,
    load_official_checkpoint,
    official_key_map,
)

TSV = Path(__file__).resolve().parents[2] / "shared" / "univs_official_keys.tsv"
OFFICIAL_PARAMS_M = {"r50": 46.97, "swint": 50.42, "swinb": 109.90, "swinl": 218.47}
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "univs"


def official_keys(variant):
    if not TSV.is_file():
        pytest.skip(f"{TSV} not present")
    keys, cur = {}, None
    for line in TSV.read_text().splitlines():
        if line.startswith("## variant="):
            cur = line.split()[1].split("=")[1]
        elif line and not line.startswith("#") and cur == variant:
            k, shape = line.split("\t")
            keys[k] = tuple(int(x) for x in shape.strip("()").split(",") if x.strip())
    return keys


@pytest.fixture(scope="module", params=sorted(OFFICIAL_PARAMS_M))
def variant_model(request):
    return request.param, build_variant(request.param, device="meta")


def test_parameter_count(variant_model):
    variant, model = variant_model
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - OFFICIAL_PARAMS_M[variant]) / OFFICIAL_PARAMS_M[variant] < 0.005


def test_keys_and_shapes_equal_official(variant_model):
    variant, model = variant_model
    ref = official_keys(variant)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(ref) == {"r50": 626, "swint": 550, "swinb": 718, "swinl": 718}[variant]
    assert ours == ref


def test_official_key_map_is_identity():
    key_map = official_key_map("swint")
    assert len(key_map) == 550 and all(k == v for k, v in key_map.items())


def test_random_official_checkpoint_loads(variant_model):
    variant, model = variant_model
    ref = official_keys(variant)
    sd = {k: torch.empty(s, device="meta") for k, s in ref.items()}
    sd["criterion.empty_weight"] = torch.empty(3, device="meta")
    report = load_official_checkpoint(model, {"model": sd, "iteration": 5})
    assert report["missing"] == [] and report["unexpected"] == []
    assert report["dropped"] == ["criterion.empty_weight"] and not report["ema_used"]
    # stage-3 file: the plain weights by default (as the official test), the EMA teacher on request
    ema = {**sd, **{k.replace("backbone.", "backbone_t.", 1).replace("sem_seg_head.", "sem_seg_head_t.", 1): v
                    for k, v in sd.items() if not k.startswith("criterion")}}
    report = load_official_checkpoint(model, {"model": ema})
    assert not report["ema_used"] and report["missing"] == [] and report["unexpected"] == []
    report = load_official_checkpoint(model, {"model": ema}, use_ema=True)
    assert report["ema_used"] and report["missing"] == [] and report["unexpected"] == []
    bad = dict(sd)
    bad.pop(next(iter(ref)))
    with pytest.raises(ValueError, match="missing"):
        load_official_checkpoint(model, {"model": bad})


def test_config_files_match_variants():
    from mmengine.config import Config

    from univs_bench.registry import MODELS
    for variant in ("r50", "swint"):
        cfg = Config.fromfile(str(CONFIGS / "_base_" / f"univs_{variant}.py"))
        with torch.device("meta"):
            model = MODELS.build(cfg.model)
        ref = build_variant(variant, device="meta")
        assert {k: v.shape for k, v in model.state_dict().items()} == \
            {k: v.shape for k, v in ref.state_dict().items()}


def _tiny():
    from univs_bench.models.univs.univs import UniVS
    return UniVS(backbone={"type": "ResNet", "num_blocks": (1, 1, 1, 1), "stem_channels": 8, "res2_channels": 16},
                 pixel_decoder={"conv_dim": 16, "mask_dim": 16, "num_groups": 4, "nheads": 2,
                                    "dim_feedforward": 16, "enc_layers": 1, "n_points": 1},
                 mask_decoder={"hidden_dim": 16, "num_queries": 2, "nheads": 2, "dim_feedforward": 16,
                                   "num_layers": 1, "mask_dim": 16, "num_classes": 2, "text_dim": 8})


def test_ema_values_and_weights_only_file(tmp_path):
    torch.manual_seed(0)
    model = _tiny()
    student = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in model.state_dict().items()}
    teacher = {k: v + 1 for k, v in student.items()}
    ckpt = {"model": {**student, **{k.replace("backbone.", "backbone_t.", 1)
                                    .replace("sem_seg_head.", "sem_seg_head_t.", 1): v
                                    for k, v in teacher.items()}}}
    src = tmp_path / "model_final.pth"
    torch.save(ckpt, src)
    report = load_official_checkpoint(model, str(src))
    assert not report["ema_used"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, student[k]), k
    report = load_official_checkpoint(model, str(src), use_ema=True)
    assert report["ema_used"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, teacher[k]), k
    dst = tmp_path / "converted.pth"
    convert_checkpoint_file(src, dst)
    reloaded = torch.load(dst, weights_only=True)
    assert not reloaded["meta"]["ema_used"] and set(reloaded["state_dict"]) == set(student)
    assert all(torch.equal(reloaded["state_dict"][k], student[k]) for k in student)
    convert_checkpoint_file(src, dst, use_ema=True)
    reloaded = torch.load(dst, weights_only=True)
    assert reloaded["meta"]["ema_used"] and all(torch.equal(reloaded["state_dict"][k], teacher[k]) for k in student)


def test_detectron2_pkl_and_unsafe_pickle(tmp_path):
    np = pytest.importorskip("numpy")
    pkl = tmp_path / "model_final_94dc52.pkl"
    with open(pkl, "wb") as f:
        pickle.dump({"model": {"sem_seg_head.static_query.weight": np.ones((2, 3), np.float32)},
                     "__author__": "test"}, f)
    sd, report = convert_official_state_dict(load_checkpoint_file(pkl))
    assert list(sd) == ["sem_seg_head.query_feat.weight"] and sd["sem_seg_head.query_feat.weight"].sum() == 6
    assert report["renamed"] == [("sem_seg_head.static_query.weight", "sem_seg_head.query_feat.weight")]
    bad = tmp_path / "bad.pth"
    torch.save({"obj": pytest.approx(1.0)}, bad)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_checkpoint_file(bad)
    with pytest.warns(UserWarning):
        assert "obj" in load_checkpoint_file(bad, allow_pickle=True)


def test_mmengine_runner_save_and_resume(tmp_path):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from torch import nn
    from torch.utils.data import DataLoader

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode="tensor"):
            out = self.lin(inputs)
            return {"loss": (out ** 2).mean()} if mode == "loss" else out

    def make(iters, resume):
        return Runner(model=Tiny(), work_dir=str(tmp_path),
                      train_dataloader=DataLoader([torch.randn(2) for _ in range(4)], batch_size=2,
                                                  collate_fn=lambda b: {"inputs": torch.stack(b)}),
                      optim_wrapper={"optimizer": {"type": "SGD", "lr": 0.1}},
                      train_cfg={"by_epoch": False, "max_iters": iters},
                      default_hooks={"checkpoint": {"type": "CheckpointHook", "interval": 1,
                                                         "by_epoch": False}, "logger": None},
                      resume=resume, log_level="ERROR", default_scope="mmengine")

    install_mmengine_loader()
    runner = make(2, False)
    runner.train()
    weight = runner.model.lin.weight.detach().clone()
    resumed = make(3, True)
    resumed.load_or_resume()
    assert resumed.iter == 2 and torch.equal(resumed.model.lin.weight, weight)
    from mmengine.runner import load_checkpoint
    fresh = Tiny()
    load_checkpoint(fresh, str(tmp_path / "iter_2.pth"))
    assert torch.equal(fresh.lin.weight, weight)
    assert math.isfinite(float(weight.sum()))
