"""One contract for every query strategy: distinct in-range indices, n clipped, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import InputError, NotFittedError
from labelloop.loop.models import LoopClassifier
from labelloop.select import STRATEGIES, QueryStrategy, SeedSimilarity, get_strategy


@pytest.fixture(autouse=True)
def _single_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _data(seed=0, n=120, k=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(k, 5))
    y = rng.integers(0, k, n)
    X = centers[y] + rng.normal(0, 1.5, size=(n, 5))
    return X, y


def _all():
    out = [(name, lambda name=name: get_strategy(name)) for name in STRATEGIES]
    out.append(("seeds", lambda: SeedSimilarity(np.ones((2, 5)))))
    return out


@pytest.fixture(scope="module")
def setup():
    X, y = _data()
    lab = np.arange(0, 30)
    model = LoopClassifier("logreg", classes=np.arange(3)).fit(X[lab], y[lab])
    pool = np.arange(30, X.shape[0])
    return X, y, lab, pool, model


@pytest.mark.parametrize("name,factory", _all(), ids=[n for n, _ in _all()])
def test_contract(setup, name, factory):
    X, y, lab, pool, model = setup
    s = factory()
    assert isinstance(s, QueryStrategy)
    kw = dict(X_labeled=X[lab], y_labeled=y[lab])
    idx = s.select(model, X[pool], 7, random_state=1, **kw)
    assert idx.dtype == np.int64 and idx.shape == (7,)
    assert len(set(idx.tolist())) == 7
    assert idx.min() >= 0 and idx.max() < len(pool)
    # reproducible with the same seed
    again = s.select(model, X[pool], 7, random_state=1, **kw)
    assert np.array_equal(np.sort(idx), np.sort(again))
    # n larger than the pool: every item once
    small = X[pool[:5]]
    got = s.select(model, small, 50, random_state=0, **kw)
    assert sorted(got.tolist()) == [0, 1, 2, 3, 4]
    assert s.select(model, X[pool], 0, random_state=0, **kw).shape == (0,)
    with pytest.raises(InputError):
        s.select(model, X[pool], -1, **kw)
    with pytest.raises(InputError):
        s.select(model, X[pool], 2.5, **kw)


@pytest.mark.parametrize("name", [n for n in STRATEGIES if get_strategy(n).needs_model])
def test_model_strategies_need_a_model(name):
    X, y = _data()
    with pytest.raises(NotFittedError):
        get_strategy(name).select(None, X, 3, X_labeled=X[:10], y_labeled=y[:10])


def test_unknown_strategy_is_named():
    with pytest.raises(InputError, match="unknown strategy 'nope'"):
        get_strategy("nope")
