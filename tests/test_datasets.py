import collections
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from univs_bench.data_converters.vos import DAVISConverter
from univs_bench.datasets import (
    ClipLargeScaleJitter,
    ClipRandomFlip,
    ClipResizeShortSide,
    MultiDatasetSampler,
    PackVideoInputs,
    UnifiedVideoDataset,
    video_collate,
)
from univs_bench.datasets import video_dataset as vd
from univs_bench.datasets.transforms import shortest_edge_size
from univs_bench.errors import InputError
from univs_bench.io import rle
from univs_bench.io.png import write_palette_png, write_png16
from univs_bench.schema import (
    AnnotationFile,
    Category,
    DatasetMeta,
    LabelMap,
    Prompt,
    Track,
    VideoAnnotation,
    VideoInfo,
)

H, W, T = 12, 16, 6
IMAGES = "JPEGImages/{video}/{frame}.jpg"


def _box(k, f, h=H, w=W):
    """Object k on frame f: a 4x3 box moving right by one pixel per frame (k=0..2)."""
    m = np.zeros((h, w), bool)
    x = 1 + 5 * k + f % 2
    m[2 + k:6 + k, x:x + 3] = True
    return m


def _frames(root, video, n, h=H, w=W, static=False, sub="JPEGImages"):
    names = [f"{i:05d}" for i in range(n)]
    d = root / sub / video
    d.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = np.arange(w)[None] * 15           # horizontal ramp: a flip is visible
        img[..., 1] = 0 if static else (30 * i) % 256
        Image.fromarray(img).save(d / f"{name}.jpg", quality=95)
    return names


def _write(tmp, name, task, videos, categories=()):
    meta = DatasetMeta(dataset=name, task=task, split="train", categories=list(categories),
                       root=str(tmp / name), extra={"images": IMAGES})
    af = AnnotationFile(meta, videos)
    assert af.validate() == []
    path = tmp / f"{name}.json"
    af.dump(str(path))
    return str(path)


def _rle_tracks(n_obj, n, cats=None, absent=()):
    return [Track(id=k + 1, category=None if cats is None else cats[k],
                  masks=[None if (k, f) in absent else rle.encode(_box(k, f)) for f in range(n)])
            for k in range(n_obj)]


