"""Official UniVS checkpoints <-> our state dicts, and safe checkpoint loading.

Our parameter names are the official ones, so the key map is the identity. Documented
renames (``RENAMES``): only the legacy Mask2Former ``static_query`` -> ``query_feat`` that the
official decoder's ``_load_from_state_dict`` also applies. What conversion handles:

* detectron2 files wrap weights under ``'model'`` (``.pth`` via torch.save, or ``.pkl``
  pickles of numpy arrays); MMEngine files under ``'state_dict'``; DDP ``module.`` prefixes.
* Stage-3 files hold an EMA teacher under ``backbone_t.*`` / ``sem_seg_head_t.*``
  (``boxvis_ema_enabled``; the official inference swaps it in). When present these weights are
  used (``use_ema=True``, the default) and the report says so; the student copies are dropped.
* Keys outside ``backbone.`` / ``sem_seg_head.`` (e.g. criterion buffers) are dropped and listed.

Loading under torch >= 2.6 (``weights_only=True`` by default) breaks MMEngine 0.10.7, whose
checkpoints hold ``HistoryBuffer`` objects and numpy values: ``load_checkpoint_file`` loads
with ``weights_only=True`` and an allow-list of those classes, and only unpickles arbitrary
objects when the caller opts in (``allow_pickle=True``, for trusted files). ``install_mmengine_loader``
makes MMEngine's own loader (``runner.resume``, ``mmengine.runner.load_checkpoint``) use it.
"""
from __future__ import annotations

import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import torch

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


def _safe_globals() -> list:
    import numpy as np
    allowed = [np.ndarray, np.dtype, OrderedDict]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy >= 2 moved the module; both paths may appear in files
        from numpy._core.multiarray import _reconstruct, scalar
    allowed += [_reconstruct, scalar]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
        allowed.append(HistoryBuffer)
    except ImportError:
        pass
    # MMEngine pickles HistoryBuffer's statistics as getattr(HistoryBuffer, 'min'); torch's
    # weights-only unpickler only *calls* allow-listed objects, so getattr cannot reach code.
    import builtins
    allowed.append(builtins.getattr)
    return allowed


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickler for detectron2 ``.pkl`` weights: numpy arrays and plain containers only."""

    _ok: ClassVar[set[tuple[str, str]]] = {("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype"),
           ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
           ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self._ok or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")


def load_checkpoint_file(path: str | Path, map_location="cpu", allow_pickle: bool = False):
    """Load a checkpoint (torch zip/legacy file or detectron2 ``.pkl``) without running
    arbitrary pickled code unless ``allow_pickle`` (trusted files only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".pkl":
        try:
            with open(path, "rb") as f:
                return _NumpyUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            if not allow_pickle:
                raise ValueError(f"{path}: {e}; pass allow_pickle=True if the file is trusted") from e
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if not allow_pickle:
            raise ValueError(
                f"{path}: cannot be loaded with weights_only=True ({str(e).splitlines()[0]}); "
                "pass allow_pickle=True if the file is trusted") from e
        warnings.warn(f"{path}: loading with weights_only=False (trusted file)", stacklevel=2)
        return torch.load(path, map_location=map_location, weights_only=False)


def install_mmengine_loader(allow_pickle: bool = False) -> None:
    """Make MMEngine's local-file loader (resume, load_checkpoint) use ``load_checkpoint_file``."""
    from mmengine.runner.checkpoint import CheckpointLoader

    def _load_local(filename, map_location=None):
        return load_checkpoint_file(filename, map_location=map_location or "cpu",
                                    allow_pickle=allow_pickle)

    CheckpointLoader.register_scheme(prefixes="", force=True)(_load_local)


def _to_tensor(v):
    if isinstance(v, torch.Tensor):
        return v
    import numpy as np
    if isinstance(v, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(v))
    return v


def convert_official_state_dict(checkpoint: dict, use_ema: bool = True):
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


def load_official_checkpoint(model, checkpoint, use_ema: bool = True, strict: bool = True):
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


def convert_checkpoint_file(src: str | Path, dst: str | Path, use_ema: bool = True) -> dict:
    """Write an official checkpoint as an MMEngine-style ``{'state_dict', 'meta'}`` file
    (loadable with ``weights_only=True``); returns the conversion report."""
    sd, report = convert_official_state_dict(load_checkpoint_file(src), use_ema=use_ema)
    meta = {"source": str(src), "ema_used": report["ema_used"]}
    from univs_bench.io.atomic import atomic_path
    with atomic_path(dst) as tmp:
        torch.save({"state_dict": sd, "meta": meta}, str(tmp))
    return report
