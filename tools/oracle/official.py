"""Importing and running the official UniVS code (MinghanLi/UniVS@7415d31) on the CPU.

Nothing of the official code is copied here: the checkouts given on the command line are put on
``sys.path`` and imported as they are. What cannot run on a CPU-only machine without their
compiled parts is replaced by stubs that cannot change a number (each listed in STUBS and in
tests/fixtures/official_inference/README.md):

- ``MultiScaleDeformableAttention`` (the compiled CUDA op): ``ms_deform_attn_forward`` calls the
  official pure-PyTorch reference ``ms_deform_attn_core_pytorch``
  (mask2former/modeling/pixel_decoder/ops/functions/ms_deform_attn_func.py); the official
  ``im2col_step`` only batches the CUDA kernel.
- ``torchvision``, ``kornia``, ``timm``, ``panopticapi``, ``sklearn``, ``detectron2._C``: imported
  by the official modules at import time (``batched_nms``/``box_area``, ``color``,
  ``trunc_normal_`` init (-> ``torch.nn.init.trunc_normal_``: its values are overwritten by the
  strict load of the filled weights), evaluation/visualisation helpers, detectron2's compiled COCOeval / deformable
  conv) but never called on the inference paths used here; every attribute of a stub module is a
  function that raises ``RuntimeError('stub called: ...')``, so a call cannot go unnoticed.
- CUDA autocast: the official ``train_net.py`` ``Trainer.test`` runs inference under
  ``torch.cuda.amp.autocast()`` (fp16 on a GPU); on the CPU that context does nothing, so these
  outputs are the official procedure in fp32 (our side is compared in fp32 too).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types

STUBS = ("torchvision", "kornia", "timm", "panopticapi", "sklearn", "detectron2._C")


# Stub attributes that are called, with what they do instead: initialisers whose values are
# overwritten when the filled weights are loaded (every parameter is loaded, strictly).
OVERRIDES = {"timm.models.layers.trunc_normal_": "torch.nn.init.trunc_normal_",
             # panopticapi colours the VPS submission: rgb2id is exact, the id generator is a
             # deterministic stand-in for panopticapi's random-colour one (colours only name segments)
             "panopticapi.utils.rgb2id": "tools.oracle.official.rgb2id",
             "panopticapi.utils.IdGenerator": "tools.oracle.official.IdGenerator"}


def rgb2id(color):
    """panopticapi.utils.rgb2id: id = R + 256 G + 256^2 B (arrays or a colour triple)."""
    import numpy as np
    if isinstance(color, np.ndarray) and len(color.shape) == 3:
        if color.dtype == np.uint8:
            color = color.astype(np.int32)
        return color[:, :, 0] + 256 * color[:, :, 1] + 256 * 256 * color[:, :, 2]
    return int(color[0] + 256 * color[1] + 256 * 256 * color[2])


class IdGenerator:
    """Deterministic stand-in for panopticapi.utils.IdGenerator: a stuff category gets its own
    colour once; every other request gets the category colour shifted by a fixed sequence of
    offsets until the colour is unused (panopticapi draws the shift at random)."""

    def __init__(self, categories):
        self.taken = {(0, 0, 0)}
        self.categories = categories

    def get_color(self, cat_id):
        cat = self.categories[cat_id]
        base = tuple(int(c) for c in cat["color"])
        if not cat["isthing"] and base not in self.taken:
            self.taken.add(base)
            return list(base)
        k = 1
        while True:
            off = ((k * 7) % 61 - 30, (k * 13) % 61 - 30, (k * 29) % 61 - 30)
            col = tuple(min(255, max(0, b + o)) for b, o in zip(base, off))
            k += 1
            if col not in self.taken:
                self.taken.add(col)
                return list(col)

    def get_id(self, cat_id):
        return rgb2id(self.get_color(cat_id))

    def get_id_and_color(self, cat_id):
        color = self.get_color(cat_id)
        return rgb2id(color), color


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        qual = f"{self.__name__}.{name}"
        if qual in OVERRIDES:
            import importlib
            mod, attr = OVERRIDES[qual].rsplit(".", 1)
            return getattr(importlib.import_module(mod), attr)

        def stub(*args, **kwargs):
            raise RuntimeError(f"stub called: {qual}")
        stub.__qualname__ = qual
        return stub


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name in STUBS or name.split(".")[0] in STUBS:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def _msda_module():
    m = types.ModuleType("MultiScaleDeformableAttention")

    def ms_deform_attn_forward(value, shapes, level_start_index, sampling_locations, attention_weights, im2col_step):
        from mask2former.modeling.pixel_decoder.ops.functions.ms_deform_attn_func import (
            ms_deform_attn_core_pytorch,
        )
        return ms_deform_attn_core_pytorch(value, shapes, sampling_locations, attention_weights)

    def ms_deform_attn_backward(*args, **kwargs):
        raise RuntimeError("stub called: MultiScaleDeformableAttention.ms_deform_attn_backward")
    m.ms_deform_attn_forward = ms_deform_attn_forward
    m.ms_deform_attn_backward = ms_deform_attn_backward
    return m


def bootstrap(univs: str, detectron2: str, site: str | None = None, datasets_root: str | None = None):
    """Put the official checkouts on ``sys.path``, install the stubs and import the packages.

    ``site``: an extra folder of pure-Python dependencies of detectron2 (fvcore, iopath, yacs,
    omegaconf, ...) installed with ``pip install --target``. ``datasets_root`` becomes
    ``DETECTRON2_DATASETS``, where the official builtin registration looks for datasets.
    """
    if datasets_root:
        os.environ["DETECTRON2_DATASETS"] = datasets_root
    for p in (univs, detectron2, site):
        if p and p not in sys.path:
            sys.path.insert(0, p)
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())
    sys.modules.setdefault("MultiScaleDeformableAttention", _msda_module())
    import detectron2  # noqa: F401
    import mask2former  # noqa: F401
    import mask2former_video  # noqa: F401
    import regionclip  # noqa: F401
    import univs  # noqa: F401  (registers the datasets, the meta-architecture and the heads)


def setup_cfg(univs: str, config_file: str, opts: list[str]):
    """``train_net.py`` ``setup`` without the logging side effects: defaults, YAML, overrides."""
    from detectron2.config import get_cfg
    from detectron2.projects.deeplab import add_deeplab_config
    from mask2former import add_maskformer2_config
    from mask2former_video import add_maskformer2_video_config
    from regionclip import add_regionclip_config
    from univs import add_univs_config
    cfg = get_cfg()
    add_deeplab_config(cfg)
    add_maskformer2_config(cfg)
    add_maskformer2_video_config(cfg)
    add_regionclip_config(cfg)
    add_univs_config(cfg)
    cfg.merge_from_file(os.path.join(univs, config_file))
    cfg.merge_from_list(opts)
    cfg.freeze()
    return cfg
