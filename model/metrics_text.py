"""Short-answer metrics (VQA score, ANLS, relaxed correctness, exact match, multiple choice,
RealWorldQA, MMMU, MathVista) in two modes, as documented in docs/spec/metrics.md.

``mode="official"`` (the default) gives, example by example, what the published evaluator of Molmo
gives, its quirks included; ``mode="fixed"`` repairs them. Neither mode raises on a model output:
where the official code would crash the example scores as wrong. Every quirk is named in
docs/spec/metrics.md, with the number of the section below that handles it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pixmo.text import levenshtein

MODES = ("official", "fixed")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"metrics mode must be one of {MODES}, got {mode!r}")
    return mode


# --- answer selection (spec 1) --------------------------------------------------------------

def select_answer(text: str, *, mode: str = "official") -> str:
    """The part of a model output that is scored.

    official: the text between the first and the second "Answer:" when there is one (stripped only);
    else, for several lines, the most frequent whitespace-collapsed line, blank lines included in
    the vote, the earliest line winning ties; else the output with whitespace collapsed.
    fixed: the text after the last "Answer:", then the most frequent non-blank line, always collapsed.
    """
    pred = text.strip()
    if check_mode(mode) == "official":
        if "Answer:" in pred:
            return pred.split("Answer:")[1].strip()
        if "\n" in pred:
            lines = [" ".join(x.split()) for x in pred.split("\n")]
            counts = Counter(lines)
            top = max(counts.values())
            return next(x for x in lines if counts[x] == top)
        return " ".join(pred.split())
    if "Answer:" in pred:
        pred = pred.split("Answer:")[-1]
    lines = [" ".join(x.split()) for x in pred.split("\n")]
    lines = [x for x in lines if x] or [""]
    counts = Counter(lines)
    top = max(counts.values())
    return next(x for x in lines if counts[x] == top)


# --- VQA normalisation (spec 2) -------------------------------------------------------------

_CONTRACTIONS_TEXT = """aint ain't|arent aren't|cant can't|couldve could've|couldnt couldn't|couldn'tve couldn't've|
couldnt've couldn't've|didnt didn't|doesnt doesn't|dont don't|hadnt hadn't|hadnt've hadn't've|hadn'tve hadn't've|
hasnt hasn't|havent haven't|hed he'd|hed've he'd've|he'dve he'd've|hes he's|howd how'd|howll how'll|hows how's|
Id've I'd've|I'dve I'd've|Im I'm|Ive I've|isnt isn't|itd it'd|itd've it'd've|it'dve it'd've|itll it'll|let's let's|
maam ma'am|mightnt mightn't|mightnt've mightn't've|mightn'tve mightn't've|mightve might've|mustnt mustn't|
mustve must've|neednt needn't|notve not've|oclock o'clock|oughtnt oughtn't|ow's'at 'ow's'at|'ows'at 'ow's'at|
'ow'sat 'ow's'at|shant shan't|shed've she'd've|she'dve she'd've|she's she's|shouldve should've|shouldnt shouldn't|
shouldnt've shouldn't've|shouldn'tve shouldn't've|somebody'd somebodyd|somebodyd've somebody'd've|
somebody'dve somebody'd've|somebodyll somebody'll|somebodys somebody's|someoned someone'd|
someoned've someone'd've|someone'dve someone'd've|someonell someone'll|someones someone's|somethingd something'd|
somethingd've something'd've|something'dve something'd've|somethingll something'll|thats that's|thered there'd|
thered've there'd've|there'dve there'd've|therere there're|theres there's|theyd they'd|theyd've they'd've|
they'dve they'd've|theyll they'll|theyre they're|theyve they've|twas 'twas|wasnt wasn't|wed've we'd've|
we'dve we'd've|weve we've|werent weren't|whatll what'll|whatre what're|whats what's|whatve what've|whens when's|
whered where'd|wheres where's|whereve where've|whod who'd|whod've who'd've|who'dve who'd've|wholl who'll|
whos who's|whove who've|whyll why'll|whyre why're|whys why's|wont won't|wouldve would've|wouldnt wouldn't|
wouldnt've wouldn't've|wouldn'tve wouldn't've|yall y'all|yall'll y'all'll|y'allll y'all'll|yall'd've y'all'd've|
y'alld've y'all'd've|y'all'dve y'all'd've|youd you'd|youd've you'd've|you'dve you'd've|youll you'll|
youre you're|youve you've"""
# The VQA evaluation's contraction table, as published (three keys are capitalised and so never match
# the lower-cased words, and "somebody'd" maps to "somebodyd": both kept in official mode).
CONTRACTIONS = dict(pair.split(" ") for pair in _CONTRACTIONS_TEXT.replace("\n", "").split("|"))
_FIXED_CONTRACTIONS = {k.lower(): v.lower() for k, v in CONTRACTIONS.items() if k != "somebody'd"}
NUMBER_MAP = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = ("a", "an", "the")
VQA_PUNCT = tuple(";/[]\"{}()=+\\_-><@`,?!")  # not "'", ".", ":", "%", "$", "#", "&", "*", "^", "~", "|"
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD = re.compile(r"\.(?!\d)")  # the published lookbehind is mistyped, so any period not before a digit goes


def _punctuation(text: str, mode: str) -> str:
    out = text
    glue = _DIGIT_COMMA_DIGIT.search(text) is not None  # one "1,000" anywhere: every mark is deleted
    for p in VQA_PUNCT:
        out = out.replace(p, "" if glue or (p + " " in text or " " + p in text) else " ")
    if mode == "official":
        return _PERIOD.sub("", out, count=32)  # re.UNICODE (32) passed where sub() takes `count`
    return _PERIOD.sub("", out)


def normalize_vqa(text: str, *, mode: str = "official") -> str:
    """VQA-v2 answer normalisation: lower-case, punctuation, number words, articles, contractions."""
    check_mode(mode)
    t = text.replace("\n", " ").replace("\t", " ").lower().strip()
    words = [NUMBER_MAP.get(w, w) for w in _punctuation(t, mode).lower().split()]
    table = CONTRACTIONS if mode == "official" else _FIXED_CONTRACTIONS
    return " ".join(table.get(w, w) for w in words if w not in ARTICLES)


def vqa_score(output: str, answers: Sequence[str], *, mode: str = "official") -> float:
    """official: min(#GT answers equal to the prediction / 3, 1) after normalisation.
    fixed: with the VQA set's ten answers, that accuracy averaged over the ten nine-answer subsets
    (the VQA API's definition); otherwise as official."""
    pred = normalize_vqa(select_answer(output, mode=mode), mode=mode)
    refs = [normalize_vqa(a, mode=mode) for a in answers]
    if mode == "official" or len(refs) != 10:
        return min(refs.count(pred) / 3.0, 1.0)
    hits = [r == pred for r in refs]
    return sum(min((sum(hits) - h) / 3.0, 1.0) for h in hits) / len(hits)


def a_okvqa_score(output: str, answers: Sequence[str], *, mode: str = "official") -> float:
    """A-OKVQA direct answer: min(#GT equal to the prediction / 3, 1), lower-cased and stripped only."""
    pred = select_answer(output, mode=mode).lower().strip()
    return min([a.lower().strip() for a in answers].count(pred) / 3.0, 1.0)


# --- ANLS (spec 3) ----------------------------------------------------------------------------

def anls(output: str, answers: Sequence[str], threshold: float = 0.5, *, mode: str = "official") -> float:
    """Best normalised Levenshtein similarity over the GT answers; 0 when the distance >= ``threshold``.

    official: both sides lower-cased, the reference's whitespace kept as given; two empty strings
    divide by zero there, scored 0. fixed: whitespace collapsed on both sides, empty == empty is 1.
    """
    pred = select_answer(output, mode=mode).lower()
    best = 0.0
    for a in answers:
        gt = a.lower() if mode == "official" else " ".join(a.lower().split())
        longest = max(len(gt), len(pred))
        if longest == 0:
            best = max(best, 0.0 if mode == "official" else 1.0)
            continue
        d = levenshtein(gt, pred) / longest
        best = max(best, 1.0 - d if d < threshold else 0.0)
    return best


# --- relaxed correctness (spec 4) -------------------------------------------------------------

def _relaxed_float(text: str, mode: str) -> float | None:
    t = text if mode == "official" else text.strip().replace(",", "").lstrip("$")
    try:
        if t.endswith("%"):
            return float(t.rstrip("%")) / (100.0 if mode == "official" else 1.0)
        return float(t)
    except ValueError:
        return None


def _relaxed_one(pred: str, target: str, tolerance: float, mode: str) -> bool:
    p, t = _relaxed_float(pred, mode), _relaxed_float(target, mode)
    if mode == "official":
        if p is not None and t:  # a zero target falls back to string equality
            return abs(p - t) / abs(t) <= tolerance
        return pred.lower() == target.lower()
    if p is not None and t is not None:
        return p == t if t == 0 else abs(p - t) / abs(t) <= tolerance
    return pred.strip().lower() == target.strip().lower()


def relaxed_correctness(output: str, answers: Sequence[str], tolerance: float = 0.05, *,
                        mode: str = "official") -> float:
    """ChartQA relaxed accuracy (pix2struct): numbers within 5% relative error, else exact text."""
    pred = select_answer(output, mode=mode)
    return float(any(_relaxed_one(pred, a, tolerance, mode) for a in answers))


def exact_match(output: str, answers: Sequence[str], *, mode: str = "official") -> float:
    """official: the lower-cased prediction equals a lower-cased answer. fixed: also strips a final '.'."""
    pred = select_answer(output, mode=mode).lower()
    if mode == "official":
        return float(pred in [a.lower() for a in answers])
    return float(pred.strip().rstrip(".") in [a.strip().lower().rstrip(".") for a in answers])


# --- multiple choice (spec 5) -----------------------------------------------------------------

def letters(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def select_mc(pred: str, names: Sequence[str]) -> int | None:
    """The official option picker: exact name, else the only name containing the prediction, else
    the first name at minimal edit distance. None where the official code asserts (repeated names)."""
    target = pred.lower().strip()
    low = [x.lower().strip() for x in names]
    if len(set(low)) != len(low) or not low:
        return None
    if target in low:
        return low.index(target)
    contains = [i for i, o in enumerate(low) if target in o]
    if len(contains) == 1:
        return contains[0]
    dists = [levenshtein(o, target) for o in low]
    return dists.index(min(dists))


def select_option(output: str, options: Sequence[str], *, option_names: Sequence[str] | None = None,
                  mode: str = "official") -> int:
    """Index of the chosen option (-1: none).

    official: the prediction is matched against the option *names* (the letters A, B, ... that the
    prompt shows, or ``option_names``), never against the option texts. fixed: a letter, then the
    exact option text, then a unique substring match either way, then the nearest option text.
    """
    pred = select_answer(output, mode=mode)
    names = list(option_names) if option_names is not None else letters(len(options))
    if mode == "official":
        i = select_mc(pred, names)
        return -1 if i is None else i
    bare = pred.strip().rstrip(".").strip()
    if bare.upper() in names and len(bare) == 1:
        return names.index(bare.upper())
    low = [o.strip().lower() for o in options]
    if bare.lower() in low:
        return low.index(bare.lower())
    hits = [i for i, o in enumerate(low) if o and (o in bare.lower() or bare.lower() in o)]
    if len(hits) == 1 or not low:
        return hits[0] if hits else -1
    dists = [levenshtein(bare.lower(), o) for o in low]
    return dists.index(min(dists))


def multiple_choice_score(output: str, options: Sequence[str], answer_index: int, *, mode: str = "official",
                          option_names: Sequence[str] | None = None) -> float:
    return float(select_option(output, options, option_names=option_names, mode=mode) == answer_index)


def real_world_qa_score(output: str, answer: str, question_type: str, *, mode: str = "official") -> float:
    """RealWorldQA: letters A-D matched like multiple choice, else normalised exact match."""
    pred = select_answer(output, mode=mode)
    if question_type == "multiple_choice":
        names = letters(4)
        if answer not in names:  # the official code raises here
            return 0.0
        return float(select_mc(pred, names) == names.index(answer))
    return float(normalize_vqa(pred, mode=mode) == normalize_vqa(answer, mode=mode))


def math_vista_score(output: str, meta: dict[str, Any], *, mode: str = "official") -> float:
    """MathVista without the GPT answer extractor (the official ``use_api=False`` path).

    ``meta``: answer, question_type (multi_choice | free_form), answer_type (integer | float | text |
    list), choices, precision.
    """
    pred = output.strip() if mode == "official" else select_answer(output, mode=mode)  # no "Answer:" step
    choices, qtype, atype = list(meta.get("choices") or []), meta["question_type"], meta["answer_type"]
    target = meta["answer"]
    if qtype == "multi_choice":
        if not choices:
            return 0.0
        i = select_mc(pred, letters(len(choices)))
        if i is None:
            return 0.0
        extraction = choices[i]
        found = re.findall(r"([a-zA-Z]):", extraction.strip())
        extraction = found[0].upper() if found else extraction.strip()
        if extraction in letters(len(choices)):
            extraction = choices[letters(len(choices)).index(extraction)]
        else:
            dists = [levenshtein(extraction, c) for c in choices]
            extraction = choices[dists.index(min(dists))]
        return float(extraction == target)
    prediction: str | None = pred
    try:
        if atype == "integer":
            prediction = str(int(float(pred)))
        elif atype == "float":
            prec = meta.get("precision")
            if mode == "fixed" and isinstance(prec, float) and prec.is_integer():
                prec = int(prec)
            prediction = str(round(float(pred), prec))  # a float precision raises in round(): scored wrong
    except (ValueError, TypeError, OverflowError):
        prediction = None
    return float(prediction == target)


# --- MMMU (spec 6) --------------------------------------------------------------------------------

def _mmmu_choice(response: str, choices: list[str], index2ans: dict[str, str], rng: random.Random) -> str:
    for ch in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(ch)
    response = " " + response + " "
    cands = [c for c in choices if f"({c})" in response]
    brackets, by_index = bool(cands), True
    if not cands:
        cands = [c for c in choices if f" {c} " in response]
    if not cands and len(response.split()) > 5:
        cands = [c for c, a in index2ans.items() if a.lower() in response.lower()]
        by_index = not cands
    if not cands:
        return rng.choice(choices)
    if len(cands) == 1:
        return cands[0]
    if by_index:
        pos = [response.rfind(f"({c})" if brackets else f" {c} ") for c in cands]
    else:
        pos = [response.lower().rfind(index2ans[c].lower()) for c in cands]
    return cands[pos.index(max(pos))]


def _mmmu_norm(s: str) -> list[Any]:
    s = s.strip()
    try:
        return [round(float(s.replace(",", "")), 2)]
    except ValueError:
        s = s.lower()
        return [" " + s, s + " "] if len(s) == 1 else [s]


_MMMU_NUMBERS = (r"-?\b\d{1,3}(?:,\d{3})+\b", r"-?\d+(?:\.\d+)?[eE][+-]?\d+",
                 r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def _mmmu_open(response: str) -> list[Any]:
    response = response.strip().strip(".").lower()
    subs = re.split(r"\.\s(?=[A-Z])|\n", response)
    keys = ["could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result "]
    found = []
    for i, sub in enumerate(subs):
        if i == len(subs) - 1:
            keys = keys + ["="]
        tails = [sub.split(k)[-1].strip() for k in keys if k in sub]
        shortest = None
        for t in tails:  # an empty tail is replaced by the next one, as in the official loop
            if not shortest or len(t) < len(shortest):
                shortest = t
        if shortest and shortest.strip() not in [":", ",", ".", "!", "?", ";", "'"]:
            found.append(shortest)
    found = found or [response]
    preds = list(found)
    for r in found:
        for pat in _MMMU_NUMBERS:
            preds += re.findall(pat, r)
    return [x for p in preds for x in _mmmu_norm(p)]


def mmmu_score(output: str, answer: str | Sequence[str], question_type: str, options: Sequence[str] = (), *,
               rng: random.Random | None = None, mode: str = "official") -> float:
    """MMMU: the benchmark's own response parser (random letter when none is found, from ``rng``,
    a ``random.Random(42)`` stream like the official module seed) and its open-answer matching."""
    rng = rng or random.Random(42)
    gold = [answer] if isinstance(answer, str) else list(answer)
    pred_text = select_answer(output, mode=mode)
    if question_type == "multiple-choice":
        opts = [o for o in options if len(o) > 0]
        choices = letters(len(opts))
        if not choices:
            return 0.0
        return float(_mmmu_choice(pred_text, choices, dict(zip(choices, opts, strict=True)), rng) in gold)
    norm = [x for g in gold for x in _mmmu_norm(g)]
    for p in set(_mmmu_open(pred_text)):
        if isinstance(p, str):
            if any(isinstance(n, str) and n in p for n in norm):
                return 1.0
        elif p in norm:
            return 1.0
    return 0.0
