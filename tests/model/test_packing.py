"""docs/spec/molmo.md section 11 facts 8, 9, 11, 12 and 20 (the data side): sequences, packing, collation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.collate import collate
from model.molmo import build_attention_mask
from model.packing import IMAGE_SUBSEGMENT, build_sequence
from model.preprocessing import MolmoImageProcessor, PreprocessConfig
from model.tokenizer import MolmoTokenizer

PROMPT, RESPONSE = " User: What is this? Assistant:", " A small red square."


class QwenIds:
    """Stands in for the Qwen2 tokenizer's ids around the tiny BPE text encoding."""

    def __init__(self):
        self.tiny = MolmoTokenizer.tiny()
        self.eos_id = self.bos_id = 151643

    def encode(self, text):
        return self.tiny.encode(text)


@pytest.fixture(scope="module")
def tok():
    return MolmoTokenizer.tiny()


@pytest.fixture(scope="module")
def img640():
    return MolmoImageProcessor()(np.full((480, 640, 3), 128, np.uint8))


def test_fact8_sequence_start(img640):
    ex = build_sequence(img640, [[PROMPT, RESPONSE]], QwenIds())
    inp = ex["input_tokens"]
    assert inp[0] == 151643 and inp[1] == 152064 and inp[2] == 152066
    assert ex["image_input_idx"][0, 0] == 2 and ex["image_input_idx"][0, 12] == 15
    assert inp[159] == 152064
    first = ex["image_input_idx"][1]
    assert first[first >= 0][0] == 160
    assert (ex["image_input_idx"][ex["image_input_idx"] < 0] == -100).all()
    # every feature lands on an <im_patch> input token
    assert (inp[ex["image_input_idx"][ex["image_input_idx"] >= 0]] == 152066).all()


def test_fact9_training_and_inference_shapes(tok, img640):
    ex = build_sequence(img640, [[PROMPT, RESPONSE]], tok)
    n_resp = len(tok.encode(RESPONSE))
    assert len(ex["input_tokens"]) == len(ex["target_tokens"]) == len(ex["loss_masks"])
    assert ex["target_tokens"][-1] == tok.eos_id
    assert ex["loss_masks"].sum() == n_resp + 1
    np.testing.assert_array_equal(ex["input_tokens"][1:], ex["target_tokens"][:-1])
    inf = build_sequence(img640, [[PROMPT]], tok)
    n = 1 + len(img640["image_tokens"]) + len(tok.encode(PROMPT))
    assert len(inf["input_tokens"]) == len(inf["target_tokens"]) == n
    assert inf["loss_masks"][-1] == -1 and inf["target_tokens"][-1] == -1
    assert inf["input_tokens"][-1] == tok.encode(PROMPT)[-1]


def test_fact11_packing(tok, img640):
    convs = [[PROMPT, RESPONSE], [" User: And the colour? Assistant:", " Red."]]
    ex = build_sequence(img640, convs, tok)
    sub = ex["subsegment_ids"]
    assert set(np.unique(sub)) == {IMAGE_SUBSEGMENT, 1, 2}
    assert sub[0] == IMAGE_SUBSEGMENT and (sub[: 1 + 740] == IMAGE_SUBSEGMENT).all()
    first2 = int(np.argmax(sub == 2))
    assert ex["position_ids"][first2] == 741 == 1 + len(img640["image_tokens"])
    assert ex["position_ids"][first2 - 1] > 741  # conversation 1 ran on from the image
    # both conversations carry sqrt(1/2) loss weight; the image copy is single
    w = ex["loss_masks"][ex["loss_masks"] > 0]
    np.testing.assert_allclose(w, math.sqrt(0.5))
    assert (ex["input_tokens"] == 152064).sum() == 2  # low-res + high-res blocks, one copy


def test_fact12_attention_mask(tok, img640):
    convs = [[PROMPT, RESPONSE], [" User: And the colour? Assistant:", " Red."]]
    batch = collate([build_sequence(img640, convs, tok)])
    sub = batch["subsegment_ids"][0]
    valid = batch["input_tokens"][0] != -1
    m = build_attention_mask(batch["input_tokens"], batch["subsegment_ids"])[0, 0] & valid[:, None] & valid[None]
    c1, c2, im = (sub == 1).nonzero()[:, 0], (sub == 2).nonzero()[:, 0], (sub == IMAGE_SUBSEGMENT).nonzero()[:, 0]
    assert not m[c2][:, c1].any()  # conversation 2 never sees conversation 1
    assert m[c2][:, im].all() and m[c1][:, im].all()  # every text token sees all image tokens
    assert m[c2][:, c2].equal(torch.ones(len(c2), len(c2), dtype=torch.bool).tril())
    assert not m[im][:, c1].any()


