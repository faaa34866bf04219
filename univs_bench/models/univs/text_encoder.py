"""CLIP text transformer (RegionCLIP RN50x4 language encoder), its tokenizer and prompt text.

Facts (univs/modeling/language/TextEncoder.py ``CLIPLangEncoder``): width 640, 12 layers, 10
heads, context 77, vocab 49408, causal mask, pre-norm residual blocks with QuickGELU,
``ln_final`` then ``text_projection`` (640 x 640); the sentence feature is the token at the EOT
position (the largest id of the sequence); UniVS also keeps all token features
(``only_eot=False``). The encoder is frozen and kept *outside* the UniVS state dict (the
official model holds it in a plain Python object), which is why the official parameter counts
exclude it. Its weights come from RegionCLIP's
``regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth`` (``{'model': state_dict}``, loaded
with ``strict=True`` by ``TextEncoder.load_checkpoint``); see :func:`map_official_keys`.

Tokenizer: :class:`BPETokenizer` is CLIP's byte-level BPE (our implementation of the
algorithm of ``clip_prompt_utils.SimpleTokenizer``) over the vocabulary file
``bpe_simple_vocab_16e6.txt.gz``. That file comes from the ``open_clip_torch`` wheel
(``pip install --no-deps open_clip_torch==3.3.0``, done by ``make setup``; its package folder
ships the file, sha256 ``VOCAB_SHA256``, identical to the copy in the UniVS repository); it is
located without importing ``open_clip`` (which needs torchvision). :func:`build_tokenizer` uses
it by default and fails with one line when it is missing. ``HashTokenizer`` is a test helper
only (same special ids, word ids from a stable hash) and is never chosen implicitly.
Differences from the official tokenizer: ``ftfy.fix_text`` is applied only when ftfy is
installed, and without the ``regex`` package the unicode letter/number classes are
approximated by the stdlib's (identical ids for ASCII text).

Prompt text (univs/modeling/language/clip_prompt_utils.py): the 81 ``PROMPT_TEMPLATES``
(``get_prompt_templates``), expression cleaning (``clean_strings``, applied to every test
expression by ``dataset_mapper_uni_vid.py`` ``transform_expressions``) and category-name
cleaning (``extract_concept_emb.py``: ``clean_strings`` then ``prompt_engineering``).
"""
from __future__ import annotations

import gzip
import hashlib
import html
import importlib.util
import itertools
import os
import re
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from ...io.files import file_sha256

SOT_TOKEN, EOT_TOKEN, VOCAB_SIZE, CONTEXT_LENGTH = 49406, 49407, 49408, 77
VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
VOCAB_PACKAGE = "open_clip_torch==3.3.0"   # installed with --no-deps (Makefile `setup`)

# The 81 prompt templates of clip_prompt_utils.py ``get_prompt_templates`` (UniVS @7415d31),
# in the official order; the first one ("{}.") gives the word features of an expression.
PROMPT_TEMPLATES = (
    "{}.", "a photo of a {}.", "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.",
    "a photo of the hard to see {}.", "a low resolution photo of the {}.", "a rendering of a {}.",
    "graffiti of a {}.", "a bad photo of the {}.", "a cropped photo of the {}.", "a tattoo of a {}.",
    "the embroidered {}.", "a photo of a hard to see {}.", "a bright photo of a {}.",
    "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.", "a drawing of a {}.",
    "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.", "a close-up photo of a {}.",
    "a black and white photo of the {}.", "a painting of the {}.", "a painting of a {}.",
    "a pixelated photo of the {}.", "a sculpture of the {}.", "a bright photo of the {}.",
    "a cropped photo of a {}.", "a plastic {}.", "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.", "a photo of the {}.",
    "a good photo of the {}.", "a rendering of the {}.", "a {} in a video game.", "a photo of one {}.",
    "a doodle of a {}.", "a close-up photo of the {}.", "the origami {}.", "the {} in a video game.",
    "a sketch of a {}.", "a doodle of the {}.", "a origami {}.", "a low resolution photo of a {}.",
    "the toy {}.", "a rendition of the {}.", "a photo of the clean {}.", "a photo of a large {}.",
    "a rendition of a {}.", "a photo of a nice {}.", "a photo of a weird {}.", "a blurry photo of a {}.",
    "a cartoon {}.", "art of a {}.", "a sketch of the {}.", "a embroidered {}.",
    "a pixelated photo of a {}.", "itap of the {}.", "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.", "a photo of the small {}.",
    "a photo of the weird {}.", "the cartoon {}.", "art of the {}.", "a drawing of the {}.",
    "a photo of the large {}.", "a black and white photo of a {}.", "the plushie {}.",
    "a dark photo of a {}.", "itap of a {}.", "graffiti of the {}.", "a toy {}.", "itap of my {}.",
    "a photo of a cool {}.", "a photo of a small {}.", "a tattoo of the {}.",
)


