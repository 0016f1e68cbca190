"""Evaluation metrics of Molmo (molmo.md section 8), with the reference's quirks switchable.

Per-example scorers return dicts of floats; :func:`evaluate` averages them over a task. The caption
F1 (an LLM judge) lives in :mod:`model.caption_f1`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pixmo.formatting import is_valid_point_format, parse_count, parse_points
from pixmo.text import levenshtein


def select_answer(text: str) -> str:
    """Text after "Answer:" if present; with several lines, the most frequent line (molmo.md 8.4)."""
    if "Answer:" in text:
        text = text.split("Answer:")[-1]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) > 1:
        return Counter(lines).most_common(1)[0][0]
    return lines[0] if lines else ""


# --- pointing (8.1) ----------------------------------------------------------------------

def pointing_scores(output: str, gt_points: Sequence[Sequence[float]], masks: Sequence[Any] | None,
                    image_size: tuple[int, int], *, gt_percent: bool = True, max_dist: float | None = None
                    ) -> dict[str, float]:
    """Precision, recall and F1 of predicted points against GT masks, with Hungarian matching.

    Predictions are parsed as the reference does and converted to pixels. GT points are on 0-100
    when ``gt_percent`` (our records) and are converted to pixels; ``gt_percent=False`` uses them
    as given (the reference's unit mix-up). A matched pair counts when the prediction lies inside
    the matched GT mask; without masks (``masks=None``, our extension for data with points only)
    when it lies within ``max_dist`` pixels (default 5% of the image diagonal).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    w, h = image_size
    gt = np.asarray(gt_points, dtype=np.float64).reshape(-1, 2)
    pred = np.asarray(parse_points(output, image_size=(w, h)), dtype=np.float64).reshape(-1, 2)
    if len(gt) == 0:
        s = 1.0 if len(pred) == 0 else 0.0
        return {"precision": s, "recall": s, "f1": s}
    if len(pred) == 0 or not is_valid_point_format(output):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    gt_px = gt / 100.0 * np.array([w, h]) if gt_percent else gt
    rows, cols = linear_sum_assignment(cdist(pred, gt_px))
    if masks is not None:
        hit = sum(_in_mask(np.asarray(masks[c]), pred[r]) for r, c in zip(rows, cols, strict=True))
        n_gt = len(masks)
    else:
        lim = max_dist if max_dist is not None else 0.05 * float(np.hypot(w, h))
        hit = int(sum(np.hypot(*(pred[r] - gt_px[c])) <= lim for r, c in zip(rows, cols, strict=True)))
        n_gt = len(gt)
    p, r = hit / len(pred), hit / n_gt
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r + 1e-10)}


def _in_mask(mask: np.ndarray, xy: np.ndarray) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and bool(mask[y, x])


# --- counting (8.2) ----------------------------------------------------------------------

def count_scores(output: str, gt_count: int, *, none_is_zero: bool = False) -> dict[str, float]:
    """``correct`` (exact), ``close`` (off by at most 1) and ``valid``.

    The reference never parses "There are none." (its ``\\bnone\\b`` is not a raw string), so it
    scores invalid; ``none_is_zero=True`` gives the intended 0.
    """
    pred = parse_count(output, none_is_zero=none_is_zero)
    if pred is None:
        return {"correct": 0.0, "close": 0.0, "valid": 0.0}
    return {"correct": float(pred == gt_count), "close": float(abs(pred - gt_count) <= 1), "valid": 1.0}


# --- clocks (8.3) ------------------------------------------------------------------------

def parse_clock_reference(text: str) -> tuple[int, int] | None:
    """Hour from the last word before the first ':' and minute from the first word after it."""
    if ":" not in text:
        return None
    before, after = text.split(":", 1)
    hw, mw = before.split()[-1:] or [""], after.split()[:1] or [""]
    hm, mm = re.search(r"(\d+)$", hw[0]), re.match(r"(\d+)", mw[0])
    if not hm or not mm:
        return None
    return int(hm.group(1)), int(mm.group(1))


