"""UniVS category-guided inference (VIS, VPS, VSS) against the official procedure
(MinghanLi/UniVS@7415d31 ``univs/inference/inference_video_entity.py``, ``comm.py``): the output
schedule, tube scores, result selection, panoptic assembly and VSS clips, checked by hand on
tiny inputs; engine behaviours with a scripted decoder whose outputs are chosen per clip."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from univs_bench.models.univs import inference as inf
from univs_bench.models.univs.inference import (
    InferenceConfig,
    StreamingInference,
    VideoInput,
    output_window_size,
    output_windows,
    panoptic_window,
    resample_operator,
    select_vis_results,
    tube_class_scores,
    tube_quality_factors,
    video_box_nms,
    window_reweight,
)
from univs_bench.models.univs_zoo import UniVSTiny

H, W = 32, 48          # tiny model: padded 32 x 64, mask grid 8 x 16 (12 columns inside the frame)
MH, MW = 8, 16


# ---------------------------------------------------------------------- pure kernels
def test_output_window_schedule():
    assert output_window_size(5) == 10 and output_window_size(3) == 10 and output_window_size(6) == 15
    starts = list(range(0, 28))                     # 32 frames, T = 5, stride 1
    assert output_windows(starts, 32, 5, 5) == {15: (0, 10), 25: (10, 20), 27: (20, 32)}
    assert output_windows(starts, 32, 5, 6) == {16: (0, 10), 26: (10, 20), 27: (20, 32)}
    # the last clip writes everything left, even when it is itself an output clip
    assert output_windows(list(range(0, 26)), 30, 5, 5) == {15: (0, 10), 25: (10, 30)}
    assert output_windows([0], 3, 5, 5) == {0: (0, 3)}


def test_window_reweight_and_tube_class_scores():
    s = torch.tensor([[0.4, 0.2], [0.0, 0.0], [0.6, 0.2]])
    # window 2 follows a blank window: half weight; the blank window stays blank
    assert torch.allclose(window_reweight(s), torch.tensor([[0.4, 0.2], [0.0, 0.0], [0.3, 0.1]]))
    # summed over the 2 non-blank windows
    assert torch.allclose(tube_class_scores(s), torch.tensor([0.35, 0.15]))
    assert torch.allclose(tube_class_scores(torch.tensor([[0.2, 0.1], [0.4, 0.3]])), torch.tensor([0.3, 0.2]))


def test_tube_quality_factor_is_relative_to_the_longest_track():
    assert tube_quality_factors([2.7, 1.2, 0.4]) == pytest.approx([0.9, 0.4, 0.4 / 3])
    assert tube_quality_factors([0.5]) == pytest.approx([0.5])
    assert tube_quality_factors([]) == []


def test_select_vis_results_keeps_n_plus_one():
    cls = [0.9, 0.04, 0.03, 0.02, 0.01, 0.004]
    # one class score above 0.05 -> n = max(int(1.5), topk); the (n+1)-th best is the cut;
    # 0.004 < 0.1 x 0.05 is never a result
    assert select_vis_results(cls, cls, topk=2) == [0, 1, 2]
    assert select_vis_results(cls, cls, topk=3) == [0, 1, 2, 3]
    assert select_vis_results(cls, cls, topk=50) == [0, 1, 2, 3, 4]
    cls = [0.9, 0.8, 0.7, 0.6, 0.01]             # 4 above -> n = 6 > topk
    assert select_vis_results(cls, cls, topk=1) == [0, 1, 2, 3, 4]
    assert select_vis_results([], [], topk=5) == []


def test_resample_operator_equals_bilinear_up_then_down():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 16)
    ref = torch.nn.functional.interpolate(
        torch.nn.functional.interpolate(x[None], size=(32, 64), mode="bilinear", align_corners=False),
        size=(8, 16), mode="bilinear", align_corners=False)[0]
    mh, mw = resample_operator(8, 32), resample_operator(16, 64)
    assert torch.allclose(torch.einsum("nhw,hH,wW->nHW", x, mh, mw), ref, atol=1e-5)


def test_box_nms_uses_the_official_box_convention():
    # official boxes end at the last column inside the mask: masks on columns 0-1 and 1-2 give
    # boxes [0, 1] and [1, 2] wide 1 that touch without overlapping -> IoU 0, both kept
    m = torch.full((2, 1, 4, 8), -1.0)
    m[0, :, :, 0:2] = 1
    m[1, :, :, 1:3] = 1
    assert sorted(video_box_nms(m, torch.tensor([0.9, 0.8]), 0.3).tolist()) == [0, 1]
    # identical one-pixel masks have zero-area boxes: IoU 0 (official quirk), both kept
    m = torch.full((2, 1, 4, 8), -1.0)
    m[:, :, 2, 3] = 1
    assert sorted(video_box_nms(m, torch.tensor([0.9, 0.8]), 0.85).tolist()) == [0, 1]
    # identical 3 x 3 masks: IoU 1, the lower-scored one dropped
    m = torch.full((2, 1, 4, 8), -1.0)
    m[:, :, 0:3, 0:3] = 1
    assert video_box_nms(m, torch.tensor([0.5, 0.8]), 0.85).tolist() == [1]


def test_panoptic_window_by_hand():
    things, stuff = {}, {}
    cls = torch.tensor([[0.8, 0.0], [0.0, 0.5]])     # entity 0: thing class 0; entity 1: stuff class 1
    # entity 0 scores 0.8 (quality 1); entity 1: quality 2/3 x 0.5 x 0.75 (stuff) = 0.25.
    # Pixel 3: entity 0 has -4, entity 1 has no prediction (logit 0, sigmoid 0.5 = foreground).
    frame = torch.tensor([[[4.0, 4.0, 2.0, -4.0]], [[-4.0, 2.0, 4.0, 0.0]]])
    (m,) = panoptic_window(lambda j: frame, 1, cls, [True, False], [10, 11], things, stuff, 0.6)
    assert m.tolist() == [[1, 1, 1, 2]] and things == {10: 1} and stuff == {1: 2}
    # next window: entity 1 is not a thing output, so still x 0.75; ids are kept
    frame = torch.tensor([[[-4.0, -4.0, 2.0, 2.0]], [[4.0, 4.0, -4.0, -4.0]]])
    (m,) = panoptic_window(lambda j: frame, 1, cls, [True, False], [10, 11], things, stuff, 0.6)
    assert m.tolist() == [[2, 2, 1, 1]]
    # a new thing numbers from the largest id + 1, plus 1 (official); a thing keeping less than
    # the overlap threshold of its own area is dropped (its pixels stay 0)
    cls3 = torch.tensor([[0.8, 0.0], [0.0, 0.5], [0.9, 0.0], [0.7, 0.0]])
    frame = torch.tensor([[[-4.0, 4.0, -4.0, -4.0]], [[-4.0, -4.0, 4.0, 4.0]], [[4.0, -4.0, -4.0, -4.0]],
                          [[4.0, 4.0, 4.0, -4.0]]])
    (m,) = panoptic_window(lambda j: frame, 1, cls3, [True, False, True, True], [10, 11, 12, 13],
                           things, stuff, 0.6)
    # pixel 0 -> 12 (0.9 x 4), pixel 1 -> 10 (0.8 x 4), pixel 2 -> 13 (0.7 x 4 > 0.375 x 4) but 13
    # keeps 1 of its 3 pixels (< 0.6): dropped, pixel 2 stays void; pixel 3 -> stuff
    assert m.tolist() == [[4, 1, 0, 2]] and things == {10: 1, 12: 4} and stuff == {1: 2}
    assert panoptic_window(lambda j: None, 2, cls[:0], [], [], {}, {}, 0.6) == [None, None]


# ---------------------------------------------------------------------- scripted decoder
@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return UniVSTiny(weights="random", device="cpu")


def frames(n):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return [np.roll(base, k, axis=1) for k in range(n)]


def video(n, **kw):
    fr = frames(n)
    kw.setdefault("class_subset", torch.arange(8))
    return VideoInput(H, W, n, load=lambda f: fr[f], **kw)


def logit(p):
    return float(np.log(p / (1 - p)))


class Script:
    """Replaces ``decode_clip``: learnable-query outputs from ``plan(frames)`` (a list of
    (class probs {class: p}, cells [(y, x) or (y, x, logit)], embedding) per query; cells default to
    logit 5, the rest of a listed query's mask is -5; queries not listed are empty (-5));
    prompt queries predict nothing (mask logits -10, zero embeddings)."""

    def __init__(self, plan, nq=10, k=40, c=32):
        self.plan, self.nq, self.k, self.c = plan, nq, k, c
        self.calls = []

    def __call__(self, dec, levels, mf, fidx, prompts=None, task="detection", proca=True, extra_keys=None):
        frames = fidx.tolist()
        self.calls.append(frames)
        t, p = len(frames), (len(prompts) if prompts is not None else 0)
        logits = torch.full((self.nq + p, self.k), -20.0)
        masks = torch.full((self.nq + p, t, MH, MW), -10.0)
        masks[:self.nq] = -5.0
        embds = torch.zeros(self.nq + p, t, self.c)
        for q, (probs, cells, emb) in enumerate(self.plan(frames)):
            for c, pr in probs.items():
                logits[q, c] = logit(pr)
            for cell in cells:
                y, x, v = (*cell, 5.0)[:3]
                masks[q, :, y, x] = v
            embds[q] = torch.as_tensor(emb, dtype=torch.float32)
        return {"pred_logits": logits, "pred_masks": masks, "pred_embds": embds, "num_prompts": p}


def onehot(i, c=32, scale=10.0):
    e = np.zeros(c)
    e[i] = scale
    return e


def cfg(**kw):
    base = {"clip_length": 3, "num_prev_frames_memory": 2, "test_size": None}
    base.update(kw)
    return InferenceConfig(**base)


def test_vis_tube_score_is_window_mean_of_class_slots_times_relative_quality(tiny, monkeypatch):
    probs = {0: 0.8, 1: 0.4, 2: 0.6}            # clip start -> class-2 probability of the one entity
    script = Script(lambda fr: [({2: probs[fr[0]]}, [(2, 2), (2, 3)], onehot(0))])
    monkeypatch.setattr(inf, "decode_clip", script)
    out = StreamingInference(tiny.net, cfg()).run(video(5), "vis")
    (t,) = out["targets"]
    # class slots: 0.8; 0.5 (0.8 + 0.4) = 0.6; 0.5 (0.6 + 0.6) = 0.6 -> one (last) window, mean 2/3
    assert float(t.tube_scores[2]) == pytest.approx(2 / 3, abs=1e-6)
    # mask quality 1 in each of the 3 clips: 3 / (floor(3) + 1)
    assert t.quality_factor == pytest.approx(0.75)
    from univs_bench.models.univs_zoo import _vis_tracks
    (track,) = _vis_tracks(out["targets"], {2: 102}, 5, topk=35)
    assert track.category == 102 and track.score == pytest.approx(0.5, abs=1e-6)
    assert script.calls == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_vis_empty_first_clip_never_creates_entities(tiny, monkeypatch):
    # official quirk: only the first clip detects without the IoU test against stored entities
    script = Script(lambda fr: [] if fr[0] == 0 else [({2: 0.9}, [(2, 2)], onehot(0))])
    monkeypatch.setattr(inf, "decode_clip", script)
    for task in ("vis", "vps"):
        out = StreamingInference(tiny.net, cfg()).run(video(6, thing_classes={2}), task)
        assert out["targets"] == [] and out["segments"] == []


def test_vis_query_matched_below_twice_the_threshold_can_be_new(tiny, monkeypatch):
    # 6 entities from clip 0; in clip 1 the same 6 embeddings (all equal) give bi-softmax
    # (1/6 + 1/6) / 2 = 1/6 for every pair: matched (> 0.1) but not above 0.2, so their masks,
    # moved away from the stored ones, make 6 new entities (VIS). VPS excludes every match.
    def plan(fr):
        row = 0 if fr[0] == 0 else 4
        return [({2: 0.9}, [(row, 2 * q), (row + 1, 2 * q)], np.ones(32)) for q in range(6)]
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(newly_threshold=0.1)).run(video(4), "vis")
    assert len(out["targets"]) == 12
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(newly_threshold=0.1, score_threshold=0.15)).run(
        video(4, thing_classes={2}), "vps")
    assert len(out["targets"]) == 6


def test_no_cap_on_the_number_of_entities(tiny, monkeypatch):
    # 10 new single-cell entities per clip (embedding orthogonal to every stored one), 12 clips
    def plan(fr):
        c = fr[0]
        return [({2: 0.9}, [divmod(c * 10 + q, MW)], onehot(c)) for q in range(10)]
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg()).run(video(14), "vis")
    assert len(out["targets"]) == 120
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(max_entities=15)).run(video(14), "vis")
    assert len(out["targets"]) == 15                 # our option, off by default


def test_vps_later_clips_take_every_query_without_nms(tiny, monkeypatch):
    # clip 0: one stuff entity (class 5); clip 1: it again plus two identical thing queries:
    # officially no NMS after the first clip, so both become entities
    def plan(fr):
        first = [({5: 0.9}, [(0, 0), (0, 1)], onehot(0))]
        if fr[0] == 0:
            return first
        dup = ({2: 0.9}, [(4, 4), (4, 5), (5, 4), (5, 5)], onehot(1))
        return first + [dup, dup]
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(score_threshold=0.15)).run(video(4, thing_classes={2}), "vps")
    assert len(out["targets"]) == 3


def test_vps_every_match_adds_masks_vis_only_above_twice_the_threshold(tiny, monkeypatch):
    # 5 entities; in clip 1 the queries share their embedding: bi-softmax (1/10 + 1/5) / 2 = 0.15
    # for VPS (all 10 queries), (1/5 + 1/5) / 2 = 0.2 for VIS (the 5 empty queries fail the
    # stability filter); both between the threshold 0.12 and twice it. VPS adds the matched masks
    # (and quality) of every match, VIS only above 2 x 0.12.
    def plan(fr):
        ents = [({2: 0.9}, [(1, 2 * q)], np.ones(32)) for q in range(5)]
        return ents + [({}, [], np.ones(32)) for _ in range(5)]
    for task, n in (("vps", 2), ("vis", 1)):
        monkeypatch.setattr(inf, "decode_clip", Script(plan))
        out = StreamingInference(tiny.net, cfg(newly_threshold=0.12, score_threshold=0.15)).run(
            video(4, thing_classes={2}), task)
        assert len(out["targets"]) == 5
        assert [t.quality_n for t in out["targets"]] == [n] * 5


def test_vps_segments_from_summed_logits_and_final_classes(tiny, monkeypatch):
    # one thing entity over 4 frames (2 clips); its segment covers its cells on every frame
    def plan(fr):
        return [({2: 0.9}, [(2, 2), (2, 3), (3, 2), (3, 3)], onehot(0))]
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(score_threshold=0.15)).run(video(4, thing_classes={2}), "vps")
    (seg,) = out["segments"]
    from univs_bench.io.rle import decode
    assert seg["id"] == 1 and seg["class"] == 2 and seg["isthing"] is True
    assert sorted(seg["masks"]) == [0, 1, 2, 3]
    m = decode(seg["masks"][1]).astype(bool)
    # cells 2-3 of the 1/4 grid = pixels 8..15; bilinear up-sampling makes the 4 corners negative
    assert m[8:16, 9:15].all() and m[9:15, 8:16].all() and m.sum() == 60 and not m[8, 8]


def test_vss_last_clip_is_truncated_and_labels_are_exclusive(tiny, monkeypatch):
    # clip 0 (frames 0-4) says class 1 everywhere, clip 1 (frames 5-6) class 3: a shifted last
    # clip would re-predict frames 2-4 with class 3 and leave class 1 on them too
    everywhere = [(y, x) for y in range(MH) for x in range(MW)]
    script = Script(lambda fr: [({1 if fr[0] == 0 else 3: 0.9}, everywhere, onehot(0))])
    monkeypatch.setattr(inf, "decode_clip", script)
    out = StreamingInference(tiny.net, cfg(clip_length=5)).run(video(7), "vss")
    assert script.calls == [[0, 1, 2, 3, 4], [5, 6]]
    from univs_bench.io.rle import decode
    assert sorted(out["semantic"]) == [1, 3]
    assert sorted(out["semantic"][1]) == [0, 1, 2, 3, 4] and sorted(out["semantic"][3]) == [5, 6]
    for f in range(7):
        cover = sum(decode(m[f]).astype(int) for m in out["semantic"].values() if f in m)
        assert (cover == 1).all()


def test_vss_quality_at_the_output_size(tiny, monkeypatch):
    # class 3's query is strong (+5) only on the padding columns (12..15 of the 1/4 grid) and weak
    # (0.9) inside the frame: quality 32/128 on the 1/4 grid, 0 at the output size (official), so
    # the weak class-1 query (0.1 x quality 1) must win every pixel
    pad = [(y, x) for y in range(MH) for x in range(12, MW)]
    inside = [(y, x, 0.9) for y in range(MH) for x in range(12)]
    everywhere = [(y, x) for y in range(MH) for x in range(MW)]

    def plan(fr):
        return [({1: 0.1}, everywhere, onehot(0)), ({3: 0.9}, pad + inside, onehot(1))]
    monkeypatch.setattr(inf, "decode_clip", Script(plan))
    out = StreamingInference(tiny.net, cfg(clip_length=3)).run(video(3), "vss")
    assert sorted(out["semantic"]) == [1]


def test_benchmark_and_backbone_settings():
    vis = InferenceConfig.for_benchmark("vis", "ytvis21")
    assert (vis.stability_threshold, vis.topk, vis.score_threshold) == (0.25, 35, 0.25)
    assert InferenceConfig.for_benchmark("vis", "ytvis21", backbone="swinl").topk == 50
    assert InferenceConfig.for_benchmark("vis", "ytvis19", backbone="swint").topk == 50
    for bb, thr in (("r50", 0.2), ("swinb", 0.2), ("swint", 0.25), ("swinl", 0.25)):
        c = InferenceConfig.for_benchmark("vis", "ovis", backbone=bb)
        assert (c.score_threshold, c.topk, c.stability_threshold) == (thr, 50, 0.25)
    assert InferenceConfig.for_benchmark("vis", "ovis", backbone="swinl", overrides={"topk": 7}).topk == 7
    assert InferenceConfig().max_entities is None
    # VSS reads no threshold: none is listed for it
    assert set(inf.TASK_DEFAULTS["vss"]) == {"test_size"}


def test_predict_video_passes_the_vis_topk(tiny, monkeypatch, tmp_path):
    from types import SimpleNamespace

    from PIL import Image

    from univs_bench.models import univs_zoo
    from univs_bench.schema import Category, DatasetMeta, VideoAnnotation, VideoInfo
    seen = {}
    real = univs_zoo._vis_tracks

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)
    monkeypatch.setattr(univs_zoo, "_vis_tracks", spy)
    names = [f"{k:05d}" for k in range(3)]
    (tmp_path / "v").mkdir()
    for name, fr in zip(names, frames(3)):
        Image.fromarray(fr).save(tmp_path / "v" / f"{name}.png")
    meta = DatasetMeta(dataset="x", task="vis", split="val", categories=[Category(id=1, name="a")],
                       root=str(tmp_path), extra={"images": "{video}/{frame}.png"})
    item = VideoAnnotation(video=VideoInfo(id="v", frames=names, height=H, width=W))
    import copy
    model = copy.copy(tiny)
    model.options = {"topk": 7, "clip_length": 2}
    model.predict_video(item, meta, SimpleNamespace(task="vis", name="synthetic_vis"))
    assert seen["topk"] == 7


def test_mask_without_a_cell_gets_the_whole_grid_only_if_no_mask_of_the_call_has_one():
    # official get_mask_prompt: cells = nearest-downsampled mask >= min(0.5, max over ALL masks of
    # the call); a 1-pixel mask off the sampled pixels has no cell: it takes the whole grid only
    # when no other mask of the same call has a cell, else it stays blank (zero tokens)
    from univs_bench.models.univs.position_encoding import PositionEmbeddingSine3D
    from univs_bench.models.univs.prompt_encoder import VisualPromptSampler
    feats = torch.arange(1 * 1 * 4 * 2 * 2, dtype=torch.float32).view(1, 1, 4, 2, 2) + 1
    small = torch.zeros(16, 16, dtype=torch.bool)
    small[3, 5] = True                       # nearest sampling reads pixels (0, 0), (0, 8), (8, 0), (8, 8)
    big = torch.zeros(16, 16, dtype=torch.bool)
    big[8:, 8:] = True                       # cell (1, 1)
    sampler = VisualPromptSampler(num_points=4, stride=8, sampling="raster")
    pe = PositionEmbeddingSine3D(2)
    tok, _, _ = sampler.encode(feats, -feats, pe, [{"regions": small[None], "kinds": ["mask"]}], 1)
    assert torch.equal(tok[0, :, 0], feats[0, 0].flatten(1).t())          # alone: the 4 cells of the grid
    tok, _, _ = sampler.encode(feats, -feats, pe, [{"regions": torch.stack([small, big]), "kinds": ["mask"] * 2}], 1)
    assert (tok[0] == 0).all()                                              # with a celled mask: blank
    assert torch.equal(tok[1, :, 0], feats[0, 0, :, 1, 1].expand(4, 4))


def test_cellless_mask_tokens_are_zero_features_at_the_official_point_code():
    # official select_points_from_box_mask: a mask pixel within a quarter of the box size of the box
    # centre (strict; boxes end at the last row/column), else any mask pixel; raster = first one
    from univs_bench.models.univs.position_encoding import PositionEmbeddingSine3D
    from univs_bench.models.univs.prompt_encoder import VisualPromptSampler, official_prompt_point
    block = torch.zeros(16, 16, dtype=torch.bool)
    block[1:6, 2:7] = True      # box x 2..6 (centre 4, width 4), y 1..5: inner pixels x in {3, 4}, y in {2, 3}
    assert official_prompt_point(block).tolist() == [3.5 / 16, 2.5 / 16]
    dot = torch.zeros(16, 16, dtype=torch.bool)
    dot[3, 5] = True            # zero-size box: no inner pixel -> the mask's own pixel
    assert official_prompt_point(dot).tolist() == [5.5 / 16, 3.5 / 16]
    big = torch.zeros(16, 16, dtype=torch.bool)
    big[8:, 8:] = True
    feats = torch.arange(4 * 2 * 2, dtype=torch.float32).view(1, 1, 4, 2, 2) + 1
    pe = PositionEmbeddingSine3D(2)
    sampler = VisualPromptSampler(num_points=3, stride=8, sampling="raster")
    tok, pos, _ = sampler.encode(feats, -feats, pe, [{"regions": torch.stack([block, big]), "kinds": ["mask"] * 2,
                                                      "frame_indices": [7]}], 1)
    assert (tok[0] == 0).all()
    want = pe.forward_points(torch.tensor([[3.5 / 16, 2.5 / 16]]), torch.tensor([7]))[0, 0]
    assert torch.allclose(pos[0, :, 0], want.expand(3, 4))


@pytest.mark.parametrize("temporal_code", ["arbitrary", "fixed"])
def test_cellless_entity_mask_takes_its_point_from_the_stored_box(tiny, monkeypatch, temporal_code):
    # official targets['boxes'] of a VIS entity: set at birth from its prediction on the 1/4 grid
    # (inclusive, / (w4, h4)), zeros for later (padded) frames; learnable matches never rewrite it.
    # Entity A = one 1/4 cell (1, 1): its summed logits (+5 / -5) upsampled x4 (bilinear) are > 0
    # on input pixels 4..7, which no 1/8 sample point (pixel 0 or 8) reads -> no cell, while
    # entity B (cells rows/columns 3-4: pixel (16, 16) reads logit 5) has one: A's tokens get the position code
    # of the official point. Stored box of A = (1/16, 1/8, 1/16, 1/8), zero size -> no pixel
    # strictly inside its centre quarter -> the first mask pixel (4, 5); the mask's own box
    # (4..7) would give pixel (5, 5).
    from univs_bench.models.univs.prompt_encoder import official_prompt_point
    script = Script(lambda fr: [({2: 0.9}, [(1, 1)], onehot(0)), ({2: 0.9}, [(3, 3), (3, 4), (4, 3), (4, 4)], onehot(1))])
    monkeypatch.setattr(inf, "decode_clip", script)
    eng = StreamingInference(tiny.net, cfg(temporal_code=temporal_code))
    calls = []
    real = eng.sampler.encode

    def spy(feats, pos, pe_layer, prompts, *a, **kw):
        out = real(feats, pos, pe_layer, prompts, *a, **kw)
        calls.append((prompts[0]["frame_indices"][0], prompts[0]["regions"], prompts[0]["boxes"], out))
        return out
    monkeypatch.setattr(eng.sampler, "encode", spy)
    eng.run(video(5), "vis")
    # clip [1, 2, 3]: frame 0 (prev-frame path, our frame index 1), frames 1, 2; clip [2, 3, 4]: 2, 3
    assert [c[0] for c in calls] == [1, 1, 2, 2, 3]
    a_box = torch.tensor([1 / 16, 1 / 8, 1 / 16, 1 / 8])
    b_box = torch.tensor([3 / 16, 3 / 8, 4 / 16, 4 / 8])
    _, regions, boxes, (tok, pos, _) = calls[1]
    assert torch.allclose(boxes, torch.stack([a_box, b_box]))
    a = regions[0]
    # bilinear weights of cell 1 on pixels 4..7: 0.625, 0.875, 0.875, 0.625; logit -5 + 10 wy wx > 0
    # needs wy wx > 0.5: the 4 x 4 block without its corners (0.625^2 = 0.39)
    corners = {(4, 4), (4, 7), (7, 4), (7, 7)}
    assert torch.nonzero(a).tolist() == [[y, x] for y in range(4, 8) for x in range(4, 8) if (y, x) not in corners]
    assert official_prompt_point(a, a_box).tolist() == [5.5 / 64, 4.5 / 32]
    assert official_prompt_point(a).tolist() == [5.5 / 64, 5.5 / 32]
    pe = eng.dec.pe_layer
    xy = torch.tensor([[5.5 / 64, 4.5 / 32]])
    if temporal_code == "fixed":     # Swin-L VIS: frame 1 is at position 0 of the 3-frame clip [1, 2, 3]
        want = pe.forward_points_fixed(xy, 0, 3)[0]
    else:                            # absolute frame index 1
        want = pe.forward_points(xy, torch.tensor([1]))[0, 0]
    assert (tok[0] == 0).all() and torch.allclose(pos[0, :, 0], want.expand_as(pos[0, :, 0]), atol=1e-6)
    # prev-frame path of clip [1, 2, 3] (frame 0's mask on the clip's frame 1 features): the
    # official point code takes key_fid_original = 1 - stride + 0 = frame 0 (FixedT: position 0)
    _, regions0, boxes0, (tok0, pos0, _) = calls[0]
    assert torch.equal(regions0[0], a) and torch.allclose(boxes0, torch.stack([a_box, b_box]))
    if temporal_code == "arbitrary":
        want = pe.forward_points(xy, torch.tensor([0]))[0, 0]
    assert (tok0[0] == 0).all() and torch.allclose(pos0[0, :, 0], want.expand_as(pos0[0, :, 0]), atol=1e-6)
    # frame 3 was born padded (zero box) and only learnable matches added masks there
    _, _, boxes3, _ = calls[4]
    assert torch.equal(boxes3, torch.zeros(2, 4))


def test_accepted_prompt_prediction_rewrites_the_stored_box_from_the_summed_masks(tiny, monkeypatch):
    # official write_prompt_predictions_into_annotations_per_clip: an accepted prompt prediction
    # rewrites the clip frames' boxes = inclusive box of (summed logits > 0) at the padded input
    # size (64 x 32), / that size. One entity on 1/4 cells rows/columns 1-2 (+5, rest -5), its
    # prompt query predicting the same: every sum keeps the sign of one prediction; upsampled x4
    # it is > 0 on pixels 4..11 (pixel 3 reads -5 + 10 x 0.375 < 0, pixel 4 -5 + 10 x 0.625 > 0)
    # -> box (4/64, 4/32, 11/64, 11/32), where the birth box is (1/16, 1/8, 2/16, 2/8).
    cells = [(1, 1), (1, 2), (2, 1), (2, 2)]
    base = Script(lambda fr: [({2: 0.9}, cells, onehot(0))])

    def script(*a, **kw):
        out = base(*a, **kw)
        nq = base.nq
        for i in range(out["num_prompts"]):
            out["pred_masks"][nq + i] = out["pred_masks"][i]
            out["pred_embds"][nq + i] = out["pred_embds"][i]
        return out
    monkeypatch.setattr(inf, "decode_clip", script)
    eng = StreamingInference(tiny.net, cfg())
    calls = []
    real = eng.sampler.encode

    def spy(feats, pos, pe_layer, prompts, *a, **kw):
        calls.append(prompts[0]["boxes"].clone())
        return real(feats, pos, pe_layer, prompts, *a, **kw)
    monkeypatch.setattr(eng.sampler, "encode", spy)
    out = eng.run(video(5), "vis")
    assert len(out["targets"]) == 1 and out["targets"][0].quality_n == 5   # birth, 2 x (prompt + match)
    birth = torch.tensor([[1 / 16, 1 / 8, 2 / 16, 2 / 8]])
    accepted = torch.tensor([[4 / 64, 4 / 32, 11 / 64, 11 / 32]])
    # clip [1, 2, 3] reads frames 0, 1, 2 (birth boxes); clip [2, 3, 4] reads 2, 3 (rewritten by
    # clip [1, 2, 3]'s accepted prediction; frame 3 was a zero box before it)
    assert len(calls) == 5
    for got, want in zip(calls, [birth, birth, birth, accepted, accepted]):
        assert torch.allclose(got, want)


def test_cellless_point_code_with_fixed_temporal_code_uses_the_clip_position():
    # official get_mask_prompt with FixedT (Swin-L VIS): the point's code is row key_fid of
    # forward_points_with_size over SAMPLING_FRAME_NUM frames: temporal (key_fid + 1) / (T + 1e-6)
    # x 2 pi, whatever the absolute frame index (ArbitraryT: the absolute index / 128 x 2 pi)
    import math

    from univs_bench.models.univs.position_encoding import PositionEmbeddingSine3D
    from univs_bench.models.univs.prompt_encoder import VisualPromptSampler
    pe = PositionEmbeddingSine3D(2)
    block = torch.zeros(16, 16, dtype=torch.bool)
    block[1:6, 2:7] = True                   # no cell; official point (3.5/16, 2.5/16), see above
    big = torch.zeros(16, 16, dtype=torch.bool)
    big[8:, 8:] = True
    feats = torch.arange(4 * 2 * 2, dtype=torch.float32).view(1, 1, 4, 2, 2) + 1
    prompt = {"regions": torch.stack([block, big]), "kinds": ["mask"] * 2, "frame_indices": [7], "clip_pos": (1, 5)}
    sampler = VisualPromptSampler(num_points=3, stride=8, sampling="raster")
    pe.fixed_t = True
    _, pos, _ = sampler.encode(feats, -feats, pe, [prompt], 1)
    # num_pos_feats 2: spatial = (sin y, cos y, sin x, cos x) (dim_t = (1, 1)); temporal over 4
    # channels: dim_t_z = 10000^(2 (i // 2) / 4) = (1, 1, 100, 100)
    ya, xa = 2.5 / 16 * 2 * math.pi, 3.5 / 16 * 2 * math.pi
    z = 2 / (5 + 1e-6) * 2 * math.pi
    want = torch.tensor([math.sin(ya), math.cos(ya), math.sin(xa), math.cos(xa)]) + \
        torch.tensor([math.sin(z), math.cos(z), math.sin(z / 100), math.cos(z / 100)])
    assert torch.allclose(pos[0, :, 0], want.expand(3, 4), atol=1e-6)
    pe.fixed_t = False
    _, pos, _ = sampler.encode(feats, -feats, pe, [prompt], 1)
    z = 7 / 128 * 2 * math.pi
    want = torch.tensor([math.sin(ya), math.cos(ya), math.sin(xa), math.cos(xa)]) + \
        torch.tensor([math.sin(z), math.cos(z), math.sin(z / 100), math.cos(z / 100)])
    assert torch.allclose(pos[0, :, 0], want.expand(3, 4), atol=1e-6)