def clean_expression(text: str) -> str:
    """Official test-time expression cleaning (``clip_prompt_utils.clean_strings``): '_' -> ' ',
    digits and brackets dropped, lower case, ``.,'!?"()*#:;`` removed, '-' and '/' -> ' '."""
    text = " ".join(text.split("_"))
    text = "".join(ch for ch in text if ch not in "0123456789()")
    return re.sub(r"""([.,'!?"()*#:;])""", "", text.lower()).replace("-", " ").replace("/", " ")


def clean_class_name(name: str) -> str:
    """Category name as the official concept embeddings use it
    (``tools/clip_concept_extraction/.../extract_concept_emb.py``: ``clean_strings``, then
    ``prompt_engineering`` drops '/' and ',' and turns '+' into ' ')."""
    return clean_expression(name).replace("/", "").replace(",", "").replace("+", " ")


def default_bpe_path() -> str:
    """The CLIP vocabulary file: ``$UNIVS_CLIP_BPE`` if set, else the copy in the installed
    ``open_clip`` package folder (found without importing the package)."""
    env = os.environ.get("UNIVS_CLIP_BPE")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"UNIVS_CLIP_BPE={env}: no such file")
        return env
    spec = importlib.util.find_spec("open_clip")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / VOCAB_FILE
        if path.is_file():
            return str(path)
    raise FileNotFoundError(f"CLIP vocabulary {VOCAB_FILE} not found: run `make setup` or "
                            f"`pip install --no-deps {VOCAB_PACKAGE}` (or set UNIVS_CLIP_BPE=FILE)")


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _clean(text: str) -> str:
    try:
        import ftfy  # optional, as in CLIP
        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


def _word_pattern():
    try:
        import regex
        return regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
                             r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)
    except ImportError:  # close approximation of the unicode classes with the stdlib
        return re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
                          r"""[^\W\d_]+|\d|(?:[^\s\w]|_)+""", re.IGNORECASE)


class _TokenizerBase:
    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def __call__(self, texts: str | list[str], context_length: int = CONTEXT_LENGTH) -> Tensor:
        """Texts -> ``(N, context_length)`` long ids ``[SOT, ..., EOT, 0...]``; long texts are
        truncated (as UniVS's ``convert_example_to_features_bpe``, which drops the EOT then)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = ([SOT_TOKEN] + self.encode(t) + [EOT_TOKEN])[:context_length]
            out[i, :len(ids)] = torch.tensor(ids)
        return out


class BPETokenizer(_TokenizerBase):
    """CLIP byte-pair tokenizer loaded from the official ``bpe_simple_vocab_16e6.txt.gz``."""

    def __init__(self, bpe_path: str):
        with gzip.open(bpe_path) as f:
            merges = f.read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
        vocab = list(_bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = _bytes_to_unicode()
        self.pattern = _word_pattern()
        self.cache: dict[str, str] = {}

    def bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        self.cache[token] = " ".join(word)
        return self.cache[token]

    def encode(self, text: str) -> list[int]:
        ids = []
        for token in self.pattern.findall(_clean(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids


class HashTokenizer(_TokenizerBase):
    """Deterministic offline stand-in (tests only): one id per word from a stable hash."""

    def __init__(self):
        self.pattern = _word_pattern()

    def encode(self, text: str) -> list[int]:
        return [1 + int.from_bytes(hashlib.sha1(w.encode()).digest()[:4], "little") % (SOT_TOKEN - 1)
                for w in self.pattern.findall(_clean(text))]


@lru_cache(maxsize=4)
def _bpe_tokenizer(path: str) -> BPETokenizer:
    return BPETokenizer(path)


def build_tokenizer(bpe_path: str | None = None) -> BPETokenizer:
    """CLIP's BPE tokenizer over ``bpe_path`` (default :func:`default_bpe_path`); shared per file."""
    return _bpe_tokenizer(str(bpe_path or default_bpe_path()))


class QuickGELU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)),
                                              ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        for blk in self.resblocks:
            x = blk(x, attn_mask)
        return x


