"""Elo ratings from pairwise preference votes (the Chatbot Arena method, with ties modelled).

Model: Bradley-Terry with ties in Davidson's form (Davidson 1970). With strengths ``p_i = exp(theta_i)``
and a tie parameter ``nu``::

    P(i beats j) = p_i / D,  P(j beats i) = p_j / D,  P(tie) = nu * sqrt(p_i p_j) / D,
    D = p_i + p_j + nu * sqrt(p_i p_j)

fitted by maximum likelihood (damped Newton on counts aggregated per model pair, all bootstrap
resamples solved together as one batch),
with a very weak Gaussian prior on ``theta`` (``ridge``) so that a model that never lost still
gets a finite rating. Without ties this is exactly Bradley-Terry. "Both bad" votes count as ties
by default (``both_bad="drop"`` leaves them out). Ratings are on the Elo scale:
``rating = anchor_rating + 400/ln(10) * (theta - reference)``, where the reference is the mean
strength (all models average 1000) or the ``anchor`` model's strength (that model is 1000).

Confidence intervals: nonparametric bootstrap over votes (multinomial resampling of the vote
cells, which is the same as resampling votes with replacement), percentile intervals.
Pure numpy; used by ``pipelines.elo_report`` and the annotation app.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pixmo.text import read_jsonl

SCALE = 400.0 / math.log(10.0)
WIN_A, WIN_B, TIE, BOTH_BAD = "model_a", "model_b", "tie", "both_bad"
ALIASES = {"a": WIN_A, "model_a": WIN_A, "b": WIN_B, "model_b": WIN_B, "tie": TIE, "both_bad": BOTH_BAD,
           "bothbad": BOTH_BAD, "tie (bothbad)": BOTH_BAD, "both bad": BOTH_BAD}


class VoteError(ValueError):
    """A vote is malformed; the message names the vote (line) and the field."""


@dataclass
class EloConfig:
    bootstrap: int = 1000  # bootstrap resamples (0: no intervals)
    ci: float = 0.95  # interval coverage
    seed: int = 0
    both_bad: Literal["tie", "drop"] = "tie"
    anchor: str | None = None  # this model gets ``anchor_rating``; None: the mean rating is ``anchor_rating``
    anchor_rating: float = 1000.0
    ridge: float = 1e-4  # Gaussian prior precision on theta (a fraction of one vote)
    category_bootstrap: int = 200  # resamples for each per-category fit
    min_category_votes: int = 10

    @classmethod
    def tiny(cls) -> EloConfig:
        return cls(bootstrap=50, category_bootstrap=20)


@dataclass
class Votes:
    """Votes as index arrays: ``a``, ``b`` model indices, ``outcome`` 0 = a wins, 1 = b wins, 2 = tie."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    category: np.ndarray

    def __len__(self) -> int:
        return int(self.a.size)

    def subset(self, mask: np.ndarray) -> Votes:
        return Votes(self.models, self.a[mask], self.b[mask], self.outcome[mask], self.category[mask])


def normalize_winner(value: Any) -> str:
    w = ALIASES.get(str(value).strip().lower())
    if w is None:
        raise VoteError(f"winner must be one of model_a, model_b, tie, both_bad (or a, b), got {value!r}")
    return w


def read_votes(path: str | Path) -> list[dict[str, Any]]:
    """Votes from a JSONL file: one object per line with model_a, model_b, winner (+ category...)."""
    return read_jsonl(path, error=VoteError, not_object="a vote must be a JSON object")


def to_votes(rows: Iterable[dict[str, Any]], both_bad: str = "tie", where: str = "vote") -> Votes:
    """Index arrays from vote dicts (checks every field, names the bad vote)."""
    models: dict[str, int] = {}
    a, b, out, cat = [], [], [], []
    code = {WIN_A: 0, WIN_B: 1, TIE: 2, BOTH_BAD: 2}
    for n, r in enumerate(rows, 1):
        try:
            ma, mb = str(r["model_a"]).strip(), str(r["model_b"]).strip()
            w = normalize_winner(r["winner"])
        except KeyError as exc:
            raise VoteError(f"{where} {n}: missing field {exc.args[0]!r}") from None
        except VoteError as exc:
            raise VoteError(f"{where} {n}: {exc}") from None
        if not ma or not mb or ma == mb:
            raise VoteError(f"{where} {n}: model_a and model_b must be two different names, got {ma!r}, {mb!r}")
        if w == BOTH_BAD and both_bad == "drop":
            continue
        a.append(models.setdefault(ma, len(models)))
        b.append(models.setdefault(mb, len(models)))
        out.append(code[w])
        cat.append(str(r.get("category") or ""))
    return Votes(list(models), np.array(a, dtype=np.int64), np.array(b, dtype=np.int64),
                 np.array(out, dtype=np.int64), np.array(cat, dtype=object))


