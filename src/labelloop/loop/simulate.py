"""The simulator: run the whole loop on a data set whose truth is known.

:func:`simulate` splits the data (stratified on ``random_state``), picks a diverse first batch
(cold start), then, round after round, trains the model on the human-labelled pool items (plus
pseudo-labels with ``semi=True``), asks a strategy for the next batch and "labels" it: with the
truth, or through :class:`SimulatedAnnotators` (accuracy or confusion matrices, overlap,
honeypots, spammers) whose answers are aggregated. Each round records human labels, answers
used, label accuracy, test accuracy and money spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.exceptions import InputError


# ---------------------------------------------------------------------------- annotators
class SimulatedAnnotators:
    """A crowd of simulated annotators answering items whose truth is known.

    ``accuracies``: one accuracy per annotator (errors are uniform over the other classes), or
    ``confusions``: one K x K row-stochastic matrix per annotator. ``spammers`` extra annotators
    answer uniformly at random. ``overlap`` answers are collected per item, from distinct
    annotators drawn at random. ``honeypot_rate``: the share of extra answers spent on gold
    items to measure annotators (counted as answers used, not as labels); the simulator weights
    each annotator's votes by its honeypot accuracy.
    """

    def __init__(self, accuracies=None, *, confusions=None, spammers: int = 0, overlap: int = 1,
                 honeypot_rate: float = 0.0):
        if accuracies is None and confusions is None:
            accuracies = [0.9, 0.85, 0.8]
        self.accuracies = None if accuracies is None else [float(a) for a in accuracies]
        self.confusions = None if confusions is None else [np.asarray(c, dtype=np.float64) for c in confusions]
        self.spammers = int(spammers)
        self.overlap = int(overlap)
        self.honeypot_rate = float(honeypot_rate)
        if self.accuracies is not None and any(not 0.0 <= a <= 1.0 for a in self.accuracies):
            raise InputError("annotator accuracies must be in [0, 1]")
        if self.overlap < 1:
            raise InputError("overlap must be at least 1")
        if not 0.0 <= self.honeypot_rate < 1.0:
            raise InputError("honeypot_rate must be in [0, 1)")

    @property
    def n_annotators(self) -> int:
        base = len(self.accuracies) if self.accuracies is not None else len(self.confusions)
        return base + self.spammers

    def _confusion(self, a: int, K: int) -> np.ndarray:
        n_real = self.n_annotators - self.spammers
        if a >= n_real:
            return np.full((K, K), 1.0 / K)
        if self.confusions is not None:
            C = self.confusions[a]
            if C.shape != (K, K):
                raise InputError(f"confusion matrix {a} has shape {C.shape}, expected {(K, K)}")
            return C / C.sum(axis=1, keepdims=True)
        acc = self.accuracies[a]
        off = (1.0 - acc) / max(K - 1, 1)
        C = np.full((K, K), off)
        np.fill_diagonal(C, acc if K > 1 else 1.0)
        return C

    def answer(self, truth: np.ndarray, n_classes: int, rng: np.random.Generator):
        """Answers for items with the given true codes: (item_pos, annotator, label) arrays."""
        truth = np.asarray(truth, dtype=np.int64)
        A = self.n_annotators
        k = min(self.overlap, A)
        mats = [self._confusion(a, n_classes) for a in range(A)]
        items, workers, labels = [], [], []
        for i, t in enumerate(truth):
            for a in rng.choice(A, size=k, replace=False):
                items.append(i)
                workers.append(int(a))
                labels.append(int(rng.choice(n_classes, p=mats[a][t])))
        return np.asarray(items), np.asarray(workers), np.asarray(labels)


def honeypot_answers(ann: SimulatedAnnotators, n: int, n_classes: int, rng: np.random.Generator):
    """``n`` answers on gold items of random true class, from random annotators:
    (annotator, correct) arrays."""
    A = ann.n_annotators
    mats = [ann._confusion(a, n_classes) for a in range(A)]
    who = rng.integers(0, A, n)
    truth = rng.integers(0, n_classes, n)
    ans = np.array([rng.choice(n_classes, p=mats[w][t]) for w, t in zip(who, truth, strict=True)], dtype=np.int64)
    return who, ans == truth


def honeypot_weights(correct: np.ndarray, total: np.ndarray, n_classes: int) -> np.ndarray:
    """Log-odds vote weights from honeypot accuracy (Laplace-smoothed):
    log(K - 1) + log(acc / (1 - acc)), the optimal weight for an annotator whose errors are
    uniform over the other classes; 0 for an annotator no better than chance."""
    acc = (np.asarray(correct, dtype=np.float64) + 1.0) / (np.asarray(total, dtype=np.float64) + 2.0)
    w = np.log(max(n_classes - 1, 1)) + np.log(acc / (1.0 - acc))
    return np.maximum(w, 0.0)


def weighted_vote(items, workers, labels, weights, n_items: int, n_classes: int, rng=None) -> np.ndarray:
    """Per-item label with the largest summed annotator weight; -1 for items without answers."""
    rng = np.random.default_rng(rng)
    scores = np.zeros((n_items, n_classes))
    np.add.at(scores, (items, labels), np.asarray(weights, dtype=np.float64)[workers] + 1e-9)
    has = np.bincount(items, minlength=n_items) > 0
    out = (scores + rng.random(scores.shape) * 1e-12).argmax(axis=1)
    return np.where(has, out, -1)


def majority_vote(items: np.ndarray, labels: np.ndarray, n_items: int, n_classes: int, rng=None) -> np.ndarray:
    """Per-item majority label (ties broken at random); -1 for items without answers."""
    rng = np.random.default_rng(rng)
    counts = np.zeros((n_items, n_classes))
    np.add.at(counts, (items, labels), 1.0)
    counts += rng.random(counts.shape) * 1e-3
    out = counts.argmax(axis=1)
    out[counts.sum(axis=1) < 0.5] = -1
    return out


def _aggregate(method: str, items, workers, labels, n_items: int, n_classes: int, n_workers: int):
    """Aggregated codes per item (-1 without answers) with a :mod:`labelloop.aggregate` method,
    or None if aggregation is unavailable."""
    import warnings

    try:
        from labelloop.aggregate import get_aggregator
        from labelloop.exceptions import ConvergenceWarning
        from labelloop.votes import VoteMatrix
    except ImportError:  # pragma: no cover - the aggregation package ships with labelloop
        return None
    vm = VoteMatrix(item_idx=np.asarray(items, dtype=np.int64), source_idx=np.asarray(workers, dtype=np.int64),
                    labels=np.asarray(labels, dtype=np.int64), items=np.arange(n_items, dtype=object),
                    sources=np.arange(n_workers, dtype=object), classes=list(range(n_classes)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = get_aggregator(method).fit(vm)
    out = np.full(n_items, -1, dtype=np.int64)
    pos = np.asarray(getattr(est, "items_", np.arange(n_items)), dtype=np.int64)
    out[pos] = np.asarray(est.codes_, dtype=np.int64)
    has = np.bincount(np.asarray(items, dtype=np.int64), minlength=n_items) > 0
    return np.where(has, out, -1)


# ---------------------------------------------------------------------------- cost
@dataclass
class CostRates:
    """Prices for turning answers into money (see :mod:`labelloop.loop.cost`)."""

    annotator_hourly: float = 10.0
    seconds_per_label: float = 20.0

    def per_answer(self) -> float:
        return self.annotator_hourly * self.seconds_per_label / 3600.0


# ---------------------------------------------------------------------------- result
@dataclass
class SimulationResult:
    strategy: str
    curve: list[list[float]]
    full_accuracy: float
    rounds: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def labels_to_reach(self, fraction: float = 0.98) -> int | None:
        """Human labels at the first round whose test accuracy reaches ``fraction`` x full."""
        return labels_to_reach(self.curve, fraction * self.full_accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "curve": self.curve,
            "full_accuracy": self.full_accuracy,
            "labels_to_98": self.labels_to_reach(0.98),
            "rounds": self.rounds,
            "params": self.params,
        }


def labels_to_reach(curve, target: float) -> int | None:
    for n, acc in curve:
        if acc >= target - 1e-12:
            return int(n)
    return None


# ---------------------------------------------------------------------------- validation
def _check_xy(X, y):
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"features must be a 2-D array (items x features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise InputError("features must be numeric")
    if not np.all(np.isfinite(X)):
        raise InputError("features contain NaN or infinite values; clean or impute them first")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InputError(f"labels must be a 1-D array with one label per row of features ({X.shape[0]}), got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise InputError("labels have a single class; a classifier needs at least two")
    return X.astype(np.float64), codes.astype(np.int64), classes


def split_pool_test(codes: np.ndarray, test_size: float, random_state: int):
    """Stratified (pool, test) row positions."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise InputError(f"test size must be in (0, 1), got {test_size}")
    idx = np.arange(codes.shape[0])
    try:
        pool, test = train_test_split(idx, test_size=test_size, random_state=random_state, stratify=codes)
    except ValueError:  # a class too rare to stratify
        pool, test = train_test_split(idx, test_size=test_size, random_state=random_state)
    return np.sort(pool), np.sort(test)


