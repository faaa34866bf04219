"""Official UniVS checkpoints <-> our state dicts, and safe checkpoint loading.

Our parameter names are the official ones, so the key map is the identity. Documented
renames (``RENAMES``): only the legacy Mask2Former ``static_query`` -> ``query_feat`` that the
official decoder's ``_load_from_state_dict`` also applies. What conversion handles:

* detectron2 files wrap weights under ``'model'`` (``.pth`` via torch.save, or ``.pkl``
  pickles of numpy arrays); MMEngine files under ``'state_dict'``; DDP ``module.`` prefixes.
* Stage-3 files hold an EMA teacher under ``backbone_t.*`` / ``sem_seg_head_t.*``
  (``boxvis_ema_enabled``). The official test builds its model without EMA, so a teacher copy
  in the file is ignored and the plain weights are used (``configs/univs_inf`` YAMLs; audit row
  C22): that is our default too. ``use_ema=True`` takes the teacher copies instead (the student
  copies are then dropped); the report says which copy was used.
* Keys outside ``backbone.`` / ``sem_seg_head.`` (e.g. criterion buffers) are dropped and listed.

Safe file loading (``load_checkpoint_file``, ``install_mmengine_loader``) lives in
:mod:`.checkpoint_file`, below the model modules, and is re-exported here.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from .checkpoint_file import install_mmengine_loader, load_checkpoint_file  # noqa: F401  (re-exported)

OFFICIAL_PREFIXES = ("backbone.", "sem_seg_head.")
# Ours only: univs_tiny's trainable text encoder (the official encoder is frozen, outside the model).
OWN_PREFIXES = ("text_encoder.",)
EMA_PREFIXES = {"backbone_t.": "backbone.", "sem_seg_head_t.": "sem_seg_head."}
RENAMES = (("static_query", "query_feat"),)

# Model settings of the four official variants (configs/univs/* say the same).
VARIANTS = {
    "r50": {"backbone": {"type": "ResNet", "depth": 50}},
    "swint": {"backbone": {"type": "SwinTransformer", "embed_dim": 96, "depths": (2, 2, 6, 2),
                           "num_heads": (3, 6, 12, 24), "window_size": 7}},
    "swinb": {"backbone": {"type": "SwinTransformer", "embed_dim": 128, "depths": (2, 2, 18, 2),
                           "num_heads": (4, 8, 16, 32), "window_size": 12}},
    "swinl": {"backbone": {"type": "SwinTransformer", "embed_dim": 192, "depths": (2, 2, 18, 2),
                           "num_heads": (6, 12, 24, 48), "window_size": 12}},
}


def _to_tensor(v):
    if isinstance(v, torch.Tensor):
        return v
    import numpy as np
    if isinstance(v, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(v))
    return v


def convert_official_state_dict(checkpoint: dict, use_ema: bool = False):
    """Official (detectron2) checkpoint dict -> ``(state_dict, report)``.

    ``report``: ``ema_used`` (bool), ``renamed`` [(old, new)], ``dropped`` [keys] (outside
    the model, or student copies replaced by EMA weights).
    """
    sd = checkpoint
    for wrapper in ("model", "state_dict"):
        if isinstance(sd, dict) and isinstance(sd.get(wrapper), dict):
            sd = sd[wrapper]
            break
    sd = {(k.removeprefix("module.")): _to_tensor(v)
          for k, v in sd.items()}
    report = {"ema_used": False, "renamed": [], "dropped": []}
    has_ema = any(k.startswith(tuple(EMA_PREFIXES)) for k in sd)
    if has_ema and use_ema:
        report["ema_used"] = True
        teacher = {}
        for k, v in sd.items():
            for tp, sp in EMA_PREFIXES.items():
                if k.startswith(tp):
                    teacher[sp + k[len(tp):]] = v
        report["dropped"] += [k for k in sd if k.startswith(OFFICIAL_PREFIXES)]
        rest = {k: v for k, v in sd.items() if not k.startswith(OFFICIAL_PREFIXES)
                and not k.startswith(tuple(EMA_PREFIXES))}
        sd = {**teacher, **rest}
    out = OrderedDict()
    for k, v in sd.items():
        if not k.startswith(OFFICIAL_PREFIXES + OWN_PREFIXES):
            report["dropped"].append(k)
            continue
        new = k
        for old, repl in RENAMES:
            new = new.replace(old, repl)
        if new != k:
            report["renamed"].append((k, new))
        out[new] = v
    return out, report


def official_key_map(variant: str) -> dict[str, str]:
    """Our key -> official key for ``variant`` (identity: the names are the official ones)."""
    model = build_variant(variant, device="meta")
    return {k: k for k in model.state_dict()}


def build_variant(variant: str, device="cpu", **overrides):
    """A full-size UniVS of ``variant`` (r50, swint, swinb, swinl); ``device='meta'`` is free."""
    from .univs import UniVS
    if variant not in VARIANTS:
        raise ValueError(f"unknown UniVS variant {variant!r}; expected one of {sorted(VARIANTS)}")
    cfg = {**VARIANTS[variant], **overrides}
    with torch.device(device):
        return UniVS(**cfg)


def load_official_checkpoint(model, checkpoint, use_ema: bool = False, strict: bool = True):
    """Convert and load an official checkpoint (path or dict) into ``model``.

    Returns the conversion report plus ``missing`` / ``unexpected`` keys (restricted to the
    official prefixes); raises ``ValueError`` naming them when ``strict`` and any remain.
    """
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint_file(checkpoint)
    sd, report = convert_official_state_dict(checkpoint, use_ema=use_ema)
    own = {k for k in model.state_dict() if k.startswith(OFFICIAL_PREFIXES + OWN_PREFIXES)}
    report["missing"] = sorted(own - set(sd))
    report["unexpected"] = sorted(set(sd) - own)
    if strict and (report["missing"] or report["unexpected"]):
        raise ValueError(f"checkpoint does not match the model: missing {report['missing'][:5]}"
                         f"{'...' if len(report['missing']) > 5 else ''}, unexpected "
                         f"{report['unexpected'][:5]}{'...' if len(report['unexpected']) > 5 else ''}")
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
    return report


def convert_checkpoint_file(src: str | Path, dst: str | Path, use_ema: bool = False) -> dict:
    """Write an official checkpoint as an MMEngine-style ``{'state_dict', 'meta'}`` file
    (loadable with ``weights_only=True``); returns the conversion report."""
    sd, report = convert_official_state_dict(load_checkpoint_file(src), use_ema=use_ema)
    meta = {"source": str(src), "ema_used": report["ema_used"]}
    from univs_bench.io.atomic import atomic_path
    with atomic_path(dst) as tmp:
        torch.save({"state_dict": sd, "meta": meta}, str(tmp))
    return report
