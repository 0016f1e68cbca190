"""Near-duplicate filtering across a docs run, by image (dHash) and by text (MinHash of the title
and data): LLM mode against the local test server, where the model repeats itself."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from generators.common import RunOptions
from generators.docs import dedup
from generators.docs.config import DocsConfig, RenderOptions
from generators.docs.pipeline import DocJob
from generators.docs.run_docs import run_docs
from pixmo.shards import iter_samples, read_manifest
from pixmo.testing import serve
from tests.generators.test_docs_llm import GOOD

# the chart code of the LLM-mode test, with its bar call and title as placeholders
CHART = GOOD.split("\n", 1)[1].replace('ax.bar(df.iloc[:, 0], df.iloc[:, 1], color=["#4C72B0", "#DD8452", "#55A868"])',
                                       "KIND").replace("Weekly orders", "TITLE")
BAR = 'ax.bar(df.iloc[:, 0], df.iloc[:, 1], color=["#4C72B0", "#DD8452", "#55A868"])'
PIE = 'ax.pie(df.iloc[:, 1], labels=df.iloc[:, 0], colors=["#C44E52", "#8172B3", "#937860"])'
D1 = "Dish,Orders\nBrisket,120\nRibs,95\nCornbread,60\n"
D2 = "Service,Latency\nauth-api,41\nsearch,230\ncheckout,88\npayments,17\n"
# per document: chart code, title, data. 1 is doc 0 with a longer title (image near-duplicate),
# 2 draws doc 0's data as a pie (text duplicate), 3 is new.
DOCS = [(BAR, "Weekly orders", D1), (BAR, "Weekly orders.", D1), (PIE, "Weekly orders", D1),
        (BAR, "Service latency", D2)]
QA = "\n\n".join(["What is the title? | Weekly orders | x", "How many rows are shown? | 3 | x",
                  "Which is largest? | Brisket | x", "Which is smallest? | Cornbread | x",
                  "Is Ribs above 100? | No | x", "What is the phone number? | Cannot be determined | x"])


def _replies(by_seed):
    def fn(req):
        first = req["messages"][0]["content"]
        kind, title, data = DOCS[by_seed[req["seed"]]]
        if first.startswith("You are"):
            return "Weekly orders"
        if "Write realistic data" in first:
            return f"```csv\n{data}```"
        if "Make a" in first:
            return CHART.replace("KIND", kind).replace("TITLE", title)
        return QA
    return fn


@pytest.fixture
def llm_cfg(tmp_path):
    by_seed = {DocJob(i, 5, "", "", "", None).seed_int: i for i in range(len(DOCS))}
    with serve(_replies(by_seed)) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0}
        yield DocsConfig(renderers=("matplotlib",), mode="llm", llm=llm), tmp_path


def _run(cfg, out, num):
    opts = RunOptions(out=str(out), seed=5, num=num, per_shard=2, progress=False)
    return run_docs(cfg, opts, RenderOptions(threads=2, timeout=20.0))


def test_near_duplicates_are_dropped_across_shards_and_counted(llm_cfg):
    cfg, tmp = llm_cfg
    summary = _run(cfg, tmp / "out", 4)
    kept = sorted(s.annotations[0].meta["index"] for s in iter_samples(tmp / "out", verify=True))
    assert kept == [0, 3]
    assert summary["samples"] == 2 and summary["stats"]["documents"] == 4
    assert summary["stats"]["dedup_dropped"]["image"] == 1 and summary["stats"]["dedup_dropped"]["text"] == 1
    stats = [json.loads((tmp / "out" / f"shard-00000{i}.tar.stats.json").read_text()) for i in (0, 1)]
    assert stats[0]["stats"]["dedup_dropped"]["indices"] == [1]  # within the shard: same chart, longer title
    assert stats[1]["stats"]["dedup_dropped"]["indices"] == [2]  # across shards: doc 0's data again
    assert [sh["samples"] for sh in read_manifest(tmp / "out")["shards"]] == [1, 1]
    # with both tests off every document stays
    off = replace(cfg, dedup_image_bits=-1, dedup_text=0.0)
    assert _run(off, tmp / "off", 4)["samples"] == 4


def test_a_run_extended_with_more_documents_drops_what_one_full_run_drops(llm_cfg):
    cfg, tmp = llm_cfg
    _run(cfg, tmp / "grown", 2)
    assert [s.annotations[0].meta["index"] for s in iter_samples(tmp / "grown")] == [0]
    _run(cfg, tmp / "grown", 4)
    fresh = replace(cfg, llm={**cfg.llm, "cache_dir": str(tmp / "cache2")})  # meta records cache hits
    _run(fresh, tmp / "once", 4)
    shards = [read_manifest(tmp / d)["shards"] for d in ("grown", "once")]
    assert [(sh["name"], sh["sha256"]) for sh in shards[0]] == [(sh["name"], sh["sha256"]) for sh in shards[1]]
    assert [sh["samples"] for sh in shards[0]] == [1, 1]


def _page(text: str, shift: int = 0, colour: tuple[int, int, int] = (70, 110, 170)) -> bytes:
    im = Image.new("RGB", (320, 200), "white")
    d = ImageDraw.Draw(im)
    for k, h in enumerate((120, 60, 150, 90)):
        d.rectangle((30 + k * 70 + shift, 190 - h, 80 + k * 70 + shift, 190), fill=colour)
    d.text((20, 10), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_dhash_is_close_for_near_copies_and_far_for_other_pages():
    a, b = dedup.dhash(_page("Weekly orders")), dedup.dhash(_page("Weekly orders!"))
    assert bin(a ^ b).count("1") <= 8  # a longer title: a near copy
    assert bin(a ^ dedup.dhash(_page("Weekly orders", shift=25))).count("1") > 8  # the bars moved
    flipped = io.BytesIO()
    Image.open(io.BytesIO(_page("Weekly orders"))).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped, "PNG")
    assert bin(a ^ dedup.dhash(flipped.getvalue())).count("1") > 64
    assert a == dedup.dhash(_page("Weekly orders"))  # a pure function of the pixels


def test_the_same_layout_in_other_colours_is_another_page():
    """dHash sees structure only: a diagram of the same layout in other colours hashes alike (11 of
    256 bits for two real Graphviz state diagrams of a 140-page run), so an image duplicate must
    also match the 8x8 colour thumbnail."""
    blue, green = _page("Weekly orders"), _page("Weekly orders", colour=(100, 160, 40))
    assert dedup.dhash(blue) == dedup.dhash(green)
    sigs = [dedup.signature(i, "x", png, f"title {i}", f"data {i} " * i) for i, png in enumerate((blue, green))]
    assert dedup.colour_distance(sigs[0]["colour"], sigs[1]["colour"]) > dedup.MAX_COLOUR
    assert dedup.greedy(sigs, 8, 0.8) == {}
    again = dedup.signature(2, "x", _page("Weekly orders!"), "t", "d")
    assert dedup.greedy([*sigs, again], 8, 0.8) == {2: "image"}


def test_greedy_keeps_the_first_of_each_group_in_index_order():
    t1 = [f"{v:08x}" for v in dedup.minhash(dedup.shingles("Revenue by product 2021 mug 12 bowl 30 vase 7"))]
    t2 = [f"{v:08x}" for v in dedup.minhash(dedup.shingles("Patients admitted per ward Cardiology 40 Surgery 9"))]
    sigs = [{"index": 3, "dhash": "f" * 64, "minhash": t1}, {"index": 1, "dhash": "0" * 64, "minhash": t1},
            {"index": 2, "dhash": "0" * 63 + "3", "minhash": t2}, {"index": 4, "dhash": "ab" * 32, "minhash": t2}]
    assert dedup.greedy(sigs, 8, 0.8) == {2: "image", 3: "text"}  # 4 matches 2's text, but 2 was dropped
    assert dedup.greedy(sigs, -1, 0.8) == {3: "text", 4: "text"}
    assert dedup.greedy(sigs, 8, 0.0) == {2: "image"}
    assert dedup.greedy(sigs, 8, 0.8, forced=frozenset({4})) == {2: "image", 3: "text", 4: "image"}
