"""Molmo2 checkpoint directories in transformers' format: load into our `Molmo2`, save back.

`load_molmo2_dir(path)` reads config.json (native or legacy keys), preprocessor_config.json and the
safetensors files (one or sharded) of a transformers-native Molmo2 checkpoint. `save_molmo2_dir(model, out)`
writes what `Molmo2ForConditionalGeneration.from_pretrained` and `AutoTokenizer.from_pretrained` read
without code from this repository: config.json, generation_config.json, safetensors shards with their
index in the legacy key layout (embedding split by the configured sizes, docs/spec/molmo2.md "Observed bug"), the
tokenizer and chat template, preprocessor_config.json and processor_config.json. Tokenizer, template and
processor files are copied from `source` (the directory the model came from) when given; otherwise a
Molmo2 tokenizer is built from the toolkit's tiny tokenizer (ids as the `molmo2-tiny` preset).
The output directory must not exist: it is written next to it and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from model.config import ImageTokenIds, MolmoConfig
from model.molmo2.hf_config import config_from_hf, config_to_hf
from model.molmo2.model import Molmo2
from model.molmo2.preprocessing import Molmo2PreprocessConfig
from model.molmo2.weights import ours_to_legacy, to_ours
from model.weights import read_state_dict

# Molmo2's image tokens in tokenizer order after the base vocabulary (ImageTokenIds' defaults follow it).
MOLMO2_SPECIAL = ("<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<low_res_im_start>", "<|image|>",
                  "<im_low>", "<frame_start>", "<frame_end>")
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
          "added_tokens.json", "chat_template.jinja", "chat_template.json", "preprocessor_config.json",
          "processor_config.json", "video_preprocessor_config.json", "generation_config.json")
# A Qwen-style template that puts `<|image|>` where a message has an image (used for generated tokenizers).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|image|>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _token_ids(path: Path, cfg: MolmoConfig) -> ImageTokenIds:
    """`<im_col>` and `<|image|>` ids are not in config.json: take them from the tokenizer when present."""
    if not (path / "tokenizer_config.json").exists():
        return cfg.image_tokens
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    found = [tok.convert_tokens_to_ids(t) for t in ("<im_col>", "<|image|>")]
    col, image = (v if isinstance(v, int) else None for v in found)
    ids = cfg.image_tokens
    return ImageTokenIds(ids.image_start, ids.image_end, ids.image_patch, col if col is not None else ids.image_col,
                         ids.low_res_image_start, image if image is not None else ids.image_placeholder,
                         ids.frame_start, ids.frame_end)


def load_molmo2_config(path: str | Path) -> MolmoConfig:
    """The MolmoConfig of a transformers Molmo2 checkpoint directory (config, preprocessor, tokenizer)."""
    path = Path(path)
    hf = _read_json(path / "config.json")
    if hf is None or hf.get("model_type") != "molmo2":
        raise ValueError(f"{path} has no config.json of model_type 'molmo2'")
    cfg = config_from_hf(hf, _read_json(path / "preprocessor_config.json"))
    cfg.image_tokens = _token_ids(path, cfg)
    return cfg


def load_molmo2_dir(path: str | Path, dtype: torch.dtype | None = None) -> Molmo2:
    """Our Molmo2 with the weights of a transformers Molmo2 checkpoint directory."""
    path = Path(path)
    cfg = load_molmo2_config(path)
    with torch.device("meta"):
        model = Molmo2(cfg)
    sd = to_ours(read_state_dict(path), cfg)
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    model.load_state_dict(sd, strict=True, assign=True)
    if cfg.ft_embedding == "lm_head":
        model.transformer.wte.embedding.requires_grad_(False)
    model.source_dir = path  # where tokenizer and processor files come from on export
    return model.eval()


def _shards(sd: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k in sorted(sd):
        n = sd[k].numel() * sd[k].element_size()
        if shards[-1] and size + n > max_bytes:
            shards.append({})
            size = 0
        shards[-1][k] = sd[k]
        size += n
    return shards


def _write_weights(sd: dict[str, torch.Tensor], out: Path, max_bytes: int) -> None:
    from safetensors.torch import save_file

    shards = _shards(sd, max_bytes)
    if len(shards) == 1:
        save_file(shards[0], str(out / "model.safetensors"), metadata={"format": "pt"})
        return
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(v.numel() * v.element_size() for v in sd.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def tiny_molmo2_tokenizer(cfg: MolmoConfig):
    """The toolkit's tiny BPE padded to `vocab_size`, plus Molmo2's special tokens at the configured ids."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from model.tokenizer import EOS_TEXT, MolmoTokenizer

    backend = Tokenizer.from_str(MolmoTokenizer.tiny().backend.to_str())  # a copy: tiny() may be shared
    backend.add_special_tokens(["<|im_start|>", "<|im_end|>"])  # in the vocabulary: `<|im_end|>` is a target
    n = backend.get_vocab_size()
    if n > cfg.llm.vocab_size:
        raise ValueError(f"tiny tokenizer has {n} entries, more than vocab_size {cfg.llm.vocab_size}")
    backend.add_tokens([f"<|unused_{i}|>" for i in range(cfg.llm.vocab_size - n)])
    backend.add_special_tokens(list(MOLMO2_SPECIAL))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS_TEXT, bos_token=EOS_TEXT,
                                  pad_token=EOS_TEXT, extra_special_tokens={"image_token": "<|image|>"})
    tok.chat_template = CHAT_TEMPLATE
    ids = cfg.image_tokens
    expected = {"<im_start>": ids.image_start, "<im_end>": ids.image_end, "<im_patch>": ids.image_patch,
                "<im_col>": ids.image_col, "<low_res_im_start>": ids.low_res_image_start,
                "<|image|>": ids.image_placeholder, "<frame_start>": ids.frame_start, "<frame_end>": ids.frame_end}
    got = {t: tok.convert_tokens_to_ids(t) for t in expected}
    if got != expected:
        raise ValueError(f"tokenizer ids {got} differ from the config's image token ids {expected}")
    return tok


