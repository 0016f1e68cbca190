"""LLM mode: prompts and output checks for the topic, data, code and QA stages.

Each stage is one ``LLMClient.chat`` call with a validation hook: a reply that fails the check is
sent back with the error and retried (then the document is dropped). Prompts follow the reference
pipeline (docs/spec/pixmo_data.md section 4); the QA prompt sees the data and code, never the image.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from generators.docs.qa import validate_qa_text
from generators.docs.renderers import Renderer

NUM_TOPICS = 5
WHAT = {"charts": "chart", "tables": "table", "diagrams": "diagram", "other": "document"}
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.S)


def extract_code(text: str, lang: str = "") -> str:
    """The fenced code block (the one tagged ``lang`` if several); the whole reply if unfenced."""
    blocks = _FENCE.findall(text)
    if not blocks:
        if "```" in text:
            raise ValueError("unterminated code block")
        return text.strip()
    for tag, body in blocks:
        if lang and tag.lower() == lang:
            return body.strip()
    return max((b for _, b in blocks), key=len).strip()


def clean_csv(text: str) -> str:
    """Keep comma lines with the header's column count; need >= 2 lines that pandas can parse."""
    import pandas as pd

    body = extract_code(text, "csv")
    lines = [ln.strip() for ln in body.splitlines() if "," in ln]
    if not lines:
        raise ValueError("no CSV lines (comma-separated) in the reply")
    n = len(next(iter(__import__("csv").reader([lines[0]]))))
    keep = [ln for ln in lines if len(next(iter(__import__("csv").reader([ln])))) == n]
    if len(keep) < 2:
        raise ValueError("the CSV needs a header and at least one row with the same number of columns")
    out = "\n".join(keep) + "\n"
    pd.read_csv(io.StringIO(out))
    return out


def clean_json(text: str) -> str:
    body = extract_code(text, "json")
    value = json.loads(body)
    if not isinstance(value, dict | list) or not value:
        raise ValueError("the data must be a non-empty JSON object or list")
    return json.dumps(value, ensure_ascii=False)


def code_validator(r: Renderer):  # noqa: ANN201 - returns a validation hook
    def check(text: str) -> str:
        code = extract_code(text, r.lang)
        if not code:
            raise ValueError("empty code block")
        entry = {"docx": "generate_document", "schemdraw": "generate_diagram", "rdkit": "generate_diagram"}.get(r.name)
        if r.lang == "python" and f"def {entry or 'generate_plot'}" not in code and (
                entry or "def generate_diagram" not in code):
            raise ValueError(f"the code must define {entry or 'generate_plot'}(...)")
        if r.lang == "svg" and "<svg" not in code:
            raise ValueError("the reply must be an SVG document (<svg ...>)")
        if r.name == "vegalite":
            json.loads(code)
        if r.lang == "latex" and "\\documentclass" not in code:  # latex and tikz
            raise ValueError("the LaTeX must be a complete document with \\documentclass")
        if r.lang == "lilypond" and "\\score" not in code and "{" not in code:
            raise ValueError("the LilyPond source must contain music in braces")
        return code
    return check


def split_topics(text: str) -> list[str]:
    topics = [t.strip().strip('"').strip() for t in text.replace("\n", "|").split("|")]
    topics = [t for t in topics if t and len(t) < 200]
    if not topics:
        raise ValueError(f"no topics found; give {NUM_TOPICS} topics separated by '|'")
    return topics


def topic_prompt(persona: str, category: str, figure_type: str) -> str:
    return (f"You are {persona}.\nList {NUM_TOPICS} diverse, non-overlapping topics for a {WHAT[category]} "
            f"({figure_type}) you would make. English only. Separate the topics with '|' and write nothing else.")


def data_prompt(persona: str, topic: str, category: str, figure_type: str, fmt: str) -> str:
    shape = ("CSV with a header row" if fmt == "csv" else "a JSON object")
    return (f"Persona: {persona}\nTopic: {topic}\nFigure type: {WHAT[category]} ({figure_type})\n"
            f"Write realistic data for this {WHAT[category]} as {shape}, inside one fenced block. Use real-world "
            "entity names, no placeholders; enough points to be informative but not too many; English only.")


