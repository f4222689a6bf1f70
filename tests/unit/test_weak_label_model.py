"""The label model: exact small cases, planted simulations with known LF accuracies, multi-label."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelloop.exceptions import ConvergenceWarning, InputError, NotFittedError, SchemaError
from labelloop.weak import LabelModel


def _simulate(n, accs, covs, K=2, balance=None, seed=0):
    """LF j fires with prob covs[j] and then votes the truth with prob accs[j], else a random
    other class."""
    rng = np.random.default_rng(seed)
    p = np.full(K, 1.0 / K) if balance is None else np.asarray(balance)
    y = rng.choice(K, size=n, p=p)
    L = np.full((n, len(accs)), -1, dtype=np.int64)
    for j, (a, c) in enumerate(zip(accs, covs, strict=True)):
        fire = rng.random(n) < c
        right = rng.random(n) < a
        wrong = (y + rng.integers(1, K, size=n)) % K
        L[fire, j] = np.where(right[fire], y[fire], wrong[fire])
    return L, y


def _mv_accuracy(L, y, K):
    c = np.stack([(L == k).sum(1) for k in range(K)], axis=1)
    ties = c == c.max(1, keepdims=True)
    return float((ties[np.arange(len(y)), y] / ties.sum(1)).mean())


def test_planted_accuracies_are_recovered_binary():
    accs = [0.9, 0.8, 0.7, 0.65, 0.85, 0.6]
    covs = [0.6, 0.5, 0.7, 0.5, 0.4, 0.8]
    L, y = _simulate(4000, accs, covs, seed=1)
    lm = LabelModel().fit(L)
    assert np.max(np.abs(lm.accuracies_ - accs)) < 0.04
    assert np.allclose(lm.class_balance_, [0.5, 0.5], atol=0.04)
    assert lm.score(L, y) > _mv_accuracy(L, y, 2) + 0.01
    assert lm.converged_ and lm.loss_history_[-1] <= lm.loss_history_[0]


def test_planted_multiclass_with_imbalance():
    accs = [0.85, 0.75, 0.7, 0.6, 0.8]
    covs = [0.7, 0.6, 0.8, 0.9, 0.5]
    L, y = _simulate(5000, accs, covs, K=3, balance=[0.6, 0.3, 0.1], seed=2)
    lm = LabelModel().fit(L)
    assert np.max(np.abs(lm.accuracies_ - accs)) < 0.04
    assert np.allclose(lm.class_balance_, [0.6, 0.3, 0.1], atol=0.04)
    assert lm.predict_proba(L).shape == (5000, 3)
    assert lm.score(L, y) >= _mv_accuracy(L, y, 3)


def test_informative_abstain_pins_class_balance_for_one_sided_lfs():
    # spam LFs fire mostly on spam and never vote ham; a ham LF fires mostly on ham
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.4).astype(int)
    L = np.full((n, 4), -1)
    for j, (p1, p0) in enumerate([(0.5, 0.03), (0.4, 0.02), (0.3, 0.05)]):
        L[(y == 1) & (rng.random(n) < p1), j] = 1
        L[(y == 0) & (rng.random(n) < p0), j] = 1
    L[(y == 0) & (rng.random(n) < 0.4), 3] = 0
    L[(y == 1) & (rng.random(n) < 0.05), 3] = 0
    lm = LabelModel().fit(L)
    assert abs(lm.class_balance_[1] - 0.4) < 0.05
    # "some spam LF fired" is far likelier on spam than on ham (true 0.80 vs 0.10); EM explains
    # every firing by spam, so the estimates are sharper than the truth
    cc = lm.class_coverage_  # [true class, pseudo-source "some LF voted k"]
    assert cc[1, 1] > 0.75 and cc[0, 1] < 0.12 and cc[0, 0] > cc[1, 0]
    assert lm.score(L, y) > _mv_accuracy(L, y, 2) + 0.05
    # classic Dawid-Skene (abstains carry nothing) cannot tell the balance from one-sided LFs
    plain = LabelModel(abstain="missing").fit(L)
    assert plain.score(L, y) < lm.score(L, y)


def test_exact_tiny_case_and_api():
    L = np.array([[0, 0, -1], [1, 1, 1], [0, -1, 0], [1, 1, -1], [-1, -1, -1]])
    lm = LabelModel(class_balance=[0.5, 0.5]).fit(L)
    pred = lm.predict(L)
    assert pred[:4].tolist() == [0, 1, 0, 1]
    P = lm.predict_proba(L)
    assert np.allclose(P.sum(1), 1.0)
    assert lm.score(L, np.array([0, 1, 0, 1, -1])) == 1.0
    rep = lm.lf_report()
    assert list(rep.columns[:2]) == ["lf", "est_accuracy"] and len(rep) == 3


def test_class_balance_prior_moves_uncovered_items():
    L = np.array([[0, -1], [1, -1], [-1, -1], [0, 0], [1, 1]] * 20)
    lo = LabelModel(class_balance=[0.8, 0.2]).fit(L).predict_proba(np.array([[-1, -1]]))
    hi = LabelModel(class_balance=[0.2, 0.8]).fit(L).predict_proba(np.array([[-1, -1]]))
    assert lo[0, 0] > 0.5 > hi[0, 0]


def test_human_votes_and_gold_join_the_fit():
    accs, covs = [0.8, 0.75, 0.7, 0.7, 0.65], [0.5] * 5
    L, y = _simulate(2000, accs, covs, seed=4)
    rng = np.random.default_rng(5)
    H = np.full((2000, 2), -1)
    sel = rng.random(2000) < 0.3
    H[sel, 0] = np.where(rng.random(sel.sum()) < 0.95, y[sel], 1 - y[sel])
    base = LabelModel().fit(L)
    joint = LabelModel().fit(L, human=H)
    assert joint.probas_.shape == (2000, 2)
    acc_joint = float((joint.probas_.argmax(1) == y).mean())
    acc_base = float((base.probas_.argmax(1) == y).mean())
    assert acc_joint > acc_base + 0.03
    on_h = H[:, 0] >= 0
    assert (joint.probas_.argmax(1) == y)[on_h].mean() > (base.probas_.argmax(1) == y)[on_h].mean() + 0.08
    assert joint.accuracies_.shape == (7,) and joint.accuracies_[5] > 0.75  # 5 LFs, then humans
    g = np.where(rng.random(2000) < 0.1, y, -1)
    gl = LabelModel().fit(L, gold=g)
    assert np.all(gl.probas_[g >= 0].argmax(1) == y[g >= 0])
    # predict uses LF columns only
    assert joint.predict(L).shape == (2000,)


def test_multilabel_dense_3d():
    rng = np.random.default_rng(6)
    n, T = 1500, 3
    Y = (rng.random((n, T)) < [0.3, 0.2, 0.5]).astype(int)
    L = np.full((n, 4, T), -1)
    for t in range(T):
        for j in range(2):  # two unipolar LFs per tag
            fire = (Y[:, t] == 1) & (rng.random(n) < 0.7) | (Y[:, t] == 0) & (rng.random(n) < 0.05)
            L[fire, j + 2 * (t % 2), t] = 1
    lm = LabelModel().fit(L)
    assert lm.multi_label_ and lm.predict(L).shape == (n, T)
    assert lm.predict_proba(L).shape == (n, T)
    assert lm.score(L, Y) > 0.8
    # one-sided LFs: the balance leans toward uniform (see the one-sided test above)
    assert np.all(np.abs(lm.class_balance_ - Y.mean(0)) < 0.13)
    assert np.all(lm.class_balance_ > Y.mean(0) - 0.02)


def test_errors():
    with pytest.raises(NotFittedError):
        LabelModel().predict(np.zeros((2, 2), dtype=int))
    with pytest.raises(InputError, match="integer"):
        LabelModel().fit(np.array([[0.5, 1.0]]))
    with pytest.raises(InputError, match="-1"):
        LabelModel().fit(np.array([[-2, 1]]))
    with pytest.raises(SchemaError):
        LabelModel(cardinality=2).fit(np.array([[0, 2]]))
    with pytest.raises(InputError, match="class_balance"):
        LabelModel(class_balance=[0.9, 0.2]).fit(np.array([[0, 1]]))
    lm = LabelModel().fit(np.array([[0, 1], [1, 1], [0, 0]]))
    with pytest.raises(InputError, match="LFs"):
        lm.predict(np.array([[0, 1, 1]]))
    with pytest.raises(InputError, match="abstain"):
        LabelModel(abstain="maybe").fit(np.array([[0, 1]]))


def test_convergence_warning():
    L, _ = _simulate(300, [0.8, 0.7, 0.6], [0.5, 0.5, 0.5], seed=7)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lm = LabelModel(max_iter=1).fit(L)
    assert not lm.converged_ and any(issubclass(x.category, ConvergenceWarning) for x in w)


def test_multilabel_with_taxonomy_lfs_end_to_end():
    from labelloop.schema import Taxonomy
    from labelloop.weak import apply_lfs, keyword_lf, taxonomy_lfs

    tax = Taxonomy.from_records([
        {"tag": "vision", "aliases": ["cv"], "parents": []},
        {"tag": "detection", "aliases": [], "parents": ["vision"]},
        {"tag": "nlp", "aliases": ["language"], "parents": []},
    ])
    texts = ["detection of cars", "CV for robots", "language models", "detection in language", "cooking"] * 30
    lfs = taxonomy_lfs(tax) + [keyword_lf("robots", ["robots"], {"vision"})]
    out = apply_lfs(lfs, texts, task="multi")
    lm = LabelModel().fit(out)
    P = lm.predict(out)
    col = {t: k for k, t in enumerate(lm.tags_)}
    assert P[0, col["detection"]] == 1 and P[0, col["vision"]] == 1 and P[0, col["nlp"]] == 0
    assert P[1, col["vision"]] == 1 and P[1, col["detection"]] == 0
    assert P[3, col["nlp"]] == 1 and P[3, col["vision"]] == 1
    assert P[4].sum() == 0