def build_suite(tmp):
    """Tiny annotation files, one per task; the VOS one through the DAVIS converter."""
    files = {}
    # vis: RLE tracks with categories, a crowd track that must not be used
    root = tmp / "vis"
    vids = []
    for v in ("v0", "v1"):
        names = _frames(root, v, T)
        tracks = _rle_tracks(2, T, cats=[1, 2])
        tracks.append(Track(id=9, category=1, masks=[rle.encode(_box(2, f)) for f in range(T)], iscrowd=True))
        vids.append(VideoAnnotation(VideoInfo(v, names, H, W), tracks))
    files["vis"] = _write(tmp, "vis", "vis", vids, [Category(1, "cat"), Category(2, "dog")])
    # vss: class label maps only (no tracks), 255 void
    root = tmp / "vss"
    names = _frames(root, "s0", T)
    lms = []
    for f in range(T):
        cls = np.zeros((H, W), np.uint8)
        cls[_box(0, f)] = 3
        cls[0, :] = 255
        write_palette_png(root / "mask" / "s0" / f"{names[f]}.png", cls)
        lms.append(LabelMap(frame=f, png=f"mask/s0/{names[f]}.png", encoding="class"))
    files["vss"] = _write(tmp, "vss", "vss", [VideoAnnotation(VideoInfo("s0", names, H, W), label_maps=lms)],
                          [Category(0, "road", isthing=False), Category(3, "car")])
    # vps: tracks referencing 16-bit panoptic PNGs (stuff 1, things 301 and 302)
    root = tmp / "vps"
    names = _frames(root, "p0", T)
    for f in range(T):
        pan = np.ones((H, W), np.uint16)
        pan[_box(0, f)] = 301
        pan[_box(1, f)] = 302
        write_png16(root / "pan" / "p0" / f"{names[f]}.png", pan)
    tracks = [Track(id=k, category=c, masks=[{"png": f"pan/p0/{n}.png", "id": k} for n in names])
              for k, c in ((1, 0), (301, 2), (302, 2))]
    files["vps"] = _write(tmp, "vps", "vps", [VideoAnnotation(VideoInfo("p0", names, H, W), tracks)],
                          [Category(0, "sky", isthing=False), Category(2, "person")])
    # vos: a DAVIS layout through the converter; object 2 appears on frame 2
    root = tmp / "davis"
    for seq in ("a", "b"):
        names = _frames(root, seq, T, sub="JPEGImages/480p")
        for f, name in enumerate(names):
            ids = np.zeros((H, W), np.uint8)
            ids[_box(0, f)] = 1
            if f >= 2:
                ids[_box(1, f)] = 2
            write_palette_png(root / "Annotations" / "480p" / seq / f"{name}.png", ids)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "train.txt").write_text("a\nb\n")
    files["vos"] = str(tmp / "davis.json")
    DAVISConverter().convert(str(root), "train", files["vos"], progress=False)
    # refvos: expressions on RLE tracks; object 2 is absent from frames 0-2
    root = tmp / "refvos"
    names = _frames(root, "r0", T)
    tracks = _rle_tracks(2, T, absent={(1, 0), (1, 1), (1, 2)})
    prompts = [Prompt("0", "text", target=1, text="the left box"),
               Prompt("1", "text", target=2, text="the box on the right"),
               Prompt("2", "text", target=1, text="a red square")]
    files["refvos"] = _write(tmp, "refvos", "refvos",
                             [VideoAnnotation(VideoInfo("r0", names, H, W), tracks, prompts=prompts)])
    # pvos: things and stuff with categories, first-frame mask prompts
    root = tmp / "pvos"
    names = _frames(root, "o0", T)
    tracks = _rle_tracks(3, T, cats=[1, 1, 2])
    prompts = [Prompt(str(t.id), "mask", target=t.id, frame=0, mask=t.masks[0]) for t in tracks]
    item = VideoAnnotation(VideoInfo("o0", names, H, W), tracks, prompts=prompts)
    files["pvos"] = _write(tmp, "pvos", "pvos", [item],
                           [Category(1, "person"), Category(2, "grass", isthing=False)])
    return files


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return build_suite(tmp_path_factory.mktemp("suite"))


def _train_pipeline(size=32):
    return [ClipRandomFlip(prob=0.5), ClipLargeScaleJitter(size=(size, size), scale_range=(0.8, 2.0)),
            PackVideoInputs(num_points=2)]


