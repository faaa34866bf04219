"""Shapes and masks of the UniVS modules on tiny inputs (CPU, seconds)."""
import math

import pytest

torch = pytest.importorskip("torch")

from univs_bench.models.univs.backbone_resnet import ResNet
from univs_bench.models.univs.backbone_swin import SwinTransformer
from univs_bench.models.univs.mask_decoder import (
    SelfAttentionLayer,
    VideoMaskDecoder,
    build_self_attn_mask,
)
from univs_bench.models.univs.ms_deform_attn import MSDeformAttn, ms_deform_attn_core
from univs_bench.models.univs.pixel_decoder import MSDeformAttnPixelDecoder
from univs_bench.models.univs.position_encoding import (
    PositionEmbeddingSine2D,
    PositionEmbeddingSine3D,
)
from univs_bench.models.univs.prompt_encoder import (
    VisualPromptSampler,
    mean_of_nonblank,
    region_to_feature_grid,
)
from univs_bench.models.univs.text_encoder import (
    EOT_TOKEN,
    SOT_TOKEN,
    BPETokenizer,
    CLIPTextEncoder,
    HashTokenizer,
    default_bpe_path,
)
from univs_bench.models.univs.univs import UniVS, UniVSDataPreprocessor

TINY = {
    "backbone": {"type": "ResNet", "num_blocks": (1, 1, 1, 1), "stem_channels": 8, "res2_channels": 16},
    "pixel_decoder": {"conv_dim": 32, "mask_dim": 32, "num_groups": 8, "nheads": 4, "dim_feedforward": 64,
                       "enc_layers": 1, "n_points": 2},
    "mask_decoder": {"hidden_dim": 32, "num_queries": 6, "nheads": 4, "dim_feedforward": 64, "num_layers": 2,
                      "mask_dim": 32, "num_classes": 5, "text_dim": 48, "num_prompt_points": 4}}


def tiny_decoder(**kw):
    cfg = {"hidden_dim": 16, "num_queries": 3, "nheads": 2, "dim_feedforward": 32, "num_layers": 2,
               "mask_dim": 16, "num_classes": 4, "text_dim": 24, "num_prompt_points": 3}
    cfg.update(kw)
    return VideoMaskDecoder(**cfg)


# ---------------------------------------------------------------- position encodings
def test_sine_2d_values():
    pos = PositionEmbeddingSine2D(num_pos_feats=4)(torch.zeros(1, 3, 2, 2))
    assert pos.shape == (1, 8, 2, 2)
    # first channel = sin(y normalised * 2pi), y = 1/2 for row 0
    assert pos[0, 0, 0, 0].item() == pytest.approx(math.sin(0.5 / (1 + 5e-7) * 2 * math.pi), abs=1e-5)
    assert pos[0, 1, 0, 0].item() == pytest.approx(math.cos(math.pi), abs=1e-5)
    assert torch.equal(pos[0, :4, 0, 0], pos[0, :4, 0, 1])  # y code constant along x


def test_sine_3d_uses_absolute_frame_index():
    pe = PositionEmbeddingSine3D(num_pos_feats=8, num_max_frames=128)
    x = torch.zeros(1, 2, 16, 3, 3)
    a = pe(x, torch.tensor([[5, 6]]))
    b = pe(x[:, :1], torch.tensor([[5]]))
    assert a.shape == (1, 2, 16, 3, 3)
    assert torch.allclose(a[:, :1], b)
    assert not torch.allclose(a[:, 0], a[:, 1])
    spatial = PositionEmbeddingSine2D(8)(x[:, 0])
    assert torch.allclose(a[0, 0] - spatial[0], pe.temporal(torch.tensor(5.0))[:, None, None]
                          .expand(16, 3, 3), atol=1e-6)


