"""Text prompts: CLIP vocabulary and tokenizer ids, the RegionCLIP language-encoder key map,
official expression/class prompt text, l4p, the RefVOS consistency gate, cached class
embeddings, and the refusal to run RefVOS without a text encoder."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from univs_bench.errors import InputError
from univs_bench.models.univs import text_encoder as te
from univs_bench.models.univs.mask_decoder import l4p_masks
from univs_bench.models.univs.prompt_encoder import TextPromptEncoder
from univs_bench.models.univs.text_encoder import (
    EOT_TOKEN,
    PROMPT_TEMPLATES,
    SOT_TOKEN,
    BPETokenizer,
    CLIPTextEncoder,
    build_tokenizer,
    clean_class_name,
    clean_expression,
    default_bpe_path,
    map_official_keys,
)

KEYS_TSV = Path(__file__).parent / "data" / "regionclip_rn50x4_lang_encoder_keys.tsv"

# Facts: ids from the official tokenizer (UniVS univs/modeling/language/clip_prompt_utils.py
# SimpleTokenizer().encode, with ftfy 6.3.1 and regex, over the vocabulary file of the UniVS
# repository), run in a scratch folder.
OFFICIAL_IDS = {
    "a photo of a cat": [320, 1125, 539, 320, 2368],
    "a photo of a cat.": [320, 1125, 539, 320, 2368, 269],
    "The man on the LEFT, riding a horse!": [518, 786, 525, 518, 1823, 267, 6765, 320, 4558, 256],
    "a red circle moving to the right": [320, 736, 7117, 3584, 531, 518, 1155],
    "café 2 x-ray": [15304, 273, 343, 268, 3077],
    "the dog's toy (blue)": [518, 1929, 568, 5988, 263, 1746, 264],
    "circle.": [7117, 269],
}


def test_clip_vocabulary_is_installed_and_is_the_official_file():
    path = default_bpe_path()
    assert Path(path).name == "bpe_simple_vocab_16e6.txt.gz"
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == te.VOCAB_SHA256


@pytest.mark.parametrize("text", sorted(OFFICIAL_IDS))
def test_bpe_tokenizer_gives_the_official_ids(text):
    tok = build_tokenizer()
    assert isinstance(tok, BPETokenizer)  # the real tokenizer is the default
    assert tok.encode(text) == OFFICIAL_IDS[text]


def test_tokenizer_pads_and_truncates_as_the_official_features():
    tok = build_tokenizer()
    ids = tok(["a photo of a cat", "cat " * 100])
    assert ids.shape == (2, 77)
    assert ids[0, :8].tolist() == [SOT_TOKEN, 320, 1125, 539, 320, 2368, EOT_TOKEN, 0]
    assert (ids[0, 7:] == 0).all()
    # convert_example_to_features_bpe truncates to 77 ids, dropping the EOT
    assert ids[1, 0] == SOT_TOKEN and ids[1, -1] == 2368 and EOT_TOKEN not in ids[1].tolist()


def test_missing_vocabulary_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("UNIVS_CLIP_BPE", raising=False)
    monkeypatch.setattr(te.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps open_clip_torch"):
        default_bpe_path()


def test_official_prompt_text():
    assert len(PROMPT_TEMPLATES) == 81 and len(set(PROMPT_TEMPLATES)) == 81
    assert PROMPT_TEMPLATES[:3] == ("{}.", "a photo of a {}.", "a bad photo of a {}.")
    assert PROMPT_TEMPLATES[-1] == "a tattoo of the {}."
    # official clean_strings outputs, recorded in the same scratch run
    assert clean_expression("The man-on the LEFT (2), riding a horse!") == "the man on the left  riding a horse"
    assert clean_expression('a_b/c d-e 3 "q"') == "a b c d e  q"
    assert clean_class_name("hat/cap+shoe, (sports)") == "hat cap shoe sports"


# ---------------------------------------------------------------- RegionCLIP key map
def _official_state(prefix=""):
    g = torch.Generator().manual_seed(0)
    sd = {}
    for line in KEYS_TSV.read_text().splitlines():
        if line.startswith("#"):
            continue
        name, shape = line.split("\t")
        shape = tuple(int(x) for x in shape.strip("()").split(",") if x.strip())
        sd[prefix + name] = torch.randn(shape, generator=g)
    return sd


def test_regionclip_language_encoder_loads_with_nothing_missing_or_unexpected(tmp_path):
    sd = _official_state()
    assert len(sd) == 149
    path = tmp_path / "regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth"
    torch.save({"model": sd}, path)
    enc = CLIPTextEncoder()
    report = enc.load_official(str(path))
    assert report["loaded"] == 149
    assert report["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    own = enc.state_dict()
    assert set(own) == set(sd) and all(torch.equal(own[k], sd[k]) for k in sd)
    # a full RegionCLIP checkpoint keeps the tower under 'lang_encoder.' beside other modules
    full = {**_official_state("lang_encoder."), "backbone.stem.conv1.weight": torch.zeros(1)}
    assert set(map_official_keys({"model": full})) == set(sd)
    # anything missing or of another shape is named
    bad = dict(sd)
    del bad["ln_final.bias"]
    bad["text_projection"] = torch.zeros(640, 1024)
    with pytest.raises(ValueError, match=r"missing 1 \['ln_final.bias'\].*wrong shape 1 \['text_projection'\]"):
        CLIPTextEncoder().load_official({"model": bad})


# ---------------------------------------------------------------- prompt features
@pytest.fixture(scope="module")
def small_text():
    torch.manual_seed(0)
    enc = CLIPTextEncoder(embed_dim=12, width=16, layers=2, heads=2).eval()
    return TextPromptEncoder(enc, build_tokenizer())


def test_expression_features_follow_get_expression_prompt(small_text):
    enc, tok = small_text.text_encoder, small_text.tokenizer
    with torch.no_grad():
        words, sent = small_text.encode(["The RED circle, on the left!"])
        text = "the red circle on the left"
        full_w, full_s = enc.encode_text(tok([t.replace("{}", text) for t in PROMPT_TEMPLATES]), only_eot=False)
    assert words.shape == (1, 77, 12) and sent.shape == (1, 12)
    assert torch.allclose(words[0], full_w[0], atol=1e-5)       # all 77 tokens of "{}."
    assert torch.allclose(sent[0], full_s.mean(0), atol=1e-5)   # mean of the 81 EOT features


def test_class_features_are_mean_eot_over_templates(small_text):
    enc, tok = small_text.text_encoder, small_text.tokenizer
    emb = small_text.encode_classes(["traffic_light", "person"])
    with torch.no_grad():
        ref = enc.encode_text(tok([t.replace("{}", "traffic light") for t in PROMPT_TEMPLATES])).mean(0)
    assert emb.shape == (2, 12) and torch.allclose(emb[0], ref, atol=1e-5)


def test_cached_class_embeddings_equal_fresh_ones(small_text, tmp_path):
    from univs_bench.models.univs_zoo import class_embeddings
    names = ["circle", "square", "sky"]
    fresh = class_embeddings(small_text, names, "vspw", "ab" * 32, cache_dir=str(tmp_path))
    files = list((tmp_path / "class_embeds").iterdir())
    assert len(files) == 1 and files[0].name.startswith("abababababababab_vspw_")
    cached = class_embeddings(small_text, names, "vspw", "ab" * 32, cache_dir=str(tmp_path))
    assert torch.equal(cached, fresh) and torch.equal(fresh, small_text.encode_classes(names))
    # another benchmark (or name list) is another entry
    class_embeddings(small_text, names[:2], "vipseg", "ab" * 32, cache_dir=str(tmp_path))
    assert len(list((tmp_path / "class_embeds").iterdir())) == 2


# ---------------------------------------------------------------- l4p
def test_l4p_averages_each_prompt_mask_with_its_nearest_learnable_query():
    # 3 learnable + 2 prompt queries, T = 2; prompt 0 points like learnable 2, prompt 1 like 0
    e = torch.zeros(1, 2, 5, 4)
    e[0, :, 0, 0] = 1
    e[0, :, 1, 1] = 1
    e[0, :, 2, 2] = 1
    e[0, :, 3] = torch.tensor([0.1, 0.0, 5.0, 0.0])
    e[0, 0, 4] = torch.tensor([3.0, 1.0, 0.0, 0.0])
    e[0, 1, 4] = torch.tensor([1.0, 0.0, 0.0, 3.0])   # frame-averaged: still nearest to 0
    masks = torch.arange(5.0).view(1, 5, 1, 1, 1).expand(1, 5, 2, 2, 2).clone() * 10
    out = l4p_masks(e, masks, 3)
    assert torch.equal(out[:, :3], masks[:, :3])
    assert out[0, 3].unique().tolist() == [(30 + 20) / 2]
    assert out[0, 4].unique().tolist() == [(40 + 0) / 2]


# ---------------------------------------------------------------- RefVOS gate and refusal
def test_refvos_consistency_gate_and_slots(monkeypatch):
    """Clip 0 writes its masks; clip 1 (consistent) adds; clip 2 (embedding turned away) adds
    nothing and halves the slots it would have updated."""
    from univs_bench.models.univs import inference as inf
    from univs_bench.models.univs_zoo import UniVSTiny
    tiny = UniVSTiny(weights="random", device="cpu")
    nq = tiny.net.sem_seg_head.predictor.num_queries
    calls = []

    def fake_decode(dec, levels, mf, fidx, prompts, task, proca=True, extra_keys=None):
        t = fidx.numel()
        q = nq + len(prompts)
        emb = torch.zeros(q, t, 32)
        emb[nq:, :, 0] = -1.0 if len(calls) == 2 else 1.0
        masks = torch.full((q, t, 8, 8), float(len(calls) + 1))
        calls.append(fidx.tolist())
        return {"pred_logits": torch.zeros(q, 1), "pred_masks": masks, "pred_embds": emb, "num_prompts": len(prompts)}

    monkeypatch.setattr(inf, "decode_clip", fake_decode)
    cfg = inf.InferenceConfig.for_benchmark("refvos", "refdavis17", overrides={"clip_length": 3, "test_size": None})
    assert inf.VOS_CONSISTENCY_THRESHOLD == 0.5
    engine = inf.StreamingInference(tiny.net, cfg, text_features=tiny._text_features)
    added = []
    real = engine._accumulate
    monkeypatch.setattr(engine, "_accumulate", lambda s, tid, fr, lg: added.append((fr, float(lg.max()))) or real(s, tid, fr, lg))
    video = inf.VideoInput(32, 32, 5, load=lambda f: np.zeros((32, 32, 3), np.uint8),
                           expressions=[{"prompt_id": "0:1", "text": "the red circle"}])
    state_box = {}
    real_clip = engine._clip_refvos

    def spy(state, *a):
        real_clip(state, *a)
        state_box.setdefault("slots", []).append(state.ref_slots[0, :, 0].tolist())
    monkeypatch.setattr(engine, "_clip_refvos", spy)
    engine.run(video, "refvos")
    assert calls == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert added == [([0, 1, 2], 1.0), ([1, 2, 3], 2.0)]         # clip 2 is gated out
    s = state_box["slots"]
    assert s[0] == [1.0, 1.0, 1.0]                                # first clip: its embeddings
    assert s[1] == [1.0, 1.0, 1.0, 1.0]               # a new slot (copy of the last), then (slot + 1) / 2
    assert s[2] == [1.0, 1.0, 0.5, 0.5, 0.5]          # inconsistent: the last T slots halved


def test_official_variant_refuses_refvos_without_text_encoder():
    from types import SimpleNamespace

    from univs_bench.models.univs_zoo import UniVSR50
    model = object.__new__(UniVSR50)
    model.net = SimpleNamespace(text_prompt_encoder=None)
    with pytest.raises(InputError, match="text_encoder="):
        model.check_benchmarks([SimpleNamespace(name="davis17", task="vos"),
                                SimpleNamespace(name="refdavis17", task="refvos")])
    model.check_benchmarks([SimpleNamespace(name="davis17", task="vos")])  # no text needed
    with pytest.raises(InputError, match="text_encoder="):
        model._text_features(["the cat"], "cpu")


# ---------------------------------------------------------------- univs_tiny learns from text
def test_tiny_text_encoder_trains_on_grounding_clips():
    """univs_tiny's small encoder is part of the model: a grounding clip's loss reaches its
    token embeddings, each expression is supervised by its own object (not the category union),
    and the weights are in the state dict that checkpoints keep."""
    from univs_bench.models.univs.checkpoint import OWN_PREFIXES
    from univs_bench.registry import MODELS
    from univs_bench.train import load_config
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "univs" / "univs_tiny.py")
    cfg.model.criterion = dict(num_points=256)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert any(k.startswith(OWN_PREFIXES) for k in model.state_dict())
    t, size = 3, 64
    masks = torch.zeros(2, t, size, size, dtype=torch.bool)
    masks[0, :, 8:30, 8:30] = True
    masks[1, :, 36:60, 30:54] = True
    sample = dict(masks=masks, labels=torch.tensor([0, 0]), ids=torch.tensor([5, 9]), frame_indices=torch.arange(t),
                  task="grounding", prompt_type="text", has_class=False,
                  expressions=["the circle on the left", "the square on the right"], prompt_target=torch.tensor([1, 0]))
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 255, (t, 3, size, size), generator=g, dtype=torch.uint8)
    model.train()
    data = model.data_preprocessor({"inputs": [video], "data_samples": [sample]}, True)
    criterion = model.loss_criterion(data["inputs"], data["data_samples"])
    target = criterion._prepare_target(data["data_samples"][0])
    assert "sem_masks" not in target                      # expressions index objects, not categories
    losses = model(**data, mode="loss")
    sum(losses.values()).backward()
    grad = model.text_encoder.token_embedding.weight.grad
    used = build_tokenizer()(sample["expressions"]).unique()
    assert grad is not None and grad[used].abs().sum() > 0
    assert grad[1000].abs().sum() == 0                     # an id no expression uses


def test_frozen_encoder_features_are_cached_per_cleaned_expression(small_text, monkeypatch):
    small_text.text_encoder.requires_grad_(False)
    small_text._cache.clear()
    calls = []
    real = small_text._features
    monkeypatch.setattr(small_text, "_features", lambda *a: calls.append(1) or real(*a))
    w1, s1 = small_text.encode(["The red circle.", "the red circle", "a square"])
    assert len(calls) == 2                       # "The red circle." cleans to "the red circle"
    w2, s2 = small_text.encode(["a square"])
    assert len(calls) == 2 and torch.equal(s2[0], s1[2]) and torch.equal(w1[0], w1[1])