# ---------------------------------------------------------------------------- the loop
def simulate(*args, **kwargs) -> SimulationResult:
    """Run the active-learning loop on (X, y) with known truth; see :func:`_simulate`."""
    from threadpoolctl import threadpool_limits

    # many small fits: multi-threaded BLAS only adds contention here
    with threadpool_limits(limits=1):
        return _simulate(*args, **kwargs)


def _simulate(
    X,
    y,
    *,
    strategy: Any = None,
    init: int = 10,
    batch: int = 10,
    budget: int = 400,
    test_size: float = 0.3,
    random_state: int = 0,
    model: Any = "logreg",
    semi: bool | Any = False,
    cold_start: str = "kmeans",
    annotators: SimulatedAnnotators | None = None,
    aggregator=None,
    rates: CostRates | None = None,
    stop_at: float | None = None,
    stop_fraction: float | None = None,
    stopping=None,
    show_progress: bool | None = None,
    on_round=None,
) -> SimulationResult:
    """Run the active-learning loop on (X, y) with known truth; see the module docstring.

    ``on_round(record, curve)`` is called after every round with that round's record and the
    curve so far (experiment tracking and notifications hook in here).

    ``budget`` is the most human-labelled items (the loop stops there or when the pool runs
    out). ``stop_at``: stop once test accuracy reaches this value; ``stop_fraction``: once it
    reaches this fraction of the full-pool accuracy (both save time in sweeps). ``stopping``: a
    :class:`~labelloop.loop.stopping.StoppingRule` checked after each round (budget = money,
    plateau of the test curve, stabilising predictions on the pool); the reason it stopped is
    in ``params["stopped"]``.
    ``aggregator(items, annotators, labels, n_items, n_classes) -> codes`` turns simulated
    answers into labels; a name picks a method: ``"mv"`` (majority vote, the default: EM methods
    estimate annotators poorly from the few hundred answers of an early loop; weighted by
    honeypot accuracy when the annotators answer honeypots) or any
    :mod:`labelloop.aggregate` name (``"onecoin"``, ``"ds"``, ...).
    """
    from labelloop.loop.models import LoopClassifier, resolve_model
    from labelloop.loop.semi import SelfTraining
    from labelloop.progress import progress
    from labelloop.select import cold_start as _cold_start
    from labelloop.select import get_strategy

    X, codes, classes = _check_xy(X, y)
    for name, v in (("init", init), ("batch", batch), ("budget", budget)):
        if int(v) < 1:
            raise InputError(f"--{name} must be at least 1, got {v}")
    strat = get_strategy(strategy, semi=bool(semi))
    strat_name = strategy if isinstance(strategy, str) else type(strat).__name__
    if strategy is None:
        from labelloop.select import default_strategy

        strat_name = default_strategy(bool(semi))
    est = resolve_model(model)
    K = classes.size
    rng = np.random.default_rng(random_state)
    rates = rates or CostRates()
    pool, test = split_pool_test(codes, test_size, random_state)
    Xp, yp, Xt, yt = X[pool], codes[pool], X[test], codes[test]
    full = LoopClassifier(est, classes=np.arange(K)).fit(Xp, yp)
    full_acc = full.score(Xt, yt)
    if stop_fraction is not None:
        stop_at = stop_fraction * full_acc - 1e-12

    labeled = np.zeros(len(pool), dtype=bool)
    got = np.full(len(pool), -1, dtype=np.int64)  # the label the loop believes (human/aggregate)
    ans_items: list[np.ndarray] = []
    ans_labels: list[np.ndarray] = []
    ans_workers: list[np.ndarray] = []
    answers_used = 0
    n_ann = 0 if annotators is None else annotators.n_annotators
    gold_total = np.zeros(n_ann, dtype=np.int64)  # honeypot answers per annotator
    gold_correct = np.zeros(n_ann, dtype=np.int64)
    budget = int(min(budget, len(pool)))

    def label(batch_idx: np.ndarray) -> None:
        nonlocal answers_used
        labeled[batch_idx] = True
        if annotators is None:
            got[batch_idx] = yp[batch_idx]
            answers_used += len(batch_idx)
            return
        it, wk, lb = annotators.answer(yp[batch_idx], K, rng)
        ans_items.append(batch_idx[it])
        ans_workers.append(wk)
        ans_labels.append(lb)
        n_ans = len(lb)
        n_gold = int(round(n_ans * annotators.honeypot_rate / (1 - annotators.honeypot_rate)))
        if n_gold:
            who, ok = honeypot_answers(annotators, n_gold, K, rng)
            np.add.at(gold_total, who, 1)
            np.add.at(gold_correct, who, ok.astype(np.int64))
        answers_used += n_ans + n_gold
        items_all = np.concatenate(ans_items)
        labels_all = np.concatenate(ans_labels)
        workers_all = np.concatenate(ans_workers)
        if aggregator is None or isinstance(aggregator, str):
            method = "mv" if aggregator is None else aggregator
            agg = None if method == "mv" else _aggregate(method, items_all, workers_all, labels_all, len(pool), K,
                                                          annotators.n_annotators)
            if agg is None and gold_total.sum() > 0:
                w = honeypot_weights(gold_correct, gold_total, K)
                agg = weighted_vote(items_all, workers_all, labels_all, w, len(pool), K, rng)
            elif agg is None:
                agg = majority_vote(items_all, labels_all, len(pool), K, rng)
        else:
            agg = np.asarray(aggregator(items_all, workers_all, labels_all, len(pool), K))
        got[labeled] = agg[labeled]

    n0 = min(int(init), budget)
    if cold_start == "random":
        first = rng.choice(len(pool), size=n0, replace=False)
    else:
        first = _cold_start(Xp, n0, method=cold_start, random_state=rng)
    label(first)
    rounds: list[dict[str, Any]] = []
    curve: list[list[float]] = []
    bar = progress(total=budget, desc=f"simulate {strat_name}", unit="label", disable=None if show_progress is None else not show_progress)
    bar.update(int(labeled.sum()))
    graph_cache = None
    history: list[np.ndarray] = []
    stopped = ""
    while True:
        li = np.flatnonzero(labeled)
        yl = got[li]
        n_pseudo = 0
        if semi:
            if graph_cache is None:
                from labelloop.loop.semi import knn_graph

                graph_cache = knn_graph(Xp, semi.k if isinstance(semi, SelfTraining) else 10)
            st = semi if isinstance(semi, SelfTraining) else SelfTraining(est)
            if st.estimator is None:
                st.estimator = est
            st.fit(Xp, li, yl, K, graph=graph_cache)
            clf = st.model_
            n_pseudo = st.n_pseudo_
        else:
            clf = LoopClassifier(est, classes=np.arange(K)).fit(Xp[li], yl)
        acc = clf.score(Xt, yt)
        n_lab = int(li.size)
        curve.append([n_lab, round(float(acc), 6)])
        rounds.append({
            "round": len(rounds),
            "human_labels": n_lab,
            "answers_used": int(answers_used),
            "label_accuracy": round(float(np.mean(got[li] == yp[li])), 6),
            "test_accuracy": round(float(acc), 6),
            "pseudo_labels": int(n_pseudo),
            "cost": round(answers_used * rates.per_answer(), 4),
        })
        if on_round is not None:
            on_round(rounds[-1], curve)
        if stopping is not None:
            history.append(clf.predict_proba(Xp).argmax(axis=1))
            stop, why = stopping.check(spent=rounds[-1]["cost"], curve=curve, history=history)
            if stop:
                stopped = why
                break
        if n_lab >= budget or labeled.all() or (stop_at is not None and acc >= stop_at):
            stopped = "budget of human labels" if n_lab >= budget else ("pool exhausted" if labeled.all() else "target reached")
            break
        unl = np.flatnonzero(~labeled)
        n = min(int(batch), budget - n_lab, unl.size)
        pick = strat.select(clf, Xp[unl], n, X_labeled=Xp[li], y_labeled=yl, random_state=rng)
        label(unl[pick])
        bar.update(len(pick))
    bar.close()
    params = {"init": int(init), "batch": int(batch), "budget": int(budget), "test_size": test_size,
              "seed": int(random_state), "semi": bool(semi) if not isinstance(semi, SelfTraining) else repr(vars(semi)), "cold_start": cold_start,
              "n_pool": int(len(pool)), "stopped": stopped, "n_test": int(len(test)), "classes": [c.item() if hasattr(c, "item") else c for c in classes]}
    return SimulationResult(strategy=str(strat_name), curve=curve, full_accuracy=round(float(full_acc), 6), rounds=rounds, params=params)
