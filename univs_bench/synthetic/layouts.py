"""Writers: one synthetic benchmark in its dataset's official raw layout.

Each ``write_<benchmark>(root, cfg)`` fills ``root`` with a ``train`` split (full GT), a
validation split as the dataset ships it, and, where the official validation GT is
server-only, a local-scoring copy with full GT in the ``--gt`` layout of CONTRACT.md
(``valid_full/``). A ``README.txt`` names the ``--gt`` path. Files are written through
``univs_bench.io``; JPEG quality, PNG modes and json key order are fixed, so the bytes
depend on the seed only.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ..io import rle as _rle
from ..io.atomic import atomic_path, atomic_write_text
from ..io.panoptic import id2rgb
from ..io.png import write_palette_png, write_png16, write_rgb_png
from ..metainfo import ytvis as _ytvis
from . import tables
from .scene import SceneVideo, make_video, referring_expressions

SPLITS = ("train", "val")


# --------------------------------------------------------------------------- helpers
def video_seed(seed: int, bench: str, split: str, index: int) -> int:
    """A stable 32-bit seed for one video (``hash()`` is salted per process, crc32 is not)."""
    ss = np.random.SeedSequence([seed, zlib.crc32(bench.encode()), SPLITS.index(split), index])
    return int(ss.generate_state(1)[0])


def _names(cfg, bench: str, style: str) -> dict[str, list[str]]:
    """Unique video names per split in the dataset's naming style."""
    rng = np.random.default_rng(video_seed(cfg.seed, bench, "train", 10_000))
    alnum = list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    adj = ["red", "fast", "tiny", "blue", "lazy", "bold", "calm", "wild", "dark", "soft", "odd", "shy"]
    noun = ["fox", "kite", "boat", "drift", "swing", "parade", "orbit", "dance", "float", "race",
            "comet", "wheel"]
    used, out = set(), {}
    for split in SPLITS:
        out[split] = []
        while len(out[split]) < cfg.videos:
            if style == "hex10":
                name = "".join(rng.choice(list("0123456789abcdef"), 10))
            elif style == "hex8":
                name = "".join(rng.choice(list("0123456789abcdef"), 8))
            elif style == "vspw":
                name = f"{int(rng.integers(1, 3500))}_" + "".join(rng.choice(alnum, 11))
            elif style == "davis":
                name = f"{adj[int(rng.integers(len(adj)))]}-{noun[int(rng.integers(len(noun)))]}"
            else:
                raise ValueError(style)
            if name not in used:
                used.add(name)
                out[split].append(name)
    return out


def _video(cfg, bench, split, index, name, **kw) -> SceneVideo:
    kw.setdefault("max_objects", cfg.max_objects)
    return make_video(name, video_seed(cfg.seed, bench, split, index), cfg.size, cfg.frames, **kw)


def _jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    with atomic_path(path, suffix=".jpg") as tmp:
        Image.fromarray(rgb).save(tmp, format="JPEG", quality=quality)


def _json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj))


def _lines(path: Path, lines) -> None:
    atomic_write_text(path, "".join(f"{x}\n" for x in lines))


def _readme(root: Path, title: str, body: str, gt: str, bench: str, pred: str) -> None:
    from ..benchmarks import get_benchmark
    b = get_benchmark(bench)
    text = (f"{title} (univs-bench synthetic suite)\n\n{body.strip()}\n\n"
            f"Predictions (--pred), the official submission format: {b.pred_layout}.\n"
            f"`univs-bench run` writes them to WORK/<model>/{bench}/pred (and the upload zip, if any).\n\n"
            f"Local scoring:\n    univs-bench evaluate {bench} --gt {gt} --pred {pred}\n"
            f"--gt is {gt} (relative to this folder).\n")
    atomic_write_text(root / "README.txt", text)


def _frame_names(n: int, digits: int, step: int = 1, start: int = 0) -> list[str]:
    return [f"{start + i * step:0{digits}d}" for i in range(n)]


def _images(folder: Path, video: SceneVideo, frames: list[str], cfg, ext: str = ".jpg") -> None:
    for t, f in enumerate(frames):
        _jpeg(folder / f"{f}{ext}", video.rgb[t], cfg.jpeg_quality)