def _write_tokenizer_and_processor(model: Molmo2, out: Path, source: Path | None) -> None:
    copied = []
    if source is not None:
        for name in COPIED:
            if (source / name).exists():
                shutil.copy2(source / name, out / name)
                copied.append(name)
    if "tokenizer_config.json" not in copied:
        tiny_molmo2_tokenizer(model.cfg).save_pretrained(str(out))
    if "preprocessor_config.json" not in copied:
        pre = Molmo2PreprocessConfig.from_model(model.cfg).hf_dict()
        (out / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))
    if "processor_config.json" not in copied:
        proc = {"processor_class": "Molmo2Processor", "image_use_col_tokens": True,
                "use_single_crop_col_tokens": None, "use_single_crop_start_token": True}
        (out / "processor_config.json").write_text(json.dumps(proc, indent=2))
    if "generation_config.json" not in copied:
        gen = {"bos_token_id": None, "eos_token_id": None, "do_sample": False}
        (out / "generation_config.json").write_text(json.dumps(gen, indent=2))


def save_molmo2_dir(model: Molmo2, out_dir: str | Path, *, source: str | Path | None = None,
                    max_shard_bytes: int = 5 * 2**30, dtype: torch.dtype | None = None) -> Path:
    """Write a transformers-loadable Molmo2 directory (see the module docstring)."""
    out = Path(out_dir)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new output directory")
    source = Path(source) if source is not None else model.source_dir
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        sd = {k: v.detach().to("cpu", dtype or v.dtype).contiguous() for k, v in model.state_dict().items()}
        _write_weights(ours_to_legacy(sd, model.cfg), tmp, max_shard_bytes)
        hf = config_to_hf(model.cfg)
        hf["dtype"] = str(dtype or next(model.parameters()).dtype).removeprefix("torch.")
        (tmp / "config.json").write_text(json.dumps(hf, indent=2))
        _write_tokenizer_and_processor(model, tmp, source)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
