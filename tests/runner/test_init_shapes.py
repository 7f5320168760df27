"""The front door on export shapes the lab has never seen (issue 21).

Every generated shape (:mod:`src.data.synthetic.export_shapes`: column names in six languages
or none, four delimiters, UTF-8 / BOM / GBK / cp1252, decimal commas, a dozen date formats and
split dates, invoice lines, two files, monthly activity, keys of any type) goes through ``crm
init`` as a user would (:func:`tests.runner.shape_check.check_shape`) and then through the
product's loader: the completed revenue, bookings and customers equal the planted truth
exactly, whether ``crm init`` settled it unedited or after the flags it named. Never another
number. The share that settles unedited is stated, not asserted above what was measured.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.runner.shape_check import check_shape

SEEDS = range(40)
"""Shapes drawn. Measured on these seeds: 34 of 40 settle unedited, 6 after the flags named
(one of them in two rounds: an amount given as quantity x unit price then asks for the
booking key)."""

_outcomes: dict[int, str] = {}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_generated_shape_gives_its_planted_figures_or_names_the_flag(tmp_path, seed):
    outcome = check_shape(tmp_path, seed)
    _outcomes[seed] = outcome.settled
    assert outcome.figures == outcome.truth, (outcome.shape.drawn, outcome.flags)


def test_most_generated_shapes_settle_unedited():
    """Over the seeds run in this process (the test above, same worker): at least 3 in 4
    settle without a flag. Names in no language are drawn for 3 in 10 columns of some
    shapes, so a few must ask."""
    if len(_outcomes) < len(SEEDS):
        for seed in SEEDS:  # this test ran alone or on another worker than the shapes
            if seed not in _outcomes:
                with tempfile.TemporaryDirectory() as d:
                    _outcomes[seed] = check_shape(Path(d), seed).settled
    unedited = sum(s == "unedited" for s in _outcomes.values())
    assert unedited >= 0.75 * len(SEEDS), _outcomes
    assert unedited < len(SEEDS), "no shape needed a flag: the generator draws too easy names"