def clock_scores(output: str, hour: int, minute: int, *, is_test: bool = False) -> dict[str, float]:
    """Clock accuracy: exact, close (hour exact, minute within 3, or 1 in test mode) and parts.

    Test mode (clock_bench): hours mod 12, minute 60 -> 0, and minute wrap-around (|d| == 59 or a
    719-minute total difference) counts as close. Non-test: "PM" adds 12 to the predicted hour.
    Unanswerable GT (hour -1): correct iff the output holds no ':'.
    """
    keys = ("overall_exact", "overall_close", "hour_correct", "minute_correct", "minute_close")
    if hour < 0:
        ok = float(":" not in output)
        return dict.fromkeys(keys, ok)
    parsed = parse_clock_reference(output)
    if parsed is None:
        return dict.fromkeys(keys, 0.0)
    ph, pm = parsed
    tol = 1 if is_test else 3
    if is_test:
        ph, hour = ph % 12, hour % 12
        pm, minute = pm % 60, minute % 60
    elif re.search(r"\bpm\b", output.lower()) and ph < 12:
        ph += 12
    dm = abs(pm - minute)
    minute_close = dm <= tol or (is_test and dm == 59)
    total = abs((ph * 60 + pm) - (hour * 60 + minute))
    close = (ph == hour and minute_close) or (is_test and total == 719)
    return {"overall_exact": float(ph == hour and pm == minute), "overall_close": float(close),
            "hour_correct": float(ph == hour), "minute_correct": float(pm == minute),
            "minute_close": float(minute_close)}


# --- short-answer VQA (8.4) --------------------------------------------------------------

_CONTRACTIONS = {"dont": "don't", "doesnt": "doesn't", "isnt": "isn't", "arent": "aren't", "cant": "can't",
                 "wont": "won't", "im": "i'm", "ive": "i've", "youre": "you're", "thats": "that's",
                 "whats": "what's", "wasnt": "wasn't", "werent": "weren't", "didnt": "didn't", "its": "it's"}
_NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_ARTICLES = {"a", "an", "the"}
_PUNCT = re.compile(r"[;/\[\]\"{}()=+\\_\-><@`,?!*#%^&$~|]")


def normalize_vqa(text: str) -> str:
    """VQA-v2 answer normalisation: lower-case, punctuation, number words, articles, contractions."""
    t = text.lower().replace("\n", " ").replace("\t", " ").strip()
    t = _PUNCT.sub(lambda m: "" if m.group(0) in "'" else " ", t)
    t = re.sub(r"(?<!\d)\.(?!\d)", "", t)
    words = [_CONTRACTIONS.get(_NUMBERS.get(w, w), _NUMBERS.get(w, w)) for w in t.split()]
    return " ".join(w for w in words if w not in _ARTICLES)


def vqa_score(output: str, answers: Sequence[str]) -> float:
    """min(#matching GT answers / 3, 1) after VQA normalisation."""
    pred = normalize_vqa(select_answer(output))
    return min(sum(normalize_vqa(a) == pred for a in answers) / 3.0, 1.0)


def anls(output: str, answers: Sequence[str], threshold: float = 0.5) -> float:
    """Average normalised Levenshtein similarity (best GT), 0 when the distance is >= ``threshold``."""
    pred = " ".join(select_answer(output).lower().split())
    best = 0.0
    for a in answers:
        gt = " ".join(a.lower().split())
        d = levenshtein(pred, gt) / max(len(pred), len(gt), 1)
        best = max(best, 1.0 - d if d < threshold else 0.0)
    return best


def _to_float(text: str) -> float | None:
    t = text.strip().rstrip("%").replace(",", "").replace("$", "")
    try:
        return float(t)
    except ValueError:
        return None


def relaxed_correctness(output: str, answers: Sequence[str], tolerance: float = 0.05) -> float:
    """ChartQA relaxed accuracy: numbers within 5% relative error, otherwise exact (case-insensitive)."""
    pred = select_answer(output)
    for a in answers:
        p, t = _to_float(pred), _to_float(a)
        if p is not None and t is not None:
            if (t == 0 and p == 0) or (t != 0 and abs(p - t) / abs(t) <= tolerance):
                return 1.0
        elif pred.strip().lower() == a.strip().lower():
            return 1.0
    return 0.0


def exact_match(output: str, answers: Sequence[str]) -> float:
    pred = select_answer(output).strip().lower().rstrip(".")
    return float(any(pred == a.strip().lower().rstrip(".") for a in answers))


