"""Prompt encoders of UniVS: visual prompts, text prompts and the per-target memory pool.

Facts (univs/modeling/prompt_encoder/prompt_encoder.py and the decoder's
``forward_prompt_encoder``):

* Visual prompts (point, box, mask; scribbles are handled like masks) are read from the
  1/8-resolution level of the decoder's input features (``prompt_feature_level_index = -1``)
  on the prompt's key frame: R tokens (``VISUAL_PROMPT_PIXELS_PER_IMAGE``: 32 in training; at
  inference 128 VIS, 64 VPS, 256 VOS/PVOS, 32 RefVOS) sampled inside
  the region with their 3D sine position codes; a point prompt repeats its bilinearly sampled
  feature R times. Blank prompts (empty region) give zero tokens. The tokens are repeated over
  the T frames of the clip. The initial prompt query is the mean of the non-blank tokens plus
  the learned ``prompt_sot`` embedding; its position is the mean token position (in training
  the official code uses the mean content feature instead half of the time).
* Text prompts: CLIP text features (640-d) -> ``text_norm`` -> ``text2vis_projection`` -> one
  language-to-image cross-attention over the three image levels; category prompts get
  ``prompt_detection``, expressions ``prompt_grounding`` (the sentence token is the query, the
  1 + 77 tokens are its ProCA keys).
* Memory pool at inference (:class:`PromptSlotBuffer`): one slot of R tokens per frame; the
  ProCA keys are the first-appearance slot and the last max(k, T) slots (k =
  ``NUM_PREV_FRAMES_MEMORY``, 5 for R50, 6 for Swin).

The layers with parameters live in the mask decoder (official names); this module holds the
parameter-free logic.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

VISUAL_PROMPT_KINDS = ("point", "box", "mask", "scribble")
# token sampling inside a mask: the official random subset, or (our variant) evenly spaced cells
# 'raster': the first R cells in raster order = the official draw with torch.randperm stubbed by
# torch.arange (how the official-inference oracle makes its unseeded draw reproducible)
SAMPLINGS = ("random", "linspace", "raster")


def region_to_feature_grid(region: Tensor, size: tuple[int, int], stride: int,
                           kind: str) -> Tensor:
    """Binary region (H, W) at input resolution -> (h, w) bool cells at the feature level.

    The region is zero-padded to ``size * stride`` (the padded image). Masks use nearest
    sampling (cell (i, j) = pixel (stride i, stride j)); what a non-empty mask that leaves no
    cell becomes is decided by :meth:`VisualPromptSampler.encode` (official rule). Boxes and
    scribbles keep every touched cell so thin strokes survive (ours: the official inference
    only takes masks).
    """
    h, w = size
    full = region.new_zeros((h * stride, w * stride), dtype=torch.float32)
    rh, rw = min(region.shape[-2], h * stride), min(region.shape[-1], w * stride)
    full[:rh, :rw] = region[:rh, :rw].float()
    if kind == "mask":
        return F.interpolate(full[None, None], size=(h, w), mode="nearest")[0, 0] > 0.5
    return F.adaptive_max_pool2d(full[None, None], (h, w))[0, 0] > 0


def official_prompt_point(region: Tensor, box: Tensor | None = None) -> Tensor:
    """Normalised (x, y) of the point whose position code a mask prompt without any sampled
    cell gets (official ``select_points_from_box_mask`` at inference): a mask pixel within a
    quarter of the box size of the box centre (``box``: normalised x1, y1, x2, y2; default the
    mask's own box, inclusive, as ``convert_mask_to_box``), else any mask pixel; pixel centres
    ((j + 0.5) / W, (i + 0.5) / H). The official pick among them is an unseeded
    ``torch.randperm``; ours is the first in raster order (= that draw with randperm stubbed by
    arange)."""
    hh, ww = region.shape
    ys, xs = torch.nonzero(region, as_tuple=True)
    if box is None:
        box = torch.stack([xs.min() / ww, ys.min() / hh, xs.max() / ww, ys.max() / hh]).float()
    box = box.float().to(region.device)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    bw, bh = box[2] - box[0], box[3] - box[1]
    px, py = (xs.float() + 0.5) / ww, (ys.float() + 0.5) / hh
    ctr = ((px - cx).abs() < 0.25 * bw) & ((py - cy).abs() < 0.25 * bh)
    k = int(torch.nonzero(ctr)[0]) if bool(ctr.any()) else 0
    return torch.stack([px[k], py[k]])


def region_point(region: Tensor, size: tuple[int, int], stride: int) -> Tensor | None:
    """Normalised (x, y) of the region's centroid w.r.t. the padded image, or None if empty."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    if ys.numel() == 0:
        return None
    h, w = size[0] * stride, size[1] * stride
    return torch.stack([(xs.float().mean() + 0.5) / w, (ys.float().mean() + 0.5) / h])


def sample_cells(cells: Tensor, num_points: int, generator: torch.Generator | None = None,
                 random: bool = True, raster: bool = False) -> Tensor:
    """Flat indices of ``num_points`` True cells of ``cells`` (h, w): a random subset when there
    are enough (evenly spaced when ``random`` is False), else all of them repeated cyclically.

    Official ``get_dense_features``: ``torch.randperm`` of the cells, first R, in training and
    at inference, from the global RNG, which the official test never seeds (detectron2
    ``SEED = -1``: a new seed per run), so the official choice is not reproducible. Ours draws
    the same uniform subset from ``generator`` (seeded by the caller). Below R cells there is no
    randomness (raster order repeated), so outputs are then identical to the official ones; the
    mean and the attention over the tokens do not depend on their order.
    """
    idx = torch.nonzero(cells.flatten()).reshape(-1)
    if idx.numel() >= num_points:
        if raster:
            return idx[:num_points]
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
    ``frame_indices`` (T absolute indices, default arange), optional ``boxes`` (P, 4) normalised
    stored boxes (the point of a mask without a cell) and ``clip_pos`` (key frame's position in
    the clip, clip length: that point's code when ``pe_layer.fixed_t``) and ``point_index`` (that
    point's absolute frame index otherwise, default the key frame's). Returns tokens and positions
    (P, R, B*T, C); videos with fewer prompts are padded by repeating theirs (as the official
    code does for batching), and ``valid`` (B, P) marks the real ones.
    """

    def __init__(self, num_points: int = 32, stride: int = 8, sampling: str = "random"):
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.num_points, self.stride, self.sampling = num_points, stride, sampling

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
            boxes = p.get("boxes")
            # official get_mask_prompt: cells >= min(0.5, max over *all* masks of the call), so a
            # non-empty mask without a cell gets the whole grid only when no mask has a cell,
            # else zero features at the position code of one point (official_prompt_point)
            mask_cells = [region_to_feature_grid(r, (h, w), self.stride, "mask") if kd == "mask" else None
                          for r, kd in zip(regions, kinds)]
            any_cell = any(bool(m.any()) for m in mask_cells if m is not None)
            toks, pes = [], []
            for j, (region, kind) in enumerate(zip(regions, kinds)):
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
                cells = mask_cells[j] if kind == "mask" else region_to_feature_grid(region, (h, w), self.stride, kind)
                if not cells.any() and kind == "mask" and bool(region.any()):
                    if any_cell:
                        xy = official_prompt_point(region, None if boxes is None else boxes[j])
                        if getattr(pe_layer, "fixed_t", False) and p.get("clip_pos") is not None:
                            pe = pe_layer.forward_points_fixed(xy[None], *p["clip_pos"])[0].to(f.dtype)
                        else:
                            pidx = key_index if p.get("point_index") is None else \
                                torch.as_tensor(p["point_index"], device=feats.device)
                            pe = pe_layer.forward_points(xy[None], pidx.view(1))[0, 0].to(f.dtype)
                        toks.append(f.new_zeros(self.num_points, c))
                        pes.append(pe[None].expand(self.num_points, c))
                        continue
                    cells = torch.ones_like(cells)
                if not cells.any():
                    toks.append(f.new_zeros(self.num_points, c))
                    pes.append(f.new_zeros(self.num_points, c))
                    continue
                if self.sampling == "raster":
                    idx = sample_cells(cells, self.num_points, raster=True)
                else:
                    idx = sample_cells(cells, self.num_points, generator, random=self.sampling == "random")
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


def mean_of_nonblank(tokens: Tensor, dim: int = 1) -> Tensor:
    """Mean over the token axis ``dim`` ignoring all-zero (blank) tokens, as the official code."""
    count = (~(tokens == 0).all(-1)).sum(dim).clamp(min=1)
    return tokens.sum(dim) / count.unsqueeze(-1).to(tokens.dtype)


class PromptSlotBuffer:
    """The official per-frame prompt memory of a video's prompted targets (all targets share it).

    ``tokens``/``pe`` are (N, S, R, C): one slot per frame, slot index = position in the
    tensor exactly as the official ``targets['prompt_feats']`` (``start`` is the frame of slot
    0, kept for reading). Facts (``prompt_encoder.py`` ``VisualPromptSampler``
    ``process_per_video_inference``, ``zero_pad_prompt``, ``process_per_video_inference_prev_frame``;
    decoder ``forward_prompt_encoder``, ``extract_prompt_features_from_memoey_pool``):

    * first clip: every one of the ``clip_length`` slots holds the key frame's tokens
      (:meth:`fill`); later clips append one blank slot per stride (:meth:`pad`) and re-sample
      the clip's first T - stride frames from the current masks, each non-empty one
      overwriting its slot *and every later slot* (:meth:`write_from`), so the new frame's
      slot copies frame T - 2's tokens;
    * prompt query of frame t of a clip (:meth:`frame_queries`): mean of the non-blank tokens
      of the slot of frame t (the last T slots) + ``prompt_sot``; position = mean of the
      non-blank positions;
    * ProCA keys (:meth:`keys`): the slot of the first-appearance index (the last slot when
      that index is >= S - 1 or negative) followed by the last max(k, clip_length) slots,
      blank (zero) tokens included and never masked.

    The official buffer grows with the video; only the last ``max(k, clip_length)`` slots and
    each target's first-appearance slot are ever read again, so :meth:`trim` drops older
    slots (keeping a frozen copy of a target's first-appearance slot) without changing any
    output: tensor indices stay the official ones (``base`` slots dropped so far).
    """

    def __init__(self, num_prev_frames_memory: int = 5, clip_length: int = 5):
        self.memory = max(int(num_prev_frames_memory), int(clip_length))
        self.clip_length = int(clip_length)
        self.tokens: Tensor | None = None
        self.pe: Tensor | None = None
        self.start = 0
        self._reset_frozen()

    def _reset_frozen(self) -> None:
        self.base = 0
        self.frozen_tok = self.frozen_pe = self.frozen_idx = None
        if self.tokens is not None:
            n, _, r, c = self.tokens.shape
            self.frozen_tok = self.tokens.new_zeros(n, r, c)
            self.frozen_pe = self.tokens.new_zeros(n, r, c)
            self.frozen_idx = torch.full((n,), -2, dtype=torch.long)

    def __len__(self) -> int:
        return 0 if self.tokens is None else self.base + self.tokens.shape[1]

    @property
    def num_targets(self) -> int:
        return 0 if self.tokens is None else self.tokens.shape[0]

    def create(self, n: int, r: int, c: int, num_slots: int, start: int, device=None,
               dtype=torch.float32) -> None:
        """A blank buffer of ``n`` targets and ``num_slots`` slots, slot 0 = frame ``start``."""
        self.tokens = torch.zeros(n, num_slots, r, c, device=device, dtype=dtype)
        self.pe = torch.zeros_like(self.tokens)
        self.start = start
        self._reset_frozen()

    def fill(self, tokens: Tensor, pe: Tensor, start: int = 0) -> None:
        """First clip: every slot (``clip_length`` of them) holds ``tokens`` (N, R, C)."""
        s = self.clip_length
        self.tokens = tokens[:, None].repeat(1, s, 1, 1).clone()
        self.pe = pe[:, None].repeat(1, s, 1, 1).clone()
        self.start = start
        self._reset_frozen()

    def add_targets(self, n: int) -> None:
        """Append ``n`` targets whose slots are all blank (official ``prompt_feats_pad``)."""
        if self.tokens is None or n <= 0:
            return
        z = self.tokens.new_zeros(n, *self.tokens.shape[1:])
        self.tokens, self.pe = torch.cat([self.tokens, z]), torch.cat([self.pe, z.clone()])
        zf = self.frozen_tok.new_zeros(n, *self.frozen_tok.shape[1:])
        self.frozen_tok, self.frozen_pe = torch.cat([self.frozen_tok, zf]), torch.cat([self.frozen_pe, zf])
        self.frozen_idx = torch.cat([self.frozen_idx, torch.full((n,), -2, dtype=torch.long)])

    def pad(self, n: int = 1) -> None:
        """Append ``n`` blank slots (the clip's new frames)."""
        z = self.tokens.new_zeros(self.tokens.shape[0], n, *self.tokens.shape[2:])
        self.tokens, self.pe = torch.cat([self.tokens, z], 1), torch.cat([self.pe, z.clone()], 1)

    def write_from(self, slot: int, tokens: Tensor, pe: Tensor, rows: Tensor) -> None:
        """Slots ``slot:`` (tensor index, negative allowed) of targets ``rows`` (bool (N,) or
        indices) <- ``tokens``/``pe`` of those rows ((N, R, C), indexed by ``rows`` too)."""
        self.tokens[rows, slot:] = tokens[rows][:, None]
        self.pe[rows, slot:] = pe[rows][:, None]

    def write_slot(self, slot: int, tokens: Tensor, pe: Tensor, rows: Tensor) -> None:
        """Only slot ``slot`` (tensor index >= ``base``) of targets ``rows`` <- ``tokens``/``pe``."""
        self.tokens[rows, slot - self.base] = tokens
        self.pe[rows, slot - self.base] = pe

    def trim(self, first_index: Tensor) -> None:
        """Drop slots that can no longer be read (all but the last max(k, clip_length)),
        freezing each target's first-appearance slot ``first_index`` (N,) when dropped."""
        if self.tokens is None:
            return
        drop = self.tokens.shape[1] - self.memory
        if drop <= 0:
            return
        first = torch.as_tensor(first_index, dtype=torch.long)
        for r in range(min(first.numel(), self.tokens.shape[0])):
            j = int(first[r]) - self.base
            if 0 <= j < drop:
                self.frozen_tok[r], self.frozen_pe[r] = self.tokens[r, j], self.pe[r, j]
                self.frozen_idx[r] = int(first[r])
        self.tokens, self.pe = self.tokens[:, drop:].clone(), self.pe[:, drop:].clone()
        self.base += drop

    def frame_queries(self, t: int, rows=None) -> tuple[Tensor, Tensor]:
        """Per-frame query content (before ``prompt_sot``) and position (N, t, C): the mean
        non-blank token of each of the last ``t`` slots."""
        tok, pe = self.tokens[:, -t:], self.pe[:, -t:]
        if rows is not None:
            tok, pe = tok[rows], pe[rows]
        return mean_of_nonblank(tok, dim=2), mean_of_nonblank(pe, dim=2)

    def keys(self, first_index: Tensor, rows=None) -> tuple[Tensor, Tensor]:
        """ProCA keys and positions (N, (1 + m) R, C), m = min(max(k, clip_length), S)."""
        s = len(self)
        first = torch.as_tensor(first_index, dtype=torch.long).clone()
        first[(first >= s - 1) | (first < 0)] = s - 1
        tok, pe = self.tokens, self.pe
        f_tok, f_pe, f_idx = self.frozen_tok, self.frozen_pe, self.frozen_idx
        if rows is not None:
            tok, pe, f_tok, f_pe, f_idx = tok[rows], pe[rows], f_tok[rows], f_pe[rows], f_idx[rows]
        ar = torch.arange(tok.shape[0])
        kept = first >= self.base
        j = (first - self.base).clamp(min=0)
        # a dropped slot: the frozen copy if it is this target's, else blank (never written)
        old = (f_idx == first)[:, None, None].to(f_tok.dtype)
        first_tok = torch.where(kept[:, None, None].to(tok.device), tok[ar, j], f_tok * old.to(tok.device))
        first_pe = torch.where(kept[:, None, None].to(tok.device), pe[ar, j], f_pe * old.to(tok.device))
        k_tok = torch.cat([first_tok[:, None], tok[:, -self.memory:]], 1).flatten(1, 2)
        k_pe = torch.cat([first_pe[:, None], pe[:, -self.memory:]], 1).flatten(1, 2)
        return k_tok, k_pe


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
    of the work). A frozen encoder's features are cached per cleaned expression.
    """

    def __init__(self, text_encoder, tokenizer, templates: tuple[str, ...] | None = None,
                 clean: bool = True):
        from .text_encoder import PROMPT_TEMPLATES
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.templates = tuple(templates) if templates else PROMPT_TEMPLATES
        self.clean = clean
        self._cache: dict = {}

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
        frozen = not any(p.requires_grad for p in self.text_encoder.parameters())
        words, sentences = [], []
        for exp in expressions:
            exp = clean_expression(exp) if self.clean else exp
            hit = self._cache.get(exp) if frozen else None
            if hit is None:
                w, eots = self._features([tpl.replace("{}", exp) for tpl in self.templates], device, True)
                hit = (w, eots.mean(0))
                if frozen:  # a frozen encoder's features of a text never change
                    if len(self._cache) >= 4096:
                        self._cache.clear()
                    self._cache[exp] = (hit[0].detach(), hit[1].detach())
            words.append(hit[0].to(device))
            sentences.append(hit[1].to(device))
        return torch.stack(words), torch.stack(sentences)

    @torch.no_grad()
    def encode_classes(self, names: list[str], device=None) -> Tensor:
        from .text_encoder import clean_class_name
        device = self._device(device)
        out = [self._features([tpl.replace("{}", clean_class_name(n)) for tpl in self.templates], device,
                              False)[1].mean(0) for n in names]
        return torch.stack(out) if out else torch.zeros(0, self.text_encoder.text_projection.shape[1])
