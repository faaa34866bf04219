"""UniVS training on MMEngine: the three official stages, the CPU synthetic run, resume.

``train(config)`` loads a pure-Python MMEngine config (``configs/univs/univs_*_stage*.py``),
applies what the official detectron2 trainer does around the model and builds a
:class:`UniVSRunner`:

- **freezing** (``cfg.frozen``): stage 2 freezes the backbone, stage 3 also the pixel decoder
  (:func:`freeze_modules`); frozen parts get no gradients, no optimizer state, and stay in
  eval mode (the official Swin ``_freeze_stages`` does the same);
- **optimizer** (:class:`UniVSOptimWrapperConstructor`): the official ``build_optimizer`` of
  ``train_net.py``: one group per parameter, backbone lr x0.1, weight decay 0 on every norm
  layer, every ``nn.Embedding`` and Swin's relative position tables;
- **AMP** (``cfg.amp``): ``AmpOptimWrapper`` (fp16 + dynamic loss scale) only when CUDA is
  available; CPU runs stay fp32;
- **EMA teacher** (``cfg.ema = dict(decay=0.9999)``): :class:`UniVSEMAHook` plus teacher copies
  built with the model (official ``MODEL.BoxVIS.EMA_ENABLED``, on in ``tools/run/*_stage3.sh``);
- **stage 3** (:class:`UniVSLongVideo`): a 7-frame clip runs as two overlapping 5-frame
  windows; per-window losses are averaged and the inter-clip ReID loss is added;
- **synthetic data** (``cfg.synthetic``): the CPU config writes and converts the synthetic
  suite on first use;
- checkpoints save and resume under torch >= 2.6 (``install_mmengine_loader``).
"""
from __future__ import annotations

import copy
import inspect
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.runner import Runner
from torch import nn

from .errors import InputError
from .models.univs.ema import UniVSEMAHook, make_teacher
from .models.univs.univs import UniVS
from .registry import MODELS

# official build_optimizer's norm_module_types (FrozenBatchNorm has no parameters)
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
              nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)
# freeze-spec names -> module paths of UniVS
FREEZE_PARTS = {"backbone": "backbone", "pixel_decoder": "sem_seg_head.pixel_decoder",
                "predictor": "sem_seg_head.predictor"}