# ---------------------------------------------------------------- deformable attention
def test_ms_deform_core_samples_pixel_centres():
    h, w, m, d = 3, 4, 2, 5
    value = torch.randn(1, h * w, m, d)
    loc = torch.tensor([(2 + 0.5) / w, (1 + 0.5) / h]).view(1, 1, 1, 1, 1, 2).expand(1, 1, m, 1, 1, 2)
    out = ms_deform_attn_core(value, [(h, w)], loc, torch.ones(1, 1, m, 1, 1))
    assert torch.allclose(out.view(m, d), value[0, 1 * w + 2])


def test_ms_deform_attn_shapes_and_names():
    attn = MSDeformAttn(d_model=16, n_levels=2, n_heads=2, n_points=3)
    names = {k.split(".")[0] for k in attn.state_dict()}
    assert names == {"sampling_offsets", "attention_weights", "value_proj", "output_proj"}
    shapes = [(4, 4), (2, 2)]
    x = torch.randn(2, 20, 16)
    out = attn(torch.randn(2, 7, 16), torch.rand(2, 7, 2, 2), x, shapes)
    assert out.shape == (2, 7, 16)
    with pytest.raises(ValueError):
        attn(torch.randn(2, 7, 16), torch.rand(2, 7, 2, 2), x[:, :19], shapes)


# ---------------------------------------------------------------- backbones, pixel decoder
def test_resnet_strides_and_frozen_bn():
    net = ResNet(num_blocks=(1, 1, 1, 1), stem_channels=8, res2_channels=16)
    feats = net(torch.randn(1, 3, 64, 96))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "res2": (1, 16, 16, 24), "res3": (1, 32, 8, 12), "res4": (1, 64, 4, 6), "res5": (1, 128, 2, 3)}
    assert "res2.0.conv2.norm.running_var" in net.state_dict()
    assert not any("norm" in n for n, _ in net.named_parameters())  # FrozenBN = buffers
    assert net.res3[0].conv2.stride == (2, 2) and net.res3[0].conv1.stride == (1, 1)


def test_swin_outputs_odd_sizes():
    net = SwinTransformer(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=3)
    feats = net(torch.randn(1, 3, 60, 44))
    assert [tuple(feats[f"res{i}"].shape) for i in range(2, 6)] == [
        (1, 8, 15, 11), (1, 16, 8, 6), (1, 32, 4, 3), (1, 64, 2, 2)]
    assert net.state_dict()["layers.0.blocks.0.attn.relative_position_index"].shape == (9, 9)


def test_pixel_decoder_levels():
    dec = MSDeformAttnPixelDecoder([16, 32, 64, 128], conv_dim=32, mask_dim=24, num_groups=8,
                                   nheads=4, dim_feedforward=64, enc_layers=1)
    feats = ResNet(num_blocks=(1, 1, 1, 1), stem_channels=8, res2_channels=16)(torch.randn(2, 3, 64, 64))
    mask_features, levels = dec(feats)
    assert mask_features.shape == (2, 24, 16, 16)
    assert [tuple(x.shape) for x in levels] == [(2, 32, 2, 2), (2, 32, 4, 4), (2, 32, 8, 8)]


# ---------------------------------------------------------------- separation mask
def test_sep_mask_blocks_exactly_cross_blocks():
    m = build_self_attn_mask(2, 2, 2, "sep")  # tokens: L0t0 L0t1 L1t0 L1t1 P0t0 P0t1 P1t0 P1t1
    expected = torch.ones(8, 8, dtype=torch.bool)
    expected[:4, :4] = False
    expected[4:, 4:] = False
    assert torch.equal(m, expected)
    blocked = build_self_attn_mask(2, 2, 2, "sep-blocked")
    expected = torch.ones(8, 8, dtype=torch.bool)
    expected[:4, :4] = False
    expected[4:6, 4:6] = False
    expected[6:8, 6:8] = False
    assert torch.equal(blocked, expected)
    assert build_self_attn_mask(2, 2, 2, "all") is None
    with pytest.raises(ValueError):
        build_self_attn_mask(2, 2, 2, "nope")


