"""UniVS benchmark models: ``univs-bench run --model univs_{r50,swint,swinb,swinl,tiny}``.

Importing this module imports no torch (the registry imports it to list models); the network
is built when a model is. Every option of ``--cfg-options`` is either a model option below or a
field of :class:`univs_bench.models.univs.inference.InferenceConfig` (thresholds, clip
length, and the ablation switches ``prompt_as_queries``, ``proca``, ``tracker``), which then
overrides the per-benchmark official defaults.

Model options:

- ``checkpoint``: weights; an official detectron2 file (weights under ``'model'``, stage-3
  EMA copies preferred) or a file written by ``univs-bench train`` / ``convert-checkpoint``,
  converted on the fly. ``univs_tiny`` otherwise looks for the checkpoint cached by
  ``univs-bench train configs/univs/univs_tiny_synth.py`` (``TINY_CHECKPOINTS``);
  ``weights='random'`` runs untrained weights (smoke tests, speed).
- ``config``: an MMEngine config whose ``model`` dict replaces the built-in architecture.
- ``class_embeds``: CLIP text embeddings of the model's class list (K, 640), e.g. the
  official combined-dataset file (``combined_datasets`` offsets in ``OFFICIAL_CLASS_OFFSETS``).
- ``category_maps``: {benchmark: {category id: model class index}}; defaults: the official
  slice of the combined class list for full-size models, the categories' rank for
  ``univs_tiny`` (or the maps a training checkpoint stores in ``meta['category_maps']``).
- ``text_encoder``: the RegionCLIP RN50x4 language-encoder file
  ``regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth`` (official key names, see
  ``text_encoder.map_official_keys``; not in UniVS checkpoints). Needed for RefVOS (a run
  with a RefVOS benchmark and no encoder stops before the first video) and, without
  ``class_embeds``, gives the category embeddings: each benchmark's category names through the
  encoder and the 81 official templates, cached per (encoder sha256, benchmark, names) in
  ``$UNIVS_BENCH_CACHE`` (default ``~/.cache/univs-bench``)/class_embeds/.
- ``device``: 'cuda' / 'cpu' (default: cuda when available).

Example::

    univs-bench run --model univs_r50 --checkpoint univs_R50.pth --tasks vis \\
        --cfg-options class_embeds=concept_emb.pth proca=False tracker=similarity
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import InputError
from ..registry import BENCHMARK_MODELS
from .zoo import VideoModel

# Start of each dataset's slice in the official 3938-class list
# (datasets/concept_emb/combined_datasets_category_info.py of MinghanLi/UniVS).
OFFICIAL_CLASS_OFFSETS = {"ytvis19": 3048, "ytvis21": 2203, "ovis": 2243, "vipseg": 2924,
                          "vspw": 2924, "viposeg": 2924, "burst": 1000}
# The training config first: its model (40 YTVIS classes) is the one the cached weights fit.
TINY_CONFIGS = ("configs/univs/univs_tiny_synth.py", "configs/univs/univs_tiny.py")
# The demo's checkpoint first (it carries its own model config and category maps).
TINY_CHECKPOINTS = ("work_dirs/univs_tiny_train/univs_tiny.pth",
                    "work_dirs/univs_tiny_synth/last_checkpoint", "work_dirs/tiny_synth/last_checkpoint",
                    "work_dirs/univs_tiny_synth/latest.pth", "work_dirs/univs_tiny/last_checkpoint",
                    "work_dirs/univs_tiny/latest.pth")
MODEL_OPTIONS = ("checkpoint", "config", "class_embeds", "category_maps", "device", "weights", "ema_weights",
                 "text_encoder")

# Dense prompt tokens per frame (VISUAL_PROMPT_PIXELS_PER_IMAGE of configs/univs_inf/vids/<task>/*.yaml).
OFFICIAL_PROMPT_POINTS = {"vis": 128, "vps": 64, "vos": 256, "pvos": 256, "refvos": 32}
# Benchmarks run by tools/test/test_{r50,swint,swinb,swinl}_stage3.sh (the paper's runs), and
# the scripted benchmark whose settings a benchmark without a script or YAML borrows.
SCRIPTED = {"ytvis21": "vis", "ovis": "vis", "vspw": "vss", "vipseg": "vps", "davis17": "vos",
            "viposeg": "pvos", "refdavis17": "refvos"}
BORROWED = {"ytvis19": "ytvis21", "burst": "davis17", "refytvos": "refdavis17"}


def official_test_settings(variant: str, task: str, bench: str) -> dict:
    """InferenceConfig values of the official test of ``bench`` with backbone ``variant``.

    Scripted benchmarks (``SCRIPTED``): the stage-3 script's overrides, T = 5, short side 640
    (max 1333), k (``NUM_PREV_FRAMES_MEMORY``) 5 for R50 and 6 for Swin except Swin-L PVOS
    and Swin-B/L RefVOS (5); self-attention 'sep', 'sep-blocked' for RefVOS and Swin-L PVOS;
    square mode (pad to 1024 x 1024, long side <= 1024) wherever the script does not pass
    ``SQUARE_ENABLED False``: every Swin-B run and the Swin-T VIS runs.
    YT-VOS18 and MOSE have no script: their YAMLs (``configs/univs_inf/vids/vos/univs_*_vos_
    {ytvos18,mose}_c1+univs.yaml``): short side 720 (Swin-B YT-VOS/MOSE 700), T = 4 (R50,
    Swin-T, Swin-B; MOSE R50 2; Swin-L 5), k = 10 (vos/Base.yaml), square mode on (the
    default of ``univs/config.py``); Swin-T MOSE has no YAML and takes its YT-VOS18 one.
    YTVIS19, BURST and Ref-YouTube-VOS have neither: they take the settings of YTVIS21,
    DAVIS17 and Ref-DAVIS17 (``BORROWED``; our choice). R (dense tokens per frame) is the
    task's YAML value (``OFFICIAL_PROMPT_POINTS``). Swin-L VIS uses the clip-relative 'FixedT'
    temporal position code (its VIS YAMLs).
    """
    out = {"max_size": 1333}
    if task in OFFICIAL_PROMPT_POINTS:
        out["prompt_points"] = OFFICIAL_PROMPT_POINTS[task]
    name = BORROWED.get(bench, bench)
    if name in ("ytvos18", "mose"):
        size = {"swinb": 700}.get(variant, 720)
        clip = {"swinl": 5}.get(variant, 4)
        if name == "mose" and variant == "r50":
            clip = 2
        out.update(test_size=size, clip_length=clip, num_prev_frames_memory=10, square_size=1024,
                   self_attn_mask_type="sep")
        return out
    if name not in SCRIPTED:
        return out
    k = 5 if variant == "r50" else 6
    if (variant == "swinl" and task == "pvos") or (variant in ("swinb", "swinl") and task == "refvos"):
        k = 5
    square = variant == "swinb" or (variant == "swint" and task == "vis")
    blocked = task == "refvos" or (variant == "swinl" and task == "pvos")
    out.update(test_size=640, clip_length=5, num_prev_frames_memory=k, square_size=1024 if square else 0,
               self_attn_mask_type="sep-blocked" if blocked else "sep")
    if variant == "swinl" and task == "vis":  # univs_swinl_{yt21,ovis}_c1+univs_entity.yaml
        out["temporal_code"] = "fixed"
    return out


def _resolve_last_checkpoint(path: Path) -> Path | None:
    """An MMEngine ``last_checkpoint`` file names the newest checkpoint; other paths are themselves."""
    if not path.is_file():
        return None
    if path.name == "last_checkpoint":
        target = Path(path.read_text().strip())
        if not target.is_absolute() and not target.exists():
            target = path.parent / target.name
        return target if target.is_file() else None
    return path


def _short_types(d):
    """Config dicts name classes by dotted path; our builders take the class name."""
    if isinstance(d, dict):
        return {k: (v.rsplit(".", 1)[-1] if k == "type" and isinstance(v, str) else _short_types(v))
                for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return type(d)(_short_types(x) for x in d)
    return d


def _read_rgb(path: str):
    from ..io.png import read_frame_image
    return read_frame_image(path)


class UniVSBenchModel(VideoModel):
    """A UniVS network behind the benchmark-model interface (see the module docstring).

    Example::

        model = BENCHMARK_MODELS.build(dict(type='univs_r50', checkpoint='univs_R50.pth',
                                            tracker='similarity'))
    """

    variant: str | None = None
    memory_frames: int = 5          # k: 5 for R50 (and tiny), 6 for Swin
    native_size: bool = False       # True: frames keep their size (no official test resize)
    tasks = frozenset({"vis", "vss", "vps", "vos", "refvos", "pvos"})

    def __init__(self, checkpoint: str | None = None, config: str | None = None,
                 class_embeds: str | None = None, category_maps: dict | None = None,
                 device: str | None = None, weights: str | None = None, ema_weights: bool = False,
                 text_encoder: str | None = None,
                 **options):
        from .univs.inference import InferenceConfig
        known = {f for f in InferenceConfig.__dataclass_fields__}
        bad = sorted(set(options) - known)
        if bad:
            raise InputError(f"unknown UniVS option(s) {bad}; model options are {list(MODEL_OPTIONS)}, "
                             f"inference options are {sorted(known)}")
        InferenceConfig(**{"num_prev_frames_memory": self.memory_frames, **options})  # validate now
        self.options = dict(options)
        self.checkpoint, self.config, self.class_embeds = checkpoint, config, class_embeds
        self.category_maps = {k: {int(c): int(v) for c, v in m.items()} for k, m in (category_maps or {}).items()}
        self.weights = weights
        self.text_encoder = text_encoder
        if text_encoder and not Path(text_encoder).is_file():
            raise InputError(f"text_encoder={text_encoder}: no such file")
        self.ema_weights = bool(ema_weights)
        self.report: dict = {}
        self._bench_embeds: dict = {}
        self.net = self._build(device)

    # ------------------------------------------------------------------ building
    def _model_cfg(self) -> dict:
        if self.config:
            from mmengine.config import Config
            cfg = Config.fromfile(self.config)
            return _short_types(copy.deepcopy(cfg.to_dict()["model"]))
        from .univs.checkpoint import VARIANTS
        cfg = copy.deepcopy(VARIANTS[self.variant])
        cfg["mask_decoder"] = {"num_classes": 3938}  # the official combined class list
        return cfg

    def _default_checkpoint(self) -> str | None:
        return None

    def _build(self, device):
        import torch

        from .univs.checkpoint import load_checkpoint_file, load_official_checkpoint
        from .univs.univs import UniVS
        cfg = self._model_cfg()
        cfg.pop("type", None)
        cfg["criterion"] = None
        if self.text_encoder:
            cfg["text_encoder"] = {**dict(cfg.get("text_encoder") or {}), "weights": self.text_encoder}
        try:
            net = UniVS(**cfg)
        except ValueError as e:
            if self.text_encoder and "text encoder weights" in str(e):
                raise InputError(f"text_encoder={self.text_encoder}: {e}") from e
            raise
        ckpt = self.checkpoint or self._default_checkpoint()
        if ckpt:
            data = load_checkpoint_file(ckpt)
            # official test: plain weights (the test YAMLs build no EMA teacher, so
            # `backbone_t.`/`sem_seg_head_t.` copies would be ignored); ema_weights=True: ours
            self.report = load_official_checkpoint(net, data, use_ema=self.ema_weights, strict=True)
            self.report["ema_available"] = any(k.startswith(("backbone_t.", "sem_seg_head_t."))
                                               for k in self.report.get("dropped", []))
            meta = data.get("meta") if isinstance(data, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("category_maps"), dict):
                for k, m in meta["category_maps"].items():
                    self.category_maps.setdefault(k, {int(c): int(v) for c, v in m.items()})
            self.checkpoint = str(ckpt)
        elif self.weights != "random":
            self._missing_weights()
        if self.class_embeds:
            emb = load_class_embeddings(self.class_embeds)
            try:
                net.sem_seg_head.predictor.set_class_embeddings(emb)
            except ValueError as e:
                raise InputError(f"{self.class_embeds}: {e}") from None
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return net.to(device).eval()

    def _missing_weights(self):
        raise InputError(f"model {self.name!r} needs weights: give --checkpoint FILE (an official UniVS "
                         "checkpoint or a converted one), or --cfg-options weights=random for untrained weights")

    @property
    def name(self) -> str:
        return f"univs_{self.variant}" if self.variant else "univs"

    @property
    def official(self) -> bool:
        """An official UniVS variant (r50/swint/swinb/swinl): official settings and class slices apply."""
        return self.variant not in (None, "tiny")

    def describe(self) -> dict:
        return {"model": self.name, "config": self.config, "checkpoint": self.checkpoint,
                "weights": "random" if not self.checkpoint else "checkpoint",
                "ema_used": self.report.get("ema_used"), "ema_available": self.report.get("ema_available"),
                "class_embeds": self.class_embeds, "text_encoder": self.net.text_encoder_info,
                "options": self.options}

    def check_benchmarks(self, benchmarks) -> None:
        """Refuse, before any video is run, benchmarks this model cannot answer meaningfully."""
        if self.net.text_prompt_encoder is not None:
            return
        refvos = [b.name for b in benchmarks if b.task == "refvos"]
        if refvos:
            raise InputError(f"{self.name}: {', '.join(refvos)} (RefVOS) needs the text encoder: give --cfg-options "
                             "text_encoder=regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth (see README)")

    # ------------------------------------------------------------------ categories
    def _class_map(self, meta, bench) -> dict[int, int]:
        """Benchmark category id -> model class index."""
        if bench.name in self.category_maps:
            return self.category_maps[bench.name]
        cats = sorted(c.id for c in meta.categories)
        if self._text_class_embeds():
            return {c: i for i, c in enumerate(cats)}
        k = self.net.sem_seg_head.predictor.class_text_embeds.shape[0]
        off = OFFICIAL_CLASS_OFFSETS.get(bench.name) if self.official else None
        if off is not None and off + len(cats) <= k:
            return {c: off + i for i, c in enumerate(cats)}
        if len(cats) <= k:
            return {c: i for i, c in enumerate(cats)}
        raise InputError(f"{bench.name}: {len(cats)} categories do not fit the model's {k} classes; "
                         "give --cfg-options category_maps=\"{'" + bench.name + "': {CAT_ID: CLASS, ...}}\"")

    def _predicted_category(self, class_scores, meta, bench) -> int | None:
        """The benchmark category of the model's best class among those the benchmark maps
        (for VOS objects whose prompt names no category, e.g. BURST exemplars)."""
        try:
            cmap = self._class_map(meta, bench)
        except InputError:
            return None
        if not cmap:
            return None
        return max(cmap, key=lambda c: float(class_scores[cmap[c]]))

    # ------------------------------------------------------------------ text
    def _text_features(self, texts, device):
        enc = self.net.text_prompt_encoder
        if enc is None:
            raise InputError(f"{self.name}: expressions need the text encoder: give --cfg-options "
                             "text_encoder=regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth (see README)")
        return enc.encode(list(texts), device)

    def _text_class_embeds(self) -> bool:
        """Category embeddings come from the text encoder: an official variant with an encoder
        file and no ``class_embeds`` file."""
        return bool(self.text_encoder) and not self.class_embeds and self.official

    def _use_benchmark_classes(self, meta, bench) -> None:
        """Put the benchmark's category embeddings (category ids in increasing order) into the
        class head, from the cache or freshly encoded."""
        if not self._text_class_embeds() or bench.name in self.category_maps:
            return
        names = [c.name for c in sorted(meta.categories, key=lambda c: c.id)]
        key = (bench.name, tuple(names))
        emb = self._bench_embeds.get(key)
        if emb is None:
            emb = class_embeddings(self.net.text_prompt_encoder, names, bench.name,
                                   (self.net.text_encoder_info or {}).get("sha256") or "")
            self._bench_embeds[key] = emb
        self.net.sem_seg_head.predictor.set_class_embeddings(emb)

    # ------------------------------------------------------------------ prediction
    def inference_config(self, bench):
        from .univs.inference import InferenceConfig
        overrides = dict(self.options)
        base = {"num_prev_frames_memory": self.memory_frames}
        if self.native_size:  # trained at the synthetic suite's own size: no test-time resize
            overrides.setdefault("test_size", None)
        official = official_test_settings(self.variant, bench.task, bench.name) if self.official else {}
        return InferenceConfig.for_benchmark(bench.task, bench.name, base=base,
                                             overrides={**official, **overrides}, backbone=self.variant)

    def predict_video(self, item, meta, bench):
        import torch

        if (self.official and not self.class_embeds and bench.task in CLASS_TASKS
                and not self._text_class_embeds()):
            # the decoder would otherwise score classes against seeded random embeddings
            raise InputError(f"{self.name}: task {bench.task} ({bench.name}) needs the CLIP text embeddings of "
                             "the official 3938-class list: give --cfg-options class_embeds=FILE, or text_encoder=FILE "
                             "to compute the benchmark's own")

        from ..data_converters.base import MaskResolver
        from ..schema import Track, VideoAnnotation
        from .univs.inference import StreamingInference, VideoInput
        v = item.video
        task = bench.task
        cfg = self.inference_config(bench)
        # BURST: the official val json keeps only the annotated frames, so the video the
        # model sees is those frames (convert_burst_to_cocovid_val.py); burst_all_frames: ours
        frame_ids = list(range(v.num_frames))
        if bench.name == "burst" and not cfg.burst_all_frames and v.annotated is not None:
            frame_ids = sorted(v.annotated)
        local = {f: j for j, f in enumerate(frame_ids)}
        video = VideoInput(height=v.height, width=v.width, num_frames=len(frame_ids),
                           load=lambda j: _read_rgb(meta.image_path(v.id, v.frames[frame_ids[j]])))
        inv = {}
        if task in ("vis", "vps", "vss"):
            self._use_benchmark_classes(meta, bench)
            cmap = self._class_map(meta, bench)
            inv = {k: c for c, k in cmap.items()}
            video.class_subset = torch.tensor(sorted(inv), dtype=torch.long)
            things = {c.id for c in meta.categories if c.isthing}
            video.thing_classes = {k for c, k in cmap.items() if c in things}
        elif task in ("vos", "pvos"):
            resolver = MaskResolver(meta.root)
            cmap = {}
            if task == "pvos":  # VIPOSeg: the semantic help for stuff objects needs the class slice
                self._use_benchmark_classes(meta, bench)
                try:
                    cmap = self._class_map(meta, bench)
                except InputError:
                    if self.official:
                        raise
                    cmap = {}  # a small model without the VIPSeg classes: no semantic help
                if cmap:
                    video.class_subset = torch.tensor(sorted(cmap.values()), dtype=torch.long)
                    things = {c.id for c in meta.categories if c.isthing}
                    video.thing_classes = {k for c, k in cmap.items() if c in things}
            seen = set()
            for p in sorted(item.prompts, key=lambda p: (p.frame if p.frame is not None else 0)):
                if p.kind not in ("mask", "box", "point", "scribble") or p.target is None or p.target in seen:
                    continue
                seen.add(p.target)
                frame = p.frame if p.frame is not None else 0
                if frame not in local:
                    raise InputError(f"{bench.name} video {v.id}: prompt {p.id} is on frame {frame}, "
                                     "which is not an annotated frame")
                region, kind = _prompt_region(p, v, resolver)
                video.objects.append({"id": p.target, "frame": local[frame], "region": region, "kind": kind,
                                      "category": p.category, "prompt_id": p.id,
                                      "class": cmap.get(p.category) if p.category is not None else None})
        elif task == "refvos":
            video.expressions = [{"prompt_id": p.id, "text": p.text} for p in item.prompts if p.kind == "text"]
        engine = StreamingInference(self.net, cfg, text_features=self._text_features)
        out = engine.run(video, task)
        self.last_stats = engine.stats
        n = v.num_frames

        def seq(masks: dict) -> list:
            return [masks.get(local[f]) if f in local else None for f in range(n)]

        tracks = []
        if task == "vis":
            tracks = _vis_tracks(out["targets"], inv, n, topk=cfg.topk)
        elif task == "vps":
            for seg in out["segments"]:
                if seg["masks"] and seg["class"] in inv:
                    tracks.append(Track(id=seg["id"], category=inv[seg["class"]], masks=seq(seg["masks"]),
                                        score=1.0, attributes={"isthing": seg["isthing"]}))
        elif task == "vss":
            for i, (k, masks) in enumerate(sorted(out["semantic"].items())):
                if k in inv:
                    tracks.append(Track(id=i + 1, category=inv[k], masks=seq(masks), score=1.0))
        elif task in ("vos", "pvos"):
            for t in out["targets"]:
                cat = t.category
                if cat is None and t.logit_sum is not None and meta.categories:
                    cat = self._predicted_category(t.logit_sum, meta, bench)
                tracks.append(Track(id=int(t.obj_id), category=cat, masks=seq(t.masks), score=1.0,
                                    prompt_id=str(t.prompt_id if t.prompt_id is not None else t.obj_id)))
        elif task == "refvos":
            # no score officially (score 1: on Ref-DAVIS the lowest expression index wins overlaps);
            # the mean max grounding probability is kept as an attribute
            for i, t in enumerate(out["targets"]):
                prob = float(t.logit_sum / max(t.logit_n, 1)) if t.logit_sum is not None else 0.0
                tracks.append(Track(id=i + 1, category=None, masks=seq(t.masks), score=1.0,
                                    prompt_id=str(t.prompt_id), attributes={"grounding_prob": prob}))
        return VideoAnnotation(video=copy.deepcopy(v), tracks=tracks, label_maps=[], prompts=[])


# tasks whose outputs depend on the category text embeddings (PVOS: the VIPOSeg semantic help)
CLASS_TASKS = ("vis", "vps", "vss", "pvos")


def load_class_embeddings(path: str):
    """(K, D) float tensor from ``path``: a tensor/array, or a dict holding one (the first
    tensor-valued entry). A file with no tensor is an error naming the file and its keys."""
    import torch

    from .univs.checkpoint import load_checkpoint_file
    try:
        emb = load_checkpoint_file(path)
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(f"class_embeds {path}: cannot be read ({e})") from None
    if isinstance(emb, dict):
        found = [v for v in emb.values() if hasattr(v, "shape")]
        if not found:
            raise InputError(f"class_embeds {path}: no tensor in the file (keys: {sorted(map(str, emb))[:10]})")
        emb = found[0]
    if not hasattr(emb, "shape"):
        raise InputError(f"class_embeds {path}: no tensor in the file (got {type(emb).__name__})")
    return torch.as_tensor(emb).float()


def class_embeddings(text_prompt_encoder, names: list[str], bench: str, encoder_sha256: str,
                     cache_dir: str | None = None):
    """(K, D) text embeddings of category ``names`` (official: mean EOT feature over the 81
    templates), cached in ``cache_dir`` (default ``$UNIVS_BENCH_CACHE`` or ``~/.cache/univs-bench``,
    subfolder class_embeds/) under the encoder's sha256, the benchmark and a hash of the names;
    without a checksum nothing is cached."""
    import hashlib
    import os

    import torch

    from ..io.atomic import atomic_path
    from .univs.checkpoint import load_checkpoint_file
    path = None
    if encoder_sha256:
        root = Path(cache_dir or os.environ.get("UNIVS_BENCH_CACHE") or Path.home() / ".cache" / "univs-bench")
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
        path = root / "class_embeds" / f"{encoder_sha256[:16]}_{bench}_{digest}.pt"
        if path.is_file():
            emb = load_checkpoint_file(path)
            if tuple(emb.shape) == (len(names), text_prompt_encoder.text_encoder.text_projection.shape[1]):
                return emb
    emb = text_prompt_encoder.encode_classes(names).float().cpu()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(str(path), suffix=".pt") as tmp:
            torch.save(emb, tmp)
    return emb


def _prompt_region(p, v, resolver):
    """A visual prompt as a bool (H, W) region and the sampler's kind."""
    import numpy as np
    h, w = v.height, v.width
    if p.kind == "mask":
        return resolver.decode(p.mask, h, w).astype(bool), "mask"
    region = np.zeros((h, w), dtype=bool)
    if p.kind == "box":
        x1, y1, x2, y2 = p.box
        region[int(max(y1, 0)):int(min(np.ceil(y2), h)), int(max(x1, 0)):int(min(np.ceil(x2), w))] = True
        return region, "box"
    for x, y in p.points or []:
        region[min(int(y), h - 1), min(int(x), w - 1)] = True
    return region, ("point" if p.kind == "point" else "scribble")