# --------------------------------------------------------------------------- dataloader
def test_dataloader_yields_clip_batches_with_prompts_for_all_six_tasks(suite):
    from mmengine.dataset import ConcatDataset
    order = ["vis", "vss", "vps", "vos", "refvos", "pvos"]
    kinds = {"vis": ("mask",), "vss": ("mask",), "vps": ("mask",), "vos": ("mask", "box"),
             "refvos": ("mask",), "pvos": ("point", "scribble")}
    datasets = [UnifiedVideoDataset(suite[t], num_frames=3, frame_range=2, pipeline=_train_pipeline(),
                                    visual_prompt_kinds=kinds[t]) for t in order]
    concat = ConcatDataset(datasets)
    sampler = MultiDatasetSampler(concat, batch_size=2, seed=3, ratios=[1] * 6, num_batches=36)
    loader = torch.utils.data.DataLoader(concat, batch_size=2, sampler=sampler, collate_fn=video_collate)
    np.random.seed(0)
    seen = collections.Counter()
    first = {}
    for batch in loader:
        tasks = {s["dataset_task"] for s in batch["data_samples"]}
        assert len(tasks) == 1  # one dataset per batch
        task = tasks.pop()
        seen[task] += 1
        first.setdefault(task, batch)
        for x, s in zip(batch["inputs"], batch["data_samples"]):
            assert x.dtype == torch.uint8 and tuple(x.shape) == (3, 3, 32, 32)
            n = s["masks"].shape[0]
            assert n > 0 and tuple(s["masks"].shape) == (n, 3, 32, 32) and s["masks"].dtype == torch.bool
            assert s["masks"].flatten(1).any(1).all()  # empty objects dropped
            assert len(s["labels"]) == len(s["ids"]) == n
            assert s["frame_indices"].shape == (3,) and (s["frame_indices"].diff() >= 0).all()
            _check_prompts(task, s, kinds[task])
    assert set(seen) == set(order)
    # the batch feeds the UniVS data preprocessor as is
    from univs_bench.models.univs.univs import UniVSDataPreprocessor
    out = UniVSDataPreprocessor(size_divisibility=32)(first["vos"], training=True)
    assert tuple(out["inputs"].shape) == (2, 3, 3, 32, 32)
    assert out["data_samples"][0]["prompt_regions"].shape[-2:] == (32, 32)


def _check_prompts(task, s, kinds):
    n = s["masks"].shape[0]
    if task in ("vis", "vss", "vps"):
        assert s["task"] == "detection" and s["prompt_type"] == "text"
        present = sorted(set(s["labels"].tolist()) - {-1})
        assert s["prompt_labels"].tolist() == present
        assert all(isinstance(nm, str) for nm in s["prompt_names"])
        want = {"vis": {1, 2}, "vss": {0, 3}, "vps": {0, 2}}[task]
        assert set(present) <= want
        if task == "vis":
            assert 9 not in s["ids"].tolist()  # crowd track unused
    elif task in ("vos", "pvos"):
        assert s["task"] == "sot" and s["prompt_type"] == "visual"
        p = len(s["prompt_kinds"])
        assert p > 0 and set(s["prompt_kinds"]) <= set(kinds) and len(set(s["prompt_kinds"])) == 1
        assert s["prompt_regions"].shape == (p, 32, 32) and s["prompt_regions"].flatten(1).any(1).all()
        key = s["prompt_frame"]
        assert (s["prompt_frames"] == key).all()
        tgt = s["prompt_target"]
        assert ((tgt >= 0) & (tgt < n)).all()
        assert s["prompt_obj_ids"].tolist() == s["ids"][tgt].tolist()
        for region, kind, t, box, pts in zip(s["prompt_regions"], s["prompt_kinds"], tgt, s["prompt_boxes"],
                                             s["prompt_points"]):
            gt = s["masks"][t, key]
            if kind == "mask":
                assert torch.equal(region, gt)
            elif kind == "box":
                ys, xs = torch.nonzero(gt, as_tuple=True)
                assert box.tolist() == [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]
            else:
                assert len(pts) >= 1
                if kind == "point":  # points are inside the target's mask
                    assert len(pts) == 2
                    assert all(gt[int(y), int(x)] for x, y in pts.tolist())
                else:
                    assert not (region & ~gt).any()  # a scribble stays inside the object
    else:
        assert s["task"] == "grounding" and s["prompt_type"] == "text"
        exps = dict(zip(s["exp_ids"], s["expressions"]))
        assert exps and set(exps) <= {"0", "1", "2"}
        tgt = s["prompt_target"]
        assert ((tgt >= 0) & (tgt < n)).all()
        assert s["exp_obj_ids"].tolist() == s["ids"][tgt].tolist()
        if 2 not in s["ids"].tolist():  # object 2 absent from the clip: its expression is not asked
            assert "1" not in exps


