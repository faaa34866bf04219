"""UniVS streaming inference: memory pool, bi-softmax matching, late VOS objects, bounded
memory, ablation code paths, and an end-to-end run on a synthetic DAVIS (random tiny weights)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from univs_bench.errors import InputError
from univs_bench.models.univs import inference as inf
from univs_bench.models.univs.inference import (
    InferenceConfig,
    PromptBatch,
    StreamingInference,
    VideoInput,
    bisoftmax_match,
    clip_starts,
    consistency_similarity,
    decode_clip,
    flatten_levels,
    mask_quality,
    video_box_nms,
)
from univs_bench.models.univs.prompt_encoder import PromptSlotBuffer
from univs_bench.models.univs_zoo import UniVSTiny

H, W = 32, 48


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = UniVSTiny(weights="random", device="cpu")
    # random weights give near-zero mask logits; sharpen them so that masks and scores exist
    with torch.no_grad():
        model.net.sem_seg_head.predictor.mask_embed.layers[-1].weight.mul_(1000)
    return model


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return [np.roll(base, k, axis=1) for k in range(n)]


def square(y, x, s=10):
    r = np.zeros((H, W), dtype=bool)
    r[y:y + s, x:x + s] = True
    return r


def video(n, **kw):
    fr = frames(n)
    return VideoInput(H, W, n, load=lambda f: fr[f], **kw)


# ---------------------------------------------------------------------- small kernels
def _slots(buf):
    """The first feature of every slot's first token, per target (absolute official layout)."""
    return buf.tokens[:, :, 0, 0].tolist()


def test_slot_buffer_follows_the_official_per_frame_updates():
    # k = 2, T = 3 -> memory max(k, T) = 3 slots; R = 2 tokens of 1 channel
    buf = PromptSlotBuffer(num_prev_frames_memory=2, clip_length=3)
    tok = torch.tensor([[[1.0], [1.0]], [[0.0], [0.0]]])  # target 1 not visible on frame 0 (blank)
    buf.fill(tok, -tok)
    assert len(buf) == 3 and _slots(buf) == [[1, 1, 1], [0, 0, 0]]      # every slot = frame 0
    keys, kpe = buf.keys(torch.tensor([0, -1]))
    assert keys.shape == (2, (1 + 3) * 2, 1)                             # first slot + 3 slots
    assert keys[0, :, 0].tolist() == [1.0] * 8 and kpe[0, 0, 0] == -1.0
    content, pos = buf.frame_queries(3)
    assert content[:, :, 0].tolist() == [[1, 1, 1], [0, 0, 0]] and pos[0, 0, 0] == -1.0
    # clip 2 (frames 1..3): one blank slot, frames 1..2 re-sampled (target 0 empty on frame 2)
    buf.pad(1)
    buf.write_from(-3, torch.full((2, 2, 1), 5.0), torch.zeros(2, 2, 1), torch.tensor([True, True]))
    buf.write_from(-2, torch.full((2, 2, 1), 6.0), torch.zeros(2, 2, 1), torch.tensor([False, True]))
    # slot j = frame j; a re-sampled frame overwrites its slot and every later one
    assert _slots(buf) == [[1, 5, 5, 5], [0, 5, 6, 6]]
    keys, _ = buf.keys(torch.tensor([0, 2]))
    assert keys[0, ::2, 0].tolist() == [1, 5, 5, 5]                      # first (frame 0) + slots 1..3
    assert keys[1, ::2, 0].tolist() == [6, 5, 6, 6]                      # first index 2 = slot 2
    assert buf.keys(torch.tensor([3, 3]))[0][1, 0, 0] == 6.0            # index >= S - 1 -> last slot
    # trimming older slots changes no key: the first-appearance slot is frozen
    before = buf.keys(torch.tensor([0, 2]))[0]
    buf.pad(1)
    buf.trim(torch.tensor([0, 2]))
    assert buf.base == 2 and len(buf) == 5
    after = buf.keys(torch.tensor([0, 2]))[0]
    assert after[0, :2, 0].tolist() == [1, 1] and after[1, :2, 0].tolist() == [6, 6]
    assert torch.equal(before[:, :2], after[:, :2])


def test_bisoftmax_matches_known_targets_and_leaves_a_new_object():
    e = torch.eye(4) * 10  # well separated embeddings
    stored = torch.stack([e[0].repeat(3, 1), e[1].repeat(3, 1)])         # 2 targets, 3 frames
    current = torch.stack([e[1].repeat(2, 1), e[2].repeat(2, 1), e[0].repeat(2, 1)])  # 3 queries
    rows, cols, score = bisoftmax_match(stored, current, threshold=0.1)
    assert dict(zip(rows.tolist(), cols.tolist())) == {0: 2, 1: 0}
    assert torch.all(score > 0.9)
    # query 1 (e[2]) matches no stored target: it is the new object
    assert 1 not in cols.tolist()
    # with no stored target nothing matches
    r, c, _ = bisoftmax_match(stored[:0], current, 0.1)
    assert r.numel() == 0 and c.numel() == 0


