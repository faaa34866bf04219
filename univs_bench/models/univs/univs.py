"""UniVS as an MMEngine ``BaseModel`` and its data preprocessor.

State-dict names equal the official detectron2 model's (``backbone.*``,
``sem_seg_head.pixel_decoder.*``, ``sem_seg_head.predictor.*``), so official checkpoints load
through ``checkpoint.convert_official_state_dict`` with an identity key map. The frozen CLIP
text encoder and the category text embeddings are kept out of the state dict, as officially.
"""
from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import Tensor, nn

from univs_bench.registry import MODELS
from univs_bench.registry import build as build_in_scope

from .backbone_resnet import ResNet
from .backbone_swin import SwinTransformer
from .mask_decoder import VideoMaskDecoder
from .pixel_decoder import MSDeformAttnPixelDecoder

BACKBONES = {"ResNet": ResNet, "SwinTransformer": SwinTransformer}
# training task of a data sample -> streaming-inference task when none is named
_PREDICT_TASKS = {"detection": "vis", "sot": "vos", "grounding": "refvos"}


@MODELS.register_module()
class UniVSDataPreprocessor(BaseDataPreprocessor):
    """Normalises, pads and batches videos.

    Input ``{'inputs': [uint8/float (T, 3, H, W) per video], 'data_samples': [dict per video]}``
    (or a stacked (B, T, 3, H, W) tensor). Output ``inputs`` is (B, T, 3, Hp, Wp) with Hp, Wp the
    largest size rounded up to ``size_divisibility``; padding is 0 after normalisation (as
    detectron2's ``ImageList``). Each data sample gains ``image_size`` (H, W) and ``pad_size``;
    its ``masks`` (N, T, H, W) and ``prompt_regions`` (P, H, W) are zero-padded to the same size.

    Example::

        data_preprocessor = dict(type='UniVSDataPreprocessor', size_divisibility=32)
    """

    def __init__(self, mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375),
                 size_divisibility: int = 32, non_blocking: bool = False):
        super().__init__(non_blocking)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.size_divisibility = size_divisibility

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        videos = data["inputs"]
        if isinstance(videos, Tensor) and videos.dim() == 5:
            videos = list(videos)
        if not videos:
            raise ValueError("empty batch")
        lengths = {v.shape[0] for v in videos}
        if len(lengths) != 1:
            raise ValueError(f"videos of a batch must have the same number of frames, got {sorted(lengths)}")
        d = max(self.size_divisibility, 1)
        hp = -(-max(v.shape[-2] for v in videos) // d) * d
        wp = -(-max(v.shape[-1] for v in videos) // d) * d
        batch = []
        samples = data.get("data_samples")
        samples = [dict(s) for s in samples] if samples is not None else [{} for _ in videos]
        for v, sample in zip(videos, samples):
            h, w = v.shape[-2:]
            x = (v.float() - self.mean) / self.std
            batch.append(F.pad(x, (0, wp - w, 0, hp - h)))
            sample["image_size"], sample["pad_size"] = (h, w), (hp, wp)
            for key in ("masks", "prompt_regions"):
                m = sample.get(key)
                if isinstance(m, Tensor) and m.dim() >= 2:
                    sample[key] = F.pad(m, (0, wp - m.shape[-1], 0, hp - m.shape[-2]))
        return {"inputs": torch.stack(batch), "data_samples": samples}


def _build_criterion(cfg: dict) -> nn.Module:
    cfg = dict(cfg)
    name = cfg.pop("type", "UniVSCriterion")
    if not isinstance(name, str):  # `type=` given as the class, as pure-Python configs do
        return name(**cfg)
    cls = MODELS.get(name)
    if cls is None:
        cls = getattr(importlib.import_module("univs_bench.models.univs.criterion"), name)
    return cls(**cfg)


@MODELS.register_module()
class UniVS(BaseModel):
    """UniVS (CVPR 2024): prompts as queries for unified video segmentation.

    Modes: ``'tensor'`` returns the decoder outputs (``pred_logits`` (B, Q, K),
    ``pred_masks`` (B, Q, T, H/4, W/4), ``pred_embds`` (B, Q, T, C), ``pred_reid_logits`` in
    training, ``aux_outputs`` for the 9 earlier predictions); ``'loss'`` applies the criterion
    to them and the data samples; ``'predict'`` runs the streaming inference (:meth:`predict`).

    Data samples (one dict per video) may carry: ``task`` ('detection', 'sot', 'grounding'),
    ``frame_indices`` (T,) absolute frame indices, visual prompts (``prompt_regions`` (P, H, W),
    ``prompt_kinds``, ``prompt_frame``; for 'sot' without regions they come from
    ``masks[prompt_obj_ids, prompt_frame]``), category prompts (``prompt_labels`` (P,)),
    expressions (``exp_sentence_feats`` (E, D) and ``exp_word_feats`` (E, L, D), or
    ``expressions`` strings with a text encoder), plus whatever the criterion reads.

    In eval mode a visual prompt is the official first clip of the inference: R tokens of the
    key frame (R = ``mask_decoder.num_prompt_points``: 32 as in training; the official VOS/PVOS
    inference models use 256, VIS 128, VPS 64) and ProCA keys = the first-clip memory pool,
    (1 + T) copies of them (96 keys for T = 2 and R = 32); equal to the official eval forward
    within 1e-4 (tests/test_official_inference.py, tensor mode).

    Example::

        model = dict(type='UniVS',
                     backbone=dict(type='ResNet', depth=50),
                     pixel_decoder=dict(conv_dim=256, mask_dim=256),
                     mask_decoder=dict(hidden_dim=256, num_queries=200, num_layers=9),
                     criterion=dict(type='UniVSCriterion'))
    """

    def __init__(self, backbone: dict, pixel_decoder: dict | None = None,
                 mask_decoder: dict | None = None, criterion: dict | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 text_encoder: dict | None = None, class_embeds_path: str | None = None,
                 frozen_backbone: bool = False, frozen_pixel_decoder: bool = False,
                 init_cfg: dict | None = None):
        if data_preprocessor is None:
            data_preprocessor = {"type": "UniVSDataPreprocessor"}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_in_scope(MODELS, data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        bcfg = dict(backbone)
        btype = bcfg.pop("type", "ResNet")
        if isinstance(btype, str):
            if btype not in BACKBONES:
                raise ValueError(f"unknown backbone type {btype!r}; expected one of {sorted(BACKBONES)}")
            btype = BACKBONES[btype]
        self.backbone = btype(**bcfg)
        in_channels = [self.backbone.out_channels[f"res{i}"] for i in range(2, 6)]
        self.sem_seg_head = nn.Module()
        self.sem_seg_head.pixel_decoder = MSDeformAttnPixelDecoder(in_channels,
                                                                   **(pixel_decoder or {}))
        self.sem_seg_head.predictor = VideoMaskDecoder(**(mask_decoder or {}))
        self.criterion_cfg = criterion
        self.criterion = None
        if criterion is not None:
            try:
                self.criterion = _build_criterion(criterion)
            except ImportError:  # criterion module written elsewhere: build at first loss
                pass
        # frozen CLIP text encoder for expressions, kept out of the state dict (official too)
        object.__setattr__(self, "text_prompt_encoder", None)
        self.text_encoder_info = None
        if text_encoder is not None:
            self._build_text_encoder(dict(text_encoder))
        if class_embeds_path:
            from .checkpoint_file import load_checkpoint_file
            emb = load_checkpoint_file(class_embeds_path)
            if isinstance(emb, dict):
                found = [v for v in emb.values() if hasattr(v, "shape")]
                if not found:
                    raise ValueError(f"class_embeds_path {class_embeds_path}: no tensor in the file "
                                     f"(keys: {sorted(map(str, emb))[:10]})")
                emb = found[0]
            try:
                self.sem_seg_head.predictor.set_class_embeddings(torch.as_tensor(emb).float())
            except ValueError as e:
                raise ValueError(f"class_embeds_path {class_embeds_path}: {e}") from None
        if frozen_backbone:
            self.backbone.requires_grad_(False)
        if frozen_pixel_decoder:
            self.sem_seg_head.pixel_decoder.requires_grad_(False)

    def _build_text_encoder(self, cfg: dict) -> None:
        """``text_encoder`` dict: ``CLIPTextEncoder`` sizes, ``weights`` (RegionCLIP language
        weights, official key names), ``bpe_path`` (default: the installed CLIP vocabulary),
        ``templates`` (default: the 81 official ones), ``trainable`` (True: the encoder is a
        submodule, trained and saved with the model, as ``univs_tiny``'s small one; False: frozen
        and kept out of the state dict, as the official RegionCLIP encoder)."""
        from .prompt_encoder import TextPromptEncoder
        from .text_encoder import CLIPTextEncoder, build_tokenizer
        weights = cfg.pop("weights", None)
        bpe_path = cfg.pop("bpe_path", None)
        templates = cfg.pop("templates", None)
        trainable = bool(cfg.pop("trainable", False))
        tokenizer = build_tokenizer(bpe_path)
        enc = CLIPTextEncoder(**cfg)
        self.text_encoder_info = {"weights": weights, "trainable": trainable}
        if weights:
            self.text_encoder_info.update(enc.load_official(weights))
        if trainable:
            self.text_encoder = enc
        else:
            enc.eval().requires_grad_(False)
        object.__setattr__(self, "text_prompt_encoder",
                           TextPromptEncoder(enc, tokenizer, tuple(templates) if templates else None))

    # ------------------------------------------------------------------ prompts
    def _prompts_from_samples(self, samples: list[dict], t: int, device):
        task = samples[0].get("task", "detection")
        if any(s.get("task", "detection") != task for s in samples):
            raise ValueError("all videos of a batch must share one task")
        if task == "sot" or any("prompt_regions" in s for s in samples):
            per_video = []
            for s in samples:
                regions = s.get("prompt_regions")
                key = int(s.get("prompt_frame", 0))
                targets = s.get("prompt_target", s.get("prompt_obj_ids"))
                if regions is None:
                    masks = s["masks"]
                    if targets is None:
                        targets = torch.nonzero(masks[:, key].flatten(1).any(1)).reshape(-1)
                    targets = torch.as_tensor(targets, device=masks.device).long()
                    regions = masks[targets, key]
                kinds = list(s.get("prompt_kinds") or ["mask"] * regions.shape[0])
                per_video.append((s, regions, kinds, key, targets))
            # equal prompt counts across the batch: repeat a video's prompts (official padding)
            num = max(r.shape[0] for _, r, _, _, _ in per_video)
            videos = []
            for s, regions, kinds, key, targets in per_video:
                n = regions.shape[0]
                if 0 < n < num:
                    rep = torch.arange(num) % n
                    regions, kinds = regions[rep.to(regions.device)], [kinds[i] for i in rep.tolist()]
                    if targets is not None:
                        targets = torch.as_tensor(targets)[rep.to(torch.as_tensor(targets).device)]
                if n == 0:
                    targets = torch.full((num,), -1, dtype=torch.long)
                if targets is not None:
                    s["prompt_target"] = torch.as_tensor(targets).long()
                videos.append({"regions": regions, "kinds": kinds, "key_frame": key,
                               "frame_indices": s.get("frame_indices")})
            return task, {"type": "visual", "videos": videos}
        if task == "grounding":
            sents, words = [], []
            for s in samples:
                if "exp_sentence_feats" not in s:
                    if self.text_prompt_encoder is None:
                        raise ValueError("grounding needs 'exp_sentence_feats' or a text encoder")
                    w, se = self.text_prompt_encoder.encode(list(s["expressions"]), device)
                    s["exp_word_feats"], s["exp_sentence_feats"] = w, se
                sents.append(s["exp_sentence_feats"].to(device).float())
                words.append(s["exp_word_feats"].to(device).float())
            if len({x.shape for x in sents}) != 1 or len({x.shape for x in words}) != 1:
                raise ValueError("grounding: every video of a batch needs the same expression count")
            return task, {"type": "expression", "sentence": torch.stack(sents),
                          "words": torch.stack(words)}
        if any("prompt_labels" in s for s in samples):
            return task, {"type": "category",
                          "labels": [s.get("prompt_labels", torch.zeros(0, dtype=torch.long))
                                     for s in samples]}
        return task, None

    # ------------------------------------------------------------------ forward
    def extract_feat(self, inputs: Tensor):
        """(B, T, 3, H, W) -> (mask features (B*T, C, H/4, W/4), three levels coarse to fine)."""
        feats = self.backbone(inputs.flatten(0, 1))
        return self.sem_seg_head.pixel_decoder(feats)

    def _forward(self, inputs: Tensor, data_samples: list[dict] | None = None) -> dict:
        if inputs.dim() != 5:
            raise ValueError(f"UniVS expects (B, T, 3, H, W) inputs, got {tuple(inputs.shape)}")
        t = inputs.shape[1]
        mask_features, multi_scale = self.extract_feat(inputs)
        task, prompts, frame_indices = "detection", None, None
        if data_samples:
            task, prompts = self._prompts_from_samples(data_samples, t, inputs.device)
            if all(s.get("frame_indices") is not None for s in data_samples):
                frame_indices = torch.stack([torch.as_tensor(s["frame_indices"])
                                             for s in data_samples]).to(inputs.device)
        return self.sem_seg_head.predictor(multi_scale, mask_features, t, task=task,
                                           prompts=prompts, frame_indices=frame_indices)

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[dict]) -> list[dict]:
        """Streaming inference (``inference.StreamingInference``) over each preprocessed video.

        A data sample may give ``inference_task`` (vis, vss, vps, vos, pvos, refvos; default
        from ``task``), ``inference_cfg`` (an ``InferenceConfig``), ``ori_shape`` (output
        size), VOS ``objects`` / RefVOS ``expressions`` / VPS ``thing_classes`` /
        ``class_subset`` as ``inference.VideoInput`` takes them. Returns one result dict per
        video (``targets``, ``segments``, ``semantic``).
        """
        from .inference import InferenceConfig, StreamingInference, VideoInput
        samples = data_samples
        text = None
        if self.text_prompt_encoder is not None:
            text = self.text_prompt_encoder.encode
        results = []
        for video, s in zip(inputs, samples):
            task = s.get("inference_task") or _PREDICT_TASKS.get(s.get("task", "detection"), "vis")
            h, w = s.get("image_size", tuple(video.shape[-2:]))
            oh, ow = s.get("ori_shape", (h, w))
            vin = VideoInput(int(oh), int(ow), video.shape[0], load=lambda f, v=video: v[f],
                             objects=list(s.get("objects", [])), expressions=list(s.get("expressions", [])),
                             thing_classes=s.get("thing_classes"), class_subset=s.get("class_subset"),
                             input_size=(int(h), int(w)), padded_size=tuple(video.shape[-2:]))
            engine = StreamingInference(self, s.get("inference_cfg") or InferenceConfig(), text_features=text)
            results.append(engine.run(vin, task))
        return results

    def loss_criterion(self, inputs: Tensor, data_samples: list[dict] | None) -> nn.Module:
        """The criterion (built on first use, on the inputs' device); checks loss-mode inputs."""
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples with targets")
        if self.criterion is None:
            if self.criterion_cfg is None:
                raise ValueError("mode='loss' needs a criterion config")
            self.criterion = _build_criterion(self.criterion_cfg).to(inputs.device)
        return self.criterion

    def forward(self, inputs: Tensor, data_samples: list[dict] | None = None,
                mode: str = "tensor"):
        if mode == "tensor":
            return self._forward(inputs, data_samples)
        if mode == "loss":
            criterion = self.loss_criterion(inputs, data_samples)
            outputs = self._forward(inputs, data_samples)
            return criterion(outputs, data_samples)
        if mode == "predict":
            if data_samples is None:
                # kept as NotImplementedError: which task to run is not guessable from frames
                raise NotImplementedError(
                    "UniVS 'predict' needs data samples naming the task ('inference_task' or "
                    "'task') and its prompts; see UniVS.predict")
            return self.predict(inputs, data_samples)
        raise ValueError(f"invalid mode {mode!r}; expected 'tensor', 'loss' or 'predict'")
