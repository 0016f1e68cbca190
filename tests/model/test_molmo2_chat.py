"""Molmo2 training text in Molmo2's chat format (model/molmo2/chat.py), checked against the chat template of
the tokenizer our export writes, read back with `transformers.AutoTokenizer`."""

from __future__ import annotations

import importlib
from itertools import groupby

import numpy as np
import pytest

from model.config import get_config
from model.molmo import build_model
from model.molmo2.chat import chat_messages, join_conversations, render_chat
from model.molmo2.data import encode_example
from model.molmo2.hf_dir import save_molmo2_dir
from model.molmo2.preprocessing import Molmo2ImageProcessor, Molmo2PreprocessConfig

transformers = pytest.importorskip("transformers")
importlib.import_module("transformers.models.molmo2.processing_molmo2")

TURNS = [" What is in the image?", " A dog on a red sofa.", " How many legs?", " Four."]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cfg = get_config("molmo2-tiny")
    out = save_molmo2_dir(build_model(cfg), tmp_path_factory.mktemp("molmo2") / "export")
    return cfg, transformers.AutoTokenizer.from_pretrained(str(out))


def template_ids(tok, messages, **kw) -> list[int]:
    """What `Molmo2Processor.apply_chat_template` tokenizes: BOS (bos or eos token) + the template's tokens."""
    ids = tok.apply_chat_template(messages, tokenize=True, **kw)["input_ids"]
    return [tok.convert_tokens_to_ids(tok.bos_token or tok.eos_token)] + list(ids)


def test_training_tokens_equal_the_exported_chat_template(exported):
    _, tok = exported
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is in the image?"}]},
        {"role": "assistant", "content": "A dog on a red sofa."},
        {"role": "user", "content": "How many legs?"},
        {"role": "assistant", "content": "Four."},
    ]
    ids, loss = render_chat(TURNS, tok)
    assert ids == template_ids(tok, messages)
    assert len(loss) == len(ids)
    prompt_ids, prompt_loss = render_chat(TURNS[:3], tok)  # inference: ends with the generation prompt
    assert prompt_ids == template_ids(tok, messages[:3], add_generation_prompt=True)
    n = len(template_ids(tok, messages[:3]))  # the generation prompt comes after these
    assert tok.decode(prompt_ids[n:]) == "<|im_start|>assistant\n" and not any(prompt_loss[n:])
    assert prompt_loss[:n] == loss[:n]  # the earlier reply keeps its loss


def test_loss_mask_covers_exactly_the_assistant_replies_and_their_end_markers(exported):
    _, tok = exported
    ids, loss = render_chat(TURNS, tok)
    runs = [[t for t, _ in group] for m, group in groupby(zip(ids, loss, strict=True), key=lambda p: p[1]) if m]
    assert [tok.decode(r) for r in runs] == ["A dog on a red sofa.<|im_end|>", "Four.<|im_end|>"]


class _ProcessorTokens:  # transformers' Molmo2Processor text path, without its torchvision image processor
    image_use_col_tokens, use_single_crop_col_tokens, use_single_crop_start_token = True, None, True
    replace_image_token = transformers.models.molmo2.processing_molmo2.Molmo2Processor.replace_image_token


def test_encoded_row_expands_the_image_and_predicts_only_replies(exported):
    cfg, tok = exported
    proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(cfg))
    image = np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    row = encode_example(TURNS, image, tok, cfg, proc, seq_len=4096)
    text = tok.apply_chat_template(chat_messages(TURNS), tokenize=False)
    image_text = _ProcessorTokens().replace_image_token({"image_grids": row["image_grids"]}, 0)
    processor_text = (tok.bos_token or tok.eos_token) + text.replace("<|image|>", image_text)
    assert row["input_tokens"] == tok(processor_text, add_special_tokens=False)["input_ids"]
    ids, loss = render_chat(TURNS, tok)
    n_image = len(row["input_tokens"]) - len(ids) + 1
    targets = [t for t in row["target_tokens"] if t >= 0]
    assert targets == [t for t, m in zip(ids, loss, strict=True) if m]  # same replies, image tokens never targets
    assert max(targets) < cfg.llm.embedding_size  # `<|im_end|>` is a logit the model can predict
    assert encode_example(TURNS, image, tok, cfg, proc, seq_len=n_image + 10) is None  # does not fit


def test_conversations_of_one_image_become_turns_of_one_chat_while_they_fit():
    convs = [[" q1", " a1"], [" q2", " a2"], [" q3", " a3"], [" a long question " * 9, " a4"], [" q5", " a5"]]

    def encode(turns):  # "fits" while the chat has at most 4 turns and no long turn
        return turns if len(turns) <= 4 and all(len(t) < 50 for t in turns) else None

    rows = join_conversations(convs, encode)
    assert rows == [[" q1", " a1", " q2", " a2"], [" q3", " a3"], [" q5", " a5"]]


def test_the_data_path_trains_molmo2_on_chat_rows(tmp_path, exported):
    from test_train_learns import make_dot_shards

    from model.data import build_dataloader
    from model.examples import ExampleConfig

    cfg, tok = exported
    shards = make_dot_shards(tmp_path / "dots", 4)
    loader = build_dataloader(shards, tok, seq_len=512, batch_size=2, packing=False, model_config=cfg,
                              examples=ExampleConfig(point_format=cfg.family))
    batch = next(iter(loader))
    first = [t for t in batch["input_tokens"][0].tolist() if t >= 0]
    text = tok.decode(first)
    assert text.startswith("<|endoftext|><|im_start|>user\n<low_res_im_start>") and "User:" not in text
    assert "<|im_end|>\n<|im_start|>assistant\n" in text
    assert int(batch["loss_masks"].sum()) > 0
