"""Agreement between annotators who answered the same item: pure functions over plain records.

Three families (definitions and sources: docs/spec/agreement.md):

- **points** (pointing, counting): each pair of annotators on an item compares the expressions both
  named (normalised text; one expression on each side is compared whatever its text, as gold
  scoring does). Per compared expression: point F1 of a one-to-one Hungarian matching within the
  item's radius (``quality.match_points``; skipped when both marked "not present"), count exact and
  within one, and "not present" agreement. Per pair: ``expression_overlap``, compared expressions
  over the union of both sides' expressions.
- **captions** (spoken captions): per answer, caption and transcript length in words and the token
  overlap of the caption with its transcript; per item with several captions, the spread of caption
  lengths; per pair, the token F1 between the two captions.
- **choices** (pairwise preference): per pair, whether both chose the same; over items, Fleiss' kappa.

Every function returns a ``Report``: campaign ``summary`` and ``per_annotator`` metrics, each a mean
with the number of units it averages (None when there is none, e.g. only one annotator per item).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from annotation_app.quality import match_points

Point = tuple[float, float]


@dataclass(frozen=True)
class Expr:
    """One expression of one answer: normalised text, points in pixels, "not present"."""

    label: str
    points: tuple[Point, ...] = ()
    not_present: bool = False


@dataclass
class PointItem:
    """The answers to one pointing or counting item: user id -> expressions; radius in pixels."""

    radius: float
    answers: dict[int, list[Expr]]


@dataclass
class CaptionAnswer:
    user_id: int
    caption: str
    transcript: str


@dataclass
class Mean:
    """A running mean: ``value`` is None until something was added."""

    total: float = 0.0
    n: int = 0

    def add(self, v: float) -> None:
        self.total += v
        self.n += 1

    @property
    def value(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass
class AnnotatorRow:
    items: int = 0  # items with another annotator's answer
    pairs: int = 0  # (item, other annotator) pairs
    metrics: dict[str, Mean] = field(default_factory=lambda: defaultdict(Mean))


@dataclass
class Report:
    kind: str
    items: int = 0  # items with at least one answer
    items_with_overlap: int = 0  # items with answers of two or more annotators
    pairs: int = 0  # (item, annotator pair) comparisons
    summary: dict[str, Mean] = field(default_factory=lambda: defaultdict(Mean))
    per_annotator: dict[int, AnnotatorRow] = field(default_factory=lambda: defaultdict(AnnotatorRow))

    def add(self, key: str, v: float, users: Iterable[int]) -> None:
        """One unit of metric ``key``: into the summary and into each of ``users``' rows."""
        self.summary[key].add(v)
        for u in users:
            self.per_annotator[u].metrics[key].add(v)

    def put(self, key: str, value: float, n: int) -> None:
        """A summary figure computed over ``n`` units at once (a median, a kappa)."""
        self.summary[key] = Mean(value * n, n)

    def count_item(self, users: Sequence[int]) -> None:
        self.items += 1
        if len(users) > 1:
            self.items_with_overlap += 1
            self.pairs += len(users) * (len(users) - 1) // 2
            for u in users:
                row = self.per_annotator[u]
                row.items += 1
                row.pairs += len(users) - 1


# --- points -------------------------------------------------------------------------------------

def norm_label(label: str) -> str:
    """Lower case, whitespace collapsed: how expressions are matched (as in gold scoring)."""
    return " ".join(label.lower().split())


def paired_expressions(a: Sequence[Expr], b: Sequence[Expr]) -> list[tuple[Expr, Expr]]:
    """The expressions two answers both named: one each -> that pair whatever the text (as gold
    scoring does); else the expressions with the same normalised text."""
    if len(a) == 1 and len(b) == 1:
        return [(a[0], b[0])]
    by_text = {norm_label(e.label): e for e in b}
    return [(e, by_text[norm_label(e.label)]) for e in a if norm_label(e.label) in by_text]


def matches(a: Sequence[Point], b: Sequence[Point], radius: float) -> int:
    """``quality.match_points`` (the most one-to-one pairs within ``radius``), without the solver
    when the pairs within the radius already form a matching (no point has two candidates: then
    each such pair is matched), which is the common case of annotators who agree."""
    if not a or not b:
        return 0
    near = [(i, j) for i, (ax, ay) in enumerate(a) for j, (bx, by) in enumerate(b)
            if math.hypot(ax - bx, ay - by) <= radius]
    if len({i for i, _ in near}) == len(near) == len({j for _, j in near}):
        return len(near)
    return match_points(a, b, radius)


def point_f1(a: Sequence[Point], b: Sequence[Point], radius: float) -> float | None:
    """F1 of a one-to-one matching within ``radius``: 2 * matches / (|a| + |b|) (symmetric: the
    F1 of precision matches/|a| and recall matches/|b|); None when neither has a point."""
    if not a and not b:
        return None
    return 2.0 * matches(a, b, radius) / (len(a) + len(b))


