"""Prompt encoders of UniVS: visual prompts, text prompts and the per-target memory pool.

Facts (univs/modeling/prompt_encoder/prompt_encoder.py and the decoder's
``forward_prompt_encoder``):

* Visual prompts (point, box, mask; scribbles are handled like masks) are read from the
  1/8-resolution level of the decoder's input features (``prompt_feature_level_index = -1``)
  on the prompt's key frame: R tokens (``VISUAL_PROMPT_PIXELS_PER_IMAGE`` = 32) sampled inside
  the region with their 3D sine position codes; a point prompt repeats its bilinearly sampled
  feature R times. Blank prompts (empty region) give zero tokens. The tokens are repeated over
  the T frames of the clip. The initial prompt query is the mean of the non-blank tokens plus
  the learned ``prompt_sot`` embedding; its position is the mean token position (in training
  the official code uses the mean content feature instead half of the time).
* Text prompts: CLIP text features (640-d) -> ``text_norm`` -> ``text2vis_projection`` -> one
  language-to-image cross-attention over the three image levels; category prompts get
  ``prompt_detection``, expressions ``prompt_grounding`` (the sentence token is the query, the
  1 + 77 tokens are its ProCA keys).
* Memory pool: a target keeps the prompt tokens of the frame where it first appeared and of
  the last k frames (``NUM_PREV_FRAMES_MEMORY`` = 5).

The layers with parameters live in the mask decoder (official names); this module holds the
parameter-free logic.
"""
from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F
from torch import Tensor

VISUAL_PROMPT_KINDS = ("point", "box", "mask", "scribble")


def region_to_feature_grid(region: Tensor, size: tuple[int, int], stride: int,
                           kind: str) -> Tensor:
    """Binary region (H, W) at input resolution -> (h, w) bool cells at the feature level.

    The region is zero-padded to ``size * stride`` (the padded image). Masks use nearest
    sampling (official); boxes and scribbles keep every touched cell so thin strokes survive.
    """
    h, w = size
    full = region.new_zeros((h * stride, w * stride), dtype=torch.float32)
    rh, rw = min(region.shape[-2], h * stride), min(region.shape[-1], w * stride)
    full[:rh, :rw] = region[:rh, :rw].float()
    if kind == "mask":
        return F.interpolate(full[None, None], size=(h, w), mode="nearest")[0, 0] > 0.5
    return F.adaptive_max_pool2d(full[None, None], (h, w))[0, 0] > 0


