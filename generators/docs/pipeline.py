"""One pipeline for every renderer: persona -> topic -> data -> code -> render -> validate -> QA.

``make_shard(config, task)`` is the shard function for ``generators.runner.run``. Each item index
becomes a :class:`DocJob` with its own RNG (seed, index), so results do not depend on the worker
count. Renderers come round-robin from the config, so every renderer gets its share; the category
is drawn from what the renderer serves. Offline mode writes data and code from the template bank
and the QA from the data; LLM mode asks the configured endpoint for each stage. Each page keeps the
code, data and renderer (and LLM calls) as shard extras (``page_extras``); each shard's stats keep a
near-duplicate signature per document for the run-wide pass (``dedup.py``) and the personas used
(``ledger.py``).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from generators.docs import dedup, difficulty, ledger, templates, titles
from generators.docs.bank import domain_for
from generators.docs.config import DocsConfig, Persona, RenderOptions, load_personas
from generators.docs.data import TableData, sample_doc, sample_graph, sample_table
from generators.docs.evidence import filter_qa, llm_evidence
from generators.docs.qa import MIN_QA, make_qa
from generators.docs.renderers import RENDERERS, ImageRejected, RenderContext, check_image
from generators.docs.report import qa_type
from generators.docs.sandbox import Limits
from generators.docs.splits import personas_for
from generators.runner import ShardResult, ShardTask
from pixmo.records import DocsQuestions, docs_record_type
from pixmo.shards import Annotation, Sample

log = logging.getLogger(__name__)


@dataclass
class DocJob:
    index: int
    seed: int
    renderer: str
    category: str
    persona: str
    domain: str | None
    figure_type: str = ""
    topic: str = ""
    data: str = ""
    code: str = ""
    qa: list[tuple[str, str, str]] = field(default_factory=list)
    evidence: list[tuple[str, ...]] = field(default_factory=list)  # offline: parallel to qa
    drawn: list[tuple[str, float]] = field(default_factory=list)  # text the renderer drew, px in the image
    qa_dropped: list[str] = field(default_factory=list)  # pairs whose evidence the image does not show
    image: bytes = b""
    error: str = ""
    stage: str = ""
    attempts: int = 0
    seconds: float = 0.0  # render + checks, all attempts
    provenance: dict[str, Any] = field(default_factory=dict)
    split: str = ""  # --split: organisations of this split only, titles that name them
    difficulty: str = ""  # --difficulty-mix: easy/medium/hard ("" without a mix)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)  # LLM mode: stage, model, prompt, tokens

    @property
    def seed_int(self) -> int:
        return int(np.random.SeedSequence([self.seed, self.index]).generate_state(1)[0])

    @property
    def ok(self) -> bool:
        return bool(self.image) and not self.error


@functools.lru_cache(maxsize=4)
def _persona_order(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, 99]).permutation(n)


def plan_job(cfg: DocsConfig, personas: list[Persona], seed: int, index: int,
             order: list[int] | None = None) -> DocJob:
    """Renderer by turns; personas drawn without replacement (a seeded permutation, cycled; with a
    ledger, ``order`` puts the personas earlier runs did not use first: ``ledger.persona_order``)."""
    rng = np.random.default_rng([seed, index, 0])
    renderer = cfg.renderers[index % len(cfg.renderers)]
    category = str(rng.choice(RENDERERS[renderer].categories))
    pick = order if order is not None else _persona_order(seed, len(personas))
    p = personas[int(pick[index % len(personas)])]
    figure_type = str(rng.choice(templates.FIGURES[renderer][category]))
    level = difficulty.draw(tuple(tuple(x) for x in cfg.difficulty_mix), seed, index)  # type: ignore[misc]
    return DocJob(index, seed, renderer, category, p.persona, p.domain, figure_type, split=cfg.split,
                  difficulty=level)


# -- offline ----------------------------------------------------------------------------------------
def offline_content(job: DocJob, rng: np.random.Generator) -> Any:
    """Sample data for the job's figure type, write its code and its QA; returns the data object."""
    d = domain_for(job.persona, job.domain, job.index)
    org = titles.org_name(rng, d, job.split)
    own = templates.OWN_CONTENT.get((job.renderer, job.figure_type))
    data: Any
    if own is not None:  # circuits, molecules, schedules, scores, math, geometry: their own data and QA
        data, pairs = own(rng, org, job.figure_type, d)
        job.topic = data.title
    elif job.category in ("charts", "tables"):
        needs = dict(templates.NEEDS.get(job.figure_type, {}))
        rows = difficulty.size(job.difficulty, rng, "rows")
        if rows:
            needs["n_rows"] = rows
        if job.category == "tables":
            needs.setdefault("n_cols", int(rng.choice([1, 2, 3])))
        data = sample_table(rng, d, "", **needs)
        data.title = job.topic = titles.table_title(rng, d, data, job.persona, org, named=bool(job.split))
    elif job.category == "diagrams":
        data = sample_graph(rng, d, "", templates.GRAPH_KINDS.get(job.figure_type, job.figure_type),
                            size=difficulty.size(job.difficulty, rng, "nodes"))
        data.title = job.topic = titles.graph_title(rng, d, data, job.persona, org)
    else:
        data = sample_doc(rng, d, "", org=org, n_items=difficulty.size(job.difficulty, rng, "rows"))
        job.figure_type = data.kind
        data.title = data.items.title = job.topic = titles.doc_title(data.kind, org)
    fmt = RENDERERS[job.renderer].data_format
    job.data = data.to_csv() if fmt == "csv" and isinstance(data, TableData) else data.to_json()
    job.code = templates.write(job.renderer, job.figure_type, data, rng)
    if own is None:
        pairs = make_qa(data, job.category, rng)
    if job.difficulty:
        drop = difficulty.LEVELS[job.difficulty].drop_qa
        pairs = [p for p in pairs if qa_type(p[0], p[1]) not in drop]
    job.qa, job.evidence = [(q, a, "") for q, a, _ in pairs], [ev for _, _, ev in pairs]
    return data


