"""LaTeX math pages: a worded problem from the persona's domain and its derivation as numbered
``align`` equations with a note per step (amsmath), with their own data and questions.

Numbers are integers chosen so that every step stays whole, so the page, the data and the answers
print the same strings; pdftotext reads equations back as plain lines ("12x = 120 (2)").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from generators.docs import documents
from generators.docs.bank import Domain
from generators.docs.qa import QA, UNANSWERABLE, _mc
from generators.docs.templates import pages
from generators.docs.templates.pages import tex


@dataclass
class MathData:
    title: str
    kind: str  # linear | system
    problem: str  # plain text (LaTeX-escaped when written)
    steps: list[list[str]]  # [LaTeX equation, note]; the note is plain text, "" for none
    answers: dict[str, int]  # unknown -> value
    givens: dict[str, str] = field(default_factory=dict)  # named quantities of the problem, as printed

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def qa(self, rng: np.random.Generator) -> list[QA]:
        return math_qa(self, rng)


def _linear(rng: np.random.Generator, item: str, org: str) -> tuple[str, list[list[str]], dict[str, int], dict[str, str]]:
    p, f, n = int(rng.integers(4, 40)), int(rng.integers(10, 90)), int(rng.integers(3, 25))
    total = p * n + f
    problem = (f"{org} charges a fixed fee of ${f} plus ${p} for each {item.lower()}. A bill came to ${total}. "
               f"How many were ordered? Let x be the number ordered.")
    steps = [[f"{p}x + {f} = {total}", "the bill"], [f"{p}x = {total - f}", f"subtract {f} from both sides"],
             [f"x = {n}", f"divide both sides by {p}"]]
    return problem, steps, {"x": n}, {"fixed fee": f"${f}", "price per item": f"${p}", "bill": f"${total}"}


def _system(rng: np.random.Generator, item: str, org: str) -> tuple[str, list[list[str]], dict[str, int], dict[str, str]]:
    a, c = int(rng.integers(12, 40)), int(rng.integers(3, 11))
    x, y = (int(v) for v in rng.choice(np.arange(5, 60), size=2, replace=False))
    s, r = x + y, a * x + c * y
    problem = (f"{org} sold {s} tickets: standard tickets at ${a} and reduced tickets at ${c}, for ${r} in all. "
               "Let x be the standard and y the reduced tickets sold.")
    steps = [[f"x + y = {s}", "tickets sold"], [f"{a}x + {c}y = {r}", "money taken"],
             [f"{a}x + {c}({s} - x) = {r}", f"substitute y = {s} - x"],
             [f"{a - c}x = {r - c * s}", "collect the x terms"], [f"x = {x}", f"divide both sides by {a - c}"],
             [f"y = {y}", f"y = {s} - {x}"]]
    return problem, steps, {"x": x, "y": y}, {"tickets sold": str(s), "standard price": f"${a}",
                                              "reduced price": f"${c}", "money taken": f"${r}"}


def sample_math(rng: np.random.Generator, d: Domain, org: str) -> MathData:
    kind = str(rng.choice(["linear", "system"]))
    item = str(rng.choice(documents.GOODS[d.name]))
    problem, steps, answers, givens = (_linear if kind == "linear" else _system)(rng, item, org)
    title = f"{org}: {'solving for one unknown' if kind == 'linear' else 'two equations, two unknowns'}"
    return MathData(title, kind, problem, steps, answers, givens)


def write_math(m: MathData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    rows = [rf"  {eq.replace('=', '&=', 1)} && \text{{{tex(note)}}}" for eq, note in m.steps]
    answer = ", ".join(f"{k} = {v}" for k, v in m.answers.items())
    body = (rf"\textbf{{Problem.}} {tex(m.problem)}" + "\n\n\\medskip\\noindent\\textbf{Solution.}\n"
            "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}\n"
            + rf"\noindent\fbox{{\textbf{{Answer:}} ${answer}$}}")
    return pages._tex_doc(body, m.title, st, rng, "\\usepackage{amsmath}\n")


def write(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    """The "latex" renderer's writer: math pages here, tables and documents in ``pages``."""
    if isinstance(data, MathData):
        return write_math(data, rng, st)
    return pages.write_latex(figure_type, data, rng, st)


def math_qa(m: MathData, rng: np.random.Generator) -> list[QA]:
    k = len(m.steps)
    qa: list[QA] = [("What is the title of the page?", m.title, (m.title,)),
                    ("How many numbered equations does the solution have?", str(k), (f"({k})",))]
    for var, val in m.answers.items():
        qa.append((f"What is the value of {var}?", str(val), (str(val),)))
        than = val - 1 if rng.random() < 0.5 else val + 1
        qa.append((f"Is {var} greater than {than}?", "Yes" if val > than else "No", (str(val),)))
    name, value = list(m.givens.items())[int(rng.integers(len(m.givens)))]
    qa.append((f"What is the {name} given in the problem?", value, (value.lstrip("$"),)))  # pdftotext: "$ 19"
    i = int(rng.integers(1, k))
    qa.append((f"What is done to get equation ({i + 1})?", m.steps[i][1].capitalize(), (m.steps[i][1], f"({i + 1})")))
    var, val = next(iter(m.answers.items()))
    mc = _mc(rng, f"Which value of {var} solves the problem?", str(val),
             [str(val + 1), str(val - 2), str(2 * val), str(val + 5)], (str(val),))
    if mc:
        qa.append(mc)
    qa.append(("Who checked the solution?", UNANSWERABLE, ()))
    answer = ", ".join(f"{a} = {b}" for a, b in m.answers.items())
    qa.append(("Summarize the page.", f"{m.title}: a worded problem solved in {k} numbered steps, giving {answer}.",
               (m.title,)))
    return qa

