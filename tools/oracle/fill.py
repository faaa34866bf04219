"""Deterministic weights in the official UniVS key names (the oracle's fill rule).

The official R50 state-dict keys and shapes are listed in ``../shared/univs_official_keys.tsv``
(columns: key, shape as a Python tuple; sections ``## variant=<name>``). Every tensor is drawn
from its own numpy ``Generator`` seeded by the first 8 bytes of sha256(key), so a key's value
depends on its name and shape only: stable across torch versions, machines and key order.

Rule, by key (first match wins):

- ``running_mean`` 0, ``running_var`` 1 (frozen BN is the identity up to its bias);
- ``cls_temp.weight`` / ``reid_temp.weight``: log(1/0.07), the official initial temperature;
- any other 1-D ``weight`` (BN, GroupNorm, LayerNorm scales): 1;
- any 1-D ``bias`` or ``in_proj_bias``: N(0, 0.02);
- ``query_feat`` / ``query_embed`` / ``level_embed`` / ``prompt_*`` embeddings: N(0, 1);
- every other tensor (conv / linear weights): N(0, g / sqrt(fan_in)), fan_in = prod(shape[1:]),
  g = the factor of the first ``SCALES`` substring in the key, else GAIN = 1: the mask decoder's
  attention/FFN layers (``predictor.transformer_``) 0.3, so the learnable queries keep distinct
  masks instead of all collapsing to one, and the mask-embedding MLP 2.0, so mask logits are
  decisive (a plain variance-preserving fill gave every query nearly the same half-frame mask).

Extra official inputs filled the same way: the CLIP class-name embeddings
(``combined_datasets_cls_emb_rn50x4.pth``, a (3938, 640) tensor, key ``clip_class_embed``, N(0, 1)),
and the RegionCLIP RN50x4 language encoder (``regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth``,
:func:`text_encoder_keys`; each key seeded as ``'lang_encoder.' + key``).

Checked on the official outputs (tests/fixtures/official_inference/README.md, "What the weights
produce"): masks are regions of a sizeable but partial share of the frame, and class scores vary.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import math
from pathlib import Path

import numpy as np

KEYS_TSV = Path(__file__).resolve().parents[2].parent / "shared" / "univs_official_keys.tsv"
NUM_CLASSES = 3938        # datasets/concept_emb/combined_datasets_category_info.py (official)
TEXT_DIM = 640            # RegionCLIP RN50x4 text width
GAIN = 1.0
# Per-key factors on the conv/linear rule (first matching substring wins); see the docstring.
SCALES: dict[str, float] = {"predictor.transformer_": 0.3, "predictor.mask_embed": 2.0}
EMBED_NAMES = ("query_feat", "query_embed", "level_embed", "prompt_sot", "prompt_detection",
               "prompt_grounding")


def keys_tsv() -> Path:
    """The keys file: ``$UNIVS_OFFICIAL_KEYS`` or ``../shared/univs_official_keys.tsv``."""
    import os
    p = os.environ.get("UNIVS_OFFICIAL_KEYS")
    if p:
        return Path(p)
    for cand in (KEYS_TSV, Path(__file__).resolve().parents[2] / ".." / "shared" / "univs_official_keys.tsv"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"{KEYS_TSV}: official key list not found (set UNIVS_OFFICIAL_KEYS)")


def read_keys(variant: str = "r50", path: str | Path | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of one variant's section of the keys tsv, in file order."""
    out, cur = [], None
    for line in Path(path or keys_tsv()).read_text().splitlines():
        if line.startswith("## variant="):
            cur = line.split("=", 1)[1].split()[0]
            continue
        if not line.strip() or line.startswith("#") or cur != variant:
            continue
        key, shape = line.split("\t")
        out.append((key, tuple(ast.literal_eval(shape))))
    if not out:
        raise ValueError(f"no keys for variant {variant!r} in {path or keys_tsv()}")
    return out


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))


