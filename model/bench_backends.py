"""Models the benchmark harness can evaluate, all behind ``generate(items, max_new_tokens)``:

- :class:`MolmoBackend`: a checkpoint of ours (file or run directory);
- :class:`EndpointBackend`: any OpenAI-compatible vision endpoint (vLLM serving Molmo, ...), the
  image sent as a data URL with the same prompt text our model gets;
- :class:`TransformersBackend`: a Hugging Face checkpoint (``AutoModelForImageTextToText``, or
  remote-code ``AutoModelForCausalLM`` for the released Molmo).

``open_backend(spec)`` picks one: ``http(s)://...`` is an endpoint, ``hf:NAME`` or a folder with a
``config.json`` a transformers checkpoint, anything else our checkpoint.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.benchmarks import BenchItem


def _image_array(image: bytes | str):
    from model.preprocessing import load_image

    return load_image(image)


def _png_bytes(image: bytes | str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_image_array(image)).save(buf, format="PNG")
    return buf.getvalue()


class MolmoBackend:
    """Our checkpoint: batched greedy generation with the KV cache."""

    def __init__(self, ckpt: str | Path, *, device: str = "cpu", tokenizer: str | None = None, batch_size: int = 8):
        from model.checkpoint import load_model
        from model.data import load_tokenizer

        self.model = load_model(ckpt, device)
        tc = getattr(self.model, "train_config", None) or {}
        self.tokenizer = load_tokenizer(tokenizer or tc.get("tokenizer", "tiny"))
        self.batch_size = batch_size
        self.name = str(ckpt)
        self.val_fraction = float(tc.get("holdout_fraction") or 0.1)  # the held-out share of its shards

    def generate(self, items: Sequence[BenchItem], max_new_tokens: int) -> list[str]:
        from model.collate import collate
        from model.generate import generate_text
        from model.packing import build_sequence
        from model.preprocessing import MolmoImageProcessor

        pcfg = self.model.cfg.preprocess_config(self.tokenizer)
        processor = MolmoImageProcessor(config=pcfg)
        out: list[str] = []
        for start in range(0, len(items), self.batch_size):
            seqs = []
            for it in items[start:start + self.batch_size]:
                img = processor(_image_array(it.image)) if it.image is not None else None
                seqs.append(build_sequence(img, [it.example.messages], self.tokenizer,
                                           crop_shape=(pcfg.patches_per_crop, pcfg.pixels_per_patch),
                                           tokens_per_crop=pcfg.tokens_per_crop))
            out += generate_text(self.model, self.tokenizer, collate(seqs, pad_to_seq_len=False),
                                 max_new_tokens=max_new_tokens)
        return out


class EndpointBackend:
    """An OpenAI-compatible chat endpoint through ``pixmo.llm`` (retries, cache, accounting)."""

    def __init__(self, base_url: str, model: str, *, api_key: str = "unused", cache_dir: str | None = None,
                 timeout: float = 120.0):
        from pixmo.llm import LLMClient, LLMSettings

        self.client = LLMClient(LLMSettings(base_url=base_url, api_key=api_key, model=model, cache_dir=cache_dir,
                                            timeout=timeout))
        self.name = f"{model} @ {base_url}"

    def messages(self, item: BenchItem) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if item.image is not None:
            url = "data:image/png;base64," + base64.b64encode(_png_bytes(item.image)).decode()
            content.append({"type": "image_url", "image_url": {"url": url}})
        content.append({"type": "text", "text": item.prompt})
        return [{"role": "user", "content": content}]

    def generate(self, items: Sequence[BenchItem], max_new_tokens: int) -> list[str]:
        calls = [{"messages": self.messages(it), "stage": "benchmark", "temperature": 0.0,
                  "max_tokens": max_new_tokens} for it in items]
        out = []
        for res in self.client.chat_many(calls):
            out.append("" if isinstance(res, Exception) else res.text)  # a failed request scores as wrong
        return out


class TransformersBackend:
    """A Hugging Face checkpoint; the prompt is our prompt text, through the processor's chat
    template when it has one. Greedy decoding."""

    def __init__(self, name: str, *, device: str = "cpu"):
        import torch
        from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(name, trust_remote_code=True)
        try:
            self.model = AutoModelForImageTextToText.from_pretrained(name, dtype=torch.float32)
        except ValueError:  # remote-code models (the released Molmo) register as causal LMs
            self.model = AutoModelForCausalLM.from_pretrained(name, trust_remote_code=True)
        self.model.to(device).eval()  # type: ignore[arg-type]
        self.device, self.name = device, name

    def _inputs(self, item: BenchItem) -> dict[str, Any]:
        from PIL import Image

        image = Image.fromarray(_image_array(item.image)) if item.image is not None else None
        text = item.prompt
        if getattr(self.processor, "chat_template", None):
            content = ([{"type": "image"}] if image is not None else []) + [{"type": "text", "text": text}]
            text = self.processor.apply_chat_template([{"role": "user", "content": content}],
                                                      add_generation_prompt=True)
        marker = getattr(self.processor, "image_token", None)  # processors that need it in the text
        if image is not None and isinstance(marker, str) and marker not in text:
            text = marker + text
        kw: dict[str, Any] = {"text": text, "return_tensors": "pt"}
        if image is not None:
            kw["images"] = image
        return {k: v.to(self.device) for k, v in self.processor(**kw).items()}

    def generate(self, items: Sequence[BenchItem], max_new_tokens: int) -> list[str]:
        import torch

        out = []
        for it in items:
            inputs = self._inputs(it)
            with torch.no_grad():
                ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
            new = ids[0, inputs["input_ids"].shape[1]:]
            out.append(self.processor.batch_decode(new[None], skip_special_tokens=True)[0])
        return out


def open_backend(spec: str, *, device: str = "cpu", endpoint_model: str | None = None, batch_size: int = 8,
                 tokenizer: str | None = None):
    """The backend for a model spec (see the module docstring)."""
    if spec.startswith(("http://", "https://")):
        if not endpoint_model:
            raise ValueError("an endpoint needs --endpoint-model (the served model's name)")
        return EndpointBackend(spec, endpoint_model)
    if spec.startswith("hf:"):
        return TransformersBackend(spec[3:], device=device)
    p = Path(spec)
    if _is_hf_dir(p):
        return TransformersBackend(str(p), device=device)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {spec} does not exist")
    return MolmoBackend(p, device=device, tokenizer=tokenizer, batch_size=batch_size)


def _is_hf_dir(p: Path) -> bool:
    """A Hugging Face model folder: a config.json naming a ``model_type`` (our run folders have none)."""
    import json

    try:
        return p.is_dir() and "model_type" in json.loads((p / "config.json").read_text())
    except (OSError, ValueError):
        return False