# --- aggregation and the likelihood ---------------------------------------------------------------

@dataclass
class Cells:
    """Counts per unordered model pair (i < j): i wins, j wins, ties."""

    k: int
    i: np.ndarray
    j: np.ndarray
    counts: np.ndarray  # (P, 3)


def cells(v: Votes) -> Cells:
    k = len(v.models)
    lo, hi = np.minimum(v.a, v.b), np.maximum(v.a, v.b)
    flip = v.a > v.b
    o = v.outcome.copy()
    o[flip & (o < 2)] = 1 - o[flip & (o < 2)]  # outcome relative to (lo, hi)
    full = np.zeros((k * k, 3))
    np.add.at(full, (lo * k + hi, o), 1.0)
    keep = np.flatnonzero(full.sum(1) > 0)
    return Cells(k, keep // k, keep % k, full[keep])


def _newton(c: Cells, counts: np.ndarray, x: np.ndarray, ridge: float, iters: int = 100) -> np.ndarray:
    """Damped Newton ascent of the (concave) log-likelihood + prior for B count tables at once.

    ``counts`` (B, P, 3), ``x`` (B, K+1) = (theta, log nu). The Hessian of a log-sum-exp of linear
    terms a_k.x is sum_k p_k a_k a_k^T - g g^T, with a = (1,0,0), (0,1,0), (1/2,1/2,1) per pair."""
    k1 = c.k + 1
    nb = x.shape[0]
    idx = np.stack([c.i, c.j, np.full_like(c.i, c.k)], 1)  # (P, 3): theta_i, theta_j, log nu
    flat = (np.arange(nb)[:, None, None, None] * k1 * k1 + idx[None, :, :, None] * k1
            + idx[None, :, None, :]).ravel()
    prior = np.full(k1, ridge)
    prior[-1] = ridge  # keeps log nu finite when there are no ties
    w1, w2, t = counts[..., 0], counts[..., 1], counts[..., 2]
    n = w1 + w2 + t
    x = x.copy()
    for _ in range(iters):
        ti, tj = x[:, c.i], x[:, c.j]
        tt = x[:, -1:] + 0.5 * (ti + tj)
        m = np.maximum(np.maximum(ti, tj), tt)
        ei, ej, et = np.exp(ti - m), np.exp(tj - m), np.exp(tt - m)
        d = ei + ej + et
        pi, pj, pt = ei / d, ej / d, et / d
        gi, gj = pi + 0.5 * pt, pj + 0.5 * pt
        cell_g = np.stack([w1 + 0.5 * t - n * gi, w2 + 0.5 * t - n * gj, t - n * pt], -1)  # (B, P, 3)
        h = np.empty(counts.shape[:2] + (3, 3))
        h[..., 0, 0] = n * (pi + 0.25 * pt - gi * gi)
        h[..., 1, 1] = n * (pj + 0.25 * pt - gj * gj)
        h[..., 0, 1] = h[..., 1, 0] = n * (0.25 * pt - gi * gj)
        h[..., 0, 2] = h[..., 2, 0] = n * pt * (0.5 - gi)
        h[..., 1, 2] = h[..., 2, 1] = n * pt * (0.5 - gj)
        h[..., 2, 2] = n * pt * (1.0 - pt)
        grad = np.zeros((nb, k1))
        for a in range(3):
            grad += np.stack([np.bincount(idx[:, a], cell_g[b, :, a], k1) for b in range(nb)])
        grad -= prior * x
        hess = np.bincount(flat, h.ravel(), nb * k1 * k1).reshape(nb, k1, k1) + np.diag(prior)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        big = np.abs(step).max(1, keepdims=True)
        step *= np.minimum(1.0, 2.0 / np.maximum(big, 1e-300))  # at most 2 nats per step
        x += step
        x[:, -1] = np.clip(x[:, -1], -20.0, 5.0)
        if big.max() < 1e-9:
            break
    x[:, :-1] -= x[:, :-1].mean(1, keepdims=True)
    return x


def fit_theta(c: Cells, counts: np.ndarray | None = None, ridge: float = 1e-4,
              x0: np.ndarray | None = None) -> np.ndarray:
    """Maximum-likelihood (log-strength theta_1..K, log nu) of one count table (P, 3) or a batch
    (B, P, 3); theta is centred to mean 0."""
    counts = c.counts if counts is None else counts
    batch = counts.ndim == 3
    counts = counts if batch else counts[None]
    if x0 is None:
        x0 = np.zeros((counts.shape[0], c.k + 1))
        x0[:, -1] = -1.0
    x = _newton(c, counts, np.broadcast_to(x0, (counts.shape[0], c.k + 1)), ridge)
    return x if batch else x[0]


def predicted(theta: np.ndarray, lognu: float) -> tuple[np.ndarray, np.ndarray]:
    """(P[i beats j], P[tie i,j]) matrices from the fit."""
    ti, tj = theta[:, None], theta[None, :]
    tt = lognu + 0.5 * (ti + tj)
    m = np.maximum(np.maximum(ti, tj), tt)
    d = np.exp(ti - m) + np.exp(tj - m) + np.exp(tt - m)
    return np.exp(ti - m) / d, np.exp(tt - m) / d


# --- results ---------------------------------------------------------------------------------------

@dataclass
class EloFit:
    models: list[str]
    ratings: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    tie_nu: float
    n_votes: int
    games: np.ndarray  # votes per model
    wins: np.ndarray  # (K, K): times i beat j
    ties: np.ndarray  # (K, K) symmetric
    ci: float
    categories: dict[str, EloFit] = field(default_factory=dict)

    @property
    def win_rate(self) -> np.ndarray:
        """Empirical win rate of row over column, ties as half; NaN where the pair never met."""
        n = self.wins + self.wins.T + self.ties
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (self.wins + 0.5 * self.ties) / n, np.nan)

    def rating_of(self, model: str) -> float:
        return float(self.ratings[self.models.index(model)])

    def order(self) -> list[int]:
        return list(np.argsort(-self.ratings, kind="stable"))

    def table(self) -> list[dict[str, Any]]:
        return [{"rank": r + 1, "model": self.models[i], "rating": round(float(self.ratings[i]), 1),
                 "lower": round(float(self.lower[i]), 1), "upper": round(float(self.upper[i]), 1),
                 "votes": int(self.games[i])} for r, i in enumerate(self.order())]

    def to_dict(self) -> dict[str, Any]:
        wr = self.win_rate
        return {"method": "Bradley-Terry with Davidson ties, maximum likelihood; percentile bootstrap",
                "scale": SCALE, "ci": self.ci, "n_votes": self.n_votes, "tie_nu": self.tie_nu,
                "ratings": self.table(), "models": self.models,
                "win_rate": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in wr],
                "categories": {k: v.to_dict() for k, v in self.categories.items()}}