def _vis_tracks(targets, inv: dict, n: int, topk: int, min_score: float = 0.05):
    """Official ``vis_clip_instances_to_coco_json_video``: one result per entity and benchmark
    class with score = tube class score (window-averaged, see
    :func:`~univs_bench.models.univs.inference.tube_class_scores`) x the entity's mask-quality
    factor; selection by :func:`~univs_bench.models.univs.inference.select_vis_results` with
    ``topk`` = DETECTIONS_PER_IMAGE. Entities whose masks are all empty are results too
    (blank tubes), as officially."""
    from ..schema import Track
    from .univs.inference import select_vis_results
    rows = []
    for t in targets:
        if t.tube_scores is None:
            continue
        masks = [t.masks.get(f) for f in range(n)]
        for k, c in sorted(inv.items()):
            cs = float(t.tube_scores[k])
            rows.append((cs * t.quality_factor, cs, c, masks))
    keep = select_vis_results([r[0] for r in rows], [r[1] for r in rows], topk, min_score)
    return [Track(id=i + 1, category=rows[j][2], masks=rows[j][3], score=rows[j][0]) for i, j in enumerate(keep)]


@BENCHMARK_MODELS.register_module("univs_r50")
class UniVSR50(UniVSBenchModel):
    """UniVS ResNet-50 (official architecture). ``dict(type='univs_r50', checkpoint=...)``"""

    variant, memory_frames = "r50", 5


