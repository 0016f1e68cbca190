"""The point format follows the model family: ExampleConfig(point_format=cfg.family)."""

from __future__ import annotations

import numpy as np
from pixmo_samples import sample_with

from model.config import get_config
from model.examples import ExampleConfig, sample_to_examples


def test_molmo2_family_writes_coords_points_in_training_examples():
    cfg = ExampleConfig(point_format=get_config("molmo2-tiny").family)
    (e,) = sample_to_examples(sample_with(["points"]), np.random.default_rng(0), cfg=cfg)
    assert e.messages[1] == ' <points coords="1 1 105 202 2 900 050">dog</points>'
    (c,) = sample_to_examples(sample_with(["points"]), np.random.default_rng(0), cfg=cfg, style="point_count")
    assert c.messages[1] == ' Counting the <points coords="1 1 105 202 2 900 050">dog</points> shows a total of 2.'
    (v1,) = sample_to_examples(sample_with(["points"]), np.random.default_rng(0))
    assert v1.messages[1].startswith(' <points x1="10.5"')


def test_molmo2_refuses_v1_batches_instead_of_training_text_only():
    import pytest
    import torch

    from model.molmo import build_model

    model = build_model(get_config("molmo2-tiny"))
    with pytest.raises(ValueError, match="not a v1 batch"):
        model(torch.zeros(1, 4, dtype=torch.long), images=torch.zeros(1, 1, 16, 588))
