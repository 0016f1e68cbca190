"""The full Molmo model: vision backbone + connector, additive injection, decoder, loss.

`Molmo.forward(**batch)` takes the batch of `model.collate.collate` (docs/model_data.md, "Sequences, packing, collation") and returns
`MolmoOutput`: logits when no targets are given, else the summed cross-entropy and z-loss over
the loss tokens (the train loop divides by the global loss-token normaliser, docs/spec/molmo.md 7.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.config import MolmoConfig
from model.connector import ImageBackbone, VisionBackbone, real_crop_mask
from model.decoder import Decoder, KVCache, RMSNorm

IMAGE_SUBSEGMENT = 10000  # subsegment id of BOS and image tokens (docs/spec/molmo.md 6.5)


@dataclass
class MolmoOutput:
    logits: torch.Tensor | None = None  # (B, T, embedding_size) when no targets were given
    ce_sum: torch.Tensor | None = None  # sum of CE * loss weight over loss tokens (fp32)
    z_sum: torch.Tensor | None = None  # sum of logsumexp^2 * loss weight
    weight_sum: torch.Tensor | None = None  # sum of loss weights
    n_correct: torch.Tensor | None = None  # argmax == target on loss tokens
    n_tokens: torch.Tensor | None = None  # number of loss tokens
    loss: torch.Tensor | None = None  # (ce + z_coef * z) / normaliser, if a normaliser was given


def build_attention_mask(input_tokens: torch.Tensor, subsegment_ids: torch.Tensor | None,
                         past: int = 0) -> torch.Tensor | None:
    """Bool (B, 1, T, T): causal, both tokens valid, and sub[i] <= sub[j] (docs/spec/molmo.md 6.5).

    Returns None when plain causal attention is exact (no padding, no subsegments).
    """
    valid = input_tokens >= 0
    if subsegment_ids is None and bool(valid.all()):
        return None
    t = input_tokens.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=input_tokens.device).tril()
    mask = causal & valid[:, None, :] & valid[:, :, None]
    if subsegment_ids is not None:
        mask = mask & (subsegment_ids[:, :, None] <= subsegment_ids[:, None, :])
    mask = mask | torch.eye(t, dtype=torch.bool, device=mask.device)  # no empty rows (padding queries)
    return mask.unsqueeze(1)


def default_position_ids(input_tokens: torch.Tensor) -> torch.Tensor:
    valid = (input_tokens >= 0).long()
    return (valid.cumsum(-1) - 1).clamp(min=0)


class Molmo(nn.Module):
    def __init__(self, cfg: MolmoConfig):
        super().__init__()
        self.cfg = cfg
        self.vision_backbone = self._backbone(cfg)
        self.transformer = Decoder(cfg.llm, cfg.residual_dropout, cfg.response_residual_dropout)
        if cfg.ft_embedding == "lm_head":
            self.transformer.wte.embedding.requires_grad_(False)

    def _backbone(self, cfg: MolmoConfig) -> ImageBackbone:
        return VisionBackbone(cfg)

    def prefill_mask(self, input_tokens: torch.Tensor) -> torch.Tensor:
        """The bool (B, 1, T, T) mask of a generation prefill (causal over the valid tokens)."""
        mask = build_attention_mask(input_tokens, None)
        if mask is None:
            t = input_tokens.shape[1]
            mask = torch.ones(t, t, dtype=torch.bool, device=input_tokens.device).tril()
            mask = mask[None, None].expand(input_tokens.shape[0], 1, t, t)
        return mask

    # ------------------------------------------------------------------ init and groups
    @torch.no_grad()
    def init_weights(self, seed: int | None = None) -> None:
        """Random init: normal(0, init_std) weights, zero biases and pad_embed, unit norm scales."""
        dev = next(self.parameters()).device  # values are drawn on the parameters' device
        gen = torch.Generator(dev).manual_seed(seed) if seed is not None else None
        norms = (nn.LayerNorm, RMSNorm)
        for mod in self.modules():
            for pname, p in mod.named_parameters(recurse=False):
                if pname == "bias" or pname == "pad_embed":
                    p.zero_()
                elif isinstance(mod, norms):
                    p.fill_(1.0)
                else:
                    p.normal_(0.0, self.cfg.init_std, generator=gen)

    def param_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Trainable parameters by component: connector, vit, llm (docs/spec/molmo.md 7.1)."""
        groups: dict[str, list] = {"connector": [], "vit": [], "llm": []}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            if name.startswith("vision_backbone.image_vit."):
                groups["vit"].append((name, p))
            elif name.startswith("vision_backbone.") or name.endswith("wte.new_embedding"):
                groups["connector"].append((name, p))
            else:
                groups["llm"].append((name, p))
        return groups

    # ------------------------------------------------------------------ forward
    def embed(self, input_tokens, images=None, image_masks=None, image_input_idx=None, crop_mask=None):
        """Token embeddings with the projected image features added at `image_input_idx`."""
        x = self.transformer.wte(input_tokens)  # (B, T, d)
        if images is None:
            return x
        keep = real_crop_mask(images, crop_mask)
        feats = self.vision_backbone(images, image_masks, keep)  # (M, tokens_per_crop, d)
        b, t, d = x.shape
        idx = image_input_idx[keep]  # (M, tokens_per_crop)
        batch_of_crop = keep.nonzero()[:, 0]  # (M,)
        valid = (idx >= 0) & (idx < t)  # positions cut off by truncation are dropped
        flat = (batch_of_crop[:, None] * t + idx)[valid]
        x = x.reshape(b * t, d).index_add(0, flat, feats[valid].to(x.dtype))
        return x.view(b, t, d)

    def forward(self, input_tokens: torch.Tensor, images=None, image_masks=None, image_input_idx=None,
                crop_mask=None, position_ids=None, subsegment_ids=None, target_tokens=None,
                loss_masks=None, loss_normalizer: float | torch.Tensor | None = None,
                z_loss: float = 0.0, attn_mask=None, cache: KVCache | None = None,
                last_logits_only: bool = False, **_unused) -> MolmoOutput:
        x = self.embed(input_tokens, images, image_masks, image_input_idx, crop_mask)
        if attn_mask is None and cache is None:
            attn_mask = build_attention_mask(input_tokens, subsegment_ids)
        return self._decode(x, input_tokens, position_ids, attn_mask, cache, target_tokens, loss_masks,
                            loss_normalizer, z_loss, last_logits_only)

    def _decode(self, x, input_tokens, position_ids, attn_mask, cache, target_tokens, loss_masks,
                loss_normalizer, z_loss, last_logits_only) -> MolmoOutput:
        """The decoder over embedded inputs ``x``: logits without targets, else the loss (both families)."""
        if position_ids is None:
            position_ids = default_position_ids(input_tokens)
        drop_mask = loss_masks > 0 if loss_masks is not None and self.training else None
        h = self.transformer(x, position_ids, attn_mask, drop_mask, cache)
        if target_tokens is None:
            h = h[:, -1:] if last_logits_only else h
            return MolmoOutput(logits=self.transformer.ff_out(h))
        return self._loss(h, target_tokens, loss_masks, loss_normalizer, z_loss)

    def _loss(self, h, target_tokens, loss_masks, normalizer, z_coef) -> MolmoOutput:
        """CE and z-loss in fp32 on the loss tokens only (logits of other positions are never built)."""
        if loss_masks is None:
            loss_masks = (target_tokens >= 0).float()
        sel = (loss_masks > 0) & (target_tokens >= 0)
        weights = loss_masks[sel].float()
        logits = self.transformer.ff_out(h[sel]).float()  # (n, V)
        targets = target_tokens[sel]
        ce = F.cross_entropy(logits, targets, reduction="none")
        lse = torch.logsumexp(logits, dim=-1)
        out = MolmoOutput(
            ce_sum=(ce * weights).sum(), z_sum=(lse.pow(2) * weights).sum(), weight_sum=weights.sum(),
            n_correct=(logits.argmax(-1) == targets).sum(), n_tokens=sel.sum(),
        )
        if normalizer is not None:
            out.loss = (out.ce_sum + z_coef * out.z_sum) / normalizer
        return out

    # ------------------------------------------------------------------ utilities
    def set_grad_checkpointing(self, on: bool | str = True) -> None:
        """Activation checkpointing: True/"all" (ViT and LLM blocks), "vit", "llm", or False/"none"."""
        modes = {True: (True, True), "all": (True, True), "vit": (True, False), "llm": (False, True),
                 False: (False, False), "none": (False, False)}
        if on not in modes:
            raise ValueError(f"activation checkpointing must be one of all|vit|llm|none, got {on!r}")
        self.vision_backbone.image_vit.grad_checkpointing, self.transformer.grad_checkpointing = modes[on]

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per LLM token in the blocks (6N + causal attention); head and ViT apart."""
        c = self.cfg.llm
        n = sum(p.numel() for p in self.transformer.blocks.parameters())
        return 6 * n + 6 * c.n_layers * c.d_model * seq_len  # 12*L*d*T/2: half the score matrix is masked

    def head_flops_per_token(self) -> float:
        """The LM head runs on loss tokens only (logits are never built elsewhere)."""
        return 6 * self.cfg.llm.d_model * self.cfg.llm.embedding_size

    def vit_flops_per_crop(self) -> float:
        """Training FLOPs of one crop through the ViT, pooling and projector."""
        v, vb = self.cfg.vision, self.vision_backbone
        tokens = v.n_patches + (1 if v.use_cls else 0)
        vit = sum(p.numel() for p in vb.image_vit.parameters())
        head = sum(p.numel() for m in (vb.image_pooling_2d, vb.image_projector) for p in m.parameters())
        return 6 * vit * tokens + 12 * v.n_layers * v.width * tokens * tokens + 6 * head * self.cfg.tokens_per_crop


def model_class(cfg: MolmoConfig) -> type[Molmo]:
    """`Molmo` for family "molmo", `Molmo2` for "molmo2"."""
    if cfg.family == "molmo2":
        from model.molmo2.model import Molmo2

        return Molmo2
    return Molmo


def build_model(cfg: MolmoConfig, device: str | torch.device = "cpu", seed: int | None = 0) -> Molmo:
    """Build and (unless on meta) randomly initialise a model of the config's family."""
    with torch.device(device):
        model = model_class(cfg)(cfg)
    if str(device) != "meta":
        model.init_weights(seed)
    return model
