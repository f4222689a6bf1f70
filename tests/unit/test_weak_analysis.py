"""LF analysis on fixtures whose numbers are computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import InputError
from labelloop.weak import apply_lfs, keyword_lf, lf_summary, summary_html, summary_table
from labelloop.weak.analysis import overall

# 4 items x 3 LFs. Item 0: lf0=a lf1=a; item 1: lf0=b lf1=a (conflict); item 2: lf1=b lf2=b;
# item 3: nobody.
L = np.array([[0, 0, -1], [1, 0, -1], [-1, 1, 1], [-1, -1, -1]])


def test_coverage_overlaps_conflicts_polarity_by_hand():
    df = lf_summary(L, classes=["a", "b"], lf_names=["x", "y", "z"])
    assert df.index.tolist() == ["x", "y", "z"]
    assert df["polarity"].tolist() == ["a, b", "a, b", "b"]
    assert df["coverage"].tolist() == [0.5, 0.75, 0.25]
    assert df["overlaps"].tolist() == [0.5, 0.75, 0.25]
    assert df["conflicts"].tolist() == [0.25, 0.25, 0.0]
    tot = overall(df, L)
    assert tot == {"n_items": 4, "n_lfs": 3, "coverage": 0.75, "overlaps": 0.75, "conflicts": 0.25}


def test_empirical_accuracy_with_gold_codes_labels_and_mapping():
    gold = np.array([0, 1, 1, -1])
    df = lf_summary(L, gold=gold, classes=["a", "b"])
    assert df["correct"].tolist() == [2, 2, 1]
    assert df["incorrect"].tolist() == [0, 1, 0]
    assert df["emp_accuracy"].round(4).tolist() == [1.0, 0.6667, 1.0]
    # labels instead of codes, and a partial mapping (only item 1 known)
    out = apply_lfs([keyword_lf("k", ["x"], "b")], pd.DataFrame({"id": ["p", "q"], "text": ["x", "x"]}), classes=["a", "b"])
    d2 = lf_summary(out, gold={"q": "a"})
    assert d2.loc["k", "correct"] == 0 and d2.loc["k", "incorrect"] == 1
    with pytest.raises(InputError, match="not one of the classes"):
        lf_summary(out, gold={"q": "c"})


def test_multilabel_summary():
    lfs = [keyword_lf("cv", ["image"], {"vision"}), keyword_lf("det", ["boxes"], {"vision", "detection"})]
    out = apply_lfs(lfs, pd.DataFrame({"id": [1, 2, 3], "text": ["image boxes", "image", "text"]}), task="multi")
    df = lf_summary(out, gold={1: ["vision"], 2: ["nlp"]})
    assert df["coverage"].round(4).tolist() == [0.6667, 0.3333]
    assert df["overlaps"].round(4).tolist() == [0.3333, 0.3333]
    # item 1: cv says vision=1 and det says vision=1 and detection=1; "det" is not declared by cv,
    # and cv does not vote on detection, so no conflict
    assert df["conflicts"].tolist() == [0.0, 0.0]
    assert df["correct"].tolist() == [1, 1] and df["incorrect"].tolist() == [1, 1]


def test_renderers():
    df = lf_summary(L, gold=np.array([0, 1, 1, -1]))
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(summary_table(df))
    text = console.export_text()
    assert "lf_1" in text and "66.7%" in text
    frag = summary_html(df, title="LFs <spam>")
    assert frag.startswith('<section class="lf-summary">') and "&lt;spam&gt;" in frag
    assert frag.count("<tr>") == 4 and "66.7%" in frag