def select_option(output: str, options: Sequence[str]) -> int:
    """Index of the chosen option: an option letter or exact option text, then a unique substring
    match, then the minimum edit distance."""
    pred = select_answer(output).strip()
    letters = [chr(ord("A") + i) for i in range(len(options))]
    bare = pred.rstrip(".").strip()
    if bare in letters:
        return letters.index(bare)
    low = [o.strip().lower() for o in options]
    if bare.lower() in low:
        return low.index(bare.lower())
    hits = [i for i, o in enumerate(low) if o and (o in pred.lower() or pred.lower() in o)]
    if len(hits) == 1:
        return hits[0]
    return int(np.argmin([levenshtein(pred.lower(), o) for o in low]))


def multiple_choice_score(output: str, options: Sequence[str], answer_index: int) -> float:
    return float(select_option(output, options) == answer_index)


# --- per-task evaluation -------------------------------------------------------------------

STYLE_TASKS = {"pointing": "pointing", "point_count": "counting", "clocks": "clocks", "a_okvqa_mc": "mc",
               "long_caption": "caption", "transcript": "caption", "vqa2": "vqa", "chart_qa": "relaxed",
               "doc_qa": "anls", "info_qa": "anls", "st_qa": "anls", "tally_qa": "exact"}


def task_of(example) -> str:
    """The evaluation task of an :class:`model.examples.Example` (docs QA -> ANLS, default exact)."""
    if example.style.startswith("pixmo_docs_"):
        return "anls"
    return STYLE_TASKS.get(example.style, "exact")


def score_example(output: str, example, task: str | None = None, **opts: Any) -> dict[str, float]:
    """Score one model output against an Example's ground truth (its ``meta`` and ``answer``)."""
    task = task or task_of(example)
    m = example.meta
    answers = m.get("answers") or ([example.answer] if example.answer is not None else [])
    if task == "pointing":
        pixels = "points_px" in m  # pixmo-count holds pixels, the other point subsets 0-100
        return pointing_scores(output, m["points_px"] if pixels else m.get("points", []), m.get("masks"),
                               tuple(m["image_size"]), gt_percent=not pixels, **opts)
    if task == "counting":
        return count_scores(output, int(m["count"]), **opts)
    if task == "clocks":
        return clock_scores(output, int(m["hour"]), int(m["minute"]), **opts)
    if task == "mc":
        return {"accuracy": multiple_choice_score(output, m["options"], m["options"].index(m["option_answer"]))}
    if task == "caption":
        return _caption(output, example, **opts)
    scorer = {"vqa": vqa_score, "anls": anls, "relaxed": relaxed_correctness, "exact": exact_match}.get(task)
    if scorer is None:
        raise ValueError(f"no per-example scorer for task {task!r}")
    return {task: scorer(output, answers)}


def _caption(output: str, example, complete=None) -> dict[str, float]:
    """Caption F1 against the transcripts (else the caption) with the LLM judge of ``complete``,
    or ``pixmo.llm`` when an endpoint is configured; without a judge: ``{"judge_unavailable": 1}``."""
    from model.caption_f1 import caption_f1, llm_complete

    if complete is None:
        from pixmo.llm import available

        if not available():
            return {"judge_unavailable": 1.0}
        complete = llm_complete()
    refs = example.meta.get("transcripts") or [example.meta.get("caption") or example.answer or ""]
    s = caption_f1(output, refs, complete)
    return {k: s[k] for k in ("precision", "recall", "f1")}


def evaluate(outputs: Sequence[str], examples: Sequence[Any], task: str | None = None, **opts: Any
             ) -> dict[str, float]:
    """Average per-example scores; counting also reports ``correct_<k>`` per GT count."""
    if len(outputs) != len(examples):
        raise ValueError(f"{len(outputs)} outputs for {len(examples)} examples")
    rows = [score_example(o, e, task, **opts) for o, e in zip(outputs, examples, strict=True)]
    out = {k: float(np.mean([r[k] for r in rows])) for k in (rows[0] if rows else {})}
    if rows and (task or task_of(examples[0])) == "counting":
        by: dict[int, list[float]] = {}
        for r, e in zip(rows, examples, strict=True):
            by.setdefault(int(e.meta["count"]), []).append(r["correct"])
        out.update({f"correct_{k}": float(np.mean(v)) for k, v in sorted(by.items())})
    out["n"] = float(len(rows))
    return out