def _ratings(theta: np.ndarray, models: list[str], cfg: EloConfig) -> np.ndarray:
    ref = theta[..., models.index(cfg.anchor)] if cfg.anchor else theta.mean(-1)
    return cfg.anchor_rating + SCALE * (theta - np.asarray(ref)[..., None])


def bootstrap_thetas(c: Cells, x_hat: np.ndarray, n: int, seed: int, ridge: float) -> np.ndarray:
    """(n, K) centred theta of fits to vote resamples (multinomial over the vote cells)."""
    rng = np.random.default_rng(seed)
    flat = c.counts.ravel()
    total = int(flat.sum())
    out = np.empty((n, c.k))
    for lo in range(0, n, 100):  # batches of 100 resamples, solved together
        b = min(100, n - lo)
        counts = rng.multinomial(total, flat / total, size=b).reshape((b,) + c.counts.shape).astype(float)
        out[lo:lo + b] = fit_theta(c, counts, ridge, x_hat)[:, :-1]
    return out


def fit_votes(v: Votes, cfg: EloConfig, n_boot: int | None = None, with_categories: bool = True) -> EloFit:
    """Ratings with bootstrap intervals (and a fit per category when there are several)."""
    if len(v) == 0:
        raise VoteError("no votes to rate (after dropping 'both bad' votes, if asked)")
    if cfg.anchor and cfg.anchor not in v.models:
        raise VoteError(f"anchor model {cfg.anchor!r} has no votes; models: {', '.join(v.models)}")
    c = cells(v)
    x = fit_theta(c, ridge=cfg.ridge)
    ratings = _ratings(x[:-1], v.models, cfg)
    n_boot = cfg.bootstrap if n_boot is None else n_boot
    lower, upper = ratings.copy(), ratings.copy()
    if n_boot > 0:
        boot = _ratings(bootstrap_thetas(c, x, n_boot, cfg.seed, cfg.ridge), v.models, cfg)
        alpha = (1.0 - cfg.ci) / 2.0
        lower, upper = np.quantile(boot, alpha, axis=0), np.quantile(boot, 1.0 - alpha, axis=0)
    k = len(v.models)
    wins, ties = np.zeros((k, k)), np.zeros((k, k))
    np.add.at(wins, (v.a[v.outcome == 0], v.b[v.outcome == 0]), 1)
    np.add.at(wins, (v.b[v.outcome == 1], v.a[v.outcome == 1]), 1)
    np.add.at(ties, (v.a[v.outcome == 2], v.b[v.outcome == 2]), 1)
    ties = ties + ties.T
    games = np.bincount(v.a, minlength=k) + np.bincount(v.b, minlength=k)
    fit = EloFit(v.models, ratings, lower, upper, float(np.exp(x[-1])), len(v), games, wins, ties, cfg.ci)
    if with_categories:
        fit.categories = category_fits(v, cfg)
    return fit


