"""The rest of a Molmo v1 export in the released remote-code layout (docs/spec/molmo.md section 9).

`save_official` (model/weights.py) writes the weights; this module writes what makes the directory
loadable as is: `config.json` in the released field names with `auto_map`, `architectures`,
`tie_word_embeddings` / `weight_tying`; the tokenizer (`tokenizer.json`, `tokenizer_config.json`,
`special_tokens_map.json`) with the image tokens at our ids; `preprocessor_config.json` and
`processor_config.json`; `generation_config.json`. The remote-code Python files are AI2's: they are not
written here; `copy_remote_code(src, out)` copies them from a local snapshot of the released repo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from model.config import MolmoConfig
from model.tokenizer import EOS_TEXT, SPECIAL_TOKENS

CODE_REPO = "allenai/Molmo-7B-D-0924"
AUTO_MAP_MODEL = {"AutoConfig": "config_molmo.MolmoConfig", "AutoModelForCausalLM": "modeling_molmo.MolmoForCausalLM"}
AUTO_MAP_PROCESSOR = {"AutoImageProcessor": "image_preprocessing_molmo.MolmoImageProcessor",
                      "AutoProcessor": "preprocessing_molmo.MolmoProcessor"}
REMOTE_CODE_FILES = ("config_molmo.py", "modeling_molmo.py", "preprocessing_molmo.py", "image_preprocessing_molmo.py")
TOKEN_NAME_KEYS = ("image_start_token", "image_end_token", "image_patch_token", "image_col_token", "image_prompt_token")


def official_config(cfg: MolmoConfig, *, tied: bool, dtype: str = "float32") -> dict[str, Any]:
    """config.json: the released Molmo-7B-D field names, plus our full config under `pixmo_molmo_config`."""
    c = cfg.llm
    return {
        "architectures": ["MolmoForCausalLM"], "auto_map": dict(AUTO_MAP_MODEL), "model_type": "molmo",
        "attention_layer_norm": c.qk_norm, "clip_qkv": None, "embedding_size": c.embedding_size,
        "hidden_size": c.d_model, "initializer_range": cfg.init_std, "intermediate_size": 2 * c.mlp_hidden,
        "layer_norm_eps": c.rms_eps, "layer_norm_type": "rms", "max_position_embeddings": c.max_position,
        "norm_after": c.norm_after, "num_attention_heads": c.n_heads, "num_hidden_layers": c.n_layers,
        "num_key_value_heads": c.n_kv_heads, "qkv_bias": c.qkv_bias, "rope_theta": c.rope_theta,
        "tie_word_embeddings": tied, "weight_tying": tied, "torch_dtype": dtype, "use_cache": True,
        "use_position_ids": True, "vocab_size": c.vocab_size, "additional_vocab_size": c.additional_vocab_size,
        "pixmo_molmo_config": cfg.to_dict(),
    }


def preprocessor_config(cfg: MolmoConfig, tok: Any) -> dict[str, Any]:
    """preprocessor_config.json: our PreprocessConfig in the released field names (+ the image token names)."""
    p = cfg.preprocess_config(tok)
    tokens_per_side = p.crop_patches // p.pooling
    out = {
        "auto_map": dict(AUTO_MAP_PROCESSOR), "base_image_input_size": [p.crop_size, p.crop_size],
        "do_normalize": True, "image_mean": list(p.mean), "image_padding_mask": p.mask_shift,
        "image_patch_size": p.patch_size, "image_processor_type": "MolmoImageProcessor", "image_std": list(p.std),
        "image_token_length_h": tokens_per_side, "image_token_length_w": tokens_per_side,
        "max_crops": p.max_crops, "overlap_margins": list(p.overlap_margins), "processor_class": "MolmoProcessor",
    }
    out.update(dict(zip(TOKEN_NAME_KEYS, SPECIAL_TOKENS, strict=True)))
    return out


def hf_tokenizer(tok: Any):
    """A `PreTrainedTokenizerFast` of a MolmoTokenizer: base vocabulary, `|<EXTRA_TOKENS_k>|` fillers up to
    `vocab_size` (as in the released tokenizer), then the 5 image tokens at `vocab_size + 0..4`."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast

    base = tok.backend if not tok.hf else getattr(tok.backend, "backend_tokenizer", None)
    if base is None:
        raise ValueError(f"{tok!r}: only fast (tokenizers-backed) tokenizers can be exported")
    inner = Tokenizer.from_str(base.to_str())
    n = inner.get_vocab_size(with_added_tokens=True)
    if n > tok.vocab_size:
        raise ValueError(f"tokenizer has {n} entries, more than the model's vocab_size {tok.vocab_size}")
    fillers = [f"|<EXTRA_TOKENS_{i}>|" for i in range(tok.vocab_size - n)]
    specials = fillers + list(SPECIAL_TOKENS)
    inner.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in specials])
    got = {t: inner.token_to_id(t) for t in SPECIAL_TOKENS}
    if got != tok.special_ids:
        raise ValueError(f"image tokens landed at {got}, expected {tok.special_ids}")
    eos = inner.id_to_token(tok.eos_id)
    if eos is None:
        raise ValueError(f"EOS id {tok.eos_id} has no token")
    return PreTrainedTokenizerFast(tokenizer_object=inner, eos_token=eos, pad_token=eos,
                                   additional_special_tokens=specials)


