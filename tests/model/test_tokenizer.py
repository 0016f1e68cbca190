"""The Molmo tokenizer: special-token ids, the offline tiny tokenizer, the HF path."""

from __future__ import annotations

import json

from model.tokenizer import SPECIAL_TOKENS, MolmoTokenizer


def test_tiny_tokenizer_ids_and_round_trip(tmp_path):
    tok = MolmoTokenizer.tiny(cache_dir=tmp_path)
    assert tok.vocab_size <= 4096
    assert tok.bos_id == tok.eos_id and tok.pad_id == -1
    ids = [tok.image_start_id, tok.image_end_id, tok.image_patch_id, tok.image_col_id, tok.image_prompt_id]
    assert ids == [tok.vocab_size + i for i in range(5)]
    assert list(tok.special_ids) == list(SPECIAL_TOKENS)
    text = ' User: Point to the dogs. Assistant: <point x="33.3" y="66.7" alt="dog">dog</point> Ünïcode 漢字'
    enc = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in enc) and tok.eos_id not in enc
    assert tok.decode(enc) == text
    assert tok.decode([tok.eos_id, *enc, tok.image_patch_id, -1]) == text  # specials and padding skipped
    assert len(tok.encode(" User: How many dogs are there? Assistant:")) < 20  # the BPE merges something


def test_tiny_tokenizer_is_cached_and_deterministic(tmp_path):
    a = MolmoTokenizer.tiny(cache_dir=tmp_path / "a")
    b = MolmoTokenizer.tiny(cache_dir=tmp_path / "b")
    files = list((tmp_path / "a").glob("tiny_tokenizer-*.json"))
    assert len(files) == 1
    assert a.backend.to_str() == b.backend.to_str()
    assert json.loads(files[0].read_text())["model"]["type"] == "BPE"


def test_hf_path_loads_a_saved_tokenizer(tmp_path):
    tiny = MolmoTokenizer.tiny(cache_dir=tmp_path)
    tiny.save_hf(tmp_path / "hf")
    hf = MolmoTokenizer.from_pretrained(tmp_path / "hf", pad_to=1024)
    assert hf.vocab_size == 1024 and hf.eos_id == tiny.eos_id
    assert hf.image_start_id == 1024 and hf.image_prompt_id == 1028
    s = " User: What time is being shown? Assistant: The time shown is 10:15"
    assert hf.encode(s) == tiny.encode(s)
    assert hf.decode(hf.encode(s) + [hf.eos_id]) == s


def test_qwen2_tokenizers_pad_to_the_released_vocab(tmp_path):
    """A Qwen2 tokenizer is padded to 152064, so the Molmo tokens get the released ids (docs/spec/molmo.md 2)."""
    from transformers import Qwen2TokenizerFast

    tiny = MolmoTokenizer.tiny(cache_dir=tmp_path)
    Qwen2TokenizerFast(tokenizer_object=tiny.backend, eos_token="<|endoftext|>").save_pretrained(tmp_path / "q")
    q = MolmoTokenizer.from_pretrained(tmp_path / "q")
    assert q.vocab_size == 152064
    assert (q.image_start_id, q.image_end_id, q.image_patch_id, q.image_col_id, q.image_prompt_id) == (
        152064, 152065, 152066, 152067, 152068)
    assert q.bos_id == q.eos_id == tiny.eos_id