# ----------------------------------------------------------------------------- optimizer
class UniVSOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Parameter groups of the official ``build_optimizer`` (``train_net.py``).

    One group per trainable parameter (frozen and duplicate parameters are left out). Its
    lr is ``base_lr`` times the product of the ``lr_mult`` of every ``custom_keys`` key found
    in the parameter's name; its weight decay is ``base_wd`` times the product of the matching
    ``decay_mult``, ``norm_decay_mult`` for parameters of norm layers and ``embed_decay_mult``
    for ``nn.Embedding`` parameters. Unlike MMEngine's default constructor, every matching rule
    applies (a backbone LayerNorm gets lr x0.1 *and* no decay, as officially).

    Example::

        optim_wrapper = dict(
            type=OptimWrapper, constructor=UniVSOptimWrapperConstructor,
            optimizer=dict(type=AdamW, lr=5e-5, weight_decay=0.05),
            clip_grad=dict(max_norm=0.01, norm_type=2),
            paramwise_cfg=dict(norm_decay_mult=0.0, embed_decay_mult=0.0,
                               custom_keys={'backbone': dict(lr_mult=0.1)}))
    """

    def add_params(self, params: list, module: nn.Module, prefix: str = "", **kwargs) -> None:
        cfg = self.paramwise_cfg
        custom = dict(cfg.get("custom_keys", {}))
        norm_mult = cfg.get("norm_decay_mult", 1.0)
        embed_mult = cfg.get("embed_decay_mult", 1.0)
        seen: set[int] = set()
        for mod_name, mod in module.named_modules(prefix=prefix):
            for name, p in mod.named_parameters(recurse=False):
                if not p.requires_grad or id(p) in seen:
                    continue
                seen.add(id(p))
                full = f"{mod_name}.{name}" if mod_name else name
                lr_mult = decay_mult = 1.0
                for key, opts in custom.items():
                    if key in full:
                        lr_mult *= opts.get("lr_mult", 1.0)
                        decay_mult *= opts.get("decay_mult", 1.0)
                if isinstance(mod, NORM_TYPES):
                    decay_mult *= norm_mult
                if isinstance(mod, nn.Embedding):
                    decay_mult *= embed_mult
                group = {"params": [p]}
                if self.base_lr is not None:
                    group["lr"] = self.base_lr * lr_mult
                if self.base_wd is not None:
                    group["weight_decay"] = self.base_wd * decay_mult
                params.append(group)


# ----------------------------------------------------------------------------- freezing
def _keep_eval(module: nn.Module, args) -> None:
    # per module (containers such as ResNet's stem have no forward of their own)
    module.training = False


def freeze_modules(model: nn.Module, spec: Optional[dict]) -> list[str]:
    """Freeze parts of a UniVS model; returns the names of the frozen parameters.

    ``spec`` maps ``backbone`` / ``pixel_decoder`` / ``predictor`` to ``True`` (the whole
    part: ``requires_grad`` off and eval mode in every forward, so Swin's drop path is off
    as in the official ``_freeze_stages``), ``False``, or a list of parameter-name prefixes
    inside the part (e.g. ``['patch_embed', 'layers.0', 'layers.1', 'layers.2']`` is the
    official Swin ``FREEZE_AT 4``); the submodules those prefixes name are held in eval
    mode too.
    """
    frozen: list[str] = []
    for part, value in (spec or {}).items():
        if part not in FREEZE_PARTS:
            raise ValueError(f"freeze: unknown part {part!r}; expected one of {sorted(FREEZE_PARTS)}")
        if not value:
            continue
        path = FREEZE_PARTS[part]
        mod = model.get_submodule(path)
        prefixes = [""] if value is True else [str(v).rstrip(".") for v in value]
        named_mods = dict(mod.named_modules())
        for pre in prefixes:
            sub = named_mods.get(pre)
            hits = [(n, p) for n, p in mod.named_parameters()
                    if not pre or n == pre or n.startswith(pre + ".")]
            if not hits:
                raise ValueError(f"freeze: {part} has no parameter under {pre!r}")
            for n, p in hits:
                p.requires_grad_(False)
                frozen.append(f"{path}.{n}")
            for m in (sub.modules() if sub is not None else ()):
                if not getattr(m, "_univs_frozen", False):
                    m.register_forward_pre_hook(_keep_eval)
                    m._univs_frozen = True
    return frozen


# ----------------------------------------------------------------------------- stage 3
def window_starts(num_frames: int, window: int) -> list[int]:
    """First frames of the training windows of a long clip (``univs_prompt_longvideo.py``):
    stride ``window - 1``, the last window aligned with the clip's end (7 frames, window 5:
    frames 0-4 and 2-6)."""
    if num_frames <= window:
        return [0]
    starts, stride = [], max(window - 1, 1)
    for i in range(0, num_frames, stride):
        end = min(num_frames, i + window)
        starts.append(end - window)
        if end == num_frames:
            break
    return starts


def _slice_sample(sample: dict, a: int, b: int, num_frames: int) -> dict:
    """A data sample restricted to frames ``a:b``; visual prompts whose key frame falls
    outside are rebuilt from the GT masks of their targets on the window's first frame."""
    s = dict(sample)
    if isinstance(s.get("masks"), torch.Tensor):
        s["masks"] = s["masks"][:, a:b]
    fi = s.get("frame_indices")
    if fi is not None and len(fi) == num_frames:
        s["frame_indices"] = fi[a:b]
    for k in ("frame_ids", "frame_names", "frame_paths"):
        if isinstance(s.get(k), (list, tuple)) and len(s[k]) == num_frames:
            s[k] = list(s[k])[a:b]
    if s.get("prompt_type") == "visual" or s.get("task") == "sot":
        key = int(s.get("prompt_frame", 0))
        if a <= key < b:
            s["prompt_frame"] = key - a
        elif isinstance(s.get("masks"), torch.Tensor) and "prompt_target" in s:
            tgt = torch.as_tensor(s["prompt_target"]).long().to(s["masks"].device)
            valid = (tgt >= 0)[:, None, None]
            s["prompt_regions"] = s["masks"][tgt.clamp(min=0), 0].bool() & valid
            s["prompt_kinds"] = ["mask"] * len(tgt)
            s["prompt_frame"] = 0
        if "prompt_frames" in s:
            pf = torch.as_tensor(s["prompt_frames"]) - a
            s["prompt_frames"] = torch.where((pf >= 0) & (pf < b - a), pf, torch.zeros_like(pf))
    return s