def test_consistency_similarity_and_mask_quality():
    stored = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])  # blank entry ignored
    cur = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert consistency_similarity(stored, cur).tolist() == pytest.approx([1.0, 0.0], abs=1e-5)
    logits = torch.tensor([[[2.0, 2.0, 0.0, -5.0]]])  # >1: 2 pixels, >-1: 3 pixels
    assert mask_quality(logits).item() == pytest.approx(2 / 3)


def test_box_nms_and_clip_starts():
    m = torch.full((3, 1, 8, 8), -5.0)
    m[0, 0, :4, :4] = 5
    m[1, 0, :4, :4] = 5   # duplicate of 0, lower score
    m[2, 0, 4:, 4:] = 5
    keep = video_box_nms(m, torch.tensor([0.9, 0.5, 0.7]), 0.85)
    assert keep.tolist() == [0, 2]
    assert clip_starts(6, 5, 1) == [0, 1]
    assert clip_starts(3, 5, 1) == [0]
    assert clip_starts(12, 5, 5) == [0, 5, 7]


# ---------------------------------------------------------------------- the decoder pass
def test_decode_clip_equals_the_model_forward(tiny):
    net = tiny.net
    dec = net.sem_seg_head.predictor
    x = torch.randn(1, 3, 3, H, W)
    regions = torch.from_numpy(np.stack([square(2, 2), square(10, 20)]))
    fidx = torch.arange(3)
    with torch.no_grad():
        mf, levels = net.extract_feat(x)
        prompts = {"type": "visual", "videos": [{"regions": regions, "kinds": ["mask", "box"], "key_frame": 0}]}
        ref = dec(levels, mf, 3, task="sot", prompts=prompts, frame_indices=fidx[None])
        src, pos, sizes = flatten_levels(dec, levels, fidx)
        content, qpos, dense, dense_pe = dec.encode_prompts(src, pos, sizes, prompts, 1, 3)
        out = decode_clip(dec, levels, mf, fidx, PromptBatch(content, qpos, dense, dense_pe), "sot")
    assert torch.allclose(out["pred_masks"], ref["pred_masks"][0], atol=1e-4)
    assert torch.allclose(out["pred_logits"], ref["pred_logits"][0], atol=1e-4)
    assert out["num_prompts"] == 2


# ---------------------------------------------------------------------- VOS
def vos_objects():
    return [{"id": 1, "frame": 0, "region": square(2, 2), "kind": "mask"},
            {"id": 7, "frame": 3, "region": square(14, 30), "kind": "mask"}]


def test_late_vos_object_joins_on_its_frame(tiny):
    # the late object has the lower id: on its prompt frame its logits are the prompt and
    # the lowest positive object index takes a pixel (official save_vos_results)
    objs = [{"id": 7, "frame": 0, "region": square(2, 2), "kind": "mask"},
            {"id": 1, "frame": 3, "region": square(14, 30), "kind": "mask"}]
    engine = StreamingInference(tiny.net, InferenceConfig(clip_length=3))
    out = engine.run(video(6, objects=objs), "vos")
    by_obj = {t.obj_id: t for t in out["targets"]}
    late = by_obj[1]
    assert late.first_frame == 3
    assert all(f >= 3 for f in late.masks)  # nothing before its prompt frame
    from univs_bench.io.rle import decode
    assert np.array_equal(decode(late.masks[3]).astype(bool), square(14, 30))  # the prompt itself
    assert np.array_equal(decode(by_obj[7].masks[0]).astype(bool), square(2, 2))
    # objects compete per pixel: no pixel belongs to two objects
    for f in range(6):
        ms = [decode(t.masks[f]).astype(bool) for t in out["targets"] if f in t.masks]
        assert sum(m.astype(int) for m in ms).max(initial=0) <= 1


def test_object_prompted_in_the_last_clip_still_joins(tiny):
    objs = [{"id": 1, "frame": 0, "region": square(2, 2), "kind": "mask"},
            {"id": 2, "frame": 6, "region": square(14, 30), "kind": "box"}]
    engine = StreamingInference(tiny.net, InferenceConfig(clip_length=5))
    out = engine.run(video(8, objects=objs), "vos")
    late = next(t for t in out["targets"] if t.obj_id == 2)
    assert late.first_frame == 6 and all(f >= 6 for f in late.masks)


def test_inference_memory_does_not_grow_with_video_length(tiny):
    stats = {}
    for n in (9, 18):  # the state is full once the pools are (first + k frames)
        engine = StreamingInference(tiny.net, InferenceConfig(clip_length=3, num_prev_frames_memory=2))
        engine.run(video(n, objects=vos_objects()), "vos")
        stats[n] = engine.stats
    assert stats[9]["max_state_bytes"] == stats[18]["max_state_bytes"]
    assert stats[18]["max_pool_len"] == 1 + 3          # first-appearance slot + last max(k, T)
    assert stats[18]["max_cached_frames"] == 3          # one clip of features
    assert stats[18]["max_pending_frames"] <= 3
    assert stats[18]["clips"] == 16


