"""Molmo2 conversations in Molmo2's own chat format (docs/spec/molmo2.md "Chat format").

A conversation is rendered by the tokenizer's chat template, as `Molmo2Processor.apply_chat_template` does:
the turns become `{"role": "user" | "assistant"}` messages, the image is the first part of the first user
message (the template puts `<|image|>` there), and the processor's BOS (`bos_token`, else `eos_token`) goes in
front when the rendering does not start with it. The text is tokenized once, as the processor does; a token
carries loss when it starts inside an assistant reply's span: the reply and the template's end-of-turn marker
(`<|im_end|>` in the ChatML templates), not the `<|im_start|>assistant` header nor the newline after the marker.
Several conversations about one image are joined into one, turn after turn (`join_conversations`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from model.config import ImageTokenIds
from model.molmo2.preprocessing import image_token_ids

Row = TypeVar("Row")


def chat_messages(turns: list[str]) -> list[dict[str, Any]]:
    """Turn texts (user, assistant, user, ... as `model.examples` writes them, each with one leading space)
    -> chat messages; the image goes first in the first user message."""
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        text = turn.removeprefix(" ")
        if i == 0:
            out.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]})
        else:
            out.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return out


def _render(tokenizer: Any, messages: list[dict[str, Any]], prompt: bool) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
    if not isinstance(text, str):
        raise ValueError("the tokenizer's chat template did not render text")
    return text


def render_chat(turns: list[str], tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids of the conversation as the chat template renders it (a final user turn gets the generation
    prompt) and a 0/1 loss mask that is 1 on the assistant replies and their end-of-turn markers."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the Molmo2 tokenizer has no chat template")
    messages = chat_messages(turns)
    text = _render(tokenizer, messages, prompt=len(messages) % 2 == 1)
    spans = []
    for i in range(1, len(messages), 2):
        before, after = _render(tokenizer, messages[:i], True), _render(tokenizer, messages[: i + 1], False)
        if not (after.startswith(before) and text.startswith(after)):
            raise ValueError("the chat template does not render a conversation as a growing prefix")
        spans.append((len(before), len(after.rstrip())))
    bos = tokenizer.bos_token or tokenizer.eos_token
    if bos and not text.startswith(bos):
        text = bos + text
        spans = [(a + len(bos), b + len(bos)) for a, b in spans]
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    loss = [int(any(a <= start < b for a, b in spans)) for start, _ in enc["offset_mapping"]]
    return list(enc["input_ids"]), loss


def expand_images(ids: list[int], loss: list[int], grids: list[list[int]],
                  image_ids: ImageTokenIds) -> tuple[list[int], list[int]]:
    """Each `<|image|>` id, in order, replaced by its image's tokens (`Molmo2Processor`); they carry no loss."""
    out, mask = [], []
    images = iter(grids)
    for t, m in zip(ids, loss, strict=True):
        part = image_token_ids(next(images), image_ids) if t == image_ids.image_placeholder else [t]
        out += part
        mask += [m] * len(part) if len(part) == 1 else [0] * len(part)
    if next(images, None) is not None:
        raise ValueError("more images than <|image|> placeholders")
    return out, mask


def join_conversations(conversations: list[list[str]], encode: Callable[[list[str]], Row | None]) -> list[Row]:
    """Encoded rows, each as many consecutive conversations (as turns of one chat) as `encode` accepts
    (it returns None when a chat does not fit); a conversation that does not fit alone is left out."""
    rows: list[Row] = []
    turns: list[str] = []
    row: Row | None = None
    for msgs in conversations:
        joined = encode(turns + msgs) if turns else None
        if joined is not None:
            turns, row = turns + msgs, joined
            continue
        if row is not None:
            rows.append(row)
        turns, row = msgs, encode(msgs)
        if row is None:
            turns = []
    if row is not None:
        rows.append(row)
    return rows