# --------------------------------------------------------------------------- clip sampling
def test_clip_sampling_window_annotated_frames_and_index_shift(tmp_path):
    n = 300
    names = [f"{i:05d}" for i in range(n)]
    m = rle.encode(_box(0, 0))
    item = VideoAnnotation(VideoInfo("long", names, H, W, annotated=list(range(0, n, 2))),
                           [Track(1, None, [m if i % 2 == 0 else None for i in range(n)])])
    path = _write(tmp_path, "long", "vos", [item])
    ds = UnifiedVideoDataset(path, num_frames=4, frame_range=3, sampling_interval=1)
    ds.full_init()
    np.random.seed(1)
    for _ in range(200):
        pos, idx = ds.sample_frames(150)
        assert pos == sorted(pos) and len(pos) == 4
        assert max(pos) - min(pos) <= 6  # all within frame_range of the reference
        assert idx == pos or (max(idx) <= 128 and np.all(np.diff(idx) == np.diff(pos)))
    ds2 = UnifiedVideoDataset(path, num_frames=3, frame_range=60, max_frame_index=128)
    ds2.full_init()
    shifted = 0
    for _ in range(300):
        pos, idx = ds2.sample_frames(150)
        assert 0 < max(pos) - min(pos) <= 120 and np.all(np.diff(idx) == np.diff(pos))
        if max(pos) <= 128:
            assert idx == pos
        else:  # shifted into 0..128, never below the first frame
            assert max(idx) <= 128 and min(idx) > 0
            shifted += 1
    assert shifted > 20
    # a one-frame video repeats its only frame
    assert ds.sample_frames(1) == ([0, 0, 0, 0], [0, 0, 0, 0])

    # an item decodes only its sampled frames, all of them annotated ones
    names = _frames(tmp_path / "sparse", "sp", 40)
    item = VideoAnnotation(VideoInfo("sp", names, H, W, annotated=list(range(0, 40, 2))),
                           [Track(1, None, [m if i % 2 == 0 else None for i in range(40)])])
    ds3 = UnifiedVideoDataset(_write(tmp_path, "sparse", "vos", [item]), num_frames=4, frame_range=5)
    calls = []
    orig = vd.read_frame
    vd.read_frame = lambda p: (calls.append(p), orig(p))[1]
    try:
        np.random.seed(5)
        out = ds3[0]
    finally:
        vd.read_frame = orig
    s = out["data_samples"]
    assert 1 <= len(calls) <= 4 and all(int(p[-9:-4]) % 2 == 0 for p in calls)
    assert all(int(nm) % 2 == 0 for nm in s["frame_names"]) and len(s["frame_names"]) == 4
    assert out["inputs"].shape == (4, 3, H, W) and s["masks"].shape == (1, 4, H, W)


def test_labels_for_the_model_vocabulary(suite):
    np.random.seed(0)
    s = UnifiedVideoDataset(suite["vis"], contiguous_labels=True, class_range=(40, 2))[0]["data_samples"]
    assert set(s["labels"].tolist()) <= {0, 1} and s["category_ids"] == [0, 1]
    assert s["has_class"] and s["class_range"] == (40, 2)
    s = UnifiedVideoDataset(suite["vis"], category_map={1: 7, 2: 9})[1]["data_samples"]
    assert set(s["labels"].tolist()) <= {7, 9} and s["prompt_labels"].tolist() == sorted(set(s["labels"].tolist()))
    s = UnifiedVideoDataset(suite["vos"])[0]["data_samples"]
    assert not s["has_class"] and (s["labels"] == -1).all()  # no class loss for DAVIS clips
    assert not UnifiedVideoDataset(suite["vis"], has_class=False)[0]["data_samples"]["has_class"]