def fill_value(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The rule's float32 value for one key (see the module docstring)."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_mean":
        return np.zeros(shape, np.float32)
    if leaf == "running_var":
        return np.ones(shape, np.float32)
    if key.endswith(("cls_temp.weight", "reid_temp.weight")):
        return np.full(shape, math.log(1 / 0.07), np.float32)
    if len(shape) == 1 and leaf == "weight":
        return np.ones(shape, np.float32)
    if len(shape) == 1 and leaf.endswith("bias"):
        return (_rng(key).standard_normal(shape) * 0.02).astype(np.float32)
    if any(f".{n}" in key for n in EMBED_NAMES):
        return _rng(key).standard_normal(shape).astype(np.float32)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    gain = next((f for pat, f in SCALES.items() if pat in key), GAIN)
    return (_rng(key).standard_normal(shape) * (gain / math.sqrt(fan_in))).astype(np.float32)


@functools.cache
def digest(variant: str = "r50") -> str:
    """sha256 over every filled tensor (key, shape, float32 bytes) and the class embeddings:
    make_fixtures records it, so a test can tell that regenerated weights are the fixtures' ones."""
    h = hashlib.sha256()
    for k, s in read_keys(variant):
        h.update(f"{k}{s}".encode())
        h.update(fill_value(k, s).tobytes())
    h.update(class_embeddings().numpy().tobytes())
    return h.hexdigest()


def filled_state_dict(variant: str = "r50", path: str | Path | None = None) -> dict:
    """{official key: torch tensor} for every key of ``variant``."""
    import torch
    return {k: torch.from_numpy(fill_value(k, s)) for k, s in read_keys(variant, path)}


def class_embeddings():
    """The filled stand-in for the official CLIP class-name embeddings (3938, 640)."""
    import torch
    return torch.from_numpy(fill_value("clip_class_embed", (NUM_CLASSES, TEXT_DIM)) * math.sqrt(TEXT_DIM))


# RegionCLIP RN50x4 language encoder (univs/modeling/language/TextEncoder.py CLIPLangEncoder with
# MODEL.CLIP.RESNETS_DEPTH 200): width 640, 12 layers, 10 heads, context 77, vocabulary 49408.
TEXT_WIDTH, TEXT_LAYERS, TEXT_CONTEXT, TEXT_VOCAB = 640, 12, 77, 49408


def text_encoder_keys() -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of the official ``regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth``
    state dict (loaded strictly from its ``'model'`` entry by TextEncoder.py ``load_checkpoint``)."""
    w = TEXT_WIDTH
    keys = []
    for i in range(TEXT_LAYERS):
        b = f"transformer.resblocks.{i}."
        keys += [(b + "attn.in_proj_weight", (3 * w, w)), (b + "attn.in_proj_bias", (3 * w,)),
                 (b + "attn.out_proj.weight", (w, w)), (b + "attn.out_proj.bias", (w,)),
                 (b + "ln_1.weight", (w,)), (b + "ln_1.bias", (w,)),
                 (b + "mlp.c_fc.weight", (4 * w, w)), (b + "mlp.c_fc.bias", (4 * w,)),
                 (b + "mlp.c_proj.weight", (w, 4 * w)), (b + "mlp.c_proj.bias", (w,)),
                 (b + "ln_2.weight", (w,)), (b + "ln_2.bias", (w,))]
    keys += [("positional_embedding", (TEXT_CONTEXT, w)), ("text_projection", (w, w)),
             ("token_embedding.weight", (TEXT_VOCAB, w)), ("ln_final.weight", (w,)), ("ln_final.bias", (w,))]
    return keys


def save_text_encoder(dst: str | Path) -> Path:
    """Write the filled language encoder as the official file: ``{'model': state_dict}``
    (same rule; 2-D tensors N(0, 1/sqrt(shape[1])))."""
    import torch
    dst = Path(dst)
    torch.save({"model": {k: torch.from_numpy(fill_value("lang_encoder." + k, s)) for k, s in text_encoder_keys()}},
               str(dst))
    return dst


def save_official_checkpoint(dst: str | Path, variant: str = "r50") -> Path:
    """Write the filled weights as a detectron2-style official checkpoint ``{'model': sd}``."""
    import torch
    dst = Path(dst)
    torch.save({"model": filled_state_dict(variant)}, str(dst))
    return dst


def save_class_embeddings(dst: str | Path) -> Path:
    """Write :func:`class_embeddings` as the official code loads it (a bare tensor)."""
    import torch
    dst = Path(dst)
    torch.save(class_embeddings(), str(dst))
    return dst