def compare_expressions(a: Expr, b: Expr, radius: float) -> dict[str, float]:
    """The per-expression agreement units of one pair of annotators."""
    na, nb = len(a.points), len(b.points)
    out = {"count_exact": float(na == nb), "count_within_one": float(abs(na - nb) <= 1),
           "not_present_agreement": float(a.not_present == b.not_present)}
    f1 = point_f1(a.points, b.points, radius)
    if f1 is not None:
        out["point_f1"] = f1
    return out


def point_agreement(items: Iterable[PointItem]) -> Report:
    """Agreement over pointing/counting items (see the module docstring)."""
    rep = Report("points")
    for item in items:
        users = sorted(item.answers)
        rep.count_item(users)
        for u, v in combinations(users, 2):
            a, b = item.answers[u], item.answers[v]
            pairs = paired_expressions(a, b)
            union = len(a) + len(b) - len(pairs)
            rep.add("expression_overlap", len(pairs) / union if union else 1.0, (u, v))
            for ea, eb in pairs:
                for key, val in compare_expressions(ea, eb, item.radius).items():
                    rep.add(key, val, (u, v))
    return rep


# --- captions -----------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:'\w+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, inner apostrophes kept: "don't" is one token)."""
    return _WORD.findall(text.lower())


def token_overlap(caption: Sequence[str], transcript: Sequence[str]) -> tuple[float | None, float | None]:
    """(precision, recall) of caption tokens against transcript tokens, counted as multisets:
    the share of caption tokens found in the transcript and of transcript tokens kept."""
    common = sum((Counter(caption) & Counter(transcript)).values())
    return (common / len(caption) if caption else None, common / len(transcript) if transcript else None)


def token_f1(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Token F1 (Dice on multisets) of two texts: 2 * common / (|a| + |b|); None when both are empty."""
    if not a and not b:
        return None
    return 2.0 * sum((Counter(a) & Counter(b)).values()) / (len(a) + len(b))


def caption_agreement(items: Iterable[Sequence[CaptionAnswer]]) -> Report:
    """Caption statistics per answer, and between annotators on items with several captions."""
    rep = Report("captions")
    lengths: list[int] = []
    for answers in items:
        toks = {c.user_id: (tokens(c.caption), tokens(c.transcript)) for c in answers}
        users = sorted(toks)
        rep.count_item(users)
        for u in users:
            cap, tr = toks[u]
            lengths.append(len(cap))
            rep.add("caption_words", len(cap), (u,))
            rep.add("transcript_words", len(tr), (u,))
            prec, rec = token_overlap(cap, tr)
            if prec is not None:
                rep.add("caption_in_transcript", prec, (u,))
            if rec is not None:
                rep.add("transcript_in_caption", rec, (u,))
        if len(users) < 2:
            continue
        words = [len(toks[u][0]) for u in users]
        rep.add("length_range_words", max(words) - min(words), users)
        mean = statistics.fmean(words)
        rep.add("length_relative_spread", (max(words) - min(words)) / mean if mean else 0.0, users)
        for u, v in combinations(users, 2):
            f1 = token_f1(toks[u][0], toks[v][0])
            if f1 is not None:
                rep.add("caption_pair_f1", f1, (u, v))
    if lengths:
        rep.put("caption_words_median", statistics.median(lengths), len(lengths))
    return rep


# --- choices ------------------------------------------------------------------------------------

def fleiss_kappa(items: Iterable[Mapping[int, Hashable]]) -> float | None:
    """Fleiss' kappa over items rated by two or more annotators (user -> category). Items may have
    different numbers of raters: P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P = mean P_i,
    p_j = share of all ratings in category j, P_e = sum p_j^2; with equal n_i this is Fleiss (1971).
    None when no item has two ratings or every rating is the same category (P_e = 1)."""
    per_item, totals = [], Counter[Hashable]()
    for votes in items:
        counts = Counter(votes.values())
        n = sum(counts.values())
        if n < 2:
            continue
        per_item.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        totals.update(counts)
    if not per_item:
        return None
    n_all = sum(totals.values())
    p_e = sum((c / n_all) ** 2 for c in totals.values())
    if p_e >= 1.0:
        return None
    return (statistics.fmean(per_item) - p_e) / (1.0 - p_e)


def choice_agreement(items: Iterable[Mapping[int, Hashable]]) -> Report:
    """Same-choice rate over annotator pairs on an item, and Fleiss' kappa over items."""
    rep = Report("choices")
    rated = []
    for votes in items:
        users = sorted(votes)
        rep.count_item(users)
        rated.append(votes)
        for u, v in combinations(users, 2):
            rep.add("same_choice", float(votes[u] == votes[v]), (u, v))
    kappa = fleiss_kappa(rated)
    if kappa is not None:
        rep.put("fleiss_kappa", kappa, sum(len(v) > 1 for v in rated))
    return rep