def _palette_frames(folder: Path, maps, frames: list[str]) -> None:
    for m, f in zip(maps, frames):
        write_palette_png(folder / f"{f}.png", m)


# --------------------------------------------------------------------------- YTVIS / OVIS
def _vis_json(bench, videos, frames_per_video, with_annotations: bool) -> dict:
    vids, anns = [], []
    for vid_id, (video, fnames) in enumerate(zip(videos, frames_per_video), start=1):
        vids.append({"id": vid_id, "width": video.width, "height": video.height,
                     "length": video.length, "file_names": fnames})
        if not with_annotations:
            continue
        for obj in video.objects:
            segs, areas, boxes, occ = [], [], [], []
            for t in range(video.length):
                if obj.areas[t] == 0:
                    segs.append(None)
                    areas.append(None)
                    boxes.append(None)
                    occ.append(None)
                    continue
                segs.append(_rle.encode(video.mask(t, obj.index)))
                areas.append(float(obj.areas[t]))
                boxes.append(list(obj.boxes[t]))
                hidden = 1.0 - obj.areas[t] / max(obj.full_areas[t], 1)
                # OVIS levels: none, slight (occluded <= 50 %), severe (> 50 %).
                occ.append("no_occlusion" if hidden <= 0.02 else
                           "slight_occlusion" if hidden <= 0.5 else "severe_occlusion")
            ann = {"id": len(anns) + 1, "video_id": vid_id,
                   "category_id": tables.ytvis_category(bench, obj.shape),
                   "segmentations": segs, "areas": areas, "bboxes": boxes, "iscrowd": 0,
                   "height": video.height, "width": video.width, "length": 1}
            if bench == "ovis":
                ann["occlusion"] = occ
            anns.append(ann)
    return {"info": {"description": f"univs-bench synthetic {bench}"}, "licenses": [],
            "videos": vids, "categories": _ytvis.categories(bench), "annotations": anns}


def _write_vis(root: Path, cfg, bench: str) -> None:
    names = _names(cfg, bench, "hex8" if bench == "ovis" else "hex10")
    if bench == "ovis":
        frame_names = [f"img_{i:07d}" for i in range(1, cfg.frames + 1)]
        img_dir = {"train": root / "train", "val": root / "valid"}
        json_path = {"train": root / "annotations_train.json", "val": root / "annotations_valid.json"}
        full = root / "valid_full" / "annotations_valid.json"
    else:
        frame_names = _frame_names(cfg.frames, 5, 5)
        img_dir = {"train": root / "train" / "JPEGImages", "val": root / "valid" / "JPEGImages"}
        if bench == "ytvis19":
            json_path = {"train": root / "train.json", "val": root / "valid.json"}
            full = root / "valid_full" / "valid.json"
        else:
            json_path = {"train": root / "train" / "instances.json",
                         "val": root / "valid" / "instances.json"}
            full = root / "valid_full" / "instances.json"
    for split in SPLITS:
        videos, fnames = [], []
        for i, name in enumerate(names[split]):
            v = (_video(cfg, bench, split, i, name, crowded=True, min_objects=3,
                        max_objects=cfg.max_objects + 1)
                 if bench == "ovis" else _video(cfg, bench, split, i, name))
            _images(img_dir[split] / name, v, frame_names, cfg)
            videos.append(v)
            fnames.append([f"{name}/{f}.jpg" for f in frame_names])
        _json(json_path[split], _vis_json(bench, videos, fnames, split == "train"))
        if split == "val":
            _json(full, _vis_json(bench, videos, fnames, True))
    rel = full.relative_to(root).as_posix()
    body = (f"Images: {img_dir['train'].relative_to(root)}/, {img_dir['val'].relative_to(root)}/.\n"
            f"Annotations: {json_path['train'].relative_to(root)} (full GT), "
            f"{json_path['val'].relative_to(root)} (videos and categories only, as released:\n"
            f"the official validation GT is server-only), {rel} (validation with full GT).\n"
            "Masks are compressed COCO RLE; absent frames are null.")
    if bench == "ovis":
        body += "\nEach annotation carries per-frame 'occlusion' labels (no/slight/severe_occlusion)."
    _readme(root, {"ytvis19": "YouTube-VIS 2019", "ytvis21": "YouTube-VIS 2021", "ovis": "OVIS"}[bench],
            body, rel, bench, "results.json")