def region_point(region: Tensor, size: tuple[int, int], stride: int) -> Tensor | None:
    """Normalised (x, y) of the region's centroid w.r.t. the padded image, or None if empty."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    if ys.numel() == 0:
        return None
    h, w = size[0] * stride, size[1] * stride
    return torch.stack([(xs.float().mean() + 0.5) / w, (ys.float().mean() + 0.5) / h])


def sample_cells(cells: Tensor, num_points: int, generator: torch.Generator | None = None,
                 random: bool = True) -> Tensor:
    """Flat indices of ``num_points`` True cells of ``cells`` (h, w): a random subset when there
    are enough (evenly spaced when ``random`` is False), else all of them repeated cyclically."""
    idx = torch.nonzero(cells.flatten()).reshape(-1)
    if idx.numel() >= num_points:
        if random:
            perm = torch.randperm(idx.numel(), generator=generator)
            return idx[perm[:num_points].to(idx.device)]
        pick = torch.linspace(0, idx.numel() - 1, num_points).round().long().to(idx.device)
        return idx[pick]
    return idx.repeat(num_points // idx.numel() + 1)[:num_points]


class VisualPromptSampler:
    """Turns visual prompts into dense prompt tokens (no parameters).

    ``encode(feats, pos, pe_layer, prompts, num_frames, training)``:
    ``feats``/``pos`` are the 1/8 level as (B, T, C, h, w); ``prompts`` is one dict per video
    with ``regions`` (P, H, W) bool at input resolution, optional ``kinds`` (P strings among
    point/box/mask/scribble, default mask), ``key_frame`` (index in the clip, default 0) and
    ``frame_indices`` (T absolute indices, default arange). Returns tokens and positions
    (P, R, B*T, C); videos with fewer prompts are padded by repeating theirs (as the official
    code does for batching), and ``valid`` (B, P) marks the real ones.
    """

    def __init__(self, num_points: int = 32, stride: int = 8):
        self.num_points, self.stride = num_points, stride

    @torch.no_grad()
    def encode(self, feats: Tensor, pos: Tensor, pe_layer, prompts: list[dict],
               num_frames: int, training: bool = False,
               generator: torch.Generator | None = None):
        b, t, c, h, w = feats.shape
        per_video = []
        for v in range(b):
            p = prompts[v]
            regions = p["regions"].to(feats.device)
            kinds = list(p.get("kinds") or ["mask"] * regions.shape[0])
            if len(kinds) != regions.shape[0]:
                raise ValueError(f"video {v}: {len(kinds)} prompt kinds for {regions.shape[0]} regions")
            k = int(p.get("key_frame", 0))
            frame_idx = p.get("frame_indices")
            key_index = torch.as_tensor(k if frame_idx is None else frame_idx[k], device=feats.device)
            f, ps = feats[v, k], pos[v, k]  # C, h, w
            toks, pes = [], []
            for region, kind in zip(regions, kinds):
                if kind not in VISUAL_PROMPT_KINDS:
                    raise ValueError(f"video {v}: unknown prompt kind {kind!r}")
                if kind == "point":
                    xy = region_point(region, (h, w), self.stride)
                    if xy is None:
                        toks.append(f.new_zeros(self.num_points, c))
                        pes.append(f.new_zeros(self.num_points, c))
                        continue
                    grid = (xy * 2 - 1).view(1, 1, 1, 2).to(f.dtype)
                    tok = F.grid_sample(f[None], grid, align_corners=False).view(c)
                    pe = pe_layer.forward_points(xy[None], key_index.view(1))[0, 0].to(f.dtype)
                    toks.append(tok[None].expand(self.num_points, c))
                    pes.append(pe[None].expand(self.num_points, c))
                    continue
                cells = region_to_feature_grid(region, (h, w), self.stride, kind)
                if not cells.any():
                    toks.append(f.new_zeros(self.num_points, c))
                    pes.append(f.new_zeros(self.num_points, c))
                    continue
                idx = sample_cells(cells, self.num_points, generator, random=training)
                toks.append(f.flatten(1)[:, idx].t())
                pes.append(ps.flatten(1)[:, idx].t())
            per_video.append((torch.stack(toks) if toks else f.new_zeros(0, self.num_points, c),
                              torch.stack(pes) if pes else f.new_zeros(0, self.num_points, c)))
        num = max(tk.shape[0] for tk, _ in per_video)
        if num == 0:
            return None
        valid = torch.zeros(b, num, dtype=torch.bool, device=feats.device)
        tok_all, pe_all = [], []
        for v, (tk, pe) in enumerate(per_video):
            valid[v, :tk.shape[0]] = True
            if tk.shape[0] == 0:
                tk, pe = feats.new_zeros(num, self.num_points, c), feats.new_zeros(num, self.num_points, c)
            elif tk.shape[0] < num:
                rep = torch.arange(num, device=tk.device) % tk.shape[0]
                tk, pe = tk[rep], pe[rep]
            tok_all.append(tk[:, :, None].expand(-1, -1, t, -1))
            pe_all.append(pe[:, :, None].expand(-1, -1, t, -1))
        tokens = torch.stack(tok_all, dim=2).flatten(2, 3)  # P, R, B*T, C
        token_pe = torch.stack(pe_all, dim=2).flatten(2, 3)
        return tokens, token_pe, valid


def mean_of_nonblank(tokens: Tensor) -> Tensor:
    """Mean over the token axis (1) ignoring all-zero (blank) tokens, as the official code."""
    count = (~(tokens == 0).all(-1)).sum(1).clamp(min=1)
    return tokens.sum(1) / count.unsqueeze(-1).to(tokens.dtype)


class PromptMemoryPool:
    """Per-target memory of prompt tokens: the first frame's tokens and the last ``k`` frames'.

    ``add(tokens, pe)`` with (R, C) tensors per processed frame; ``dense()`` returns the
    concatenation ``[first, last_k...]`` along the token axis ((1 + k') * R, C), used as ProCA
    keys (and their positions) when the target is propagated through a long video.
    """

    def __init__(self, num_prev_frames: int = 5):
        self.num_prev_frames = num_prev_frames
        self.first: tuple[Tensor, Tensor] | None = None
        self.recent: deque = deque(maxlen=num_prev_frames)

    def add(self, tokens: Tensor, pe: Tensor) -> None:
        if self.first is None:
            self.first = (tokens.detach(), pe.detach())
        self.recent.append((tokens.detach(), pe.detach()))

    def __len__(self) -> int:
        return len(self.recent)

    def dense(self) -> tuple[Tensor, Tensor]:
        if self.first is None:
            raise ValueError("the prompt memory pool is empty")
        items = [self.first] + list(self.recent)
        return torch.cat([t for t, _ in items]), torch.cat([p for _, p in items])


class TextPromptEncoder:
    """Expressions and category names -> CLIP features (official ``get_expression_prompt``).

    ``encode(expressions)`` returns ``(word_feats (E, L, D), sentence_feats (E, D))``: each
    expression is cleaned (``clean_expression``, as ``transform_expressions`` does at test time),
    put into every template (default the 81 official ones); the sentence feature is the mean of
    the templates' EOT features and the word features are all L = 77 token features of the first
    template ("{}."). ``encode_classes(names)`` gives one (D,) feature per name: the mean EOT
    feature over the templates (``clip_prompt_utils.pre_tokenize`` + ``extract_class_embed``).
    ``clean=False`` keeps expressions as given (training on already clean text).

    The encoder is causal, so a token's feature depends only on the tokens before it: every
    template but the first is run only up to its longest EOT position (same numbers, a fraction
    of the work).
    """

    def __init__(self, text_encoder, tokenizer, templates: tuple[str, ...] | None = None,
                 clean: bool = True):
        from .text_encoder import PROMPT_TEMPLATES
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.templates = tuple(templates) if templates else PROMPT_TEMPLATES
        self.clean = clean

    def _features(self, texts: list[str], device, need_words: bool):
        tokens = self.tokenizer(texts).to(device)
        eot_pos = tokens.argmax(-1)
        words = None
        if need_words:
            words, first = self.text_encoder.encode_text(tokens[:1], only_eot=False)
            words = words[0]
        if tokens.shape[0] > (1 if need_words else 0):
            rest = tokens[1:] if need_words else tokens
            rest = rest[:, :int(eot_pos.max()) + 1]
            eots = self.text_encoder.encode_text(rest)
            eots = torch.cat([first, eots]) if need_words else eots
        else:
            eots = first
        return words, eots

    def _device(self, device):
        own = next(self.text_encoder.parameters()).device
        if device is None:
            return own
        device = torch.device(device)
        if own != device and not any(p.requires_grad for p in self.text_encoder.parameters()):
            self.text_encoder.to(device)  # the frozen encoder lives outside the model's .to()
        return device

    def encode(self, expressions: list[str], device=None):
        from .text_encoder import clean_expression
        device = self._device(device)
        words, sentences = [], []
        for exp in expressions:
            exp = clean_expression(exp) if self.clean else exp
            w, eots = self._features([tpl.replace("{}", exp) for tpl in self.templates], device, True)
            words.append(w)
            sentences.append(eots.mean(0))
        return torch.stack(words), torch.stack(sentences)

    @torch.no_grad()
    def encode_classes(self, names: list[str], device=None) -> Tensor:
        from .text_encoder import clean_class_name
        device = self._device(device)
        out = [self._features([tpl.replace("{}", clean_class_name(n)) for tpl in self.templates], device,
                              False)[1].mean(0) for n in names]
        return torch.stack(out) if out else torch.zeros(0, self.text_encoder.text_projection.shape[1])
