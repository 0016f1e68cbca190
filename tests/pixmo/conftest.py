"""Builders for PixMo records and samples used by the pixmo core tests."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pixmo.records import (
    CountPoints,
    DocsQuestions,
    PixmoAskModelAnything,
    PixmoCap,
    PixmoCapQA,
    PixmoClocks,
    PixmoCount,
    PixmoDocsCharts,
    PixmoPointExplanations,
    PixmoPoints,
    PixmoPointsEval,
    Point,
)
from pixmo.shards import Annotation, Sample, sha256_hex


def image_bytes(seed: int, size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    """A small noisy image, different for every seed."""
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def all_subset_annotations(image: bytes, url: str, width: int, height: int) -> list[Annotation]:
    """One valid annotation of every subset for one image."""
    sha = sha256_hex(image)
    mask = [[False] * 4 for _ in range(3)]
    return [
        Annotation.of(PixmoCap(image_url=url, caption="A red square on a field.", transcripts=["um a red square"])),
        Annotation.of(PixmoAskModelAnything(image_url=url, image_sha256=sha, question="What?", answer="A square.")),
        Annotation.of(PixmoCapQA(image_url=url, question="[USER] What colour? [ASSISTANT]", answer="Red.")),
        Annotation.of(PixmoPoints(image_url=url, image_sha256=sha, points=[Point(x=10.5, y=20.25), Point(x=90, y=5)],
                                  count=2, label="dog", collection_method="pointing")),
        Annotation.of(PixmoPoints(image_url=url, image_sha256=sha, points=[], count=0, label="cat",
                                  collection_method="counting")),
        Annotation.of(PixmoPointsEval(image_url=url, image_sha256=sha, label="dog", points=[Point(x=1, y=2)],
                                      masks=[mask])),
        Annotation.of(PixmoPointExplanations(
            image_url=url, image_sha256=sha, question="Where?", response="r", parsed_response="See <|POINT|>.",
            alt_text=["dog"], inline_text=["the dog"], points=[[(10.0, 20.0), (30.0, 40.0)]])),
        Annotation.of(PixmoCount(image_url=url, image_sha256=sha, count=2, label="dog",
                                 points=CountPoints(x=[1.5, float(width)], y=[2.0, float(height - 1)]))),
        Annotation.of(PixmoClocks(example_id="abc/001_2022", watchface_id="abc", watchface_name="urbane",
                                  watch_time="001_2022-05-02T07:57:39", time_format="With AM/PM",
                                  shows_seconds=True, hour_visible=7, minute_visible=57, second_visible=39,
                                  text="7:57:39 AM")),
        Annotation.of(PixmoDocsCharts(image_id="chart-1", questions=DocsQuestions(question=["Max?"], answer=["3"]))),
    ]


def make_samples(n: int, *, size: tuple[int, int] = (64, 48), start: int = 0) -> list[Sample]:
    out = []
    for i in range(start, start + n):
        img = image_bytes(i, size)
        url = f"https://example.com/img/{i}.png"
        out.append(Sample(image=img, image_url=url, annotations=all_subset_annotations(img, url, *size)))
    return out


@pytest.fixture
def samples() -> list[Sample]:
    return make_samples(6)