# ---------------------------------------------------------------------- category tasks
def entity_cfg(**kw):
    base = {"clip_length": 3, "score_threshold": 0.0, "stability_threshold": 0.0, "newly_threshold": 0.01,
                "num_prev_frames_memory": 2}
    base.update(kw)
    return InferenceConfig(**base)


def test_vis_entities_are_detected_tracked_and_bounded(tiny):
    engine = StreamingInference(tiny.net, entity_cfg())
    out = engine.run(video(8, class_subset=torch.arange(8)), "vis")
    assert out["targets"], "the sharpened random model should find entities"
    assert engine.stats["max_pool_len"] == 1 + 3 and engine.stats["max_pending_frames"] <= 3
    assert engine.stats["proca_calls"] > 0
    t = out["targets"][0]
    k = tiny.net.sem_seg_head.predictor.class_text_embeds.shape[0]
    assert t.logit_sum.shape == (k,) and t.first_frame == 0


def test_vps_and_vss_outputs(tiny):
    engine = StreamingInference(tiny.net, entity_cfg())
    out = engine.run(video(6, class_subset=torch.arange(8), thing_classes={0, 1, 2, 3}), "vps")
    from univs_bench.io.rle import decode
    for f in range(6):  # panoptic segments never overlap
        ms = [decode(s["masks"][f]) for s in out["segments"] if f in s["masks"]]
        assert sum(m.astype(int) for m in ms).max(initial=0) <= 1
    stuff = [s["class"] for s in out["segments"] if not s["isthing"]]
    assert len(stuff) == len(set(stuff))  # one segment per stuff class
    out = StreamingInference(tiny.net, entity_cfg()).run(video(6, class_subset=torch.arange(8)), "vss")
    cover = sum(decode(m[f]).astype(int) for m in out["semantic"].values() for f in m if f == 2)
    assert (cover == 1).all()  # every pixel has exactly one class


# ---------------------------------------------------------------------- ablation switches
class Calls:
    def __init__(self, module):
        self.n = 0
        module.register_forward_hook(self)

    def __call__(self, *a):
        self.n += 1


def test_proca_switch(tiny):
    layers = tiny.net.sem_seg_head.predictor.transformer_prompt_self_attention_layers
    counters = [Calls(layer) for layer in layers]
    StreamingInference(tiny.net, InferenceConfig(clip_length=3, proca=False)).run(
        video(5, objects=vos_objects()), "vos")
    assert sum(c.n for c in counters) == 0
    StreamingInference(tiny.net, InferenceConfig(clip_length=3, proca=True)).run(
        video(5, objects=vos_objects()), "vos")
    assert sum(c.n for c in counters) > 0


def _record_decode(monkeypatch):
    seen = []
    real = inf.decode_clip

    def spy(*args, **kw):
        prompts = args[4] if len(args) > 4 else kw.get("prompts")
        seen.append((prompts is not None and len(prompts) > 0, kw.get("extra_keys") is not None))
        return real(*args, **kw)
    monkeypatch.setattr(inf, "decode_clip", spy)
    return seen


@pytest.mark.parametrize("task", ["vos", "vis"])
def test_prompt_as_queries_and_tracker_switches(tiny, monkeypatch, task):
    seen = _record_decode(monkeypatch)
    kw = {"objects": vos_objects(), "class_subset": torch.arange(8)}
    StreamingInference(tiny.net, entity_cfg()).run(video(5, **kw), task)
    assert any(p for p, _ in seen) and not any(k for _, k in seen)      # prompts as queries
    seen.clear()
    StreamingInference(tiny.net, entity_cfg(prompt_as_queries=False)).run(video(5, **kw), task)
    assert not any(p for p, _ in seen) and any(k for _, k in seen)      # prompts only as keys
    seen.clear()
    matched = []
    real = inf.cosine_match
    monkeypatch.setattr(inf, "cosine_match", lambda *a: matched.append(1) or real(*a))
    engine = StreamingInference(tiny.net, entity_cfg(tracker="similarity"))
    engine.run(video(5, **kw), task)
    assert not any(p or k for p, k in seen)                             # no prompts at all
    assert matched                                                       # frame-by-frame matching
    assert engine.stats["max_pool_len"] == 0                             # no prompt memory


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="tracker"):
        InferenceConfig(tracker="kalman")
    with pytest.raises(InputError, match="unknown UniVS option"):
        UniVSTiny(weights="random", proca_layers=3)
    cfg = InferenceConfig.for_benchmark("vis", "ovis", overrides={"proca": False})
    assert cfg.score_threshold == 0.2 and cfg.proca is False and cfg.test_size == 640
    vps = InferenceConfig.for_benchmark("vps", "vipseg")
    assert (vps.score_threshold, vps.overlap_threshold) == (0.15, 0.6)


