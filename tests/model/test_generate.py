"""KV-cache generation: equals recomputing without a cache; batched rows equal single rows."""

from __future__ import annotations

import torch

from model.config import get_config
from model.generate import generate, left_align
from model.molmo import build_model


def _model():
    torch.manual_seed(0)
    return build_model(get_config("tiny"), seed=0).eval()


def _row(cfg, n_text: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tpc, v = cfg.tokens_per_crop, cfg.llm.vocab_size
    text = torch.randint(5, v, (n_text,), generator=g)
    tokens = torch.cat([torch.tensor([0, v]), torch.full((tpc,), v + 2), torch.tensor([v + 1]), text])
    return {
        "input_tokens": tokens[None],
        "images": torch.randint(0, 256, (1, 1, cfg.vision.n_patches, cfg.vision.patch_dim), dtype=torch.uint8,
                                generator=g),
        "image_input_idx": (torch.arange(tpc) + 2).view(1, 1, tpc),
        "image_masks": torch.ones(1, 1, cfg.vision.n_patches),
        "crop_mask": torch.ones(1, 1, dtype=torch.bool),
    }


def _greedy_without_cache(model, row, n: int) -> list[int]:
    tokens = row["input_tokens"]
    out = []
    for _ in range(n):
        with torch.no_grad():
            logits = model(tokens, **{k: v for k, v in row.items() if k != "input_tokens"}).logits
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        tokens = torch.cat([tokens, torch.tensor([[nxt]])], 1)
    return out


def _pad_right(rows: list[dict]) -> dict[str, torch.Tensor]:
    t = max(r["input_tokens"].shape[1] for r in rows)
    tokens = torch.full((len(rows), t), -1)
    for i, r in enumerate(rows):
        tokens[i, : r["input_tokens"].shape[1]] = r["input_tokens"][0]
    batch = {k: torch.cat([r[k] for r in rows]) for k in rows[0] if k != "input_tokens"}
    return {"input_tokens": tokens, **batch}


def test_cached_greedy_equals_full_recompute_and_batches_match_single_rows():
    model = _model()
    cfg = model.cfg
    rows = [_row(cfg, 7, 1), _row(cfg, 3, 2), _row(cfg, 11, 3)]
    n = 6
    eos = -5  # never produced: always n tokens
    singles = [generate(model, r, max_new_tokens=n, eos_id=eos)[0] for r in rows]
    for r, s in zip(rows, singles, strict=True):
        assert s == _greedy_without_cache(model, r, n)
    batched = generate(model, _pad_right(rows), max_new_tokens=n, eos_id=eos)  # right padding
    assert batched == singles
    aligned = left_align(_pad_right(rows))  # already left-padded input works too
    assert generate(model, aligned, max_new_tokens=n, eos_id=eos) == singles


def test_eos_stops_and_sampling_is_seeded():
    model = _model()
    row = _row(model.cfg, 5, 4)
    first = generate(model, row, max_new_tokens=3, eos_id=-5)[0]
    assert generate(model, row, max_new_tokens=10, eos_id=first[1])[0] == first[:1]
    a = generate(model, row, max_new_tokens=8, eos_id=-5, temperature=1.0, top_p=0.9, seed=7)
    b = generate(model, row, max_new_tokens=8, eos_id=-5, temperature=1.0, top_p=0.9, seed=7)
    assert a == b and len(a[0]) == 8


def test_cli_generate_prints_an_answer_and_draws_points(tmp_path):
    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from model.checkpoint import load_model, save_checkpoint
    from model.cli import app
    from model.generate import draw_points
    from model.optim import OptimConfig, build_optimizer

    model = _model()
    save_checkpoint(tmp_path / "run", model, build_optimizer(model.param_groups(), OptimConfig()), 0,
                    {"train_config": {"tokenizer": "tiny"}})
    img = np.random.default_rng(0).integers(0, 256, (90, 140, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "x.png")
    res = CliRunner().invoke(app, ["generate", str(tmp_path / "run"), "--image", str(tmp_path / "x.png"),
                                   "--prompt", "Point to the dogs", "--max-new-tokens", "5"])
    assert res.exit_code == 0, res.output
    assert res.output.strip()  # an (untrained) answer was printed
    assert torch.equal(load_model(tmp_path / "run").transformer.ff_out.weight, model.transformer.ff_out.weight)
    out = draw_points(img, [(10.0, 20.0), (100.0, 50.0)], tmp_path / "pts.png")
    drawn = np.asarray(Image.open(out))
    assert drawn.shape == img.shape and (drawn != img).any()
    bad = CliRunner().invoke(app, ["generate", str(tmp_path / "run"), "--image", str(tmp_path / "nope.png"),
                                   "--prompt", "x"])
    assert bad.exit_code == 2  # a usage error naming --image, not a traceback
