"""Our univs_r50 against the official UniVS code (tests/fixtures/official_inference).

The fixtures are official outputs (MinghanLi/UniVS@7415d31 run on the CPU by
tools/oracle/make_fixtures.py); the weights are regenerated here by the same fill rule and saved
as an official-format checkpoint. A setup passes when every object/segment is found, its mean
mask IoU over frames is >= 0.99, VIS/BURST scores are within 1e-3 and classes are identical
(tools/oracle/compare.py). Setups our inference does not reproduce yet are strict xfails whose
reason is the measured agreement: they fail (XPASS) once fixed, and are then flipped.
"""
from __future__ import annotations

import json

import pytest
import torch

from tools.oracle import compare, fill

SETUPS = compare.setups()
# Measured with the code of this branch (python -m tools.oracle.compare); see NOTES/oracle.md.
XFAIL: dict[str, str] = {  # every setup agrees: vis, vss, vps (identity draw; infent), vos, burst, pvos
    # (infvos, with infent's C14 fixes), refvos (text); a setup that stops agreeing gets a strict xfail here
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("oracle")


def test_fixtures_present():
    assert {"vos", "vis", "pvos", "vps", "vss", "burst", "refvos"} <= set(SETUPS)


@pytest.mark.parametrize("name", SETUPS)
def test_fixture_made_with_this_fill_rule(name):
    assert compare.load_setup(name)["fill_digest"] == fill.digest("r50")


def test_fill_rule_is_deterministic_and_documented():
    a = fill.fill_value("sem_seg_head.predictor.query_feat.weight", (200, 256))
    b = fill.fill_value("sem_seg_head.predictor.query_feat.weight", (200, 256))
    assert (a == b).all() and abs(float(a.std()) - 1.0) < 0.02
    assert (fill.fill_value("backbone.res2.0.conv1.norm.running_var", (64,)) == 1).all()
    assert (fill.fill_value("backbone.res2.0.conv1.norm.weight", (64,)) == 1).all()
    w = fill.fill_value("sem_seg_head.predictor.mask_embed.layers.0.weight", (256, 256))
    assert abs(float(w.std()) - 2.0 / 16) < 0.005     # SCALES: mask_embed x2, fan_in 256


def test_filled_checkpoint_loads_into_univs_r50(work):
    from univs_bench.models.univs.checkpoint import build_variant, load_official_checkpoint
    ckpt, _ = compare.write_weights(work)
    model = build_variant("r50", device="cpu", mask_decoder={"num_classes": 3938})
    rep = load_official_checkpoint(model, str(ckpt), strict=True)
    assert not rep["missing"] and not rep["unexpected"]
    sd = torch.load(str(ckpt), weights_only=True)["model"]
    k = "sem_seg_head.predictor.query_embed.weight"
    assert torch.equal(model.state_dict()[k], sd[k])


def _marks(name):
    if name in XFAIL:
        return [pytest.mark.xfail(strict=True, reason=XFAIL[name])]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in SETUPS])
def test_official_inference(name, work):
    res = compare.compare(name, compare.predict(name, work))
    assert compare.agrees(res), compare.summary(name, res) + "\n" + json.dumps(
        {k: v for k, v in res.items() if k in ("missing", "extra", "per_object_iou")})


@pytest.fixture(scope="module")
def tensor_res(work):
    return compare.tensor_mode_diffs(work)


def test_tensor_mode_learnable_queries_match_official(tensor_res):
    """The network: learnable-query outputs equal the official eval forward (issue 10)."""
    res = tensor_res
    for k in ("pred_logits/learnable", "pred_masks/learnable", "pred_embds/learnable"):
        assert compare.tensor_close(res[k]), (k, res[k])


def test_tensor_mode_prompt_queries_match_official(tensor_res):
    """Issue 10 'Done when' 3: prompt-query outputs within 1e-4 (relative to their scale)."""
    res = tensor_res
    for k in ("pred_logits/prompt", "pred_masks/prompt", "pred_embds/prompt"):
        assert compare.tensor_close(res[k]), (k, res[k])