def category_fits(v: Votes, cfg: EloConfig) -> dict[str, EloFit]:
    """One fit per category with enough votes (only when there are at least two categories)."""
    names = sorted({str(c) for c in v.category if c})
    if len(names) < 2:
        return {}
    out = {}
    for name in names:
        sub = v.subset(v.category == name)
        if len(sub) < cfg.min_category_votes:
            continue
        present = sorted(set(sub.a.tolist()) | set(sub.b.tolist()))
        remap = -np.ones(len(v.models), dtype=np.int64)
        remap[present] = np.arange(len(present))
        local = Votes([v.models[i] for i in present], remap[sub.a], remap[sub.b], sub.outcome, sub.category)
        ccfg = EloConfig(**{**cfg.__dict__, "anchor": cfg.anchor if cfg.anchor in local.models else None})
        out[name] = fit_votes(local, ccfg, n_boot=cfg.category_bootstrap, with_categories=False)
    return out


def rate(rows: Iterable[dict[str, Any]], cfg: EloConfig | None = None) -> EloFit:
    """Vote dicts -> ratings with intervals, win rates and per-category fits."""
    cfg = cfg or EloConfig()
    return fit_votes(to_votes(rows, cfg.both_bad), cfg)


def simulate_votes(ratings: dict[str, float], n: int, *, tie_nu: float = 0.5, seed: int = 0,
                   categories: dict[str, dict[str, float]] | None = None) -> list[dict[str, Any]]:
    """Votes drawn from the Davidson model with the given Elo ratings (uniform random pairs, random
    A/B sides). ``categories`` gives per-category rating offsets (votes split evenly)."""
    rng = np.random.default_rng(seed)
    names = list(ratings)
    cats = list(categories or {"": {}})
    rows = []
    for r in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        cat = cats[r % len(cats)]
        off = (categories or {}).get(cat, {})
        ti = (ratings[names[i]] + off.get(names[i], 0.0)) / SCALE
        tj = (ratings[names[j]] + off.get(names[j], 0.0)) / SCALE
        pw, pt = predicted(np.array([ti, tj]), math.log(tie_nu))
        u = rng.random()
        winner = WIN_A if u < pw[0, 1] else TIE if u < pw[0, 1] + pt[0, 1] else WIN_B
        row = {"model_a": names[i], "model_b": names[j], "winner": winner}
        if cat:
            row["category"] = cat
        rows.append(row)
    return rows
