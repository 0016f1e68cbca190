"""Bradley-Terry/Davidson Elo: recovery of known strengths from simulated votes, bootstrap interval
coverage, ties, anchors, per-category fits, win rates and input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pixmo.elo import SCALE, EloConfig, VoteError, predicted, rate, read_votes, simulate_votes, to_votes

TRUE = {"m0": 1150.0, "m1": 1080.0, "m2": 1000.0, "m3": 960.0, "m4": 890.0, "m5": 850.0}


def _centred(true: dict[str, float]) -> np.ndarray:
    v = np.array(list(true.values()))
    return v - v.mean() + 1000.0


def test_fit_recovers_true_order_and_values():
    rows = simulate_votes(TRUE, 6000, tie_nu=0.4, seed=7)
    fit = rate(rows, EloConfig(bootstrap=200, ci=0.95))
    idx = [fit.models.index(m) for m in TRUE]
    assert [fit.models[i] for i in fit.order()] == list(TRUE)  # exact order, the closest pair is 40 Elo apart
    err = np.abs(fit.ratings[idx] - _centred(TRUE))
    half = (fit.upper - fit.lower)[idx] / 2
    assert (err < 3 * half).all(), (err, half)  # within 3 half-widths of the 95% interval
    assert abs(fit.ratings.mean() - 1000.0) < 1e-6
    assert 0.3 < fit.tie_nu < 0.5  # the Davidson tie parameter is recovered too (true 0.4)


def test_bootstrap_intervals_cover_true_values_at_nominal_rate():
    """30 simulated campaigns x 6 models = 180 intervals at 90% nominal.

    Tolerance: under independence the coverage of 180 intervals has a standard deviation of
    sqrt(0.9*0.1/180) = 0.022; intervals of one campaign are correlated (ratings are centred), so we
    allow +-0.08 (about 3.5 of those sds). In a 200-campaign run (1200 intervals) we measured 0.899,
    and 30-campaign blocks ranged 0.867-0.933. Each model must also be covered in most campaigns.
    """
    nominal, reps = 0.9, 30
    truth = _centred(TRUE)
    hits = []
    for rep in range(reps):
        rows = simulate_votes(TRUE, 600, tie_nu=0.4, seed=100 + rep)
        fit = rate(rows, EloConfig(bootstrap=300, ci=nominal, seed=rep))
        idx = [fit.models.index(m) for m in TRUE]
        hits.append((fit.lower[idx] <= truth) & (truth <= fit.upper[idx]))
    hits = np.array(hits)
    assert abs(hits.mean() - nominal) <= 0.08, hits.mean()
    assert (hits.mean(0) >= 0.7).all(), hits.mean(0)


def test_both_bad_as_tie_or_dropped_and_arena_spellings():
    rows = [{"model_a": "x", "model_b": "y", "winner": w} for w in ["a", "model_a", "B", "tie", "tie (bothbad)"]]
    as_tie = to_votes(rows)
    assert as_tie.outcome.tolist() == [0, 0, 1, 2, 2]
    dropped = to_votes(rows, both_bad="drop")
    assert len(dropped) == 4
    fit = rate(rows, EloConfig(bootstrap=0))
    wr = fit.win_rate
    assert wr[0, 1] == pytest.approx((2 + 0.5 * 2) / 5) and wr[1, 0] == pytest.approx((1 + 0.5 * 2) / 5)


def test_anchor_model_gets_anchor_rating_and_differences_are_unchanged():
    rows = simulate_votes(TRUE, 1500, seed=3)
    free = rate(rows, EloConfig(bootstrap=0))
    anchored = rate(rows, EloConfig(bootstrap=50, anchor="m2"))
    assert anchored.rating_of("m2") == pytest.approx(1000.0)
    d_free = free.rating_of("m0") - free.rating_of("m5")
    assert anchored.rating_of("m0") - anchored.rating_of("m5") == pytest.approx(d_free, abs=1e-6)
    with pytest.raises(VoteError, match="anchor model 'nope'"):
        rate(rows, EloConfig(bootstrap=0, anchor="nope"))


def test_per_category_fits_see_a_category_specific_strength():
    # m5 is weak overall but 400 Elo stronger on "ocr" prompts
    rows = simulate_votes(TRUE, 4000, seed=11, categories={"chat": {}, "ocr": {"m5": 400.0}})
    fit = rate(rows, EloConfig(bootstrap=50, category_bootstrap=50))
    assert set(fit.categories) == {"chat", "ocr"}
    chat, ocr = fit.categories["chat"], fit.categories["ocr"]
    assert chat.order()[-1] == chat.models.index("m5")
    assert ocr.rating_of("m5") - chat.rating_of("m5") > 250
    assert chat.n_votes + ocr.n_votes == fit.n_votes


def test_model_probabilities_follow_elo_scale():
    # without ties, 400 Elo apart means 10:1 odds
    pw, pt = predicted(np.array([400.0 / SCALE, 0.0]), -50.0)
    assert pw[0, 1] == pytest.approx(10 / 11) and pt[0, 1] == pytest.approx(0.0, abs=1e-12)


def test_perfect_separation_stays_finite():
    rows = [{"model_a": "a", "model_b": "b", "winner": "model_a"}] * 5
    fit = rate(rows, EloConfig(bootstrap=20))
    assert np.isfinite(fit.ratings).all() and fit.rating_of("a") > fit.rating_of("b")


def test_bad_votes_name_the_line_and_field(tmp_path):
    p = tmp_path / "votes.jsonl"
    p.write_text(json.dumps({"model_a": "x", "model_b": "y", "winner": "a"}) + "\n{oops\n")
    with pytest.raises(VoteError, match="votes.jsonl:2: not JSON"):
        read_votes(p)
    with pytest.raises(VoteError, match="vote 1: missing field 'winner'"):
        to_votes([{"model_a": "x", "model_b": "y"}])
    with pytest.raises(VoteError, match="vote 1: winner must be one of"):
        to_votes([{"model_a": "x", "model_b": "y", "winner": "c"}])
    with pytest.raises(VoteError, match="two different names"):
        to_votes([{"model_a": "x", "model_b": "x", "winner": "a"}])
    with pytest.raises(VoteError, match="no votes"):
        rate([{"model_a": "x", "model_b": "y", "winner": "both_bad"}], EloConfig(both_bad="drop"))
