"""Evaluation metrics of Molmo (docs/spec/molmo.md section 8), in two modes (docs/spec/metrics.md).

``mode="official"`` (the default of every function) reproduces, example by example, what the
published Molmo evaluators give, quirks included; ``mode="fixed"`` repairs them. No scorer raises
on a model output: where the official code would crash, the example scores as wrong.

Per-example scorers return dicts of floats (or a float); :func:`evaluate` averages them over a task.
The short-answer metrics live in :mod:`model.metrics_text`; the caption F1 (an LLM judge) in
:mod:`model.caption_f1`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.metrics_text import (  # noqa: F401  (public names of this module)
    MODES,
    a_okvqa_score,
    anls,
    check_mode,
    exact_match,
    math_vista_score,
    mmmu_score,
    multiple_choice_score,
    normalize_vqa,
    real_world_qa_score,
    relaxed_correctness,
    select_answer,
    select_option,
    vqa_score,
)

# --- pointing (spec 7) ----------------------------------------------------------------------

_VALID_POINTS = re.compile(
    r"^(\(\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*\)\n?)+$"
    r"|^<point\s+x=\"\s*\d+(\.\d+)?\"\s+y=\"\s*\d+(\.\d+)?\"\s+alt=\"[\s\S]*?\">[\s\S]*?</point>$"
    r"|^<points\s+(x\d+=\"\s*\d+(\.\d+)?\"\s+y\d+=\"\s*\d+(\.\d+)?\"\s+)+alt=\"[\s\S]*?\">[\s\S]*?</points>$"
    r"|^<point\s+p=\s*\d{3}\s*,\s*\d{3}\s+alt=\"[\s\S]*?\">[\s\S]*?</point>$"
    r"|^<points\s+(\d+=\s*\d{3}\s*,\s*\d{3}\s+)+alt=\"[\s\S]*?\">[\s\S]*?</points>$"
)
_POINT_FORMS = (  # (regex, divisor) in the official order; Click(...) also matches the bare pair form
    (re.compile(r"Click\(([0-9]+\.[0-9]), ?([0-9]+\.[0-9])\)"), 1.0),
    (re.compile(r"\(([0-9]+\.[0-9]),? ?([0-9]+\.[0-9])\)"), 1.0),
    (re.compile(r"x\d*=\"\s*([0-9]+(?:\.[0-9]+)?)\"\s+y\d*=\"\s*([0-9]+(?:\.[0-9]+)?)\""), 1.0),
    (re.compile(r"(?:\d+|p)\s*=\s*([0-9]{3})\s*,\s*([0-9]{3})"), 10.0),
)


def official_point_format(text: str) -> bool:
    """The official format gate: the whole stripped output is (x, y) lines or one tag-shaped span."""
    return _VALID_POINTS.fullmatch(text.strip()) is not None


def official_points(text: str, image_size: tuple[int, int]) -> list[tuple[float, float]]:
    """Points as the official parser finds them (0-100 values, those above 100 dropped), in pixels."""
    w, h = image_size
    out = []
    for rx, div in _POINT_FORMS:
        for m in rx.finditer(text):
            x, y = float(m.group(1)) / div, float(m.group(2)) / div
            if max(x, y) <= 100:
                out.append((x / 100.0 * w, y / 100.0 * h))
    return out


def pointing_scores(output: str, gt_points: Sequence[Sequence[float]], masks: Sequence[Any] | None,
                    image_size: tuple[int, int], *, gt_percent: bool | None = None, max_dist: float | None = None,
                    mode: str = "official") -> dict[str, float]:
    """Precision, recall and F1 of predicted points against GT masks, with Hungarian matching.

    official: the official parser and format gate; GT points used as given (``gt_percent`` None:
    the dataset's 0-100 values against pixel predictions, the official unit mix-up); a valid format
    with no parsable point scores 0 (the official code crashes there). fixed: ``pixmo.formatting``'s
    parser (any decimals, no double-counted ``Click``), no format gate, GT 0-100 converted to pixels.
    A matched pair counts when the prediction lies inside the matched GT mask; without masks
    (``masks=None``, our extension) when it lies within ``max_dist`` pixels (5% of the diagonal).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from pixmo.formatting import parse_points

    w, h = image_size
    text = output.strip()
    official = check_mode(mode) == "official"
    found = official_points(text, (w, h)) if official else parse_points(text, image_size=(w, h))
    pred = np.asarray(found, dtype=np.float64).reshape(-1, 2)
    gt = np.asarray(gt_points, dtype=np.float64).reshape(-1, 2)
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    if len(gt) == 0:
        s = float(len(pred) == 0)
        return {"precision": s, "recall": s, "f1": s}
    if (official and not official_point_format(text)) or len(pred) == 0:
        return zero
    percent = (not official or masks is None) if gt_percent is None else gt_percent
    gt_px = gt / 100.0 * np.array([w, h]) if percent else gt
    rows, cols = linear_sum_assignment(cdist(pred, gt_px))
    if masks is not None:
        hit = sum(_in_mask(np.asarray(masks[c]), pred[r]) for r, c in zip(rows, cols, strict=True))
        n_gt = len(masks)
    else:
        lim = max_dist if max_dist is not None else 0.05 * float(np.hypot(w, h))
        hit = int(sum(np.hypot(*(pred[r] - gt_px[c])) <= lim for r, c in zip(rows, cols, strict=True)))
        n_gt = len(gt)
    p, r = hit / len(pred), hit / max(n_gt, 1)
    return {"precision": p, "recall": r, "f1": 0.0 if p == 0 or r == 0 else 2 * p * r / (p + r + 1e-10)}


def _in_mask(mask: np.ndarray, xy: np.ndarray) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and bool(mask[y, x])


# --- counting (spec 8) ----------------------------------------------------------------------

WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_TOTAL_OFFICIAL = re.compile(r".*a total of ([0-9]+).*")  # re.match: "." stops at a newline
_NONE_OFFICIAL = re.compile(".*\bnone\b.*")  # not a raw string: \b is a backspace, so it never fires on text
_INT_FIXED = re.compile(r"[+-]?[0-9]+")


def parse_count(output: str, *, none_is_zero: bool | None = None, mode: str = "official") -> int | None:
    """The count in an answer (None: invalid).

    official: last word through ``int()`` (signs, "1_000" and other Unicode decimal digits parse),
    else a number word up to twenty, else "a total of N" on the first line. fixed: ASCII integers
    only, "a total of N" anywhere, "none" -> 0 (``none_is_zero`` overrides that choice).
    """
    official = check_mode(mode) == "official"
    none_zero = (not official) if none_is_zero is None else none_is_zero
    pred = output.strip().lower().rstrip(".").strip()
    parts = pred.split()
    if parts:
        if official:
            try:
                return int(parts[-1])
            except ValueError:
                pass
        elif _INT_FIXED.fullmatch(parts[-1]) and len(parts[-1]) <= 4300:
            return int(parts[-1])
        if parts[-1] in WORD_NUMBERS:
            return WORD_NUMBERS[parts[-1]]
    m = _TOTAL_OFFICIAL.match(pred) if official else re.search(r"a total of ([0-9]+)", pred)
    if m and m.group(1).isascii() and len(m.group(1)) <= 4300:  # longer: int() raises in the official code
        return int(m.group(1))
    if official and _NONE_OFFICIAL.match(pred) and not none_zero:
        return 0
    if none_zero and re.search(r"\bnone\b", pred):
        return 0
    return None


def count_scores(output: str, gt_count: int, *, none_is_zero: bool | None = None, mode: str = "official"
                 ) -> dict[str, float]:
    """``correct`` (exact), ``close`` (off by at most 1) and ``valid``."""
    pred = parse_count(output, none_is_zero=none_is_zero, mode=mode)
    if pred is None:
        return {"correct": 0.0, "close": 0.0, "valid": 0.0}
    return {"correct": float(pred == gt_count), "close": float(abs(pred - gt_count) <= 1), "valid": 1.0}


# --- clocks (spec 9) ------------------------------------------------------------------------

def _int_word(text: str, index: int) -> int | None:
    """``int(text.split()[index])`` or None where that raises."""
    try:
        return int(text.split()[index])
    except (ValueError, IndexError):
        return None


_CLOCK_FIXED = re.compile(r"(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?(?!\d)")


def clock_scores(output: str, hour: int, minute: int, *, is_test: bool = False, second: int = -1,
                 mode: str = "official") -> dict[str, float]:
    """Clock reading: ``overall_exact``, ``overall_close`` and their parts.

    official (ClockEval): minute tolerance 1 in test mode (clock_bench), else 3; an answerable GT
    needs every part it has (seconds too); "PM" (upper case only) adds 12 outside test mode; a GT
    hour 0 also accepts 12; test mode maps GT 12 -> 0, a predicted hour >= 12 minus 12, minute 60
    -> 0, and counts |minute diff| == 59 or a 719-minute total as close. Unanswerable GT (all -1):
    correct iff the output holds no ':'. fixed: the first h:mm[:ss] anywhere, 12-hour comparison
    (0 == 12), minute distance around the dial.
    """
    if check_mode(mode) == "fixed":
        return _clock_fixed(output, hour, minute, second, 1 if is_test else 3)
    pred, tol = output.strip(), 1 if is_test else 3
    if is_test and hour == 12:
        hour = 0
    if is_test and minute == 60:
        minute = 0
    if not (hour > -1 or minute > -1 or second > -1):
        ok = float(":" not in pred)
        return {"correctly_declines_to_answer": ok, "overall_close": ok, "overall_exact": ok}
    parts = pred.split(":")
    ph = _int_word(parts[0], -1)
    if ph is not None and "PM" in pred and not is_test:
        ph += 12
    if ph is not None and is_test and ph >= 12:
        ph -= 12
    hour_ok = ph is not None and (ph == hour or (hour == 0 and ph == 12))
    pm = _int_word(parts[1], 0) if len(parts) > 1 else None
    if pm is not None and is_test and pm == 60:
        pm = 0
    minute_ok = pm is not None and pm == minute
    minute_close = pm is not None and (abs(pm - minute) <= tol or (is_test and abs(pm - minute) == 59))
    out = {"hour_correct": hour_ok, "minute_correct": minute_ok, "minute_close": minute_close}
    if second != -1:
        ps = _int_word(parts[2], 0) if len(parts) > 2 else None
        out["second_correct"] = ps is not None and ps == second
        out["second_close"] = ps is not None and abs(ps - second) <= tol
        out["all_correct"] = minute_ok and hour_ok and out["second_correct"]
        out["all_close"] = minute_close and hour_ok and out["second_close"]
    else:
        out["all_correct"] = minute_ok and hour_ok
        # the official code reuses a previous example's hour/minute (or crashes) when one did not
        # parse; we score that case as not close
        wrap = is_test and ph is not None and pm is not None and abs(hour * 60 + minute - (ph * 60 + pm)) == 719
        out["all_close"] = (minute_close and hour_ok) or wrap
    out["overall_exact"], out["overall_close"] = out["all_correct"], out["all_close"]
    return {k: float(v) for k, v in out.items()}


def _clock_fixed(output: str, hour: int, minute: int, second: int, tol: int) -> dict[str, float]:
    if hour < 0 and minute < 0 and second < 0:
        ok = float(_CLOCK_FIXED.search(output) is None)
        return {"correctly_declines_to_answer": ok, "overall_close": ok, "overall_exact": ok}
    m = _CLOCK_FIXED.search(output)
    if m is None:
        return dict.fromkeys(("hour_correct", "minute_correct", "minute_close", "all_correct", "all_close",
                              "overall_exact", "overall_close"), 0.0)
    ph, pm, ps = int(m.group(1)), int(m.group(2)), m.group(3)
    hour_ok = ph % 12 == hour % 12
    dm = abs(pm % 60 - minute % 60)
    dm = min(dm, 60 - dm)
    out = {"hour_correct": hour_ok, "minute_correct": dm == 0, "minute_close": dm <= tol}
    sec_ok = sec_close = True
    if second != -1:
        ds = abs(int(ps) - second) if ps is not None else 99
        sec_ok, sec_close = ds == 0, min(ds, 60 - ds) <= tol
        out |= {"second_correct": sec_ok, "second_close": sec_close}
    total = abs((ph % 12) * 60 + pm - ((hour % 12) * 60 + minute))
    near = min(total, 720 - total) <= tol  # a minute past 11:59 is 12:00
    out["all_correct"] = hour_ok and dm == 0 and sec_ok
    out["all_close"] = ((hour_ok and dm <= tol) or near) and sec_close
    out["overall_exact"], out["overall_close"] = out["all_correct"], out["all_close"]
    return {k: float(v) for k, v in out.items()}


# --- per-task evaluation -------------------------------------------------------------------

STYLE_TASKS = {"pointing": "pointing", "point_count": "counting", "clocks": "clocks", "a_okvqa_mc": "mc",
               "long_caption": "caption", "transcript": "caption", "vqa2": "vqa", "chart_qa": "relaxed",
               "doc_qa": "anls", "info_qa": "anls", "st_qa": "anls", "tally_qa": "exact", "text_vqa": "vqa",
               "okvqa": "vqa", "a_okvqa_da": "a_okvqa", "ai2_diagram": "mc", "science_qa": "mc"}


def task_of(example) -> str:
    """The evaluation task of an :class:`model.examples.Example`: ``meta["task"]`` when a benchmark
    loader set it, else by style (docs QA -> ANLS, default exact)."""
    if example.meta.get("task"):
        return str(example.meta["task"])
    if example.style.startswith("pixmo_docs_"):
        return "anls"
    return STYLE_TASKS.get(example.style, "exact")


def score_example(output: str, example, task: str | None = None, **opts: Any) -> dict[str, float]:
    """Score one model output against an Example's ground truth (its ``meta`` and ``answer``).

    ``opts``: ``mode`` ("official" | "fixed") and the options of the task's scorer.
    """
    task = task or task_of(example)
    m = example.meta
    answers = m.get("answers") or ([example.answer] if example.answer is not None else [])
    mode = opts.pop("mode", "official")
    if task == "pointing":
        pixels = "points_px" in m  # pixmo-count holds pixels, the other point subsets 0-100
        gt_percent = opts.pop("gt_percent", None if not pixels else False)
        return pointing_scores(output, m["points_px"] if pixels else m.get("points", []), m.get("masks"),
                               tuple(m["image_size"]), gt_percent=gt_percent, mode=mode, **opts)
    if task == "counting":
        return count_scores(output, int(m["count"]), mode=mode, **opts)
    if task == "clocks":
        return clock_scores(output, int(m["hour"]), int(m["minute"]), second=int(m.get("second", -1)),
                            is_test=opts.pop("is_test", bool(m.get("is_test", False))), mode=mode, **opts)
    if task == "mc":
        names = m.get("option_names")
        idx = m["answer_idx"] if "answer_idx" in m else m["options"].index(m["option_answer"])
        return {"accuracy": multiple_choice_score(output, m["options"], idx, option_names=names, mode=mode)}
    if task == "caption":
        return _caption(output, example, **opts)
    if task == "mmmu":
        return {"mmmu": mmmu_score(output, m["answer"], m["question_type"], m.get("options", ()),
                                   rng=opts.get("rng"), mode=mode)}
    if task == "real_world_qa":
        return {"real_world_qa": real_world_qa_score(output, m["answer"], m["question_type"], mode=mode)}
    if task == "math_vista":
        return {"math_vista": math_vista_score(output, m, mode=mode)}
    scorer = {"vqa": vqa_score, "anls": anls, "relaxed": relaxed_correctness, "exact": exact_match,
              "a_okvqa": a_okvqa_score}.get(task)
    if scorer is None:
        raise ValueError(f"no per-example scorer for task {task!r}")
    out = {task: scorer(output, answers, mode=mode)}
    if task in ("relaxed", "anls"):  # the official ChartQA / DocVQA / InfoVQA evaluators also report em
        out["em"] = exact_match(output, answers, mode=mode)
    return out


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


def score_all(outputs: Sequence[str], examples: Sequence[Any], task: str | None = None, **opts: Any
              ) -> list[dict[str, float]]:
    """Per-example score dicts; MMMU's random fallback draws from one ``random.Random(42)`` stream."""
    import random

    if len(outputs) != len(examples):
        raise ValueError(f"{len(outputs)} outputs for {len(examples)} examples")
    opts.setdefault("rng", random.Random(42))
    rows = []
    for o, e in zip(outputs, examples, strict=True):
        kw = dict(opts)
        if (task or task_of(e)) != "mmmu":
            kw.pop("rng")
        rows.append(score_example(o, e, task, **kw))
    return rows


def evaluate(outputs: Sequence[str], examples: Sequence[Any], task: str | None = None, **opts: Any
             ) -> dict[str, float]:
    """Average per-example scores, each key over the examples that have it (as the official
    evaluators do); counting also reports ``correct_<k>`` per GT count."""
    rows = score_all(outputs, examples, task, **opts)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    if rows and (task or task_of(examples[0])) == "counting":
        by: dict[int, list[float]] = {}
        for r, e in zip(rows, examples, strict=True):
            by.setdefault(int(e.meta["count"]), []).append(r["correct"])
        out.update({f"correct_{k}": float(np.mean(v)) for k, v in sorted(by.items())})
    out["n"] = float(len(rows))
    return out
