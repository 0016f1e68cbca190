"""Gold scoring helpers: Hungarian matching of point sets within a radius, and aggregation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment


def match_points(pred: Sequence[Sequence[float]], gold: Sequence[Sequence[float]], radius: float) -> int:
    """Number of one-to-one matches between predicted and gold points closer than ``radius``,
    maximised by the Hungarian algorithm on distances (pairs farther than the radius never match)."""
    if len(pred) == 0 or len(gold) == 0:
        return 0
    p = np.asarray(pred, dtype=float).reshape(-1, 2)
    g = np.asarray(gold, dtype=float).reshape(-1, 2)
    d = np.linalg.norm(p[:, None, :] - g[None, :, :], axis=-1)
    cost = np.where(d <= radius, d, 1e6 + d)
    rows, cols = linear_sum_assignment(cost)
    return int((d[rows, cols] <= radius).sum())


def point_metrics(pred: Sequence[Sequence[float]], pred_absent: bool, gold: Sequence[Sequence[float]],
                  gold_absent: bool, radius: float) -> dict[str, float]:
    """precision, recall, count error and not-present correctness of one answer."""
    m = match_points(pred, gold, radius)
    n_pred, n_gold = len(pred), len(gold)
    return {
        "precision": m / n_pred if n_pred else float(n_gold == 0),
        "recall": m / n_gold if n_gold else float(n_pred == 0),
        "count_error": float(abs(n_pred - n_gold)),
        "not_present_correct": float(pred_absent == gold_absent),
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}


def item_score(metrics: dict[str, float]) -> float | None:
    """One number for one gold answer: the F1 of its precision and recall (a wrong "not present"
    either way scores 0), None for metrics without both (task types scored otherwise)."""
    if "precision" not in metrics or "recall" not in metrics:
        return None
    p, r = metrics["precision"], metrics["recall"]
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
