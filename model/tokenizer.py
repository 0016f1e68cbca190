"""Molmo tokenizer: a base text tokenizer plus the 5 image special tokens (docs/spec/molmo.md section 2).

The base vocabulary is padded to ``vocab_size`` (``build_tokenizer(pad_tokenizer_to=...)`` in the
reference) and the Molmo tokens get ids ``vocab_size + 0..4`` in the order ``<im_start>``,
``<im_end>``, ``<im_patch>``, ``<im_col>``, ``<|image|>``. EOS doubles as BOS; batches pad with -1.

- ``MolmoTokenizer.from_pretrained(path_or_name)``: any Hugging Face tokenizer (Qwen2 gives
  eos 151643, ``<im_start>`` 152064 ...).
- ``MolmoTokenizer.tiny()``: an offline byte-level BPE (1024 entries) trained in well under a
  second on a built-in corpus of Molmo-style text, cached on disk; deterministic.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>")
EOS_TEXT = "<|endoftext|>"
QWEN2_VOCAB = 152064
TINY_VOCAB = 1024


class MolmoTokenizer:
    """Text tokenizer with Molmo's image tokens appended after a padded base vocabulary."""

    def __init__(self, backend: Any, *, vocab_size: int, eos_id: int, hf: bool):
        self.backend, self.hf = backend, hf
        self.vocab_size = int(vocab_size)
        self.eos_id = self.bos_id = int(eos_id)
        self.pad_id = -1
        self.image_start_id, self.image_end_id, self.image_patch_id, self.image_col_id, self.image_prompt_id = (
            self.vocab_size + i for i in range(len(SPECIAL_TOKENS)))

    @property
    def special_ids(self) -> dict[str, int]:
        return dict(zip(SPECIAL_TOKENS, range(self.vocab_size, self.vocab_size + len(SPECIAL_TOKENS)), strict=True))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""
        if self.hf:
            return list(self.backend.encode(text, add_special_tokens=False))
        return list(self.backend.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Any) -> str:
        """Text of ids, skipping EOS, image tokens, padding and other special ids."""
        keep = [int(i) for i in ids if 0 <= int(i) < self.vocab_size and int(i) != self.eos_id]
        if self.hf:
            return self.backend.decode(keep, skip_special_tokens=True)
        return self.backend.decode(keep, skip_special_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size + len(SPECIAL_TOKENS)

    def __repr__(self) -> str:
        kind = "hf" if self.hf else "tiny"
        return f"MolmoTokenizer({kind}, vocab_size={self.vocab_size}, eos_id={self.eos_id})"

    # --- constructors -----------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike, *, pad_to: int | None = None) -> MolmoTokenizer:
        """Load a Hugging Face tokenizer (local path, or a hub name already in the cache).

        ``pad_to`` is the LLM's vocab size the base vocabulary is padded to; by default 152064
        for Qwen2 tokenizers and the tokenizer's own length otherwise.
        """
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path_or_name))
        n = len(tok)
        if pad_to is None:
            pad_to = QWEN2_VOCAB if "qwen" in type(tok).__name__.lower() and n <= QWEN2_VOCAB else n
        if pad_to < n:
            raise ValueError(f"pad_to={pad_to} is smaller than the tokenizer's {n} entries")
        eos = tok.eos_token_id
        if eos is None:
            raise ValueError(f"tokenizer {path_or_name} has no EOS token (Molmo uses EOS as BOS)")
        return cls(tok, vocab_size=pad_to, eos_id=eos, hf=True)

    @classmethod
    def tiny(cls, cache_dir: str | os.PathLike | None = None) -> MolmoTokenizer:
        """The offline tiny tokenizer (vocab 1024; EOS ``<|endoftext|>`` = id 0)."""
        return _tiny(str(cache_dir) if cache_dir else None)

    def save_hf(self, path: str | os.PathLike) -> Path:
        """Save the tiny backend as a Hugging Face ``PreTrainedTokenizerFast`` directory."""
        from transformers import PreTrainedTokenizerFast

        if self.hf:
            self.backend.save_pretrained(str(path))
            return Path(path)
        fast = PreTrainedTokenizerFast(tokenizer_object=self.backend, eos_token=EOS_TEXT)
        fast.save_pretrained(str(path))
        return Path(path)


def _corpus() -> list[str]:
    """Built-in training text: prompts, answer formats, numbers and common words."""
    from pixmo.formatting import TEMPLATES, clock_answer, count_answer
    from pixmo.formatting.prompts import NO_POINTING_PREFIXES

    lines: list[str] = []
    for options in TEMPLATES.values():
        lines += [t.replace("{label}", w) for t in options for w in ("dog", "cats", "red car", "people", "the person")]
    lines += list(NO_POINTING_PREFIXES)
    for h in range(24):
        for m in range(0, 60, 7):
            lines.append(clock_answer(h, m, (h * m) % 60, ampm=h % 2 == 0))
    for n in range(0, 40):
        pts = [((7 * i + 3) % 100, (13 * i + 5) % 100) for i in range(n % 7)]
        lines.append(count_answer(pts, ["dog", "apple", "car", "person", "star"][n % 5]))
    lines += [f"{x}.{d}" for x in range(101) for d in (0, 5)]
    lines += [" User: What is shown? Assistant:", " long_caption 83:", " transcript 55:", " vqa2:", " clocks:",
              " pixmo_docs_charts:", " pixmo_docs_tables:", " point_qa:", " user_qa:", " synthetic_qa:",
              "The time is not shown in the image.", "There are none.", "This isn't in the image."]
    lines.append(_WORDS)
    return lines


_WORDS = """The image shows a small red square, a large blue circle and three green triangles on a white
background. There is a chart with a title, an axis, labels, values and a legend. The table has rows and
columns with numbers such as 12, 45.6 and 2023. A person is standing next to a tree in a park; the sky is
clear and the grass is green. What color is the object on the left? How many shapes are there? Which one is
bigger? Answer: yes, no, maybe. The document describes the total revenue, the percentage of growth, the
average, the maximum and minimum. Describe the picture in detail, including the objects, their positions,
colors, sizes and any text. It was a bright day with light from the top right corner of the photo."""


@functools.lru_cache(maxsize=4)
def _tiny(cache_dir: str | None) -> MolmoTokenizer:
    from tokenizers import Tokenizer

    corpus = _corpus()
    digest = hashlib.sha256(json.dumps([TINY_VOCAB, corpus]).encode()).hexdigest()[:16]
    root = Path(cache_dir or os.environ.get("PIXMO_CACHE") or Path.home() / ".cache" / "pixmo")
    path = root / f"tiny_tokenizer-{digest}.json"
    if path.exists():
        backend = Tokenizer.from_file(str(path))
    else:
        backend = _train(corpus)
        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        backend.save(str(tmp))
        os.replace(tmp, path)
    eos = backend.token_to_id(EOS_TEXT)
    if backend.get_vocab_size() > TINY_VOCAB or eos is None:
        raise RuntimeError(f"tiny tokenizer {path} has {backend.get_vocab_size()} entries (at most {TINY_VOCAB}) "
                           f"and {EOS_TEXT} id {eos}")
    return MolmoTokenizer(backend, vocab_size=TINY_VOCAB, eos_id=eos, hf=False)


def _train(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=[EOS_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok
