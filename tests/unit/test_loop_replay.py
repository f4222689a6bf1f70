"""Replay of crowd answers with dynamic overlap: a hand-made table and the real crowd data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import InputError
from labelloop.loop.replay import replay


def _mv(vm):
    counts = np.zeros((vm.n_items, vm.n_classes))
    np.add.at(counts, (vm.item_idx, vm.labels), 1.0)
    conf = counts.max(1) / np.maximum(counts.sum(1), 1)
    return counts.argmax(1), conf


def test_dynamic_overlap_on_a_tiny_table():
    # item a: 3 agreeing answers; item b: answers split 1-1, then a third decides
    answers = pd.DataFrame({
        "question": ["a", "a", "a", "b", "b", "b"],
        "worker": ["w1", "w2", "w3", "w1", "w2", "w3"],
        "answer": ["x", "x", "x", "x", "y", "y"],
    })
    truth = pd.DataFrame({"question": ["a", "b"], "truth": ["x", "y"]})
    r = replay(answers, truth, aggregator=_mv, min_answers=2, confidence=0.99, batch=1, random_state=0, show_progress=False)
    # a is unanimous after 2 answers (confidence 1) and never asked again; b is asked once more
    assert r.curve[0][0] == 4 and r.curve[-1][0] == 5
    assert r.total_answers == 6 and r.full_accuracy == 1.0
    assert r.curve[-1][1] == 1.0
    d = r.to_dict()
    assert d["answers_to_full_accuracy"] == 5 and d["share_of_answers"] == pytest.approx(5 / 6)


def test_truth_must_match_items():
    answers = pd.DataFrame({"question": [1], "worker": [1], "answer": [0]})
    with pytest.raises(InputError, match="no item of the truth"):
        replay(answers, pd.DataFrame({"question": [9], "truth": [0]}), aggregator=_mv, show_progress=False)
    with pytest.raises(InputError):
        replay(answers, pd.DataFrame({"question": [1], "truth": [0]}), min_answers=0)


@pytest.mark.slow
def test_duck_reaches_dawid_skene_on_all_with_40_percent(shared_data):
    d = shared_data / "crowd" / "duck"
    r = replay(pd.read_csv(d / "answer.csv"), pd.read_csv(d / "truth.csv"), random_state=0,
               max_answers=int(0.4 * 4212), show_progress=False)
    assert r.full_accuracy >= 0.889
    reach = r.answers_to_reach(0.889)
    assert reach is not None and reach <= 0.4 * 4212
