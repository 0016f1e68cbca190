"""Every PixMo subset becomes Molmo conversations through pixmo.formatting (docs/spec/molmo.md 6, facts 13-15)."""

from __future__ import annotations

import numpy as np
import pytest
from pixmo_samples import CAPTION, sample_with

from model.examples import HANDLERS, ExampleConfig, multiple_choice_example, sample_to_examples
from pixmo.formatting import CLOCK_NOT_SHOWN, TEMPLATES
from pixmo.formatting.prompts import NO_POINTING_PREFIXES
from pixmo.records import RECORD_TYPES


def examples(names, seed=0, **kw):
    return sample_to_examples(sample_with(names), np.random.default_rng(seed), **kw)


def test_every_subset_has_a_handler_and_examples():
    assert set(HANDLERS) == set(RECORD_TYPES)
    exs = examples(None)
    assert {e.subset for e in exs} == set(RECORD_TYPES)
    for e in exs:
        assert len(e.messages) % 2 == 0 and all(m.startswith(" ") for m in e.messages)
        assert e.messages[0].startswith(" User: ") and e.messages[0].endswith(" Assistant:")
        assert e.meta["image_size"] == (160, 120)


def test_points_pointing_and_counting_styles():
    (e,) = examples(["points"])
    assert e.style == "pointing"
    assert e.messages[1] == ' <points x1="10.5" y1="20.2" x2="90.0" y2="5.0" alt="dog">dog</points>'
    prompt = e.messages[0].removeprefix(" User: ").removesuffix(" Assistant:")
    assert prompt.removeprefix("pointing: ") in [t.replace("{label}", "dog") for t in TEMPLATES["pointing"]]
    (c,) = examples(["points"], style="point_count")
    assert c.messages[1] == ' Counting the <points x1="10.5" y1="20.2" x2="90.0" y2="5.0" alt="dog">dog</points> ' \
                            'shows a total of 2.'
    (n,) = examples(["points_none"])
    assert n.messages[1] == " There are none."


def test_annotation_style_tag_picks_the_answer_style():
    """A mixture source's style tag travels in the annotation meta (pipelines.mix) and wins over the default."""
    sample = sample_with(["points"])
    sample.annotations[0].meta["style"] = "point_count"
    (e,) = sample_to_examples(sample, np.random.default_rng(0))
    assert e.style == "point_count" and e.messages[1].startswith(" Counting the <points ")
    (o,) = sample_to_examples(sample, np.random.default_rng(0), style="pointing")  # an explicit style still wins
    assert o.style == "pointing"


def test_points_over_40_skipped_for_training_only():
    assert examples(["points_many"]) == []
    (e,) = examples(["points_many"], for_training=False)
    assert len(e.meta["points"]) == 41 and len(e.messages) == 1


def test_count_pixels_are_normalised_and_test_split_is_eval_only():
    (e,) = examples(["count"], style="point_count")
    assert e.messages[1] == ' Counting the <points x1="10.0" y1="10.0" x2="50.0" y2="50.0" alt="apple">apple</points>' \
                            ' shows a total of 2.'
    assert examples(["count_test"]) == []
    (t,) = examples(["count_test"], for_training=False)
    assert t.meta["count"] == 5 and t.style == "point_count" and len(t.messages) == 1


def test_clocks_and_docs():
    (c,) = examples(["clock"])
    assert c.messages == [" User: clocks: What time is being shown? Assistant:", " The time shown is 7:57:39 PM"]
    (n,) = examples(["clock_none"])
    assert n.messages[1] == " " + CLOCK_NOT_SHOWN and n.meta["hour"] == -1
    for name in ("charts", "tables", "diagrams", "other"):
        exs = examples([name])
        assert [e.messages for e in exs] == [
            [f" User: pixmo_docs_{name}: Max? Assistant:", " 3"], [f" User: pixmo_docs_{name}: Min? Assistant:", " 1"]]


def test_captions_pretraining_length_hint_and_transcript():
    cfg = ExampleConfig.pretraining()
    seen = set()
    for seed in range(60):
        cap, tr = examples(["cap"], seed=seed, cfg=cfg)
        assert cap.style == "long_caption" and tr.style == "transcript"
        assert tr.messages[1].strip() in ("um a red square", "a square")
        seen.add(cap.messages[0])
    hint = len(CAPTION) // 15
    assert " long_caption :" in seen  # the 10% unconditioned prefix
    nums = [int(s.split()[1][:-1]) for s in seen if s != " long_caption :"]
    assert all(abs(n - hint) <= 8 for n in nums)
    (inf, _) = examples(["cap"], cfg=cfg, for_training=False)
    assert inf.messages == [" long_caption 65:"] and inf.answer == CAPTION


def test_fine_tuning_caption_prompt_and_demo_prefix():
    prefixed = 0
    for seed in range(40):
        (e,) = examples(["cap"], seed=seed)
        body = e.messages[0].removeprefix(" User: ").removesuffix(" Assistant:")
        prefixed += body.startswith("long_caption: ")
        assert body.removeprefix("long_caption: ") in TEMPLATES["long_caption"]
    assert 0 < prefixed < 15  # about 10% get the style prefix


def test_ama_and_capqa_no_pointing_prefix():
    (a,) = examples(["ama"])
    body = a.messages[0].removeprefix(" User: ").removeprefix("user_qa: ")
    assert any(body.startswith(p) for p in NO_POINTING_PREFIXES) and body.endswith("How many squares? Assistant:")
    (q,) = examples(["capqa"])
    assert q.style == "synthetic_qa" and len(q.messages) == 4
    assert q.messages[0] == " User: synthetic_qa: What colour? Assistant:"
    assert any(q.messages[2].startswith(" User: " + p) for p in NO_POINTING_PREFIXES)
    (quirk,) = examples(["capqa"], cfg=ExampleConfig(capqa_prefix_quirk=True))
    assert quirk.messages[2] == " User: how many circles? Assistant:"
    assert any(quirk.messages[0].startswith(" User: synthetic_qa: " + p) for p in NO_POINTING_PREFIXES)


def test_point_explanations_fill_placeholders():
    (e,) = examples(["explain"])
    assert e.messages == [" User: point_qa: Where is it? Assistant:",
                          ' It is <points x1="10.0" y1="20.0" x2="30.0" y2="40.0" alt="dog">the dog</points> here.']


def test_points_eval_keeps_masks():
    (e,) = examples(["points_eval"], for_training=False)
    assert np.asarray(e.meta["masks"]).shape == (1, 120, 160) and e.meta["points"] == [(10.0, 15.0)]


def test_fact15_multiple_choice():
    e = multiple_choice_example("Which?", ["cat", "dog"], "dog", np.random.default_rng(0))
    assert e.messages == [" User: a_okvqa_mc: Which?\nA: cat\nB: dog\n Assistant:", " B"]


def test_unknown_style_kind_is_an_error():
    with pytest.raises(ValueError, match="ExampleConfig.style_kind must be one of"):
        examples(["clock"], style_kind="nope")