@BENCHMARK_MODELS.register_module("univs_swint")
class UniVSSwinT(UniVSBenchModel):
    """UniVS Swin-T (official architecture). ``dict(type='univs_swint', checkpoint=...)``"""

    variant, memory_frames = "swint", 6


@BENCHMARK_MODELS.register_module("univs_swinb")
class UniVSSwinB(UniVSBenchModel):
    """UniVS Swin-B (official architecture). ``dict(type='univs_swinb', checkpoint=...)``"""

    variant, memory_frames = "swinb", 6


@BENCHMARK_MODELS.register_module("univs_swinl")
class UniVSSwinL(UniVSBenchModel):
    """UniVS Swin-L (official architecture). ``dict(type='univs_swinl', checkpoint=...)``"""

    variant, memory_frames = "swinl", 6


@BENCHMARK_MODELS.register_module("univs_tiny")
class UniVSTiny(UniVSBenchModel):
    """The CPU-sized UniVS trained on the synthetic suite.

    Weights: ``checkpoint``, else the first of ``TINY_CHECKPOINTS`` found (the demo's
    ``work_dirs/univs_tiny_train/univs_tiny.pth`` from :func:`ensure_tiny_checkpoint`, then
    those cached by ``univs-bench train configs/univs/univs_tiny_synth.py``). Architecture: the
    ``model_cfg`` a demo checkpoint stores in its meta, else ``configs/univs/univs_tiny_synth.py``
    (``univs_tiny.py`` when absent). ``dict(type='univs_tiny')``
    """

    variant, memory_frames, native_size = "tiny", 5, True

    def _model_cfg(self) -> dict:
        if not self.config:
            ckpt = self.checkpoint or self._default_checkpoint()
            if ckpt:
                from .univs.checkpoint import load_checkpoint_file
                meta = load_checkpoint_file(ckpt).get("meta") or {}
                if isinstance(meta.get("model_cfg"), dict):
                    return copy.deepcopy(meta["model_cfg"])
        if not self.config:
            repo = Path(__file__).resolve().parents[2]
            found = [p for c in TINY_CONFIGS for p in (Path(c), repo / c) if p.is_file()]
            if not found:
                raise InputError(f"univs_tiny: none of {list(TINY_CONFIGS)} found; give --cfg-options config=FILE")
            self.config = str(found[0])
        return super()._model_cfg()

    def _default_checkpoint(self):
        if self.weights == "random":
            return None
        for p in TINY_CHECKPOINTS:
            found = _resolve_last_checkpoint(Path(p))
            if found is not None:
                return str(found)
        return None

    def _missing_weights(self):
        raise InputError("univs_tiny has no trained weights: train it with `univs-bench train "
                         "configs/univs/univs_tiny_synth.py` (caches work_dirs/univs_tiny_synth/), or give "
                         "--checkpoint FILE, or --cfg-options weights=random for untrained weights")