def code_prompt(persona: str, topic: str, category: str, figure_type: str, data: str, r: Renderer) -> str:
    return (f"Persona: {persona}\nTopic: {topic}\nMake a {WHAT[category]} ({figure_type}) with {r.name}.\n"
            f"Data:\n<data>\n{data}\n</data>\nWrite {r.contract}\nBe creative with the styling; size things "
            "to the data; no overlapping text. Put the code in one ```" + r.lang + " block and do not call the "
            "function yourself.")


def qa_prompt(persona: str, topic: str, category: str, figure_type: str, data: str, code: str) -> str:
    return (f"Persona: {persona}\nFigure type: {WHAT[category]} ({figure_type})\nTopic: {topic}\n"
            f"<data>\n{data}\n</data>\n<code>\n{code}\n</code>\n"
            f"The {WHAT[category]} itself is NOT provided: use only the data and code above.\n"
            "Write at least 5 short-answer questions, at least 2 multiple-choice questions (vary the option "
            "labels and the position of the right option), at least 1 yes/no question, 1 summary question, "
            "and 1 unanswerable question (answer 'Cannot be determined'). Do not ask about code details. "
            "Keep answers concise. Write each entry as `question | answer | explanation` on its own block, "
            "blocks separated by one blank line, nothing else.")


def with_level(prompt: str, level: str, which: str) -> str:
    """The prompt with the difficulty level's sentence (``data_hint``/``qa_hint``); unchanged without one."""
    from generators.docs.difficulty import LEVELS

    hint = getattr(LEVELS[level], which) if level else ""
    return f"{prompt}\nDifficulty: {level}. {hint}" if hint else prompt


def _chat(client: Any, job: Any, prompt: str, stage: str, **kw: Any) -> Any:
    """One stage's call, recorded on the job (prompt, model, tokens of the accepted reply, cached)."""
    res = client.chat(prompt, stage=stage, seed=job.seed_int, temperature=1.0, **kw)
    job.llm_calls.append({"stage": stage, "model": res.model, "prompt": prompt, "prompt_tokens": res.prompt_tokens,
                          "completion_tokens": res.completion_tokens, "attempts": res.attempts})
    return res


def run_llm_stages(client: Any, job: Any, r: Renderer, prompt_version: str) -> dict[str, Any]:
    """Topic, data and code for one job; returns provenance per stage. Raises on a failed stage."""
    seed = job.seed_int
    prov: dict[str, Any] = {}
    res = _chat(client, job, topic_prompt(job.persona, job.category, job.figure_type), "topic",
                validate=split_topics, prompt_version=prompt_version)
    topics = res.parsed
    job.topic = topics[seed % len(topics)]
    prov["topic"] = res.provenance()
    check = clean_csv if r.data_format == "csv" else clean_json
    res = _chat(client, job, with_level(data_prompt(job.persona, job.topic, job.category, job.figure_type,
                                                    r.data_format), job.difficulty, "data_hint"),
                "data", validate=check, prompt_version=prompt_version)
    job.data, prov["data"] = res.parsed, res.provenance()
    res = _chat(client, job, code_prompt(job.persona, job.topic, job.category, job.figure_type, job.data, r),
                "code", validate=code_validator(r), prompt_version=prompt_version)
    job.code, prov["code"] = res.parsed, res.provenance()
    return prov


def run_llm_qa(client: Any, job: Any, prompt_version: str) -> dict[str, Any]:
    res = _chat(client, job, with_level(qa_prompt(job.persona, job.topic, job.category, job.figure_type, job.data,
                                                  job.code), job.difficulty, "qa_hint"),
                "qa", validate=validate_qa_text, prompt_version=prompt_version)
    job.qa = list(res.parsed)
    return res.provenance()