# --------------------------------------------------------------------------- transforms
def test_flip_mirrors_every_frame_mask_and_prompt_of_the_clip(suite):
    def item(prob):
        ds = UnifiedVideoDataset(suite["vos"], num_frames=4, frame_range=3, visual_prompt_kinds=("box",),
                                 pipeline=[ClipRandomFlip(prob=prob), PackVideoInputs()])
        np.random.seed(11)
        return ds[1]
    a, b = item(0.0), item(1.0)
    sa, sb = a["data_samples"], b["data_samples"]
    assert not sa["flip"] and sb["flip"] and sb["flip_direction"] == "horizontal"
    assert sa["frame_names"] == sb["frame_names"]
    assert torch.equal(b["inputs"], a["inputs"].flip(-1))
    assert torch.equal(sb["masks"], sa["masks"].flip(-1))  # every object, every frame
    assert torch.equal(sb["prompt_regions"], sa["prompt_regions"].flip(-1))
    x1, y1, x2, y2 = sa["prompt_boxes"].unbind(1)
    assert torch.equal(sb["prompt_boxes"], torch.stack([W - x2, y1, W - x1, y2], 1))


def test_random_parameters_are_shared_by_all_frames(tmp_path):
    names = _frames(tmp_path / "static", "s", 4, static=True)
    tracks = [Track(1, 1, [rle.encode(_box(0, 0))] * 4), Track(2, 1, [rle.encode(_box(1, 0))] * 4)]
    path = _write(tmp_path, "static", "vis", [VideoAnnotation(VideoInfo("s", names, H, W), tracks)],
                  [Category(1, "cat")])
    ds = UnifiedVideoDataset(path, num_frames=4, frame_range=3, pipeline=_train_pipeline(24))
    flips, scales = set(), []
    for seed in range(12):
        np.random.seed(seed)
        out = ds[0]
        x, s = out["inputs"], out["data_samples"]
        assert all(torch.equal(x[0], x[t]) for t in range(4))  # identical frames stay identical
        assert all(torch.equal(s["masks"][:, 0], s["masks"][:, t]) for t in range(4))
        assert x.shape == (4, 3, 24, 24)
        vh, vw = s["valid_shape"]
        assert not x[:, :, vh:].any() and not x[:, :, :, vw:].any()  # padding is 0
        flips.add(s["flip"])
        scales.append(s["lsj_scale"])
        # the ramp in the red channel runs the other way when flipped
        row = x[0, 0, 0, :vw].float()
        assert (row[-1] < row[0]) == s["flip"]
    assert flips == {True, False} and len(set(scales)) == 12


def test_short_side_resize_follows_detectron2_rounding():
    assert shortest_edge_size(480, 854, 800, 1333) == (749, 1333)
    assert shortest_edge_size(720, 1280, 512, 1333) == (512, 910)
    assert shortest_edge_size(100, 50, 20, 1000) == (40, 20)
    res = {"imgs": np.zeros((2, 10, 20, 3), np.uint8), "gt_masks": np.ones((1, 2, 10, 20), bool),
           "img_shape": (10, 20), "prompts": [{"kind": "box", "box": [2, 2, 6, 4]},
                                              {"kind": "point", "points": [[5.5, 5.5]]}]}
    out = ClipResizeShortSide(short=20, max_size=100)(res)
    assert out["imgs"].shape == (2, 20, 40, 3) and out["gt_masks"].shape == (1, 2, 20, 40)
    assert out["prompts"][0]["box"] == [4, 4, 12, 8] and out["prompts"][1]["points"] == [[11.0, 11.0]]
    assert out["scale_factor"] == (2.0, 2.0)