# -- run one job ------------------------------------------------------------------------------------
def _render(job: DocJob, ctx: RenderContext) -> None:
    job.stage = "render"
    t0 = time.perf_counter()
    try:
        ctx = replace(ctx, drawn=[])
        png = RENDERERS[job.renderer].render(job.code, job.data, ctx)
        job.stage = "validate"
        job.image = check_image(png)
        scale = _width(job.image) / max(1, _width(png))  # the checks may have downscaled it
        job.drawn = [(t, round(px * scale, 2)) for t, px in ctx.drawn]
    finally:
        job.seconds += time.perf_counter() - t0


def _width(png: bytes) -> int:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).size[0]


def check_llm_answers(job: DocJob) -> None:
    """LLM answers carry no evidence list: an answer that is a value or label of the data (not
    computed, not yes/no) is its own evidence and must be drawn legibly; the others are kept."""
    job.evidence = [llm_evidence(a, job.data) for _, a, _ in job.qa]
    kept, job.qa_dropped = filter_qa([(q, a, ev) for (q, a, _), ev in zip(job.qa, job.evidence, strict=True)],
                                     job.drawn)
    expl = {(q, a): e for q, a, e in job.qa}
    job.qa = [(q, a, expl[(q, a)]) for q, a, _ in kept]
    job.evidence = [ev for _, _, ev in kept]


def check_answers(job: DocJob) -> None:
    """Keep the QA pairs whose evidence the image shows legibly (``evidence.py``); an image with too
    few left is rejected (and re-sampled)."""
    job.stage = "qa-image-check"
    kept, job.qa_dropped = filter_qa(list(zip([q for q, _, _ in job.qa], [a for _, a, _ in job.qa],
                                              job.evidence, strict=True)), job.drawn)
    job.qa = [(q, a, "") for q, a, _ in kept]
    job.evidence = [ev for _, _, ev in kept]
    if len(job.qa) < MIN_QA:
        raise ImageRejected(f"only {len(job.qa)} QA pairs are readable from the image: {job.qa_dropped[:2]}")