def test_sequence_length_limit_drops_conversations(tok, img640):
    convs = [[PROMPT, RESPONSE]] * 5
    one = len(build_sequence(img640, convs[:1], tok)["input_tokens"])
    conv_len = len(build_sequence(None, convs[:1], tok)["input_tokens"])
    ex = build_sequence(img640, convs, tok, seq_len=one + 2 * conv_len)
    assert ex["num_dropped"] == 2 and len(ex["input_tokens"]) == one + 2 * conv_len
    np.testing.assert_allclose(ex["loss_masks"].max(), math.sqrt(1 / 3))
    tiny = build_sequence(img640, convs, tok, seq_len=100)  # nothing fits: keep one, collator truncates
    assert tiny["num_dropped"] == 4
    b = collate([tiny], seq_len=100)
    assert b["input_tokens"].shape == (1, 100)
    assert int(b["image_input_idx"].max()) < 100 and (b["image_input_idx"] == -1).any()


def test_collate_contract(tok, img640):
    cfg = PreprocessConfig.tiny().with_tokens(tok)
    small = MolmoImageProcessor(config=cfg)(np.zeros((60, 200, 3), np.uint8))
    a = build_sequence(small, [[PROMPT, RESPONSE], [PROMPT, " No."]], tok)
    b = build_sequence(None, [[PROMPT, RESPONSE]], tok, crop_shape=(16, 588), tokens_per_crop=4)
    c = build_sequence(MolmoImageProcessor(config=cfg)(np.zeros((50, 50, 3), np.uint8)), [[PROMPT, RESPONSE]], tok)
    batch = collate([a, b, c], seq_len=128)
    B, N = 3, len(small["images"])
    assert batch["input_tokens"].shape == (B, 128) and batch["input_tokens"].dtype == torch.int64
    assert batch["loss_masks"].dtype == torch.float32
    assert batch["images"].shape == (B, N, 16, 588) and batch["images"].dtype == torch.uint8
    assert batch["crop_mask"].tolist() == [[True] * N, [False] * N, [True, True] + [False] * (N - 2)]
    assert (batch["image_input_idx"][1] == -1).all() and (batch["image_masks"][1] == -1).all()
    assert (batch["images"][2, 2:] == 0).all()
    assert batch["subsegment_ids"][1, : len(b["input_tokens"])].eq(1).all()  # unpacked in a mixed batch
    assert (batch["input_tokens"][1, len(b["input_tokens"]):] == -1).all()
    assert (batch["target_tokens"][0, len(a["target_tokens"]):] == -1).all()
    dyn = collate([b, c], seq_len=None)
    assert dyn["input_tokens"].shape[1] == max(len(b["input_tokens"]), len(c["input_tokens"]))
    assert "subsegment_ids" not in dyn
    text_only = collate([b, b])
    assert text_only["images"].shape == (2, 0, 16, 588) and text_only["image_input_idx"].shape == (2, 0, 4)


def test_collate_float_reference_images_pad_with_minus_one(tok):
    proc = MolmoImageProcessor(config=PreprocessConfig.tiny().with_tokens(tok))
    a = build_sequence(proc.preprocess(np.zeros((60, 200, 3), np.uint8)), [[PROMPT, RESPONSE]], tok)
    b = build_sequence(proc.preprocess(np.zeros((50, 50, 3), np.uint8)), [[PROMPT, RESPONSE]], tok)
    batch = collate([a, b])
    assert batch["images"].dtype == torch.float32
    assert (batch["images"][1, 2:] == -1).all()


def test_fact20_loss_token_sums(tok, img640):
    """Per-device weighted loss-token sum (as `model.train.train_step` takes it); the average over devices
    is checked under torchrun (tests/model/_dist_train.py)."""
    ex1 = build_sequence(img640, [[PROMPT, RESPONSE]], tok)
    ex2 = build_sequence(img640, [[PROMPT, RESPONSE], [PROMPT, RESPONSE]], tok)
    batch = collate([ex1, ex2], seq_len=1000)
    n = len(tok.encode(RESPONSE)) + 1
    m = batch["loss_masks"]
    assert float(torch.where(m > 0, m, 0).sum()) == pytest.approx(n + 2 * n * math.sqrt(0.5), rel=1e-6)