class CLIPTextEncoder(nn.Module):
    """CLIP text transformer.

    Example::

        enc = CLIPTextEncoder()                     # RN50x4 language tower: width 640
        words, sentence = enc.encode_text(build_tokenizer()(["a cat"]), only_eot=False)
    """

    def __init__(self, embed_dim: int = 640, context_length: int = CONTEXT_LENGTH,
                 vocab_size: int = VOCAB_SIZE, width: int = 640, layers: int = 12,
                 heads: int = 10):
        super().__init__()
        self.context_length = context_length
        self.transformer = _Transformer(width, layers, heads)
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        mask = torch.full((context_length, context_length), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)
        if not self.positional_embedding.is_meta:
            self._init()

    def _init(self) -> None:
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        w, n = self.transformer.width, self.transformer.layers
        for blk in self.transformer.resblocks:
            nn.init.normal_(blk.attn.in_proj_weight, std=w ** -0.5)
            nn.init.normal_(blk.attn.out_proj.weight, std=(w ** -0.5) * ((2 * n) ** -0.5))
            nn.init.normal_(blk.mlp.c_fc.weight, std=(2 * w) ** -0.5)
            nn.init.normal_(blk.mlp.c_proj.weight, std=(w ** -0.5) * ((2 * n) ** -0.5))
        nn.init.normal_(self.text_projection, std=w ** -0.5)

    def encode_text(self, tokens: Tensor, only_eot: bool = True):
        """tokens (N, L) -> sentence features (N, D), or (word features (N, L, D), sentence)."""
        x = self.token_embedding(tokens) + self.positional_embedding[:tokens.shape[1]]
        mask = self.attn_mask[:tokens.shape[1], :tokens.shape[1]]
        x = self.transformer(x.permute(1, 0, 2), mask).permute(1, 0, 2)
        x = self.ln_final(x)
        eot = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)] @ self.text_projection
        if only_eot:
            return eot
        return x @ self.text_projection, eot

    def load_official(self, path_or_state) -> dict:
        """Load RegionCLIP language weights (a file or a state dict) through
        :func:`map_official_keys`; returns ``{'loaded': n, 'sha256': ...}``. Anything missing,
        unexpected or of another shape raises ``ValueError`` naming the keys."""
        from .checkpoint_file import load_checkpoint_file
        sha = None
        if isinstance(path_or_state, (str, os.PathLike)):
            sha = file_sha256(str(path_or_state))
            path_or_state = load_checkpoint_file(str(path_or_state))
        sd = map_official_keys(path_or_state)
        own = self.state_dict()
        missing = sorted(set(own) - set(sd))
        unexpected = sorted(set(sd) - set(own))
        wrong = sorted(k for k in set(sd) & set(own) if tuple(sd[k].shape) != tuple(own[k].shape))
        if missing or unexpected or wrong:
            def few(keys):
                return f"{len(keys)} {keys[:3]}{'...' if len(keys) > 3 else ''}"
            raise ValueError(f"text encoder weights do not fit a CLIPTextEncoder(width={self.transformer.width}, "
                             f"layers={self.transformer.layers}): missing {few(missing)}, unexpected "
                             f"{few(unexpected)}, wrong shape {few(wrong)}")
        self.load_state_dict(sd, strict=True)
        return {"loaded": len(sd), "sha256": sha}


def map_official_keys(state: dict) -> dict:
    """Official language-encoder state -> ours (the key map).

    Accepts the ``..._only_lang_encoder.pth`` content (``{'model': sd}`` or ``sd``) and a full
    RegionCLIP checkpoint, whose language tower is under ``lang_encoder.`` (the prefix that
    UniVS's ``convert_lang_encoder_weights`` strips; other RegionCLIP modules are dropped as it
    does); a ``module.`` prefix (DDP) is dropped. The remaining names are the official ones,
    which our module keeps, so the map is the identity on them. Official names and shapes
    (RN50x4; width W = 640, 12 blocks i = 0..11; tests/data/regionclip_rn50x4_lang_encoder_keys.tsv)::

        positional_embedding                       (77, 640)
        text_projection                            (640, 640)
        token_embedding.weight                     (49408, 640)
        ln_final.weight / ln_final.bias            (640,)
        transformer.resblocks.{i}.attn.in_proj_weight   (1920, 640)
        transformer.resblocks.{i}.attn.in_proj_bias     (1920,)
        transformer.resblocks.{i}.attn.out_proj.weight  (640, 640)
        transformer.resblocks.{i}.attn.out_proj.bias    (640,)
        transformer.resblocks.{i}.ln_1.weight / .bias   (640,)
        transformer.resblocks.{i}.mlp.c_fc.weight       (2560, 640)
        transformer.resblocks.{i}.mlp.c_fc.bias         (2560,)
        transformer.resblocks.{i}.mlp.c_proj.weight     (640, 2560)
        transformer.resblocks.{i}.mlp.c_proj.bias       (640,)
        transformer.resblocks.{i}.ln_2.weight / .bias   (640,)

    149 tensors in all (5 + 12 x 12); the causal mask is not stored.
    """
    if not isinstance(state, dict):
        raise ValueError(f"text encoder weights: expected a state dict, got {type(state).__name__}")
    sd = state.get("model", state) if isinstance(state.get("model", None), dict) else state
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    if any(k.startswith("lang_encoder.") for k in sd):
        sd = {k[len("lang_encoder."):]: v for k, v in sd.items() if k.startswith("lang_encoder.")}
    return {k: torch.as_tensor(v) for k, v in sd.items() if hasattr(v, "shape")}