def test_sep_mask_isolates_learnable_queries_in_attention():
    torch.manual_seed(0)
    layer = SelfAttentionLayer(8, 2).eval()
    x = torch.randn(8, 1, 8)
    mask = build_self_attn_mask(2, 2, 2, "sep")
    y = x.clone()
    y[4:] += torch.randn(4, 1, 8)  # perturb prompt tokens only
    a, b = layer(x, attn_mask=mask), layer(y, attn_mask=mask)
    assert torch.allclose(a[:4], b[:4], atol=1e-6)
    assert not torch.allclose(a[4:], b[4:])
    c = layer(y, attn_mask=None)
    assert not torch.allclose(a[:4], c[:4])


# ---------------------------------------------------------------- ProCA
def test_proca_changes_prompt_queries_only():
    torch.manual_seed(0)
    dec = tiny_decoder().eval()
    nq, npmt, bt, c, r = 3, 2, 4, 16, 5
    output, qpos = torch.randn(nq + npmt, bt, c), torch.randn(nq + npmt, bt, c)
    dense, dense_pe = torch.randn(npmt, r, bt, c), torch.randn(npmt, r, bt, c)
    for i in range(2):
        out = dec.prompt_cross_attention(i, output, qpos, dense, dense_pe)
        assert out.shape == output.shape
        assert torch.equal(out[:nq], output[:nq])
        assert not torch.allclose(out[nq:], output[nq:])
    out2 = dec.prompt_cross_attention(0, output, qpos, dense + 1, dense_pe)
    assert not torch.allclose(out2[nq:], dec.prompt_cross_attention(0, output, qpos, dense, dense_pe)[nq:])
    assert torch.equal(dec.prompt_cross_attention(0, output[:nq], qpos[:nq], dense, dense_pe), output[:nq])


# ---------------------------------------------------------------- prompt encoder
def test_prompt_regions_and_sampler():
    region = torch.zeros(16, 16, dtype=torch.bool)
    region[0, 5] = True  # a one-pixel scribble touches one 8x8 cell
    assert region_to_feature_grid(region, (2, 2), 8, "scribble").tolist() == [[True, False], [False, False]]
    assert not region_to_feature_grid(region, (2, 2), 8, "mask").any()   # no sampled pixel

    feats = torch.arange(2 * 1 * 4 * 2 * 2, dtype=torch.float32).view(2, 1, 4, 2, 2) + 1
    pos = -feats
    regions = torch.zeros(2, 16, 16, dtype=torch.bool)
    regions[0, 8:, 8:] = True   # mask: bottom-right cell
    regions[1, 2, 3] = True     # point in the top-left cell, off the cell centre
    sampler = VisualPromptSampler(num_points=3, stride=8)
    videos = [{"regions": regions, "kinds": ["mask", "point"]},
              {"regions": torch.zeros(1, 16, 16, dtype=torch.bool), "kinds": ["box"]}]
    tokens, pe, valid = sampler.encode(feats, pos, PositionEmbeddingSine3D(2), videos, 1)
    assert tokens.shape == (2, 3, 2, 4) and pe.shape == (2, 3, 2, 4)
    assert valid.tolist() == [[True, True], [True, False]]
    assert torch.equal(tokens[0, :, 0], feats[0, 0, :, 1, 1].expand(3, 4))
    assert torch.equal(pe[0, :, 0], pos[0, 0, :, 1, 1].expand(3, 4))
    assert torch.equal(tokens[1, 0, 0], tokens[1, 1, 0])  # point token repeated
    assert (tokens[:, :, 1] == 0).all()  # blank box prompt -> zero tokens (padded by repetition)
    assert torch.equal(mean_of_nonblank(torch.tensor([[[2.0], [0.0], [4.0]]])), torch.tensor([[3.0]]))