@MODELS.register_module()
class UniVSLongVideo(UniVS):
    """Stage-3 UniVS (official ``UniVS_Prompt_LongVideo``): long clips in windows.

    In ``'loss'`` mode a clip longer than ``num_frames_window`` runs as overlapping windows
    (:func:`window_starts`); one ReID memory collects the matched embeddings of every window,
    the per-window losses are averaged and the inter-clip ReID losses added
    (``UniVSCriterion`` with ``long_video=True``). Visual prompts of a later window come
    from the GT masks of their targets on its first frame (the official model instead keeps
    a memory pool of prompt tokens from the previous window's GT masks).

    ``ema_teacher=True`` builds the EMA copies ``backbone_t`` / ``sem_seg_head_t`` with the
    model (updated by :class:`UniVSEMAHook`), so they save, resume and convert to official
    checkpoints; a checkpoint without them (stage 2) initialises them from the student, as
    the official ``copy_TeacherNet_weights`` does.

    Example::

        model = dict(type=UniVSLongVideo, num_frames_window=5, ema_teacher=True,
                     backbone=dict(type=ResNet, depth=50),
                     criterion=dict(type=UniVSCriterion, long_video=True))
    """

    def __init__(self, *args, num_frames_window: int = 5, ema_teacher: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if num_frames_window < 1:
            raise ValueError(f"num_frames_window must be positive, got {num_frames_window}")
        self.num_frames_window = int(num_frames_window)
        if ema_teacher:
            self.backbone_t = make_teacher(self.backbone)
            self.sem_seg_head_t = make_teacher(self.sem_seg_head)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for t_name in ("backbone_t", "sem_seg_head_t"):
            if getattr(self, t_name, None) is None:
                continue
            s_pre, t_pre = prefix + t_name[:-2] + ".", prefix + t_name + "."
            if not any(k.startswith(t_pre) for k in state_dict):
                for k in [k for k in state_dict if k.startswith(s_pre)]:
                    state_dict[t_pre + k[len(s_pre):]] = state_dict[k]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        if mode == "loss" and inputs.dim() == 5 and inputs.shape[1] > self.num_frames_window:
            return self.long_video_loss(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def long_video_loss(self, inputs: torch.Tensor, data_samples: list[dict]) -> dict:
        """Averaged per-window losses plus the inter-clip ReID losses of one batch."""
        self.loss_criterion(inputs, data_samples)
        t, w = inputs.shape[1], self.num_frames_window
        memory = self.criterion.new_reid_memory()
        per_clip = []
        for a in window_starts(t, w):
            samples = [_slice_sample(s, a, a + w, t) for s in data_samples]
            outputs = self._forward(inputs[:, a:a + w], samples)
            per_clip.append(self.criterion(outputs, samples, reid_memory=memory))
        losses = self.criterion.average_clip_losses(per_clip)
        losses.update(self.criterion.interclip_losses(memory))
        return losses


# ----------------------------------------------------------------------------- runner
class UniVSRunner(Runner):
    """MMEngine ``Runner`` that freezes ``cfg.frozen`` before the model is wrapped (so DDP
    and the optimizer only see trainable parameters)."""

    def wrap_model(self, model_wrapper_cfg, model):
        frozen = freeze_modules(model, self.cfg.get("frozen"))
        if frozen:
            self.logger.info(f"frozen: {len(frozen)} parameter tensors "
                             f"({sum(1 for _ in model.parameters()) - len(frozen)} trainable)")
        return super().wrap_model(model_wrapper_cfg, model)


def _parse_options(options) -> dict:
    """A dict of options, or ``KEY=VALUE`` strings parsed as on the command line."""
    if isinstance(options, dict):
        return dict(options)
    from .options import parse_cfg_options
    return parse_cfg_options(options)


def load_config(config, cfg_options=None) -> Config:
    """A config file (or ``Config``) with ``cfg_options`` (dict, or ``KEY=VALUE`` strings with
    Python literals) merged in."""
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        if not osp.isfile(str(config)):
            raise FileNotFoundError(config)
        cfg = Config.fromfile(str(config))
    opts = _parse_options(cfg_options)
    for key in list(opts):
        # a dict replacing a non-dict (e.g. ema=dict(decay=...) over ema=None) cannot merge
        parent, _, leaf = key.rpartition(".")
        node = cfg
        for part in parent.split(".") if parent else []:
            node = node.get(part) if isinstance(node, dict) or hasattr(node, "get") else None
            if node is None:
                break
        if isinstance(opts[key], dict) and node is not None and hasattr(node, "get") \
                and not isinstance(node.get(leaf), dict):
            node[leaf] = opts.pop(key)
    if opts:
        cfg.merge_from_dict(opts)
    return cfg


def print_config(path, cfg_options=None) -> str:
    """Print (and return) the fully resolved config as :func:`train` runs it (bases merged,
    ``cfg_options`` applied, ``amp``/``ema`` switches resolved), for ``univs-bench config print``."""
    text = configure(load_config(path, cfg_options)).pretty_text
    print(text)
    return text


def _accepts(model_type, name: str) -> bool:
    if isinstance(model_type, str):
        model_type = MODELS.get(model_type)
    if model_type is None:
        return False
    params = inspect.signature(model_type.__init__).parameters
    return name in params


def configure(cfg: Config) -> Config:
    """Apply the ``amp`` and ``ema`` switches to the optimizer wrapper, model and hooks."""
    if cfg.get("amp") and torch.cuda.is_available() and "optim_wrapper" in cfg:
        from mmengine.optim import AmpOptimWrapper
        cfg.optim_wrapper.type = AmpOptimWrapper
    ema = cfg.get("ema")
    hooks = [h for h in (cfg.get("custom_hooks") or [])
             if h.get("type") not in (UniVSEMAHook, "UniVSEMAHook")]
    if ema is not None and not isinstance(ema, (dict, bool, float)):
        raise ValueError(f"ema must be None, a dict(decay=...), a decay or a bool, got {ema!r}")
    if ema:
        decay = float(ema.get("decay", 0.9999)) if isinstance(ema, dict) else \
            (0.9999 if ema is True else float(ema))
        # by registered name: a class object here would not survive the config dump
        hooks.append(dict(type="UniVSEMAHook", decay=decay))
    if "model" in cfg and _accepts(cfg.model.get("type"), "ema_teacher"):
        cfg.model.ema_teacher = bool(ema)  # teacher copies exist exactly when EMA is on
    cfg.custom_hooks = hooks
    return cfg


def prepare_synthetic_data(cfg: Config) -> None:
    """Write and convert the synthetic suite named by ``cfg.synthetic`` if its annotation
    file is missing: ``dict(out, benchmark, ann_file, split, videos, frames, size, seed,
    max_objects)`` (converter: ``benchmark``'s, or ``converter``)."""
    syn = cfg.get("synthetic")
    if not syn or osp.isfile(syn["ann_file"]):
        return
    from .data_converters import vis  # noqa: F401  (registers the VIS converters)
    from .registry import CONVERTERS
    from .synthetic import SynthConfig, write_benchmark
    kw = {k: syn[k] for k in ("videos", "frames", "seed", "max_objects") if k in syn}
    if "size" in syn:
        kw["size"] = tuple(syn["size"])
    root = write_benchmark(syn["out"], syn["benchmark"], SynthConfig(**kw))
    CONVERTERS.import_from_location()
    conv = CONVERTERS.build(dict(type=syn.get("converter", syn["benchmark"])))
    os.makedirs(osp.dirname(osp.abspath(syn["ann_file"])), exist_ok=True)
    conv.convert(str(root), syn.get("split", "train"), syn["ann_file"], progress=False)


def _replace_value(node, key: str, old, new):
    """Replace ``node[...][key] == old`` by ``new`` everywhere in a nested config."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and v == old:
                node[k] = new
            else:
                _replace_value(v, key, old, new)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _replace_value(v, key, old, new)


def _synthetic_under_work_dir(cfg: Config) -> None:
    """A config's relative ``synthetic`` paths (``data/synth``) go under the work dir, not the
    current folder; the datasets reading its annotation file follow."""
    syn = cfg.get("synthetic")
    if not syn:
        return
    for k in ("out", "ann_file"):
        if k in syn and not osp.isabs(syn[k]):
            new = osp.join(cfg.work_dir, syn[k])
            if k == "ann_file":
                _replace_value(cfg.get("train_dataloader"), "ann_file", syn[k], new)
            syn[k] = new


NO_CONVERTER = {"lvis": "LVIS", "coco_panoptic": "COCO panoptic", "refcoco": "RefCOCO", "entityseg": "EntitySeg",
                "sa1b": "SA-1B"}


def _ann_files(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["ann_file"]] if isinstance(node.get("ann_file"), str) else []) + \
            [f for k, v in node.items() if k != "ann_file" for f in _ann_files(v)]
    if isinstance(node, (list, tuple)):
        return [f for v in node for f in _ann_files(v)]
    return []


def check_train_files(cfg: Config) -> None:
    """InputError naming the first missing training annotation file (and how to make it)
    before anything is built, instead of a failure deep inside the runner."""
    files = list(dict.fromkeys(_ann_files(cfg.get("train_dataloader", {}))))
    missing = [f for f in files if not osp.isfile(f)]
    if not missing:
        return
    f = missing[0]
    stem = osp.basename(f).split("_train")[0]
    name = next((v for k, v in NO_CONVERTER.items() if stem.startswith(k)), None)
    if name:
        how = (f"univs-bench has no converter for {name} (an image dataset of the UniVS stages): convert it to "
               "the unified schema (univs_bench/schema.py) yourself, or drop it from the config")
    else:
        how = f"make it with `univs-bench convert {stem} --root RAW --split train --out {f}`"
    more = f" ({len(missing)} of {len(files)} training files missing)" if len(missing) > 1 else ""
    raise InputError(f"{osp.abspath(f)}: training annotation file not found{more}; {how}")


def build_runner(config, work_dir: Optional[str] = None, resume=False,
                 cfg_options=None, launcher: str = "none") -> UniVSRunner:
    """The configured :class:`UniVSRunner` (see :func:`train`), not started."""
    from .models.univs.checkpoint import install_mmengine_loader
    install_mmengine_loader()  # before the Runner: resume must load under torch >= 2.6
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif not cfg.get("work_dir"):
        name = osp.splitext(osp.basename(str(config)))[0] if not isinstance(config, Config) \
            else "univs"
        cfg.work_dir = osp.join("work_dirs", name)
    if isinstance(resume, str) and resume:
        cfg.load_from, cfg.resume = resume, True
    elif resume:
        cfg.resume = True
    configure(cfg)
    _synthetic_under_work_dir(cfg)
    if cfg.get("torch_threads"):  # tiny CPU models: one thread beats several on a busy machine
        torch.set_num_threads(int(cfg.torch_threads))
    prepare_synthetic_data(cfg)
    check_train_files(cfg)
    return UniVSRunner.from_cfg(cfg)


def train(config, work_dir: Optional[str] = None, resume=False,
          cfg_options=None, launcher: str = "none") -> UniVSRunner:
    """Train UniVS with an MMEngine config; returns the runner after training.

    Args:
        config: config path (or ``mmengine.Config``).
        work_dir: checkpoints and logs (default ``cfg.work_dir`` or ``work_dirs/<name>``).
        resume: ``True`` resumes from the latest checkpoint in ``work_dir`` (iteration,
            optimizer, schedulers, EMA teacher); a path resumes from that checkpoint.
        cfg_options: overrides, ``{'train_cfg.max_iters': 10}`` or ``['a.b=1', ...]``.
        launcher: ``'none'``, ``'pytorch'`` (torchrun) or ``'slurm'``.
    """
    runner = build_runner(config, work_dir, resume, cfg_options, launcher)
    runner.train()
    return runner


__all__: Sequence[str] = ["UniVSLongVideo", "UniVSOptimWrapperConstructor", "UniVSRunner",
                          "build_runner", "configure", "freeze_modules", "load_config",
                          "prepare_synthetic_data", "print_config", "train", "window_starts"]