# --------------------------------------------------------------------------- VSPW
def _vspw_labels(video: SceneVideo, t: int) -> np.ndarray:
    """Raw VSPW labels: 0 others, 1..124 classes (VIPSeg id + 1), 255 void."""
    stuff_lut = np.array([tables.VIPSEG_STUFF[k] + 1 for k in video.stuff], np.uint8)
    lab = stuff_lut[video.stuff_map[t]]
    # Annotators leave the seams between stuff regions unlabeled (void).
    sm = video.stuff_map[t]
    seam = np.zeros_like(sm, bool)
    seam[1:] |= sm[1:] != sm[:-1]
    lab[seam] = 255
    for obj in video.objects:
        m = video.mask(t, obj.index)
        # The diamond is a thing outside the 124 classes: "others".
        lab[m] = 0 if obj.shape == "diamond" else tables.VIPSEG_THING_SHAPES[obj.shape] + 1
    return lab


def _write_vspw(root: Path, cfg) -> None:
    base = root / "VSPW_480p"
    names = _names(cfg, "vspw", "vspw")
    frames = _frame_names(cfg.frames, 8, 1)
    for split in SPLITS:
        for i, name in enumerate(names[split]):
            v = _video(cfg, "vspw", split, i, name)
            _images(base / "data" / name / "origin", v, frames, cfg)
            _palette_frames(base / "data" / name / "mask", [_vspw_labels(v, t) for t in range(v.length)],
                            frames)
        _lines(base / f"{split}.txt", names[split])
    _readme(root, "VSPW", "VSPW_480p/data/<video>/origin/<frame>.jpg and mask/<frame>.png (palette PNG,\n"
            "raw labels 0 = others, 1..124 = classes, 255 = void), split files train.txt and val.txt.\n"
            "The validation GT is public.", "VSPW_480p", "vspw", "<pred_dir>")


# --------------------------------------------------------------------------- VIPSeg
def _vipseg_raw(video: SceneVideo) -> list[np.ndarray]:
    """Raw panomasks: stuff = class (1..124), thing = class * 100 + instance (from 0)."""
    inst_no, counts = {}, {}
    for obj in video.objects:
        cls = tables.VIPSEG_THING_SHAPES[obj.shape] + 1
        inst_no[obj.index] = cls * 100 + counts.get(cls, 0)
        counts[cls] = counts.get(cls, 0) + 1
    stuff_lut = np.array([tables.VIPSEG_STUFF[k] + 1 for k in video.stuff], np.uint16)
    out = []
    for t in range(video.length):
        raw = stuff_lut[video.stuff_map[t]]
        for obj in video.objects:
            raw[video.mask(t, obj.index)] = inst_no[obj.index]
        out.append(raw)
    return out