def test_lsj_crop_and_pad_geometry():
    res = {"imgs": np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3),
           "gt_masks": np.zeros((1, 2, 8, 8), bool), "img_shape": (8, 8),
           "prompts": [{"kind": "point", "points": [[1.5, 1.5], [7.5, 7.5]]}]}
    res["gt_masks"][0, :, 6:, 6:] = True
    np.random.seed(0)
    out = ClipLargeScaleJitter(size=(4, 4), scale_range=(1.0, 1.0))(res)  # fit 8x8 into 4x4: half size
    assert out["imgs"].shape == (2, 4, 4, 3) and out["gt_masks"][0, :, 3, 3].all()
    np.random.seed(0)
    res2 = {"imgs": np.ones((1, 8, 8, 3), np.uint8), "img_shape": (8, 8),
            "prompts": [{"kind": "point", "points": [[1.5, 1.5], [7.5, 7.5]]}]}
    out = ClipLargeScaleJitter(size=(8, 8), scale_range=(0.5, 0.5))(res2)  # shrink to 4x4, pad to 8x8
    assert out["imgs"].shape == (1, 8, 8, 3) and out["valid_shape"] == (4, 4)
    assert out["imgs"][0, :4, :4].all() and not out["imgs"][0, 4:].any()
    assert out["prompts"][0]["points"] == [[0.75, 0.75], [3.75, 3.75]]
    res3 = {"imgs": np.ones((1, 8, 8, 3), np.uint8), "img_shape": (8, 8),
            "prompts": [{"kind": "point", "points": [[0.5, 0.5], [7.5, 7.5]]}]}
    np.random.seed(1)
    out = ClipLargeScaleJitter(size=(4, 4), scale_range=(2.0, 2.0))(res3)  # no resize, crop 4x4
    y0, x0 = out["crop_offset"]
    assert y0 == x0  # one offset fraction for both axes, as UniVS
    assert out["imgs"].shape == (1, 4, 4, 3) and len(out["prompts"][0]["points"]) <= 1


# --------------------------------------------------------------------------- sampler
class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def test_sampler_batches_come_from_one_dataset_with_the_given_ratios():
    concat = torch.utils.data.ConcatDataset([_Sized(5), _Sized(20), _Sized(7)])
    s = MultiDatasetSampler(concat, batch_size=3, ratios=[1, 2, 5], seed=7, num_batches=4000)
    batches = list(s.batches())
    assert len(batches) == 4000 and len(s) == 12000
    counts = collections.Counter()
    for d, idx in batches:
        assert len(idx) == 3 and {s.dataset_of(i) for i in idx} == {d}
        counts[d] += 1
    for d, r in enumerate([1 / 8, 2 / 8, 5 / 8]):
        assert abs(counts[d] / 4000 - r) < 0.03
    flat = list(s)
    assert flat == [i for _, idx in batches for i in idx]
    # runs of batch_size consecutive indices (what the DataLoader batches) stay in one dataset
    assert all(len({s.dataset_of(i) for i in flat[k:k + 3]}) == 1 for k in range(0, len(flat), 3))
    # deterministic by seed; a new epoch reshuffles
    assert list(MultiDatasetSampler(concat, 3, [1, 2, 5], seed=7, num_batches=4000)) == flat
    s.set_epoch(1)
    assert list(s) != flat
    # every item of a dataset is used before any repeats
    first = [i for d, idx in batches if d == 2 for i in idx][:7]
    assert sorted(first) == list(range(25, 32))
    # default ratios follow the dataset sizes
    c = collections.Counter(d for d, _ in MultiDatasetSampler(concat, 1, seed=0, num_batches=6400).batches())
    assert abs(c[1] / 6400 - 20 / 32) < 0.03


def test_sampler_ranks_agree_on_the_dataset_and_split_the_batch():
    concat = torch.utils.data.ConcatDataset([_Sized(6), _Sized(10)])
    r0 = list(MultiDatasetSampler(concat, 2, [1, 1], seed=1, num_batches=50, rank=0, world_size=2).batches())
    r1 = list(MultiDatasetSampler(concat, 2, [1, 1], seed=1, num_batches=50, rank=1, world_size=2).batches())
    assert [d for d, _ in r0] == [d for d, _ in r1]
    for (_, a), (_, b) in zip(r0[:1], r1[:1]):
        assert not set(a) & set(b)
    infinite = MultiDatasetSampler(concat, 2, seed=1, infinite=True)
    it = iter(infinite)
    assert len([next(it) for _ in range(1000)]) == 1000
    with pytest.raises(ValueError, match="ratios"):
        MultiDatasetSampler(concat, 2, [1, 1, 1], seed=0)


