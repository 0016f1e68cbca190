"""Elo bootstrap speed: pixmo.elo's batched Newton (all resamples solved together) against the
baseline of one scipy L-BFGS fit (analytic gradient) per resample (same likelihood and prior,
same resamples), and the agreement
of their intervals.

    .venv/bin/python benchmarks/bench_elo.py --quick
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.optimize import minimize

from pixmo.elo import EloConfig, bootstrap_thetas, cells, fit_theta, simulate_votes, to_votes


def _nll(x: np.ndarray, c, counts: np.ndarray, ridge: float) -> tuple[float, np.ndarray]:
    """Negative log-likelihood + prior and its analytic gradient (a fair baseline)."""
    th = x[:-1]
    ti, tj = th[c.i], th[c.j]
    tt = x[-1] + 0.5 * (ti + tj)
    ld = np.logaddexp(np.logaddexp(ti, tj), tt)
    w1, w2, t = counts[:, 0], counts[:, 1], counts[:, 2]
    n = w1 + w2 + t
    ll = (w1 * (ti - ld) + w2 * (tj - ld) + t * (tt - ld)).sum() - 0.5 * ridge * (x @ x)
    pi, pj, pt = np.exp(ti - ld), np.exp(tj - ld), np.exp(tt - ld)
    gi = w1 + 0.5 * t - n * (pi + 0.5 * pt)
    gj = w2 + 0.5 * t - n * (pj + 0.5 * pt)
    g = np.zeros_like(x)
    g[:-1] = np.bincount(c.i, gi, c.k) + np.bincount(c.j, gj, c.k)
    g[-1] = (t - n * pt).sum()
    return -ll, -(g - ridge * x)


def baseline(c, x_hat: np.ndarray, n: int, seed: int, ridge: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flat = c.counts.ravel()
    total = int(flat.sum())
    out = np.empty((n, c.k))
    for lo in range(0, n, 100):  # the same multinomial draws as pixmo.elo.bootstrap_thetas
        b = min(100, n - lo)
        draws = rng.multinomial(total, flat / total, size=b).reshape((b,) + c.counts.shape).astype(float)
        for r in range(b):
            x = minimize(_nll, x_hat, args=(c, draws[r], ridge), jac=True, method="L-BFGS-B").x
            out[lo + r] = x[:-1] - x[:-1].mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200 resamples instead of 1000")
    args = ap.parse_args()
    n = 200 if args.quick else 1000
    ratings = {f"m{i}": 1000.0 + 40.0 * (i - 5) for i in range(10)}
    v = to_votes(simulate_votes(ratings, 20000, seed=0))
    c = cells(v)
    cfg = EloConfig()
    x_hat = fit_theta(c, ridge=cfg.ridge)
    t = time.perf_counter()
    base = baseline(c, x_hat, n, 0, cfg.ridge)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    ours = bootstrap_thetas(c, x_hat, n, 0, cfg.ridge)
    t_ours = time.perf_counter() - t
    diff = float(np.abs(ours - base).max() * 400 / np.log(10))
    print(f"{'':34s}{'seconds':>10s}{'ratio':>10s}")
    print(f"{'scipy L-BFGS, one fit/resample':34s}{t_base:10.3f}{1.0:10.2f}")
    print(f"{'pixmo.elo batched Newton':34s}{t_ours:10.3f}{t_base / t_ours:10.2f}x faster")
    print(f"max |rating difference| between the two: {diff:.4f} Elo ({n} resamples, 10 models, 20000 votes)")
    print(json.dumps({"resamples": n, "baseline_s": round(t_base, 3), "ours_s": round(t_ours, 3),
                      "speedup": round(t_base / t_ours, 2), "max_rating_diff_elo": round(diff, 4),
                      "targets": {"speedup_min": 5.0, "max_rating_diff_elo_max": 0.5}}))


if __name__ == "__main__":
    main()
