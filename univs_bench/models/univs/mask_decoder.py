"""UniVS unified video mask decoder (official ``VideoMultiScaleMaskedTransformerDecoderUniVS``).

Facts (univs/modeling/transformer_decoder/video_mask2former_transformer_decoder_univs.py):

* hidden 256, 8 heads, FFN 2048, post-norm, dropout 0, ``DEC_LAYERS - 1`` = 9 layers, 200
  learnable queries (``query_feat`` content, ``query_embed`` position); prompt queries are
  appended after the learnable ones. No input projection (features are already 256-d); the
  decoder adds ``level_embed`` to the pixel decoder's three levels (strides 32, 16, 8) and a
  3D sine position code.
* Layer order: ProCA (prompt cross-attention, ``transformer_prompt_self_attention_layers``;
  prompt queries only, keys = [the query itself, its dense prompt tokens]; layer 0 runs once
  before the first prediction, then the prompt queries' position embedding becomes their
  content), masked cross-attention to level ``i % 3`` per frame (mask = previous prediction
  < 0.5 after sigmoid; fully masked rows unmasked), self-attention over all Q x T query-frame
  tokens (Q-major order) with the separation mask, FFN.
* Separation mask (True = blocked): 'sep' -> learnable and prompt queries do not see each
  other; 'sep-blocked' (always for grounding) -> in addition each prompt query only sees its
  own T frame tokens; 'all' -> no mask.
* Heads on ``decoder_norm`` output: class = cosine(vis2text_projection(q), text embeddings)
  averaged over frames, times ``exp(cls_temp)`` (for grounding: dot product with the
  expression's sentence feature, divided by C in training); mask = ``mask_embed`` (3-layer MLP)
  per frame dotted with the stride-4 mask features, with the frame order of the mask
  embeddings randomly permuted in training; ReID logits in training = Gram matrix of the
  normed query-frame embeddings / sqrt(C); ``pred_embds`` = normed queries (B, Q, T, C).
* 'l4p' (``forward_prediction_heads``, inference, grounding, ``l4p_enabled = True``): each
  prompt query's mask is replaced by the mean of it and the mask of the learnable query whose
  L2-normalised ``decoder_norm`` output is most cosine-similar to it (similarity averaged over
  the T frames), at every prediction head, before the attention mask is derived from it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .position_encoding import PositionEmbeddingSine3D
from .prompt_encoder import VisualPromptSampler, mean_of_nonblank

SELF_ATTN_MASK_TYPES = ("sep", "sep-blocked", "all")


def _with_pos(x: Tensor, pos: Tensor | None) -> Tensor:
    return x if pos is None else x + pos


class SelfAttentionLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt: Tensor, attn_mask: Tensor | None = None,
                query_pos: Tensor | None = None) -> Tensor:
        q = k = _with_pos(tgt, query_pos)
        return self.norm(tgt + self.self_attn(q, k, tgt, attn_mask=attn_mask, need_weights=False)[0])


class CrossAttentionLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt: Tensor, memory: Tensor, memory_mask: Tensor | None = None,
                pos: Tensor | None = None, query_pos: Tensor | None = None) -> Tensor:
        out = self.multihead_attn(_with_pos(tgt, query_pos), _with_pos(memory, pos), memory,
                                  attn_mask=memory_mask, need_weights=False)[0]
        return self.norm(tgt + out)


class FFNLayer(nn.Module):
    def __init__(self, d_model: int, dim_feedforward: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt: Tensor) -> Tensor:
        return self.norm(tgt + self.linear2(F.relu(self.linear1(tgt))))


class MLP(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [out_dim]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


def _xavier(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1 and not p.is_meta:
            nn.init.xavier_uniform_(p)


def build_self_attn_mask(num_learnable: int, num_prompt: int, num_frames: int,
                         mask_type: str = "sep") -> Tensor | None:
    """(Q*T, Q*T) bool mask over Q-major query-frame tokens, True = may not attend."""
    if mask_type not in SELF_ATTN_MASK_TYPES:
        raise ValueError(f"unknown self-attention mask type {mask_type!r}")
    if mask_type == "all":
        return None
    t, nl = num_frames, num_learnable * num_frames
    total = (num_learnable + num_prompt) * t
    mask = torch.ones(total, total, dtype=torch.bool)
    mask[:nl, :nl] = False
    if mask_type == "sep":
        mask[nl:, nl:] = False
    else:
        for p in range(num_prompt):
            s = nl + p * t
            mask[s:s + t, s:s + t] = False
    return mask


def l4p_masks(embeds: Tensor, masks: Tensor, num_learnable: int) -> Tensor:
    """'l4p': prompt masks averaged with their nearest learnable query's mask.

    ``embeds`` (B, T, Q, C) normed decoder outputs, ``masks`` (B, Q, T, h, w); the last
    Q - ``num_learnable`` queries are prompts. Nearest = largest cosine similarity averaged over
    T (official ``forward_prediction_heads``, batch 1; here per video)."""
    e = F.normalize(embeds, p=2, dim=-1)
    sim = torch.einsum("btqc,btpc->bqp", e[:, :, :num_learnable], e[:, :, num_learnable:]) / e.shape[1]
    nearest = sim.argmax(1)  # B, P
    learn = torch.gather(masks[:, :num_learnable], 1,
                         nearest[:, :, None, None, None].expand(-1, -1, *masks.shape[2:]))
    return torch.cat([masks[:, :num_learnable], (masks[:, num_learnable:] + learn) / 2.0], 1)


class VideoMaskDecoder(nn.Module):
    """The UniVS predictor (``sem_seg_head.predictor``).

    ``forward(features, mask_features, num_frames, task='detection', prompts=None,
    frame_indices=None)``: ``features`` are the three pixel-decoder levels (B*T, C, h, w),
    coarse to fine; ``mask_features`` (B*T, mask_dim, H/4, W/4). ``prompts`` (optional) is a
    dict: ``{'type': 'visual', 'videos': [per-video dict for VisualPromptSampler]}``,
    ``{'type': 'category', 'labels': [LongTensor (P,) per video] or None (all classes)}`` or
    ``{'type': 'expression', 'sentence': (B, E, D_text), 'words': (B, E, L, D_text)}``;
    ``'memory_tokens'``/``'memory_pe'`` (P, M, B*T, C) may add earlier frames' tokens (memory
    pool) to the ProCA keys.

    Example::

        dec = VideoMaskDecoder(hidden_dim=256, num_queries=200, num_layers=9, num_classes=1203)
    """

    def __init__(self, hidden_dim: int = 256, num_queries: int = 200, nheads: int = 8,
                 dim_feedforward: int = 2048, num_layers: int = 9, mask_dim: int = 256,
                 num_classes: int = 80, text_dim: int = 640,
                 self_attn_mask_type: str = "sep", prompt_layers: int = -1,
                 num_prompt_points: int = 32, num_max_frames: int = 128,
                 shuffle_frames_in_training: bool = True, num_feature_levels: int = 3,
                 temporal_code: str = "arbitrary", l4p: bool = True):
        super().__init__()
        if self_attn_mask_type not in SELF_ATTN_MASK_TYPES:
            raise ValueError(f"unknown self-attention mask type {self_attn_mask_type!r}")
        self.hidden_dim, self.num_heads, self.num_layers = hidden_dim, nheads, num_layers
        self.num_queries, self.num_feature_levels = num_queries, num_feature_levels
        self.self_attn_mask_type = self_attn_mask_type
        self.l4p = l4p
        self.prompt_layers = num_layers if prompt_layers < 0 else prompt_layers
        self.shuffle_frames_in_training = shuffle_frames_in_training
        self.pe_layer = PositionEmbeddingSine3D(hidden_dim // 2, num_max_frames=num_max_frames)
        # 'fixed': the clip-relative FixedT code (POSITION_EMBEDDING_SINE3D of the Swin-L VIS YAMLs)
        self.pe_layer.fixed_t = temporal_code == "fixed"

        self.transformer_self_attention_layers = nn.ModuleList()
        self.transformer_cross_attention_layers = nn.ModuleList()
        self.transformer_ffn_layers = nn.ModuleList()
        self.transformer_prompt_self_attention_layers = nn.ModuleList()
        for i in range(num_layers):
            self.transformer_self_attention_layers.append(SelfAttentionLayer(hidden_dim, nheads))
            self.transformer_cross_attention_layers.append(CrossAttentionLayer(hidden_dim, nheads))
            self.transformer_ffn_layers.append(FFNLayer(hidden_dim, dim_feedforward))
            if i < self.prompt_layers:
                self.transformer_prompt_self_attention_layers.append(
                    CrossAttentionLayer(hidden_dim, nheads))
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(num_feature_levels, hidden_dim)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)

        self.vis2text_projection = nn.Linear(hidden_dim, text_dim)
        self.text_norm = nn.LayerNorm(text_dim)
        self.text2vis_projection = nn.Linear(text_dim, hidden_dim)
        self.cls_temp = nn.Embedding(1, 1)
        self.reid_temp = nn.Embedding(1, 1)
        self.prompt_detection = nn.Embedding(1, hidden_dim)
        self.prompt_sot = nn.Embedding(1, hidden_dim)
        self.prompt_grounding = nn.Embedding(1, hidden_dim)
        self.lang2vision_cross_attention_layer = CrossAttentionLayer(hidden_dim, nheads)
        # frozen CLIP embeddings of the category names: not part of the official state dict
        self.register_buffer("class_text_embeds", torch.zeros(num_classes, text_dim),
                             persistent=False)
        self.visual_prompt_sampler = VisualPromptSampler(num_prompt_points, stride=8)
        # seed of the token subset drawn at eval (the official draw is unseeded: see sample_cells)
        self.eval_prompt_seed = 0
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self.cls_temp.weight.is_meta:
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls_temp.weight, math.log(1 / 0.07))
        nn.init.constant_(self.reid_temp.weight, math.log(1 / 0.07))
        g = torch.Generator().manual_seed(0)
        self.class_text_embeds.copy_(torch.randn(self.class_text_embeds.shape, generator=g))

    def set_class_embeddings(self, embeds: Tensor) -> None:
        """Replace the frozen category text embeddings (K, text_dim)."""
        if embeds.dim() != 2 or embeds.shape[1] != self.class_text_embeds.shape[1]:
            raise ValueError(f"class embeddings must be (K, {self.class_text_embeds.shape[1]}), "
                             f"got {tuple(embeds.shape)}")
        self.class_text_embeds = embeds.to(self.class_text_embeds).detach().clone()

    # ------------------------------------------------------------------ prompts
    def encode_text_tokens(self, text_feats: Tensor, src: list[Tensor]) -> Tensor:
        """Text features (N_tok, BT, D_text) -> prompt tokens (N_tok, BT, C) after the
        language-to-image cross-attention over the three levels (no positions, as official)."""
        x = self.text2vis_projection(self.text_norm(text_feats))
        return self.lang2vision_cross_attention_layer(x, torch.cat(src))

    def encode_prompts(self, src, pos, sizes, prompts: dict, b: int, t: int):
        """-> (prompt content (Qp, BT, C), prompt position (Qp, BT, C), dense tokens
        (Qp, L, BT, C), dense positions or None), or None when there is no prompt."""
        kind = prompts.get("type")
        if kind == "visual":
            h, w = sizes[-1]
            feats = src[-1].permute(1, 2, 0).reshape(b, t, -1, h, w)
            fpos = pos[-1].permute(1, 2, 0).reshape(b, t, -1, h, w)
            gen = None if self.training else torch.Generator().manual_seed(self.eval_prompt_seed)
            out = self.visual_prompt_sampler.encode(feats, fpos, self.pe_layer, prompts["videos"],
                                                    t, training=self.training, generator=gen)
            if out is None:
                return None
            dense, dense_pe, _ = out
            feats_mean, pe_mean = mean_of_nonblank(dense), mean_of_nonblank(dense_pe)
            if not self.training:
                # official eval: the ProCA keys come from the first clip's memory pool, the
                # first-appearance slot + the last max(k, T) of its T slots, every slot holding
                # the key frame's tokens -> (1 + T) R keys (extract_prompt_features_from_memoey_pool)
                dense, dense_pe = dense.repeat(1, 1 + t, 1, 1), dense_pe.repeat(1, 1 + t, 1, 1)
            query_pos = pe_mean
            if self.training and torch.rand(1).item() <= 0.5:
                query_pos = feats_mean
            content = feats_mean + self.prompt_sot.weight.view(1, 1, -1)
        elif kind == "category":
            labels = prompts.get("labels")
            emb = self.class_text_embeds
            if labels is None:
                per_video = [emb] * b
            else:
                per_video = [emb[lab.to(emb.device).long()] for lab in labels]
            if len({e.shape[0] for e in per_video}) != 1:
                raise ValueError("category prompts: every video of a batch needs the same count")
            if per_video[0].shape[0] == 0:
                return None
            text = torch.stack(per_video, 1)[:, :, None].expand(-1, -1, t, -1).flatten(1, 2)
            tokens = self.encode_text_tokens(text, src)
            dense, dense_pe, query_pos = tokens[:, None], None, tokens
            content = tokens + self.prompt_detection.weight.view(1, 1, -1)
        elif kind == "expression":
            sentence, words = prompts["sentence"], prompts["words"]  # (B,E,D), (B,E,L,D)
            if sentence.shape[1] == 0:
                return None
            n_exp, n_words = words.shape[1], words.shape[2]
            text = torch.cat([sentence[:, :, None], words], 2)  # B, E, 1+L, D
            text = text.permute(1, 2, 0, 3).flatten(0, 1)  # E*(1+L), B, D
            text = text[:, :, None].expand(-1, -1, t, -1).flatten(1, 2)
            tokens = self.encode_text_tokens(text, src).view(n_exp, n_words + 1, b * t, -1)
            dense, dense_pe = tokens, None
            query_pos = tokens[:, 0]
            content = query_pos + self.prompt_grounding.weight.view(1, 1, -1)
        else:
            raise ValueError(f"unknown prompt type {kind!r}")
        if prompts.get("memory_tokens") is not None:
            dense = torch.cat([prompts["memory_tokens"], dense], 1)
            mem_pe = prompts.get("memory_pe")
            dense_pe = None if (dense_pe is None or mem_pe is None) else torch.cat([mem_pe, dense_pe], 1)
        return content, query_pos, dense, dense_pe

    def prompt_cross_attention(self, i: int, output: Tensor, query_embed: Tensor,
                               dense: Tensor, dense_pe: Tensor | None) -> Tensor:
        """ProCA layer ``i``: updates prompt queries only (learnable ones pass through)."""
        nq = self.num_queries
        if output.shape[0] == nq:
            return output
        out_l, out_p = output[:nq], output[nq:]
        qpos_p = query_embed[nq:]
        n_p, bt, c = out_p.shape
        keys = torch.cat([out_p[:, None], dense], 1).transpose(0, 1).flatten(1, 2)  # 1+L, Qp*BT, C
        if dense_pe is not None:
            key_pos = torch.cat([qpos_p[:, None], dense_pe], 1).transpose(0, 1).flatten(1, 2)
            query_pos = qpos_p.flatten(0, 1)[None]
        else:
            key_pos = query_pos = None
        q = self.transformer_prompt_self_attention_layers[i](
            out_p.flatten(0, 1)[None], keys, pos=key_pos, query_pos=query_pos)
        return torch.cat([out_l, q[0].view(n_p, bt, c)])

    # ------------------------------------------------------------------ heads
    def self_attn_mask(self, b: int, t: int, num_prompt: int, task: str, device,
                       mask_type: str | None = None):
        base = mask_type or self.self_attn_mask_type
        mask_type = "sep-blocked" if task == "grounding" else base
        if mask_type == "sep-blocked" and base == "all":
            mask_type = "all"
        mask = build_self_attn_mask(self.num_queries, num_prompt, t, mask_type)
        if mask is None:
            return None
        return mask.to(device)[None].expand(b * self.num_heads, -1, -1)

    def prediction_heads(self, output: Tensor, mask_features: Tensor, target_size, b: int, t: int,
                         task: str, sentence: Tensor | None):
        decoder_output = self.decoder_norm(output).transpose(0, 1)  # BT, Q, C
        q, c = decoder_output.shape[1:]
        proj = self.vis2text_projection(decoder_output).view(b, t, q, -1)
        if task != "grounding":
            text = F.normalize(self.class_text_embeds.to(proj), dim=-1)
            logits = torch.einsum("btqc,kc->btqk", F.normalize(proj, dim=-1), text).mean(1)
            logits = logits * self.cls_temp.weight.exp()
        else:
            logits = torch.einsum("bqc,bkc->bqk", proj.mean(1), sentence.to(proj))
            if self.training:
                logits = logits / c
        mask_embed = self.mask_embed(decoder_output).view(b, t, q, -1)
        if self.training and self.shuffle_frames_in_training:
            mask_embed = mask_embed[:, torch.randperm(t, device=mask_embed.device)]
        masks = torch.einsum("btqc,btchw->bqthw", mask_embed, mask_features)
        if task == "grounding" and self.l4p and not self.training and q > self.num_queries:
            masks = l4p_masks(decoder_output.view(b, t, q, c), masks, self.num_queries)
        attn = F.interpolate(masks.flatten(0, 1), size=target_size, mode="bilinear",
                             align_corners=False)  # B*Q, T, h, w
        attn = attn.view(b, q, t, -1).transpose(1, 2).flatten(0, 1)  # B*T, Q, hw
        attn = (attn.sigmoid() < 0.5)[:, None].expand(-1, self.num_heads, -1, -1).flatten(0, 1)
        reid = None
        if self.training:
            e = decoder_output.view(b, t, q, c).permute(0, 2, 1, 3).reshape(-1, c)
            reid = e @ e.t() / math.sqrt(c)
        embds = decoder_output.view(b, t, q, c).transpose(1, 2)  # B, Q, T, C
        return logits, masks, attn.detach(), reid, embds

    # ------------------------------------------------------------------ forward
    def forward(self, features: list[Tensor], mask_features: Tensor, num_frames: int,
                task: str = "detection", prompts: dict | None = None,
                frame_indices: Tensor | None = None) -> dict:
        if len(features) != self.num_feature_levels:
            raise ValueError(f"expected {self.num_feature_levels} feature levels, got {len(features)}")
        bt = mask_features.shape[0]
        t = num_frames
        if bt % t:
            raise ValueError(f"{bt} frames are not a whole number of {t}-frame clips")
        b = bt // t
        mask_features = mask_features.view(b, t, *mask_features.shape[1:])
        src, pos, sizes = [], [], []
        for i, x in enumerate(features):
            h, w = x.shape[-2:]
            sizes.append((h, w))
            p = self.pe_layer(x.view(b, t, -1, h, w), frame_indices)  # B, T, C, h, w
            pos.append(p.flatten(3).flatten(0, 1).permute(2, 0, 1))
            src.append((x.flatten(2) + self.level_embed.weight[i][None, :, None]).permute(2, 0, 1))

        query_embed = self.query_embed.weight[:, None].repeat(1, bt, 1)
        output = self.query_feat.weight[:, None].repeat(1, bt, 1)
        dense = dense_pe = None
        sentence = None
        if prompts is not None:
            if prompts.get("type") == "expression":
                sentence = prompts["sentence"]
            encoded = self.encode_prompts(src, pos, sizes, prompts, b, t)
            if encoded is not None:
                content, qpos, dense, dense_pe = encoded
                output = torch.cat([output, content])
                query_embed = torch.cat([query_embed, qpos])
                output = self.prompt_cross_attention(0, output, query_embed, dense, dense_pe)
                query_embed = torch.cat([query_embed[:self.num_queries], output[self.num_queries:]])
        if task == "grounding" and sentence is None:
            raise ValueError("grounding needs expression prompts ('sentence' features)")
        num_prompt = output.shape[0] - self.num_queries

        preds = [self.prediction_heads(output, mask_features, sizes[0], b, t, task, sentence)]
        attn_mask = preds[-1][2]
        self_mask = self.self_attn_mask(b, t, num_prompt, task, output.device)
        for i in range(self.num_layers):
            attn_mask = attn_mask.clone()
            attn_mask[attn_mask.all(-1)] = False
            if dense is not None and 0 < i < self.prompt_layers:
                output = self.prompt_cross_attention(i, output, query_embed, dense, dense_pe)
            level = i % self.num_feature_levels
            output = self.transformer_cross_attention_layers[i](
                output, src[level], memory_mask=attn_mask, pos=pos[level], query_pos=query_embed)
            q = output.shape[0]
            # (Q, B*T, C) -> (Q*T, B, C): every query-frame token attends over the clip
            out_qt = output.view(q, b, t, -1).permute(0, 2, 1, 3).reshape(q * t, b, -1)
            pos_qt = query_embed.view(q, b, t, -1).permute(0, 2, 1, 3).reshape(q * t, b, -1)
            out_qt = self.transformer_self_attention_layers[i](out_qt, attn_mask=self_mask,
                                                               query_pos=pos_qt)
            output = out_qt.view(q, t, b, -1).permute(0, 2, 1, 3).reshape(q, b * t, -1)
            output = self.transformer_ffn_layers[i](output)
            preds.append(self.prediction_heads(output, mask_features,
                                               sizes[(i + 1) % self.num_feature_levels],
                                               b, t, task, sentence))
            attn_mask = preds[-1][2]

        def pack(p):
            d = {"pred_logits": p[0], "pred_masks": p[1], "pred_embds": p[4]}
            if p[3] is not None:
                d["pred_reid_logits"] = p[3]
            return d

        out = pack(preds[-1])
        out["aux_outputs"] = [pack(p) for p in preds[:-1]]
        out["num_learnable_queries"] = self.num_queries
        out["num_prompt_queries"] = num_prompt
        out["num_prompts"] = num_prompt  # name read by UniVSCriterion
        return out
