"""CLIP text transformer (RegionCLIP RN50x4 language encoder) and its tokenizers.

Facts (univs/modeling/language/TextEncoder.py): width 640, 12 layers, 10 heads, context 77,
vocab 49408, causal mask, pre-norm residual blocks with QuickGELU, ``ln_final`` then
``text_projection`` (640 x 640); the sentence feature is the token at the EOT position (the
largest id of the sequence); UniVS also keeps all token features (``only_eot=False``).
Parameter names match the official module, so RegionCLIP language weights load unchanged.
The encoder is frozen and kept *outside* the UniVS state dict (the official model holds it in
a plain Python object), which is why the official parameter counts exclude it.

Tokenizers: ``BPETokenizer`` is CLIP's byte-level BPE and needs the official vocabulary file
``bpe_simple_vocab_16e6.txt.gz`` (shipped with CLIP/UniVS; it cannot be downloaded here), given
by path. ``HashTokenizer`` is a deterministic stand-in for tests and offline smoke runs: same
special ids (49406 start, 49407 end, 0 padding) but word ids from a stable hash, so its
embeddings mean nothing with real CLIP weights.
"""
from __future__ import annotations

import gzip
import hashlib
import html
import itertools
import re
from collections import OrderedDict
from functools import lru_cache

import torch
from torch import Tensor, nn

SOT_TOKEN, EOT_TOKEN, VOCAB_SIZE, CONTEXT_LENGTH = 49406, 49407, 49408, 77


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


def build_tokenizer(bpe_path: str | None = None) -> _TokenizerBase:
    """The real BPE tokenizer when ``bpe_path`` is given, else the hash stand-in."""
    return BPETokenizer(bpe_path) if bpe_path else HashTokenizer()


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
        words, sentence = enc.encode_text(HashTokenizer()(["a cat"]), only_eot=False)
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

    def load_official(self, path: str) -> None:
        """Load RegionCLIP/UniVS language weights (``{'model': state_dict}`` or a state dict)."""
        from .checkpoint import load_checkpoint_file
        sd = load_checkpoint_file(path)
        sd = sd.get("model", sd)
        sd = {k.replace("lang_encoder.", ""): v for k, v in sd.items()}
        self.load_state_dict(sd, strict=True)