# ----------------------------------------------------------------------------- demo training
TINY_DEMO_CONFIG = "configs/univs/univs_tiny_demo.py"


def _plain(d):
    """A config value with classes replaced by their names (storable in a weights-only file)."""
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return type(d)(_plain(x) for x in d)
    if isinstance(d, type):
        return d.__name__
    return d


def ensure_tiny_checkpoint(work_dir: str, config: str | None = None, cfg_options: dict | None = None,
                           progress: bool = False) -> str:
    """Train ``univs_tiny`` for the demo once and return its checkpoint path.

    Uses ``configs/univs/univs_tiny_demo.py`` (or ``config``): writes the synthetic suite's
    benchmarks it trains on into ``<work_dir>/_synthetic`` (the folders ``univs-bench run``
    uses, so their validation splits are the ones scored), converts their ``train`` splits
    into ``<work_dir>/univs_tiny_train/data/`` and trains into ``<work_dir>/univs_tiny_train/``
    on one CPU thread. The result ``univs_tiny.pth`` holds the weights and, in its meta, the
    model config and the shared-vocabulary ``category_maps``, so ``univs_tiny`` loads it with
    nothing else. Cached: an existing ``univs_tiny.pth`` is returned as it is; an interrupted
    run resumes from its last MMEngine checkpoint. ``cfg_options`` overrides config keys
    (e.g. ``{'train_cfg.max_iters': 20}``).
    """
    import time

    from mmengine.config import Config

    from ..data_converters import bench_data
    from ..io.atomic import atomic_path
    from ..registry import CONVERTERS
    work = Path(work_dir)
    out_dir = work / "univs_tiny_train"
    final = out_dir / "univs_tiny.pth"
    if final.is_file():
        return str(final)
    repo = Path(__file__).resolve().parents[2]
    path = Path(config or TINY_DEMO_CONFIG)
    if not path.is_file() and (repo / path).is_file():
        path = repo / path
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    names = [n for n, _, _ in cfg.demo_datasets]
    synth, data_dir = work / "_synthetic", out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    CONVERTERS.import_from_location()
    for name in names:
        from ..runner import ensure_synthetic
        root = ensure_synthetic(synth, name)  # the suite `univs-bench run` reads
        ann = data_dir / f"{name}_train.json"
        if not ann.is_file():
            conv_name, kw = bench_data(name).converter
            conv = CONVERTERS.build(dict(type=conv_name, **kw))
            conv.convert(str(root / bench_data(name).data), "train", str(ann), progress=progress)
    for ds, name in zip(cfg.train_dataloader.dataset.datasets, names):
        ds.ann_file = str(data_dir / f"{name}_train.json")

    from ..train import train
    t0 = time.time()
    runner = train(cfg, work_dir=str(out_dir), resume=True)
    seconds = time.time() - t0
    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()
             if k.startswith(("backbone.", "sem_seg_head.", "text_encoder."))}
    model_cfg = _plain(_short_types(copy.deepcopy(cfg.to_dict()["model"])))
    model_cfg.pop("criterion", None)
    cmaps = {b: {int(c): int(k) for c, k in m.items()} for b, m in cfg.tiny_category_maps.items()}
    meta = {"model_cfg": model_cfg, "category_maps": cmaps, "config": str(path),
            "iters": int(runner.iter), "train_seconds_last_session": round(seconds, 1),
            "classes": list(cfg.SHARED_CLASSES)}
    import torch
    with atomic_path(str(final), suffix=".pth") as tmp:
        torch.save({"state_dict": state, "meta": meta}, tmp)
    return str(final)