# ---------------------------------------------------------------- text encoder
def test_text_encoder_and_fallback_tokenizer():
    tok = HashTokenizer()
    ids = tok(["a red car", "dog"], context_length=8)
    assert ids.shape == (2, 8) and ids[0, 0] == SOT_TOKEN and ids[0, 4] == EOT_TOKEN
    assert ids[1, 2] == EOT_TOKEN and (ids[1, 3:] == 0).all()
    assert torch.equal(tok("a red car", 8), ids[:1])  # deterministic
    torch.manual_seed(0)
    enc = CLIPTextEncoder(embed_dim=12, context_length=8, vocab_size=49408, width=16, layers=1, heads=2)
    words, sent = enc.encode_text(ids, only_eot=False)
    assert words.shape == (2, 8, 12) and sent.shape == (2, 12)
    assert torch.allclose(sent[0], words[0, 4])  # sentence = EOT token feature
    ids2 = ids.clone()
    ids2[0, 3] = 7
    w2 = enc.encode_text(ids2, only_eot=False)[0]
    assert torch.allclose(w2[0, :3], words[0, :3]) and not torch.allclose(w2[0, 3], words[0, 3])


# ---------------------------------------------------------------- full model
def test_data_preprocessor_pads_and_normalises():
    dp = UniVSDataPreprocessor(mean=(10, 20, 30), std=(2, 2, 2), size_divisibility=32)
    video = torch.full((2, 3, 40, 33), 50, dtype=torch.uint8)
    masks = torch.ones(1, 2, 40, 33, dtype=torch.bool)
    out = dp({"inputs": [video], "data_samples": [{"masks": masks}]})
    x, s = out["inputs"], out["data_samples"][0]
    assert x.shape == (1, 2, 3, 64, 64)
    assert x[0, 0, :, 0, 0].tolist() == [20.0, 15.0, 10.0] and x[0, 0, 0, 63, 63] == 0
    assert s["image_size"] == (40, 33) and s["masks"].shape == (1, 2, 64, 64)
    assert s["masks"][0, 0, 39, 32] and not s["masks"][0, 0, 40, 0]
    with pytest.raises(ValueError):
        dp({"inputs": [video, video[:1]]})


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return UniVS(**TINY).eval()


def _clip(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8, generator=g)


def test_tiny_forward_tensor_mode(tiny_model):
    data = tiny_model.data_preprocessor({"inputs": [_clip(), _clip(1)], "data_samples": None})
    with torch.no_grad():
        out = tiny_model(data["inputs"], mode="tensor")
    assert out["pred_logits"].shape == (2, 6, 5)
    assert out["pred_masks"].shape == (2, 6, 2, 16, 16)
    assert out["pred_embds"].shape == (2, 6, 2, 32)
    assert len(out["aux_outputs"]) == 2
    assert out["aux_outputs"][0]["pred_masks"].shape == (2, 6, 2, 16, 16)
    assert "pred_reid_logits" not in out  # training only
    # class logits: cosine similarity times exp(log(1/0.07))
    assert out["pred_logits"].abs().max() <= 1 / 0.07 + 1e-4


def test_tiny_prompts_sep_keeps_learnable_queries(tiny_model):
    regions = torch.zeros(2, 64, 64, dtype=torch.bool)
    regions[0, 8:40, 8:40] = True
    regions[1, 50, 20] = True
    samples = [{"task": "sot", "prompt_regions": regions, "prompt_kinds": ["mask", "point"],
                "prompt_frame": 1, "frame_indices": torch.tensor([7, 8])}]
    data = tiny_model.data_preprocessor({"inputs": [_clip()], "data_samples": samples})
    plain = tiny_model.data_preprocessor({"inputs": [_clip()],
                                          "data_samples": [{"frame_indices": torch.tensor([7, 8])}]})
    with torch.no_grad():
        out = tiny_model(**data, mode="tensor")
        ref = tiny_model(**plain, mode="tensor")
    assert out["pred_masks"].shape == (1, 8, 2, 16, 16) and out["num_prompt_queries"] == 2
    assert torch.allclose(out["pred_masks"][:, :6], ref["pred_masks"], atol=1e-5)
    # category and expression prompts
    cat = [{"prompt_labels": torch.tensor([0, 3, 4])}]
    d = tiny_model.data_preprocessor({"inputs": [_clip()], "data_samples": cat})
    with torch.no_grad():
        assert tiny_model(**d)["pred_logits"].shape == (1, 9, 5)
    exp = [{"task": "grounding", "exp_sentence_feats": torch.randn(2, 48),
            "exp_word_feats": torch.randn(2, 7, 48)}]
    d = tiny_model.data_preprocessor({"inputs": [_clip()], "data_samples": exp})
    with torch.no_grad():
        out = tiny_model(**d)
    assert out["pred_logits"].shape == (1, 8, 2) and out["num_prompt_queries"] == 2