def _vipseg_pan(video: SceneVideo, raws: list[np.ndarray], cats: dict[int, dict], frames, rng):
    """COCO-video panoptic form of one video, as ``create_panoptic_video_labels.py`` builds it.

    Stuff segments take the category colour; a thing takes its category colour the first time
    and a nearby random colour after that (panopticapi's IdGenerator, one per video).
    """
    taken, seg_of = set(), {}
    images, annos, rgbs = [], [], []
    for t, raw in enumerate(raws):
        pan = np.zeros(raw.shape, np.int64)
        infos = []
        for el in np.unique(raw).tolist():
            if el == 0:
                continue
            cat = (el if el < 125 else el // 100) - 1
            if el not in seg_of:
                base = tuple(cats[cat]["color"])
                color = base
                if cats[cat]["isthing"]:
                    while color in taken:
                        color = tuple(int(c) for c in np.clip(np.array(base) + rng.integers(-30, 31, 3), 0, 255))
                taken.add(color)
                seg_of[el] = int(color[0] + 256 * color[1] + 65536 * color[2])
            sid = seg_of[el]
            m = raw == el
            pan[m] = sid
            infos.append({"id": sid, "category_id": int(cat), "iscrowd": 0, "area": int(m.sum())})
        images.append({"id": frames[t], "width": video.width, "height": video.height,
                       "file_name": f"{frames[t]}.png"})
        annos.append({"image_id": frames[t], "file_name": f"{frames[t]}.png", "segments_info": infos})
        rgbs.append(id2rgb(pan))
    return ({"video_id": video.name, "images": images},
            {"video_id": video.name, "annotations": annos}, rgbs)


def _write_vipseg(root: Path, cfg) -> None:
    raw_root, coco_root = root / "VIPSeg", root / "VIPSeg_720P"
    names = _names(cfg, "vipseg", "vspw")
    frames = _frame_names(cfg.frames, 8, 5)
    cat_list = tables.vipseg_categories()
    cats = {c["id"]: c for c in cat_list}
    for split in SPLITS:
        vids, anns = [], []
        for i, name in enumerate(names[split]):
            v = _video(cfg, "vipseg", split, i, name)
            raws = _vipseg_raw(v)
            rng = np.random.default_rng(video_seed(cfg.seed, "vipseg-ids", split, i))
            vd, ad, rgbs = _vipseg_pan(v, raws, cats, frames, rng)
            vids.append(vd)
            anns.append(ad)
            for t, f in enumerate(frames):
                _jpeg(raw_root / "imgs" / name / f"{f}.jpg", v.rgb[t], cfg.jpeg_quality)
                _jpeg(coco_root / "images" / name / f"{f}.jpg", v.rgb[t], cfg.jpeg_quality)
                write_png16(raw_root / "panomasks" / name / f"{f}.png", raws[t])
                write_png16(coco_root / "panomasks" / name / f"{f}.png", raws[t])
                write_rgb_png(coco_root / "panomasksRGB" / name / f"{f}.png", rgbs[t])
        _lines(raw_root / f"{split}.txt", names[split])
        _json(coco_root / f"panoptic_gt_VIPSeg_{split}.json",
              {"videos": vids, "annotations": anns, "categories": cat_list})
    _json(coco_root / "panoVIPSeg_categories.json", cat_list)
    _readme(root, "VIPSeg",
            "VIPSeg/: the raw release (imgs/, panomasks/ 16-bit: 0 void, stuff = class 1..124,\n"
            "thing = class * 100 + instance; train.txt, val.txt).\n"
            "VIPSeg_720P/: the COCO-video form made by the official scripts (images/, panomasks/,\n"
            "panomasksRGB/ with segment id = R + 256 G + 256^2 B, panoptic_gt_VIPSeg_{train,val}.json,\n"
            "category_id = class - 1). Frames keep the synthetic size. The validation GT is public;\n"
            "VIPSeg (with --split VIPSeg/val.txt) also works as --gt.",
            "VIPSeg_720P", "vipseg", "<submission_dir>")


# --------------------------------------------------------------------------- DAVIS / Ref-DAVIS
def _write_davis(root: Path, cfg) -> None:
    base = root / "DAVIS"
    names = _names(cfg, "davis17", "davis")
    frames = _frame_names(cfg.frames, 5)
    for split in SPLITS:
        for i, name in enumerate(names[split]):
            v = _video(cfg, "davis17", split, i, name, first_frame_all=True, late_objects=False)
            _images(base / "JPEGImages" / "480p" / name, v, frames, cfg)
            _palette_frames(base / "Annotations" / "480p" / name, v.inst, frames)
        _lines(base / "ImageSets" / "2017" / f"{split}.txt", names[split])
    _readme(root, "DAVIS 2017 (semi-supervised)",
            "DAVIS/JPEGImages/480p/<seq>/<frame>.jpg, DAVIS/Annotations/480p/<seq>/<frame>.png\n"
            "(palette PNG, object ids 1..K, every object present in frame 0),\n"
            "DAVIS/ImageSets/2017/train.txt and val.txt. The validation GT is public.",
            "DAVIS", "davis17", "<pred_dir>")


def _write_refdavis(root: Path, cfg) -> None:
    base = root / "DAVIS"
    names = _names(cfg, "refdavis17", "davis")
    frames = _frame_names(cfg.frames, 5)
    texts = {k: [] for k in ("annot1", "annot1_full_video", "annot2", "annot2_full_video")}
    for split in SPLITS:
        for i, name in enumerate(names[split]):
            v = _video(cfg, "refdavis17", split, i, name)
            _images(base / "JPEGImages" / "480p" / name, v, frames, cfg)
            _palette_frames(base / "Annotations_unsupervised" / "480p" / name, v.inst, frames)
            rng = np.random.default_rng(video_seed(cfg.seed, "refdavis17-text", split, i))
            first = referring_expressions(v, rng, per_object=2, first_frame_only=True)
            full = referring_expressions(v, rng, per_object=2)
            for obj in v.objects:
                k = obj.index
                # Two annotators: the second one words it differently when possible.
                texts["annot1"].append(f'{name} {k} "{first[k][0]}"')
                texts["annot2"].append(f'{name} {k} "{first[k][-1]}"')
                texts["annot1_full_video"].append(f'{name} {k} "{full[k][0]}"')
                texts["annot2_full_video"].append(f'{name} {k} "{full[k][-1]}"')
        _lines(base / "ImageSets" / "2017" / f"{split}.txt", names[split])
    for key, lines in texts.items():
        _lines(root / "davis_text_annotations" / f"Davis17_{key}.txt", lines)
    _readme(root, "Ref-DAVIS 2017",
            "DAVIS/: JPEGImages/480p/, Annotations_unsupervised/480p/ (palette PNG, all objects,\n"
            "ids 1..K, objects may enter late), ImageSets/2017/train.txt and val.txt.\n"
            "davis_text_annotations/Davis17_annot{1,2}.txt (first-frame expressions) and\n"
            "Davis17_annot{1,2}_full_video.txt (full-video expressions), one line per object:\n"
            "<video> <object id> \"<expression>\". The validation GT is public.",
            "DAVIS", "refdavis17", "<dir with anno_0..anno_3>")


# --------------------------------------------------------------------------- YouTube-VOS / MOSE
_VOS_POOLS = (("circle", "square", "triangle"), ("star", "ring", "diamond"))  # seen, unseen


def _first_masks(video: SceneVideo) -> dict[int, np.ndarray]:
    """Frame -> id map holding only the objects that first appear in that frame."""
    out = {}
    for obj in video.objects:
        t = obj.first_frame
        m = out.setdefault(t, np.zeros((video.height, video.width), np.uint8))
        m[video.mask(t, obj.index)] = obj.index
    return out


def _ytvos_meta(video: SceneVideo, frames: list[str]) -> dict:
    return {"objects": {str(o.index): {"category": tables.ytvos_category(o.shape),
                                       "frames": [frames[t] for t in o.visible_frames]}
                        for o in video.objects}}


def _write_ytvos(root: Path, cfg) -> None:
    names = _names(cfg, "ytvos18", "hex10")
    frames = _frame_names(cfg.frames, 5, 5)
    for split in SPLITS:
        folder = root / ("train" if split == "train" else "valid")
        meta = {}
        for i, name in enumerate(names[split]):
            v = _video(cfg, "ytvos18", split, i, name, shape_pools=_VOS_POOLS)
            _images(folder / "JPEGImages" / name, v, frames, cfg)
            meta[name] = _ytvos_meta(v, frames)
            if split == "train":
                _palette_frames(folder / "Annotations" / name, v.inst, frames)
            else:
                for t, m in _first_masks(v).items():
                    write_palette_png(folder / "Annotations" / name / f"{frames[t]}.png", m)
                _palette_frames(root / "valid_full" / "Annotations" / name, v.inst, frames)
        _json(folder / "meta.json", {"videos": meta})
        if split == "val":
            _json(root / "valid_full" / "meta.json", {"videos": meta})
    _readme(root, "YouTube-VOS 2018",
            "train/ and valid/: JPEGImages/<video>/<frame>.jpg, Annotations/<video>/<frame>.png\n"
            "(palette PNG), meta.json ({videos: {<video>: {objects: {<id>: {category, frames}}}}}).\n"
            "valid/Annotations holds each object's mask only in the frame where it first appears\n"
            "(as released; the validation GT is server-only). valid_full/ holds the full validation\n"
            "GT (Annotations/ for every frame, meta.json). Circles, squares and triangles are seen\n"
            "(training) categories; stars, rings and diamonds are unseen ones.",
            "valid_full", "ytvos18", "<pred_dir>")


def _write_mose(root: Path, cfg) -> None:
    names = _names(cfg, "mose", "hex8")
    frames = _frame_names(cfg.frames, 5)
    for split in SPLITS:
        folder = root / ("train" if split == "train" else "valid")
        for i, name in enumerate(names[split]):
            v = _video(cfg, "mose", split, i, name, first_frame_all=True, late_objects=False)
            _images(folder / "JPEGImages" / name, v, frames, cfg)
            if split == "train":
                _palette_frames(folder / "Annotations" / name, v.inst, frames)
            else:
                write_palette_png(folder / "Annotations" / name / f"{frames[0]}.png", v.inst[0])
                _palette_frames(root / "valid_full" / "Annotations" / name, v.inst, frames)
    _readme(root, "MOSE",
            "train/ and valid/: JPEGImages/<video>/<frame>.jpg, Annotations/<video>/<frame>.png\n"
            "(palette PNG). valid/Annotations holds only the first-frame masks (as released; the\n"
            "validation GT is server-only); valid_full/Annotations holds every frame.",
            "valid_full", "mose", "<pred_dir>")


# --------------------------------------------------------------------------- Ref-YouTube-VOS
def _write_refytvos(root: Path, cfg) -> None:
    names = _names(cfg, "refytvos", "hex10")
    frames = _frame_names(cfg.frames, 5, 5)
    for split in SPLITS:
        folder = root / ("train" if split == "train" else "valid")
        exps, exps_full, meta = {}, {}, {}
        for i, name in enumerate(names[split]):
            v = _video(cfg, "refytvos", split, i, name, shape_pools=_VOS_POOLS)
            _images(folder / "JPEGImages" / name, v, frames, cfg)
            rng = np.random.default_rng(video_seed(cfg.seed, "refytvos-text", split, i))
            refs = referring_expressions(v, rng, per_object=2)
            e, ef = {}, {}
            for obj in v.objects:
                for text in refs[obj.index]:
                    ef[str(len(ef))] = {"exp": text, "obj_id": str(obj.index)}
                    e[str(len(e))] = {"exp": text}
            exps_full[name] = {"expressions": ef, "frames": frames}
            exps[name] = {"expressions": ef if split == "train" else e, "frames": frames}
            if split == "train":
                _palette_frames(folder / "Annotations" / name, v.inst, frames)
                meta[name] = _ytvos_meta(v, frames)
            else:
                _palette_frames(root / "valid_full" / "Annotations" / name, v.inst, frames)
        sub = "train" if split == "train" else "valid"
        _json(root / "meta_expressions" / sub / "meta_expressions.json", {"videos": exps})
        if split == "train":
            _json(folder / "meta.json", {"videos": meta})
        else:
            _json(root / "valid_full" / "meta_expressions.json", {"videos": exps_full})
    _readme(root, "Ref-YouTube-VOS",
            "meta_expressions/{train,valid}/meta_expressions.json ({videos: {<video>: {expressions:\n"
            "{<exp_id>: {exp, obj_id}}, frames}}}; the valid file has no obj_id, as released),\n"
            "train/JPEGImages, train/Annotations (palette PNG), train/meta.json, valid/JPEGImages.\n"
            "The validation GT is server-only; valid_full/ holds meta_expressions.json with obj_id\n"
            "and Annotations/<video>/<frame>.png for every frame.",
            "valid_full", "refytvos", "<dir with Annotations/<video>/<exp_id>/>")


# --------------------------------------------------------------------------- BURST
_BURST_DATASETS = ("ArgoVerse", "BDD", "Charades", "LaSOT", "YFCC100M", "AVA", "HACS")
_BURST_POOLS = (("circle", "ring", "diamond"), ("square", "star", "triangle"))  # common, uncommon


def _burst_sequences(cfg, split: str, names: list[str], img_root: Path, stride: int):
    seqs = []
    all_paths = [f"frame{i:04d}.jpg" for i in range(1, cfg.frames + 1)]
    annotated = list(range(0, cfg.frames, stride))
    for i, name in enumerate(names):
        v = _video(cfg, "burst", split, i, name, shape_pools=_BURST_POOLS)
        dataset = _BURST_DATASETS[zlib.crc32(name.encode()) % len(_BURST_DATASETS)]
        for t, p in enumerate(all_paths):
            _jpeg(img_root / dataset / name / p, v.rgb[t], cfg.jpeg_quality)
        objs = [o for o in v.objects if any(o.areas[t] for t in annotated)]
        track = {o.index: k for k, o in enumerate(objs, start=1)}
        cats = {track[o.index]: tables.BURST_SHAPES[o.shape] for o in objs}
        segs, first, seen = [], [], set()
        for t in annotated:
            frame, ff = {}, {}
            for o in objs:
                if not o.areas[t]:
                    continue
                m = v.mask(t, o.index)
                frame[str(track[o.index])] = {"rle": _rle.encode(m)["counts"], "is_gt": True, "score": 1.0}
                if o.index not in seen:
                    seen.add(o.index)
                    ys, xs = np.nonzero(m)
                    k = len(xs) // 2
                    x0, y0 = int(xs.min()), int(ys.min())
                    ff[str(track[o.index])] = dict(frame[str(track[o.index])],
                                                   bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                                                   point=[int(xs[k]), int(ys[k])])
            segs.append(frame)
            first.append(ff)
        present = set(cats.values())
        seq = {"width": v.width, "height": v.height, "id": i + 1, "seq_name": name, "dataset": dataset,
               "fps": 30, "all_image_paths": all_paths,
               "annotated_image_paths": [all_paths[t] for t in annotated],
               "neg_category_ids": sorted(c for c in tables.BURST_CATEGORIES if c not in present)[:2],
               "not_exhaustive_category_ids": [],
               "track_category_ids": {str(k): c for k, c in cats.items()}, "segmentations": segs}
        seqs.append((seq, first))
    return seqs


def _burst_file(split, seqs, keep=None, first=False) -> dict:
    cats = [{"id": c, "name": n, "synset": s, "def": d, "synonyms": syn}
            for c, (n, s, d, syn) in sorted(tables.BURST_CATEGORIES.items())]
    out = []
    for seq, ff in seqs:
        tracks = {k: c for k, c in seq["track_category_ids"].items() if keep is None or keep(c)}
        segs = ff if first else seq["segmentations"]
        out.append(dict(seq, track_category_ids=tracks,
                        segmentations=[{k: v for k, v in f.items() if k in tracks} for f in segs]))
    return {"split": split, "categories": cats, "sequences": out}


def _write_burst(root: Path, cfg) -> None:
    names = _names(cfg, "burst", "hex10")
    stride = 2 if cfg.frames >= 4 else 1
    for split in SPLITS:
        seqs = _burst_sequences(cfg, split, names[split], root / "frames" / split, stride)
        ann = root / "annotations" / split
        _json(ann / "all_classes.json", _burst_file(split, seqs))
        if split == "val":
            _json(ann / "common_classes.json", _burst_file(split, seqs, tables.burst_is_common))
            _json(ann / "uncommon_classes.json",
                  _burst_file(split, seqs, lambda c: not tables.burst_is_common(c)))
            _json(ann / "first_frame_annotations.json", _burst_file(split, seqs, first=True))
    _readme(root, "BURST",
            "frames/{train,val}/<dataset>/<sequence>/frameNNNN.jpg; annotations/train/all_classes.json,\n"
            "annotations/val/{all_classes,common_classes,uncommon_classes,first_frame_annotations}.json\n"
            "(BURST schema, LVIS category ids; every second frame is annotated). The validation GT\n"
            "is public; pass --task class_guided, exemplar_guided or open_world.",
            "annotations/val", "burst", "<pred.json> --task exemplar_guided")


# --------------------------------------------------------------------------- VIPOSeg
def _viposeg_objects(video: SceneVideo):
    """Panoptic objects (things and stuff regions), numbered by first appearance.

    Returns (per-frame object id maps, {object id: VIPSeg class}, {object id: frames present}).
    """
    items = []  # (first frame, order, kind, key)
    for k, _kind in enumerate(video.stuff):
        present = [t for t in range(video.length) if ((video.stuff_map[t] == k) & (video.inst[t] == 0)).any()]
        if present:
            items.append((present[0], 0, k, ("stuff", k), present))
    for o in video.objects:
        items.append((o.first_frame, 1, o.index, ("thing", o.index), o.visible_frames))
    items.sort(key=lambda x: x[:3])
    maps = [np.zeros((video.height, video.width), np.uint8) for _ in range(video.length)]
    classes, frames = {}, {}
    by_index = {o.index: o for o in video.objects}
    for oid, (_, _, _, (kind, key), present) in enumerate(items, start=1):
        for t in range(video.length):
            if kind == "stuff":
                maps[t][(video.stuff_map[t] == key) & (video.inst[t] == 0)] = oid
            else:
                maps[t][video.inst[t] == key] = oid
        classes[oid] = (tables.VIPOSEG_STUFF[video.stuff[key]] if kind == "stuff"
                        else tables.VIPOSEG_THING_SHAPES[by_index[key].shape])
        frames[oid] = present
    return maps, classes, frames


def _write_viposeg(root: Path, cfg) -> None:
    names = _names(cfg, "viposeg", "vspw")
    frames = _frame_names(cfg.frames, 8, 5)
    pools = (("circle", "square", "triangle"), ("star", "ring", "diamond"))  # seen, unseen things
    for split in SPLITS:
        folder = root / ("train" if split == "train" else "valid")
        obj_class, meta = {}, {}
        for i, name in enumerate(names[split]):
            # Alternate stuff layouts with unseen water and seen-only ones.
            v = _video(cfg, "viposeg", split, i, name, shape_pools=pools,
                       stuff_with="water" if i % 2 == 0 else None)
            _images(folder / "JPEGImages" / name, v, frames, cfg)
            maps, classes, present = _viposeg_objects(v)
            obj_class[name] = {str(k): c for k, c in classes.items()}
            meta[name] = {"objects": {str(k): {"category": c, "frames": [frames[t] for t in present[k]]}
                                      for k, c in classes.items()}}
            if split == "train":
                _palette_frames(folder / "Annotations" / name, maps, frames)
                continue
            _palette_frames(folder / "Annotations_gt" / name, maps, frames)
            refs = {}
            for k, ts in present.items():
                t = ts[0]
                ref = refs.setdefault(t, np.zeros_like(maps[t]))
                ref[maps[t] == k] = k
            for t, m in sorted(refs.items()):
                write_palette_png(folder / "Annotations" / name / f"{frames[t]}.png", m)
        _json(folder / "obj_class.json", obj_class)
        if split == "val":
            _json(folder / "meta.json", {"videos": meta})
    _readme(root, "VIPOSeg",
            "train/: JPEGImages/, Annotations/ (every frame), obj_class.json.\n"
            "valid/: JPEGImages/, Annotations/ (each object's reference mask in the frame where it\n"
            "first appears), Annotations_gt/ (every frame), obj_class.json (object -> VIPSeg class\n"
            "0..123), meta.json (objects with category and frames). Objects are thing instances and\n"
            "stuff regions; seen and unseen classes of both kinds occur. The validation GT is public.",
            "valid", "viposeg", "<pred_dir>")


WRITERS = {
    "ytvis19": lambda root, cfg: _write_vis(root, cfg, "ytvis19"),
    "ytvis21": lambda root, cfg: _write_vis(root, cfg, "ytvis21"),
    "ovis": lambda root, cfg: _write_vis(root, cfg, "ovis"),
    "vspw": _write_vspw,
    "vipseg": _write_vipseg,
    "davis17": _write_davis,
    "ytvos18": _write_ytvos,
    "mose": _write_mose,
    "burst": _write_burst,
    "refytvos": _write_refytvos,
    "refdavis17": _write_refdavis,
    "viposeg": _write_viposeg,
}

# The --gt path of each benchmark, relative to its folder.
GT_PATHS = {
    "ytvis19": "valid_full/valid.json", "ytvis21": "valid_full/instances.json",
    "ovis": "valid_full/annotations_valid.json", "vspw": "VSPW_480p", "vipseg": "VIPSeg_720P",
    "davis17": "DAVIS", "ytvos18": "valid_full", "mose": "valid_full", "burst": "annotations/val",
    "refytvos": "valid_full", "refdavis17": "DAVIS", "viposeg": "valid",
}