def run_offline(cfg: DocsConfig, job: DocJob, ctx: RenderContext) -> DocJob:
    base = job
    for attempt in range(cfg.attempts):
        rng = np.random.default_rng([job.seed, job.index, 1, attempt])
        job = replace(base, attempts=attempt + 1, error="", qa=[], seconds=job.seconds)
        try:
            offline_content(job, rng)
            _render(job, replace(ctx, rng=rng))
            check_answers(job)
            return job
        except Exception as exc:  # noqa: BLE001 - any failure: log it and re-sample
            job.error = f"{type(exc).__name__}: {exc}"
            log.info("docs %d (%s/%s) attempt %d failed at %s: %s", job.index, job.renderer, job.figure_type,
                     attempt + 1, job.stage, job.error)
    return job


def run_llm(cfg: DocsConfig, job: DocJob, ctx: RenderContext, client: Any) -> DocJob:
    from generators.docs.llm_stages import run_llm_qa, run_llm_stages

    rng = np.random.default_rng([job.seed, job.index, 2])
    job.attempts = 1
    try:
        job.stage = "llm"
        job.provenance = run_llm_stages(client, job, RENDERERS[job.renderer], cfg.prompt_version)
        _render(job, replace(ctx, rng=rng))
        job.stage = "qa"
        job.provenance["qa"] = run_llm_qa(client, job, cfg.prompt_version)
        check_llm_answers(job)
    except Exception as exc:  # noqa: BLE001 - rejected and logged; the run goes on
        job.error = f"{type(exc).__name__}: {exc}"
    return job


def to_sample(job: DocJob, mode: str) -> Sample:
    rec = docs_record_type(job.category).model_validate({
        "image_id": f"docs-{job.seed}-{job.index:07d}",
        "questions": DocsQuestions(question=[q for q, _, _ in job.qa], answer=[a for _, a, _ in job.qa])})
    # the page's code and data are shard extras (page_extras), kept once: not in meta too
    meta: dict[str, Any] = {"generator": "docs", "mode": mode, "persona": job.persona, "topic": job.topic,
                            "figure_type": job.figure_type, "renderer": job.renderer, "index": job.index,
                            "seed": job.seed}
    if job.split:
        meta["split"] = job.split
    if any(e for _, _, e in job.qa):
        meta["explanations"] = [e for _, _, e in job.qa]
    if job.provenance:
        meta["provenance"] = job.provenance
    if job.evidence:
        meta["evidence"] = [list(ev) for ev in job.evidence]
    if job.drawn:
        meta["drawn_text"] = [[t, px] for t, px in job.drawn]
    if job.difficulty:
        meta["difficulty"] = job.difficulty
    return Sample(image=job.image, annotations=[Annotation.of(rec, **meta)], extras=page_extras(job))


def page_extras(job: DocJob) -> dict[str, bytes]:
    """What made the page, as shard extras (exported beside the published rows with
    ``pixmo export-hf --with-extras``, never inside them)."""
    out = {"docs_code.txt": job.code.encode(), "docs_data.txt": job.data.encode(),
           "docs_renderer.txt": job.renderer.encode()}
    if job.llm_calls:
        out["docs_llm.json"] = json.dumps({"calls": job.llm_calls}, ensure_ascii=False, sort_keys=True).encode()
    return out


# -- the shard function -----------------------------------------------------------------------------
_CTX: dict[Limits, RenderContext] = {}
_CTX_LOCK = threading.Lock()


def render_context(opts: RenderOptions) -> RenderContext:
    """The process's long-lived context (sandbox worker, browser pool) for these limits."""
    key = opts.limits()
    with _CTX_LOCK:
        if key not in _CTX:
            _CTX[key] = RenderContext(key)
        return _CTX[key]


def make_client(cfg: DocsConfig) -> Any:
    from pixmo.llm import LLMClient, LLMSettings

    return LLMClient(LLMSettings(**cfg.llm)) if cfg.llm else LLMClient()


def run_jobs(cfg: DocsConfig, jobs: list[DocJob], opts: RenderOptions, client: Any = None) -> list[DocJob]:
    ctx = render_context(opts)
    if cfg.mode == "llm":
        client = client or make_client(cfg)
        fn = lambda j: run_llm(cfg, j, ctx, client)  # noqa: E731
    else:
        fn = lambda j: run_offline(cfg, j, ctx)  # noqa: E731
    with ThreadPoolExecutor(max_workers=opts.threads) as pool:
        return list(pool.map(fn, jobs))