def test_tiny_training_outputs_and_modes():
    torch.manual_seed(0)
    model = UniVS(**TINY).train()
    data = model.data_preprocessor({"inputs": [_clip()], "data_samples": None}, True)
    out = model(data["inputs"], mode="tensor")
    assert out["pred_reid_logits"].shape == (12, 12)
    out["pred_masks"].sum().backward()
    assert model.sem_seg_head.predictor.query_feat.weight.grad is not None
    with pytest.raises(NotImplementedError):
        model(data["inputs"], mode="predict")
    with pytest.raises(ValueError):
        model(data["inputs"], [{}], mode="loss")
    assert "class_text_embeds" not in " ".join(model.state_dict())


def test_sot_prompts_from_masks_are_padded_per_batch(tiny_model):
    masks = torch.zeros(2, 2, 64, 64, dtype=torch.bool)
    masks[0, :, 8:24, 8:24] = True
    masks[1, 1, 40:60, 30:50] = True  # absent on the key frame 0
    samples = [{"task": "sot", "masks": masks}, {"task": "sot", "masks": masks[:1]}]
    data = tiny_model.data_preprocessor({"inputs": [_clip(), _clip(1)], "data_samples": samples})
    with torch.no_grad():
        out = tiny_model(**data)
    assert out["num_prompts"] == 1
    assert [s["prompt_target"].tolist() for s in data["data_samples"]] == [[0], [0]]


def test_bpe_tokenizer_matches_clip_ids():
    tok = BPETokenizer(default_bpe_path())  # the vocabulary installed by `make setup`
    assert tok("a photo of a cat", 8)[0].tolist() == [SOT_TOKEN, 320, 1125, 539, 320, 2368, EOT_TOKEN, 0]


def test_mask_without_a_sampled_cell_follows_the_official_threshold():
    """get_mask_prompt thresholds cells at min(0.5, max over every mask of the call): a
    non-empty mask with no cell gets the whole grid only when no mask of the call has a cell;
    otherwise zero features at the position code of a point of the mask."""
    from univs_bench.models.univs.prompt_encoder import official_prompt_point
    feats = torch.arange(1 * 1 * 4 * 2 * 2, dtype=torch.float32).view(1, 1, 4, 2, 2) + 1
    pe_layer = PositionEmbeddingSine3D(2)
    pos = pe_layer(feats)
    a = torch.zeros(16, 16, dtype=torch.bool)
    a[8:, 8:] = True                      # covers cell (1, 1)
    b = torch.zeros(16, 16, dtype=torch.bool)
    b[2, 3] = True                        # no pixel (8i, 8j)
    sampler = VisualPromptSampler(num_points=3, stride=8)
    tok, pe, _ = sampler.encode(feats, pos, pe_layer, [{"regions": torch.stack([a, b])}], 1)
    assert torch.equal(tok[0, :, 0], feats[0, 0, :, 1, 1].expand(3, 4))
    assert (tok[1] == 0).all()
    xy = official_prompt_point(b)
    assert xy.tolist() == [3.5 / 16, 2.5 / 16]
    assert torch.allclose(pe[1, :, 0], pe_layer.forward_points(xy[None], torch.tensor([0]))[0, 0].expand(3, 4))
    tok, _, _ = sampler.encode(feats, pos, pe_layer, [{"regions": b[None]}], 1)
    assert set(tok[0, :, 0, 0].tolist()) <= {1.0, 2.0, 3.0, 4.0} and (tok[0] != 0).all()   # whole grid