# --------------------------------------------------------------------------- video mode
def test_video_mode_yields_the_whole_video_with_the_file_prompts(suite):
    from univs_bench.registry import DATASETS
    ds = DATASETS.build(dict(type="UnifiedVideoDataset", ann_file=suite["vos"], mode="video"))
    assert len(ds) == 2 and ds.metainfo["task"] == "vos"
    out = ds[0]
    x, s = out["inputs"], out["data_samples"]
    assert x.shape == (T, 3, H, W) and s["frame_names"] == [f"{i:05d}" for i in range(T)]
    assert s["frame_indices"].tolist() == list(range(T)) and len(s["frame_paths"]) == T
    assert "masks" not in s and s["task"] == "sot"
    assert s["prompt_kinds"] == ["mask", "mask"] and s["prompt_frames"].tolist() == [0, 2]
    assert s["prompt_obj_ids"].tolist() == [1, 2] and s["prompt_target"].tolist() == [-1, -1]
    assert torch.equal(s["prompt_regions"][1], torch.from_numpy(_box(1, 2)))
    # short-side resize for inference; frames left on disk on request
    ds = UnifiedVideoDataset(suite["vos"], mode="video", with_gt=True,
                             pipeline=[ClipResizeShortSide(short=24, max_size=100),
                                       PackVideoInputs(drop_empty=False)])
    out = ds[1]
    s = out["data_samples"]
    assert out["inputs"].shape == (T, 3, 24, 32) and s["masks"].shape == (2, T, 24, 32)
    assert s["prompt_target"].tolist() == [0, 1] and s["prompt_regions"].shape == (2, 24, 32)
    assert torch.equal(s["prompt_regions"][0], s["masks"][0, 0])
    lazy = UnifiedVideoDataset(suite["vos"], mode="video", load_frames=False)
    assert lazy[0]["inputs"].shape == (0, 3, H, W)
    # refvos: every expression; vis: the whole vocabulary
    s = UnifiedVideoDataset(suite["refvos"], mode="video")[0]["data_samples"]
    assert s["task"] == "grounding"
    assert s["expressions"] == ["the left box", "the box on the right", "a red square"]
    assert s["exp_obj_ids"].tolist() == [1, 2, 1]
    s = UnifiedVideoDataset(suite["vis"], mode="video")[1]["data_samples"]
    assert s["prompt_labels"].tolist() == [1, 2] and s["prompt_names"] == ["cat", "dog"]


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_file(suite, tmp_path):
    import json
    import shutil
    d = json.loads(Path(suite["vis"]).read_text())
    d["data_list"][1]["tracks"][0]["masks"] = d["data_list"][1]["tracks"][0]["masks"][:2]
    (tmp_path / "bad.json").write_text(json.dumps(d))
    ds = UnifiedVideoDataset(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match="bad.json.*video 'v1' track 1: 2 masks for 6 frames"):
        ds.full_init()
    root = tmp_path / "copy"
    shutil.copytree(d["metainfo"]["root"], root)
    d = json.loads(Path(suite["vis"]).read_text())
    d["metainfo"]["root"] = str(root)
    (tmp_path / "ok.json").write_text(json.dumps(d))
    (root / "JPEGImages" / "v0" / "00003.jpg").unlink()
    ds = UnifiedVideoDataset(str(tmp_path / "ok.json"), mode="video")
    with pytest.raises(InputError, match="v0/00003.jpg: frame image not found"):
        ds[0]
    Image.fromarray(np.zeros((H + 1, W, 3), np.uint8)).save(root / "JPEGImages" / "v1" / "00001.jpg")
    with pytest.raises(InputError, match=r"v1/00001.jpg: frame size 16x13 differs"):
        ds[1]
    with pytest.raises(ValueError, match="mode"):
        UnifiedVideoDataset(suite["vis"], mode="frames")