def write_tokenizer(tok: Any, out: Path) -> None:
    fast = hf_tokenizer(tok)
    fast.save_pretrained(str(out))
    cfg_path = out / "tokenizer_config.json"
    tc = json.loads(cfg_path.read_text())
    tc["auto_map"] = {"AutoProcessor": AUTO_MAP_PROCESSOR["AutoProcessor"]}
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"  # a name transformers 4.x (the remote code's) knows too
    specials = list(tc.get("extra_special_tokens") or tc.get("additional_special_tokens") or [])
    tc["additional_special_tokens"] = specials
    cfg_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False))
    if not (out / "special_tokens_map.json").exists():  # transformers 5 folds it into tokenizer_config.json
        smap = {"eos_token": fast.eos_token, "pad_token": fast.pad_token,
                "additional_special_tokens": specials}
        (out / "special_tokens_map.json").write_text(json.dumps(smap, indent=2))


def write_hf_files(cfg: MolmoConfig, out: Path, tok: Any, *, tied: bool, dtype: str = "float32") -> None:
    """config.json, tokenizer files, preprocessor/processor and generation configs into `out`."""
    (out / "config.json").write_text(json.dumps(official_config(cfg, tied=tied, dtype=dtype), indent=2))
    if tok is None:
        return
    if tok.vocab_size != cfg.llm.vocab_size:
        raise ValueError(f"tokenizer vocab_size {tok.vocab_size} != model vocab_size {cfg.llm.vocab_size}")
    write_tokenizer(tok, out)
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(cfg, tok), indent=2))
    (out / "processor_config.json").write_text(json.dumps(
        {"auto_map": {"AutoProcessor": AUTO_MAP_PROCESSOR["AutoProcessor"]}, "processor_class": "MolmoProcessor"},
        indent=2))
    gen = {"_from_model_config": True, "bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id,
           "pad_token_id": tok.eos_id, "stop_strings": [EOS_TEXT]}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2))


def check_remote_code(src: str | Path) -> Path:
    """`src` if it holds every remote-code file; raises before anything is written otherwise."""
    src = Path(src)
    missing = [f for f in REMOTE_CODE_FILES if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{src} is not a snapshot of {CODE_REPO}: missing {', '.join(missing)}")
    return src


def copy_remote_code(src: str | Path, out: Path) -> list[str]:
    """Copy the released remote-code files (`config_molmo.py`, ...) from a local snapshot directory."""
    src = check_remote_code(src)
    for f in REMOTE_CODE_FILES:
        shutil.copyfile(src / f, out / f)
    return list(REMOTE_CODE_FILES)