def test_univs_tiny_without_weights_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="univs-bench train configs/univs/univs_tiny_synth.py"):
        UniVSTiny()


# ---------------------------------------------------------------------- end to end
def _synthetic_first_video(tmp_path, name: str, frames: int):
    """(converted annotation file, its first video, benchmark) of a one-video synthetic ``name``."""
    from univs_bench.benchmarks import get_benchmark
    from univs_bench.data_converters import bench_data
    from univs_bench.runner import Runner
    from univs_bench.synthetic import SynthConfig
    runner = Runner("first_frame_copy", work_dir=str(tmp_path), progress=False,
                    synth_cfg=SynthConfig(videos=1, frames=frames, size=(48, 64)))
    bench = get_benchmark(name)
    ann = runner.annotations(bench, bench_data(bench.name), runner.bench_root(bench))
    return ann, ann.data_list[0], bench


def test_predict_video_on_synthetic_davis(tmp_path, tiny):
    from univs_bench.runner import model_inputs
    ann, item, bench = _synthetic_first_video(tmp_path, "davis17", 6)
    pred = tiny.predict_video(model_inputs(item), ann.metainfo, bench)
    pred.check(ann.metainfo, prediction=True)
    prompts = {p.target: p for p in item.prompts}
    assert {t.id for t in pred.tracks} == set(prompts)
    for t in pred.tracks:
        assert t.masks[prompts[t.id].frame] is not None and t.score == 1.0
    assert tiny.last_stats["max_cached_frames"] <= 5


def test_model_predict_mode_runs_the_streaming_inference(tiny):
    x = torch.from_numpy(np.stack(frames(4))).permute(0, 3, 1, 2)
    data = tiny.net.data_preprocessor({"inputs": [x], "data_samples": [
        {"task": "sot", "objects": vos_objects()[:1], "inference_cfg": InferenceConfig(clip_length=2)}]})
    (res,) = tiny.net(data["inputs"], data["data_samples"], mode="predict")
    (target,) = res["targets"]
    assert target.obj_id == 1 and min(target.masks) == 0


@pytest.mark.parametrize("task", ["vis", "vps", "vss", "refvos"])
def test_predict_video_schema_for_category_and_text_tasks(tmp_path, tiny, task):
    import copy
    from types import SimpleNamespace

    from PIL import Image

    from univs_bench.schema import (
        Category,
        DatasetMeta,
        Prompt,
        VideoAnnotation,
        VideoInfo,
    )
    names = [f"{k:05d}" for k in range(4)]
    (tmp_path / "v").mkdir()
    for name, fr in zip(names, frames(4)):
        Image.fromarray(fr).save(tmp_path / "v" / f"{name}.png")
    cats = [Category(id=10 + k, name=f"c{k}", isthing=k < 3) for k in range(6)]
    meta = DatasetMeta(dataset="x", task=task, split="val", categories=cats, root=str(tmp_path),
                       extra={"images": "{video}/{frame}.png"})
    prompts = [Prompt(id="e0", kind="text", text="the red circle")] if task == "refvos" else []
    item = VideoAnnotation(video=VideoInfo(id="v", frames=names, height=H, width=W), prompts=prompts)
    model = copy.copy(tiny)  # same network, test thresholds
    model.options = {"score_threshold": 0.0, "stability_threshold": 0.0, "clip_length": 2}
    pred = model.predict_video(item, meta, SimpleNamespace(task=task, name="synthetic_" + task))
    pred.check(meta, prediction=True)
    if task == "refvos":
        assert [t.prompt_id for t in pred.tracks] == ["e0"]
    else:
        assert pred.tracks and all(t.category in {c.id for c in cats} for t in pred.tracks)



# ---------------------------------------------------------------------- eval-mode prompts
@pytest.mark.parametrize("t", [2, 5])
def test_eval_forward_uses_the_official_first_clip_pool(tiny, monkeypatch, t):
    """Eval mode: the ProCA keys of a mask prompt are the first clip's memory pool, the
    first-appearance slot + the last max(k, T) of T slots, every slot the key frame's R tokens:
    (1 + T) R keys (96 for T = 2, 192 for T = 5 with R = 32)."""
    dec = tiny.net.sem_seg_head.predictor
    r = dec.visual_prompt_sampler.num_points
    seen = []
    real = dec.prompt_cross_attention
    monkeypatch.setattr(dec, "prompt_cross_attention", lambda i, o, q, d, p: seen.append((d, p)) or real(i, o, q, d, p))
    regions = torch.from_numpy(np.stack([square(2, 2), square(10, 20)]))
    x = torch.randn(1, t, 3, H, W)
    with torch.no_grad():
        mf, levels = tiny.net.extract_feat(x)
        dec(levels, mf, t, task="sot", frame_indices=torch.arange(t)[None],
            prompts={"type": "visual", "videos": [{"regions": regions, "key_frame": 0}]})
        src, pos, sizes = flatten_levels(dec, levels, torch.arange(t))
        h, w = sizes[-1]
        feats = src[-1].permute(1, 2, 0).reshape(1, t, -1, h, w)
        fpos = pos[-1].permute(1, 2, 0).reshape(1, t, -1, h, w)
        tok, pe, _ = dec.visual_prompt_sampler.encode(feats, fpos, dec.pe_layer, [{"regions": regions}], t,
                                                      generator=torch.Generator().manual_seed(dec.eval_prompt_seed))
    dense, dense_pe = seen[0]
    assert dense.shape == (2, (1 + t) * r, t, dense.shape[-1])
    buf = PromptSlotBuffer(num_prev_frames_memory=5, clip_length=t)
    buf.fill(tok[:, :, 0], pe[:, :, 0])
    keys, kpe = buf.keys(torch.zeros(2, dtype=torch.long))
    assert torch.equal(dense[:, :, 0], keys) and torch.equal(dense_pe[:, :, 0], kpe)
    assert all(torch.equal(dense[:, :, j], dense[:, :, 0]) for j in range(t))


