"""LLM cost accounting for a docs run: tokens per stage (topic, data, code, qa) priced by a table.

Tokens come from the ``usage`` of each OpenAI-compatible response (``pixmo.llm`` sums them per
stage and model; every shard's stats keep them as ``llm_stages``). Costs are computed when the
report is written, from the tokens and a :class:`PriceTable`, so a price change never alters a
shard. Default prices (USD per million tokens) are the providers' list prices, noted with their
sources in docs/spec/llm_prices.md; a model not in the table costs 0 and is reported as unpriced.
Cache hits spent nothing and count as cached calls. Offline runs make no calls: cost 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PRICES: dict[str, tuple[float, float]] = {  # model -> (input, output) USD per 1M tokens
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "claude-3-5-sonnet-20241022": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
}
STAGES = ("topic", "data", "code", "qa")


@dataclass(frozen=True)
class PriceTable:
    """USD per million input and output tokens, per model."""

    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def __post_init__(self) -> None:
        for model, pair in self.prices.items():
            if len(pair) != 2 or any(not isinstance(p, int | float) or p < 0 for p in pair):
                raise ValueError(f"price of {model!r} must be [input, output] USD per 1M tokens, >= 0")

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        p_in, p_out = self.prices.get(model, (0.0, 0.0))
        return (prompt_tokens * p_in + completion_tokens * p_out) / 1e6

    def with_settings(self, llm: dict[str, Any]) -> PriceTable:
        """The table with the run's ``price_in``/``price_out`` (LLMSettings overrides) on top."""
        merged = dict(self.prices)
        for m in set(llm.get("price_in", {})) | set(llm.get("price_out", {})):
            base = merged.get(m, (0.0, 0.0))
            merged[m] = (float(llm.get("price_in", {}).get(m, base[0])), float(llm.get("price_out", {}).get(m, base[1])))
        return PriceTable(merged)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """A JSON object ``{"model": [input, output], ...}`` on top of the defaults."""
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"price table {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"price table {path}: must be a JSON object of model -> [input, output]")
        return cls({**DEFAULT_PRICES, **{str(k): tuple(v) for k, v in raw.items()}})  # type: ignore[misc]


def cost_table(mode: str, stages: dict[str, dict[str, dict[str, float]]], kept: int,
               prices: PriceTable) -> dict[str, Any]:
    """Rows per stage (calls, cached, retries, failed, tokens in/out, USD) and the totals, with the
    cost per kept image."""
    if mode != "llm":
        return {"mode": mode, "note": "offline mode: no LLM calls, cost 0", "rows": [], "total_usd": 0.0,
                "usd_per_kept_image": 0.0, "unpriced_models": []}
    rows: list[dict[str, Any]] = []
    unpriced: set[str] = set()
    order = [s for s in STAGES if s in stages] + sorted(set(stages) - set(STAGES))
    for stage in order:
        for model, u in sorted(stages[stage].items()):
            pt, ct = int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))
            if model not in prices.prices:
                unpriced.add(model)
            rows.append({"stage": stage, "model": model, "calls": int(u.get("requests", 0)),
                         "cached": int(u.get("cached", 0)), "retries": int(u.get("retries", 0)),
                         "failed": int(u.get("failed", 0)), "prompt_tokens": pt, "completion_tokens": ct,
                         "usd": round(prices.cost(model, pt, ct), 6)})
    total = sum(r["usd"] for r in rows)
    return {"mode": mode, "rows": rows, "total_usd": round(total, 6),
            "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
            "completion_tokens": sum(r["completion_tokens"] for r in rows),
            "usd_per_kept_image": round(total / kept, 6) if kept else 0.0, "unpriced_models": sorted(unpriced)}