def per_renderer(jobs: list[DocJob]) -> dict[str, dict[str, float]]:
    """documents (planned), ok (rendered and checked), rejected, render seconds and QA pairs per renderer."""
    out: dict[str, dict[str, float]] = {}
    for j in jobs:
        r = out.setdefault(j.renderer, {"documents": 0, "ok": 0, "rejected": 0, "seconds": 0.0, "qa_pairs": 0})
        r["documents"] += 1
        r["ok" if j.ok else "rejected"] += 1
        r["seconds"] = round(r["seconds"] + j.seconds, 3)
        r["qa_pairs"] += len(j.qa) if j.ok else 0
    return out


def summarize(jobs: list[DocJob], client: Any = None) -> dict[str, Any]:
    stats: dict[str, Any] = {"documents": sum(j.ok for j in jobs), "rejected": sum(not j.ok for j in jobs),
                             "qa_pairs": sum(len(j.qa) for j in jobs if j.ok),
                            "qa_dropped_not_drawn": sum(len(j.qa_dropped) for j in jobs if j.ok)}
    for j in jobs:
        key = f"ok_{j.renderer}" if j.ok else f"rejected_{j.stage}"
        stats[key] = stats.get(key, 0) + 1
        stats[f"seconds_{j.renderer}"] = round(stats.get(f"seconds_{j.renderer}", 0.0) + j.seconds, 3)
        stats["retried"] = stats.get("retried", 0) + max(0, j.attempts - 1)
        if j.ok:
            stats[f"category_{j.category}"] = stats.get(f"category_{j.category}", 0) + 1
    stats["rejections"] = [{"index": j.index, "renderer": j.renderer, "stage": j.stage, "error": j.error[:400]}
                           for j in jobs if not j.ok]
    stats["renderers"] = per_renderer(jobs)
    stats["personas_used"] = {}
    for j in jobs:
        if j.ok:
            stats["personas_used"][j.persona] = stats["personas_used"].get(j.persona, 0) + 1
        if j.difficulty:
            stats.setdefault("difficulty", {})[j.difficulty] = stats.get("difficulty", {}).get(j.difficulty, 0) + 1
    if client is not None:
        usage = client.usage()
        stats.update({f"llm_{k}": v for k, v in usage["total"].items()})
        stats["llm_stages"] = usage["stages"]
    return stats


def make_shard(cfg: DocsConfig, task: ShardTask, render: RenderOptions = RenderOptions(),
               used: frozenset[str] = frozenset()) -> ShardResult:
    """The shard function for ``generators.runner.run``; bind other ``render`` options with
    ``functools.partial`` (they are not part of the fingerprinted config), and with a ledger the
    personas earlier runs used (``used``; its digest is in the config)."""
    if ledger.digest(used) != cfg.used_personas_sha256:
        raise ValueError("the used personas do not match the config's used_personas_sha256")
    personas = personas_for(load_personas(cfg.personas_file), cfg.split)
    order = ledger.persona_order([p.persona for p in personas], task.seed, used) if used else None
    jobs = [plan_job(cfg, personas, task.seed, int(i), order) for i in task.items]
    client = make_client(cfg) if cfg.mode == "llm" else None
    done = run_jobs(cfg, jobs, render, client)
    for j in done:
        if not j.ok:
            log.warning("docs %d (%s) rejected at %s: %s", j.index, j.renderer, j.stage, j.error[:300])
        elif len(j.qa) < 5:
            log.warning("docs %d has only %d QA pairs", j.index, len(j.qa))
    kept = [j for j in done if j.ok and j.qa]
    stats = summarize(done, client)
    stats["personas_reused"] = sum(j.persona in used for j in kept)
    stats["dedup_sigs"] = [dedup.signature(j.index, j.renderer, j.image, j.topic, j.data) for j in kept]
    same = dedup.same_image_in_shard(stats["dedup_sigs"]) if cfg.dedup_image_bits >= 0 else set()
    stats["dedup_same_image"] = sorted(same)
    return ShardResult([to_sample(j, cfg.mode) for j in kept if j.index not in same], stats)
