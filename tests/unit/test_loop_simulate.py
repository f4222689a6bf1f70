"""The simulator on planted data, simulated annotators, the HTML report."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from labelloop.exceptions import InputError
from labelloop.loop.simulate import SimulatedAnnotators, majority_vote, simulate
from labelloop.select import DEFAULT_STRATEGY


def blobs(n=300, k=3, d=6, sep=5.0, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, sep, size=(k, d))
    y = np.repeat(np.arange(k), n // k)
    return centers[y] + rng.normal(0, 1.0, size=(y.size, d)), y


def test_curve_shape_and_full_accuracy():
    X, y = blobs()
    r = simulate(X, y, init=10, batch=10, budget=50, random_state=0, show_progress=False)
    assert [p[0] for p in r.curve] == [10, 20, 30, 40, 50]
    assert r.params["n_pool"] == 210 and r.params["n_test"] == 90
    assert 0.9 < r.full_accuracy <= 1.0
    assert r.curve[-1][1] > 0.8
    d = r.to_dict()
    assert d["full_accuracy"] == r.full_accuracy and d["labels_to_98"] == r.labels_to_reach(0.98)
    rd = d["rounds"][0]
    assert rd["human_labels"] == rd["answers_used"] == 10 and rd["label_accuracy"] == 1.0


def test_reproducible_and_split_depends_on_seed():
    X, y = blobs()
    a = simulate(X, y, budget=30, random_state=3, show_progress=False)
    b = simulate(X, y, budget=30, random_state=3, show_progress=False)
    assert a.curve == b.curve


def test_cold_start_covers_all_planted_classes():
    X, y = blobs(k=4, n=400, sep=8.0)
    r = simulate(X, y, init=4, batch=4, budget=4, random_state=0, show_progress=False)
    # 4 well-separated clusters, 4 diverse picks: a model that knows all classes
    assert r.curve[0][1] > 0.95


def test_semi_never_counts_pseudo_labels_as_human():
    X, y = blobs()
    r = simulate(X, y, budget=30, semi=True, random_state=0, show_progress=False)
    assert [x["human_labels"] for x in r.rounds] == [10, 20, 30]
    assert all(x["answers_used"] == x["human_labels"] for x in r.rounds)
    assert r.rounds[-1]["pseudo_labels"] > 0


def test_simulated_annotators_answer_with_their_accuracy():
    ann = SimulatedAnnotators([0.8], overlap=1)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 5000)
    it, wk, lab = ann.answer(truth, 4, rng)
    assert (lab == truth[it]).mean() == pytest.approx(0.8, abs=0.02)
    spam = SimulatedAnnotators([1.0], spammers=1, overlap=2).answer(truth[:2000], 4, rng)
    per_worker = {w: (spam[2][spam[1] == w] == truth[spam[0][spam[1] == w]]).mean() for w in (0, 1)}
    assert per_worker[0] == 1.0 and per_worker[1] == pytest.approx(0.25, abs=0.05)


def test_majority_vote_exact():
    items = np.array([0, 0, 0, 1, 1, 1])
    labels = np.array([2, 2, 1, 0, 0, 0])
    assert majority_vote(items, labels, 3, 3, rng=0).tolist() == [2, 0, -1]


def test_loop_with_noisy_annotators_and_overlap():
    X, y = blobs()
    ann = SimulatedAnnotators([0.9, 0.8, 0.7], overlap=3, honeypot_rate=0.1)
    r = simulate(X, y, budget=40, annotators=ann, random_state=0, show_progress=False)
    last = r.rounds[-1]
    assert last["human_labels"] == 40
    # 3 answers per item plus 10% honeypots: 120 / 0.9 = 133.3 -> per-batch rounding
    assert 130 <= last["answers_used"] <= 136
    assert 0.8 <= last["label_accuracy"] <= 1.0
    assert last["cost"] > 0


def test_input_errors():
    X, y = blobs()
    with pytest.raises(InputError, match="one label per row"):
        simulate(X, y[:-1])
    with pytest.raises(InputError, match="single class"):
        simulate(X, np.zeros(len(y)))
    with pytest.raises(InputError, match="NaN"):
        Xn = X.copy()
        Xn[0, 0] = np.nan
        simulate(Xn, y)
    with pytest.raises(InputError, match="--init"):
        simulate(X, y, init=0)
    with pytest.raises(InputError, match="unknown strategy"):
        simulate(X, y, strategy="psychic")


def test_simulate_and_report_writes_self_contained_html(tmp_path):
    from labelloop.loop.report import simulate_and_report

    X, y = blobs()
    out = simulate_and_report(X, y, tmp_path / "r.html", budget=60, show_progress=False)
    page = (tmp_path / "r.html").read_text()
    assert out["html"] == str(tmp_path / "r.html")
    assert {r["strategy"] for r in out["results"]} >= {"random", DEFAULT_STRATEGY}
    imgs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(imgs) >= 2 and base64.b64decode(imgs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page and "https://" not in page
    assert out["plan"] is not None and "advice" in out["plan"]


@pytest.mark.parametrize("agg", [None, "onecoin", "ds"])
def test_aggregation_of_simulated_answers(agg):
    # one draw of 150 items has a standard error of about .03, so judge the mean of eight draws
    # (four left the mean within .01 of the bound, moved by which items the strategy picks):
    # following the two good annotators gives about .87, a spammer-led vote far less
    X, y = blobs(n=600)
    accs = []
    for seed in range(8):
        ann = SimulatedAnnotators([0.9, 0.85], spammers=1, overlap=3)
        r = simulate(X, y, budget=150, batch=50, init=50, annotators=ann, aggregator=agg, random_state=seed, show_progress=False)
        assert r.rounds[-1]["answers_used"] == 450
        accs.append(r.rounds[-1]["label_accuracy"])
    assert np.mean(accs) >= 0.85, accs


def test_honeypot_weights_exact_and_spammer_outvoted():
    from labelloop.loop.simulate import honeypot_weights, weighted_vote

    # 9/10 right -> acc (9+1)/(10+2) = 5/6; K=3: log 2 + log 5; 3/10 on 3 classes -> chance -> 0
    w = honeypot_weights(np.array([9, 3]), np.array([10, 10]), 3)
    np.testing.assert_allclose(w, [np.log(2) + np.log(5), 0.0])
    # one trusted annotator outvotes two spammers that agree with each other
    items = np.array([0, 0, 0])
    workers = np.array([0, 1, 2])
    labels = np.array([1, 2, 2])
    assert weighted_vote(items, workers, labels, np.array([3.0, 0.5, 0.5]), 2, 3, rng=0).tolist() == [1, -1]


def test_honeypots_identify_the_good_annotator():
    # one good annotator and two spammers: without gold nothing tells them apart;
    # honeypots do, and the labels follow the good annotator
    X, y = blobs(n=600)
    ann = SimulatedAnnotators([0.95], spammers=2, overlap=3, honeypot_rate=0.2)
    r = simulate(X, y, budget=150, batch=50, init=50, annotators=ann, random_state=0, show_progress=False)
    assert r.rounds[-1]["label_accuracy"] >= 0.9
    plain = SimulatedAnnotators([0.95], spammers=2, overlap=3)
    r0 = simulate(X, y, budget=150, batch=50, init=50, annotators=plain, random_state=0, show_progress=False)
    assert r0.rounds[-1]["label_accuracy"] < 0.8


def test_stopping_rule_ends_the_loop_with_a_reason():
    from labelloop.loop.stopping import StoppingRule

    X, y = blobs(k=3, sep=8.0)
    r = simulate(X, y, budget=200, stopping=StoppingRule(window=2, kappa=0.99), random_state=0, show_progress=False)
    assert r.params["stopped"].startswith(("plateau", "predictions stable"))
    assert r.curve[-1][0] < 200
    money = simulate(X, y, budget=200, stopping=StoppingRule(budget=2.0, min_gain=-1, kappa=1.1),
                     random_state=0, show_progress=False)
    # 20 s x 10/h = 0.0556 per label: 30 labels cost 1.67, 40 cost 2.22 >= 2 -> stops at 40
    assert money.params["stopped"].startswith("budget") and money.curve[-1][0] == 40
    plain = simulate(X, y, budget=30, random_state=0, show_progress=False)
    assert plain.params["stopped"] == "budget of human labels"


def test_default_strategy_depends_on_semi():
    """No strategy named: the plain loop and the ``--semi`` loop each select with their own default,
    and the runs are those of the named strategy (same picks, same curve)."""
    from labelloop.select import DEFAULT_SEMI_STRATEGY, default_strategy, get_strategy

    X, y = blobs(n=240, k=4, sep=2.0)
    for semi, name in ((False, DEFAULT_STRATEGY), (True, DEFAULT_SEMI_STRATEGY)):
        assert default_strategy(semi) == name
        assert type(get_strategy(None, semi=semi)) is type(get_strategy(name))
        dflt = simulate(X, y, budget=40, semi=semi, random_state=1, show_progress=False)
        named = simulate(X, y, strategy=name, budget=40, semi=semi, random_state=1, show_progress=False)
        assert dflt.strategy == name and dflt.curve == named.curve
    assert DEFAULT_STRATEGY != DEFAULT_SEMI_STRATEGY
