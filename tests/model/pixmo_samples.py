"""Builders of PixMo samples (one annotation of every subset) for the model data tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pixmo.records import (
    AcademicQA,
    CountPoints,
    DocsQuestions,
    PixmoAskModelAnything,
    PixmoCap,
    PixmoCapQA,
    PixmoClocks,
    PixmoCount,
    PixmoDocsCharts,
    PixmoDocsDiagrams,
    PixmoDocsOther,
    PixmoDocsTables,
    PixmoPointExplanations,
    PixmoPoints,
    PixmoPointsEval,
    Point,
)
from pixmo.shards import Annotation, Sample, sha256_hex

CAPTION = "A red square sits on a green field next to a small blue circle. " * 20


def image_bytes(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def annotations(image: bytes, url: str, width: int, height: int) -> dict[str, Annotation]:
    sha = sha256_hex(image)
    mask = np.zeros((height, width), bool)
    mask[10:30, 5:40] = True
    many = [Point(x=float(i % 100), y=float((3 * i) % 100)) for i in range(41)]
    qs = DocsQuestions(question=["Max?", "Min?"], answer=["3", "1"])
    return {
        "cap": Annotation.of(PixmoCap(image_url=url, caption=CAPTION, transcripts=["um a red square", "a square"])),
        "ama": Annotation.of(PixmoAskModelAnything(image_url=url, image_sha256=sha, question="How many squares?",
                                                   answer="One.")),
        "capqa": Annotation.of(PixmoCapQA(
            image_url=url, question="[USER] What colour? [ASSISTANT] Red. [USER] how many circles? [ASSISTANT]",
            answer="One.")),
        "points": Annotation.of(PixmoPoints(image_url=url, image_sha256=sha, points=[Point(x=10.5, y=20.25),
                                            Point(x=90, y=5)], count=2, label="Dog", collection_method="pointing")),
        "points_none": Annotation.of(PixmoPoints(image_url=url, image_sha256=sha, points=[], count=0, label="cat",
                                                 collection_method="counting")),
        "points_many": Annotation.of(PixmoPoints(image_url=url, image_sha256=sha, points=many, count=41,
                                                 label="bird", collection_method="counting")),
        "points_eval": Annotation.of(PixmoPointsEval(image_url=url, image_sha256=sha, label="dog",
                                                     points=[Point(x=10, y=15)], masks=[mask.tolist()])),
        "explain": Annotation.of(PixmoPointExplanations(
            image_url=url, image_sha256=sha, question="Where is it?", response="r",
            parsed_response="It is <|POINT|> here.", alt_text=["dog"], inline_text=["the dog"],
            points=[[(10.0, 20.0), (30.0, 40.0)]])),
        "count": Annotation.of(PixmoCount(image_url=url, image_sha256=sha, count=2, label="Apple",
                                          points=CountPoints(x=[16.0, 80.0], y=[12.0, 60.0]))),
        "count_test": Annotation.of(PixmoCount(image_url=url, image_sha256=sha, count=5, label="apple",
                                               points=CountPoints(x=[], y=[]))),
        "clock": Annotation.of(PixmoClocks(
            example_id="abc/001_2022", watchface_id="abc", watchface_name="urbane",
            watch_time="001_2022-05-02T07:57:39", time_format="With AM/PM", shows_seconds=True, hour_visible=19,
            minute_visible=57, second_visible=39, text="7:57:39 PM")),
        "clock_none": Annotation.of(PixmoClocks(
            example_id="abc/002_2022", watchface_id="abc", watchface_name="urbane", watch_time="002_2022",
            time_format="Time not shown", shows_seconds=False, hour_visible=-1, minute_visible=-1,
            second_visible=-1, text="")),
        "charts": Annotation.of(PixmoDocsCharts(image_id="c1", questions=qs)),
        "tables": Annotation.of(PixmoDocsTables(image_id="t1", questions=qs)),
        "diagrams": Annotation.of(PixmoDocsDiagrams(image_id="d1", questions=qs)),
        "other": Annotation.of(PixmoDocsOther(image_id="o1", questions=qs)),
        "vqa2": Annotation.of(AcademicQA(image_url=url, image_sha256=sha, style="vqa2", question="What colour?",
                                         answers=["red", "dark red", "red"], source_set="vqa2")),
        "ai2d": Annotation.of(AcademicQA(image_url=url, image_sha256=sha, style="ai2_diagram",
                                         question="Which is the leaf?", answers=[], options=["stem", "leaf"],
                                         answer_idx=1, source_set="ai2_diagram")),
    }


def sample_with(names: list[str] | None = None, seed: int = 0, size: tuple[int, int] = (160, 120)) -> Sample:
    img = image_bytes(seed, size)
    url = f"https://example.com/{seed}.png"
    anns = annotations(img, url, *size)
    keep = [a for k, a in anns.items() if names is None or k in names]
    return Sample(image=img, image_url=url, annotations=keep)