# ---------------------------------------------------------------------- defects (issue 10 item 3)
def test_no_silent_cap_on_the_number_of_targets(tiny, monkeypatch):
    """120 distinct confident entities in one clip all become targets (the official code has
    no cap; ours dropped every entity beyond 100)."""
    dec = tiny.net.sem_seg_head.predictor
    nq, k, c = 120, dec.class_text_embeds.shape[0], dec.hidden_dim
    monkeypatch.setattr(dec, "num_queries", nq)

    def fake_decode(dec_, levels, mf, fidx, prompts=None, task="detection", **kw):
        t = fidx.numel()
        q = nq + (len(prompts) if prompts is not None else 0)
        h4, w4 = mf.shape[-2:]
        masks = torch.full((q, t, h4, w4), -10.0)
        for j in range(nq):                      # one distinct cell per learnable query
            masks[j, :, j // w4, j % w4] = 10.0
        logits = torch.full((q, k), -10.0)
        logits[:, 0] = 10.0
        return {"pred_logits": logits, "pred_masks": masks, "pred_embds": torch.eye(q, c)[:, None].repeat(1, t, 1),
                "num_prompts": q - nq}
    monkeypatch.setattr(inf, "decode_clip", fake_decode)
    fr = [np.zeros((64, 64, 3), np.uint8)] * 3
    v = VideoInput(64, 64, 3, load=lambda f: fr[f], class_subset=torch.arange(4))
    out = StreamingInference(tiny.net, entity_cfg(topk=200)).run(v, "vis")
    assert len(out["targets"]) == nq


def test_pvos_defaults_hold_only_settings_the_procedure_reads():
    """PVOS runs the VOS procedure: no score/overlap/consistency threshold is read there, so
    none may appear in its defaults (they were dead entries)."""
    assert not {"score_threshold", "overlap_threshold", "consistency_threshold"} & set(inf.TASK_DEFAULTS["pvos"])
    assert not {"score_threshold", "overlap_threshold", "consistency_threshold"} & set(inf.TASK_DEFAULTS["vos"])
    assert inf.VOS_CONSISTENCY_THRESHOLD == 0.5


def test_official_variant_without_class_embeddings_is_an_error(tiny, tmp_path):
    import copy
    from types import SimpleNamespace

    from univs_bench.models.univs_zoo import load_class_embeddings
    model = copy.copy(tiny)
    model.variant, model.class_embeds = "r50", None
    with pytest.raises(InputError, match="class_embeds"):
        model.predict_video(SimpleNamespace(video=None), None, SimpleNamespace(task="vis", name="ytvis21"))
    bad = tmp_path / "emb.pth"
    torch.save({"names": ["a", "b"]}, bad)
    with pytest.raises(InputError, match=r"emb\.pth.*no tensor"):
        load_class_embeddings(str(bad))


# ---------------------------------------------------------------------- official test settings
def test_official_test_settings_per_backbone_and_benchmark():
    from univs_bench.models.univs_zoo import official_test_settings as ots
    r50 = ots("r50", "vos", "davis17")
    assert (r50["test_size"], r50["clip_length"], r50["num_prev_frames_memory"], r50["prompt_points"],
            r50["square_size"], r50["self_attn_mask_type"]) == (640, 5, 5, 256, 0, "sep")
    pv = ots("swinl", "pvos", "viposeg")          # Swin-L PVOS: k 5, 'sep-blocked', no square
    assert (pv["num_prev_frames_memory"], pv["self_attn_mask_type"], pv["square_size"]) == (5, "sep-blocked", 0)
    assert ots("swinb", "refvos", "refdavis17")["num_prev_frames_memory"] == 5
    assert ots("swinb", "vps", "vipseg")["square_size"] == 1024            # every Swin-B run
    assert ots("swint", "vis", "ovis")["square_size"] == 1024              # Swin-T VIS runs
    assert ots("swint", "vps", "vipseg")["square_size"] == 0
    assert [ots(v, t, b)["prompt_points"] for v, t, b in
            [("r50", "vis", "ytvis21"), ("r50", "vps", "vipseg"), ("r50", "pvos", "viposeg"),
             ("r50", "refvos", "refdavis17")]] == [128, 64, 256, 32]
    assert {ots(v, t, b)["test_size"] for v in ("r50", "swint", "swinb", "swinl") for t, b in
            [("vis", "ytvis21"), ("vis", "ovis"), ("vss", "vspw"), ("vps", "vipseg"), ("vos", "davis17"),
             ("pvos", "viposeg"), ("refvos", "refdavis17")]} == {640}
    mose = ots("r50", "vos", "mose")                 # no script: the YAML
    assert (mose["test_size"], mose["clip_length"], mose["num_prev_frames_memory"], mose["square_size"]) == (720, 2, 10, 1024)
    assert ots("swinb", "vos", "ytvos18")["test_size"] == 700
    assert ots("r50", "vos", "burst") == ots("r50", "vos", "davis17")   # borrowed
    cfg = InferenceConfig.for_benchmark("pvos", "viposeg", overrides=ots("swinl", "pvos", "viposeg"))
    assert cfg.self_attn_mask_type == "sep-blocked" and cfg.prompt_points == 256


def test_geometry_resize_and_square_padding(tiny):
    eng = StreamingInference(tiny.net, InferenceConfig(test_size=640))
    assert eng._geometry(480, 854) == ((640, 1139), (640, 1152))        # int(1138.67 + 0.5)
    eng = StreamingInference(tiny.net, InferenceConfig(test_size=640, square_size=1024))
    # long side capped at min(1333, 1024): 640 x 1138.67 -> 575.55 x 1024; padded to 1024 x 1024
    assert eng._geometry(480, 854) == ((576, 1024), (1024, 1024))
    # frames shrink with PIL bilinear on uint8 (antialiased), as detectron2's ResizeTransform
    from PIL import Image
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    eng = StreamingInference(tiny.net, InferenceConfig(test_size=20))
    eng.resized, eng.padded = eng._geometry(40, 60)
    x = eng._load(VideoInput(40, 60, 1, load=lambda f: img), 0)
    ref = torch.from_numpy(np.asarray(Image.fromarray(img).resize((30, 20), Image.BILINEAR))).permute(2, 0, 1).float()
    ref = (ref - eng.mean) / eng.std
    assert eng.resized == (20, 30) and torch.allclose(x[:, :20, :30], ref)


# ---------------------------------------------------------------------- the VOS/PVOS procedure
def _vos_fake(monkeypatch, dec, prompt_masks, learn=None):
    """decode_clip replaced by fixed outputs on the 8 x 8 mask grid of a 32 x 32 video:
    ``prompt_masks[clip]`` (P, 8, 8) for the prompt queries on every frame, ``learn`` a list of
    (class, (8, 8) mask) learnable queries; class logits +10 for the named class, else -10."""
    k, c = dec.class_text_embeds.shape[0], dec.hidden_dim
    learn = learn or []
    monkeypatch.setattr(dec, "num_queries", max(len(learn), 1))
    calls = []

    def fake(dec_, levels, mf, fidx, prompts=None, task="detection", **kw):
        t, nq = fidx.numel(), dec_.num_queries
        pm = prompt_masks[min(len(calls), len(prompt_masks) - 1)]
        calls.append(fidx.tolist())
        masks = torch.full((nq + pm.shape[0], t, 8, 8), -10.0)
        logits = torch.full((nq + pm.shape[0], k), -10.0)
        for q, (cls, m) in enumerate(learn):
            masks[q] = m[None]
            logits[q, cls] = 10.0
        masks[nq:] = pm[:, None]
        return {"pred_logits": logits, "pred_masks": masks, "pred_embds": torch.ones(masks.shape[0], t, c),
                "num_prompts": pm.shape[0]}
    monkeypatch.setattr(inf, "decode_clip", fake)
    return calls


def _grid(rows, cols, inside=10.0):
    m = torch.full((8, 8), -10.0)
    m[rows, cols] = inside
    return m


def _run_vos(tiny, objects, task="vos", n=3, **kw):
    from univs_bench.io.rle import decode
    v = VideoInput(32, 32, n, load=lambda f: np.zeros((32, 32, 3), np.uint8), objects=objects, **kw)
    out = StreamingInference(tiny.net, InferenceConfig(clip_length=2)).run(v, task)
    return {t.obj_id: {f: decode(m).astype(bool) for f, m in t.masks.items()} for t in out["targets"]}


def gt_square():
    r = np.zeros((32, 32), bool)
    r[:8, :8] = True
    return r


def test_vos_new_object_needs_iou_with_its_prompt(tiny, monkeypatch):
    """STEP1: the prediction on the prompt frame must overlap the prompt (IoU > 0.15 x
    min(area / 96^2, 1)); then it overwrites the following frames of the clip."""
    dec = tiny.net.sem_seg_head.predictor
    obj = [{"id": 1, "frame": 0, "region": gt_square(), "kind": "mask"}]
    empty = _grid(slice(0, 0), slice(0, 0))[None]
    _vos_fake(monkeypatch, dec, [_grid(slice(0, 2), slice(0, 2))[None], empty])   # on the prompt
    good = _run_vos(tiny, obj)[1]
    assert np.array_equal(good[0], gt_square()) and good[1].sum() > 0           # frame 1 from clip 0
    assert 2 not in good                                                         # clip 1 predicts nothing
    _vos_fake(monkeypatch, dec, [_grid(slice(4, 8), slice(4, 8))[None], empty])   # far from the prompt
    bad = _run_vos(tiny, obj)[1]
    assert np.array_equal(bad[0], gt_square()) and 1 not in bad and 2 not in bad  # rejected


def test_pvos_stuff_object_takes_its_semantic_class(tiny, monkeypatch):
    """VIPOSeg stuff: the semantic map of the learnable queries forces the object's class
    pixels on (logit 10), even where its own prompt query predicts nothing."""
    dec = tiny.net.sem_seg_head.predictor
    learn = [(2, _grid(slice(None), slice(0, 4))), (5, _grid(slice(None), slice(4, 8)))]  # class 2 left, 5 right
    obj = [{"id": 1, "frame": 0, "region": gt_square(), "kind": "mask", "class": 5}]
    empty = _grid(slice(0, 0), slice(0, 0))[None]
    kw = {"class_subset": torch.arange(8), "thing_classes": {0, 1, 2}}
    _vos_fake(monkeypatch, dec, [empty], learn)
    out = _run_vos(tiny, obj, task="pvos", **kw)[1]
    right = np.zeros((32, 32), bool)
    right[:, 16:] = True
    assert np.array_equal(out[0], gt_square())
    assert np.array_equal(out[1], right) and np.array_equal(out[2], right)
    # a thing object gets no such help, and neither does VOS
    obj[0]["class"] = 1
    _vos_fake(monkeypatch, dec, [empty], learn)
    assert set(_run_vos(tiny, obj, task="pvos", **kw)[1]) == {0}


def test_fixed_t_temporal_code_is_clip_relative():
    """'FixedT' (Swin-L VIS): frame t of a T-frame clip has temporal code (t + 1) / T * 2 pi,
    i.e. the absolute code of frame index 128 (t + 1) / T, whatever the clip's frame indices."""
    from univs_bench.models.univs.position_encoding import PositionEmbeddingSine3D
    pe = PositionEmbeddingSine3D(8)
    x = torch.zeros(1, 2, 16, 3, 4)
    absolute = pe(x, torch.tensor([[64, 128]]))
    pe.fixed_t = True
    assert torch.allclose(pe(x, torch.tensor([[7, 8]])), absolute, atol=1e-4)
    assert torch.equal(pe(x, torch.tensor([[7, 8]])), pe(x, torch.tensor([[0, 1]])))
    cfg = InferenceConfig.for_benchmark("vis", "ytvis21", overrides={"temporal_code": "fixed"})
    assert cfg.temporal_code == "fixed"


def test_token_sampling_modes():
    from univs_bench.models.univs.prompt_encoder import sample_cells
    cells = torch.zeros(4, 4, dtype=torch.bool)
    cells[1:3, 1:4] = True                                  # flat cells 5 6 7 9 10 11
    assert sample_cells(cells, 8).tolist() == [5, 6, 7, 9, 10, 11, 5, 6]          # fewer: cyclic, no randomness
    assert sample_cells(cells, 4, raster=True).tolist() == [5, 6, 7, 9]
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a, b = sample_cells(cells, 4, g1), sample_cells(cells, 4, g2)
    assert torch.equal(a, b) and set(a.tolist()) <= {5, 6, 7, 9, 10, 11} and len(set(a.tolist())) == 4


@pytest.mark.parametrize("b_cols", [6, 4])
def test_vos_tracked_objects_compete_and_keep_over_a_quarter(tiny, monkeypatch, b_cols):
    """STEP2: pixels go to the argmax of sigmoid(logit) x sim^2 x quality (ties: the lower
    index); an object keeping <= 25 % of its own predicted area contributes nothing."""
    dec = tiny.net.sem_seg_head.predictor
    a_gt, b_gt = gt_square(), np.zeros((32, 32), bool)
    b_gt[24:, 24:] = True
    objs = [{"id": 1, "frame": 0, "region": a_gt, "kind": "mask"},
            {"id": 2, "frame": 0, "region": b_gt, "kind": "mask"}]
    clip0 = torch.stack([_grid(slice(0, 2), slice(0, 2)), _grid(slice(6, 8), slice(6, 8))])
    clip1 = torch.stack([_grid(slice(None), slice(0, 4)), _grid(slice(None), slice(0, b_cols))])
    _vos_fake(monkeypatch, dec, [clip0, clip1])
    out = _run_vos(tiny, objs)

    def cols(a, b):
        m = np.zeros((32, 32), bool)
        m[:, a:b] = True
        return m
    # 4x bilinear upsampling of +-10 grid columns: A (grid cols 0-3) is > 0 on pixel columns
    # 0-15 but only equals +10 (sigmoid ~ 1) on 0-13, where a tie with B goes to A
    if b_cols == 6:   # B > 0 on columns 0-23, wins 14-23 (sigmoid(10) > sigmoid(7.5)): 10/24 kept
        assert np.array_equal(out[1][2], cols(0, 14)) and np.array_equal(out[2][2], cols(14, 24))
    else:             # B = A: A wins every tie, B keeps 0 % and is dropped
        assert np.array_equal(out[1][2], cols(0, 16)) and 2 not in out[2]


def test_burst_runs_on_its_annotated_frames_only(tmp_path, tiny, monkeypatch):
    """B2: the official BURST val json keeps only the annotated frames, so the model sees those
    (burst_all_frames=True: every frame, ours); predictions exist on annotated frames only."""
    from univs_bench.runner import model_inputs
    ann, item, bench = _synthetic_first_video(tmp_path, "burst", 8)
    annotated = item.video.annotated_frames()
    assert 0 < len(annotated) < item.video.num_frames
    loaded = []
    real = inf.StreamingInference._load
    monkeypatch.setattr(inf.StreamingInference, "_load", lambda self, v, f: loaded.append(f) or real(self, v, f))
    import copy
    model = copy.copy(tiny)
    model.options = {"clip_length": 2}
    pred = model.predict_video(model_inputs(item), ann.metainfo, bench)
    assert max(loaded) == len(annotated) - 1                     # the model's video: annotated frames
    for t in pred.tracks:
        assert all(t.masks[f] is None for f in range(item.video.num_frames) if f not in annotated)
    model.options = {"clip_length": 2, "burst_all_frames": True}
    loaded.clear()
    model.predict_video(model_inputs(item), ann.metainfo, bench)
    assert max(loaded) == item.video.num_frames - 1


def test_predict_video_on_synthetic_viposeg(tmp_path, tiny):
    """PVOS end to end with univs_tiny (its 40 classes cannot hold VIPSeg's: no semantic help,
    no error); prompts carry their object's class."""
    from univs_bench.runner import model_inputs
    ann, item, bench = _synthetic_first_video(tmp_path, "viposeg", 4)
    assert item.prompts and all(p.category is not None for p in item.prompts)
    import copy
    model = copy.copy(tiny)
    model.options = {"clip_length": 2}
    pred = model.predict_video(model_inputs(item), ann.metainfo, bench)
    pred.check(ann.metainfo, prediction=True)
    assert {t.id for t in pred.tracks} == {p.target for p in item.prompts}


def test_plain_weights_are_loaded_unless_ema_is_asked(tmp_path, tiny):
    """C22: the official test builds no EMA teacher, so `backbone_t.`/`sem_seg_head_t.` copies in
    a checkpoint are ignored and the plain weights used; ema_weights=True loads the copies."""
    sd = {k: v.clone() for k, v in tiny.net.state_dict().items() if k.startswith(("backbone.", "sem_seg_head."))}
    teacher = {k.replace("backbone.", "backbone_t.", 1).replace("sem_seg_head.", "sem_seg_head_t.", 1): v + 1
               for k, v in sd.items()}
    # univs_tiny's own trainable text encoder is saved with it (checkpoint.OWN_PREFIXES)
    sd.update({k: v.clone() for k, v in tiny.net.state_dict().items() if k.startswith("text_encoder.")})
    path = tmp_path / "official.pth"
    torch.save({"model": {**sd, **teacher}}, path)
    key = "sem_seg_head.predictor.query_feat.weight"
    plain = UniVSTiny(checkpoint=str(path), device="cpu")
    assert torch.equal(plain.net.state_dict()[key], sd[key])
    assert plain.describe()["ema_used"] is False and plain.describe()["ema_available"] is True
    ema = UniVSTiny(checkpoint=str(path), device="cpu", ema_weights=True)
    assert torch.equal(ema.net.state_dict()[key], sd[key] + 1) and ema.describe()["ema_used"] is True


def test_self_attention_mask_type_reaches_the_decoder(tiny, monkeypatch):
    """C20: the Swin-L PVOS run's 'sep-blocked' is passed to the decoder's self-attention mask."""
    dec = tiny.net.sem_seg_head.predictor
    seen = []
    real = dec.self_attn_mask
    monkeypatch.setattr(dec, "self_attn_mask", lambda *a, **k: seen.append(k.get("mask_type")) or real(*a, **k))
    StreamingInference(tiny.net, InferenceConfig(clip_length=3, self_attn_mask_type="sep-blocked")).run(
        video(4, objects=vos_objects()), "pvos")
    assert seen and set(seen) == {"sep-blocked"}
