"""Label errors: which given labels are probably wrong, and what they should have been.

:func:`find_label_errors` combines several signals into one posterior probability that an item's
given label is wrong (the suspicion ``score``), a ``suggested_label`` and an ``is_error``
decision:

- **model probabilities** (``pred_probs``, ideally out-of-fold; or fitted here with
  cross-validation over any scikit-learn classifier when only ``features`` are given). The noise
  matrix ``T[i, j] = P(given = i | true = j)`` is fitted by EM together with a temperature that
  calibrates the probabilities, both by maximum likelihood of the given labels; the posterior
  ``P(true | item, given) ∝ Q(true | item) T'[given, true]`` gives each item's error probability
  (``T'``: ``T`` with each true class's flip rate spread evenly over the other labels, so that
  pairs of similar classes do not crowd the top with ambiguous items).
  Confident learning runs on the calibrated probabilities: per-class thresholds, the calibrated
  confident joint (``attrs['confident_joint']``) and its estimate of the number of wrong labels
  per class (``attrs['cl_n_errors']``); ``decision='noise_rate'`` prunes by that estimated
  noise rate (per given class, its estimated number of errors, most suspect first);
- **nearest neighbours** in embedding space: the label distribution among each item's
  neighbours, combined with the model as a product of experts whose weights are chosen the same
  way; with features, a cross-validated model of our own (logistic regression with ``C=4`` by
  default, out-of-fold probabilities averaged over 3 fold splits) joins the given probabilities,
  and two more rounds re-fit it and the neighbour vote on the items that the previous round did
  not flag (so suspect labels stop teaching the detector);
- **several answers per item** (``votes``): the aggregation posterior of the crowd answers
  (Dawid-Skene by default, from :mod:`labelloop.aggregate`) joins the product of experts, and
  the share of answers that disagree with the given label is reported;
- **multi-label**: each tag is checked as its own binary problem (with features only, tags that
  fewer than ``MIN_TAG_ITEMS`` items carry, or lack, are not checked: ``attrs['unchecked_tags']``);
  an item's score is its most suspect tag's error probability.

The default ``is_error`` decision (``decision='expected_f1'``) flags the N most suspect items where
N maximises the expected F1 under the posterior (an item's error probability is its expected
contribution to the true positives); on the label-error benchmark it beat pruning by noise rate
in 7 of 9 cells (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import EmptyInputError, InputError, SchemaError
from labelloop.quality import _kernels as K

MIN_SCORE = 0.1
#: multi-label without probabilities: tags carried (or not carried) by fewer items are not checked
MIN_TAG_ITEMS = 10
#: single-label with features: cross-validation is repeated over this many fold splits and the
#: out-of-fold probabilities averaged (one split's luck of the draw moves the ranking otherwise)
CV_REPEATS = 3
#: single-label with features, default model: logistic regression this much less regularised
#: than scikit-learn's default (C=1 leaves normalised sentence embeddings underfitted)
DETECTOR_C = 4.0
#: with features and ``refit``: rounds that re-fit the model and the neighbour vote without the
#: previous round's suspects (each round's cleaner training set sharpens the next ranking)
REFIT_ROUNDS = 2


# ---------------------------------------------------------------------------------- public API
def find_label_errors(
    labels: Any,
    *,
    pred_probs: Any = None,
    features: Any = None,
    random_state: int | None = 0,
    classes: Sequence[Any] | None = None,
    votes: Any = None,
    model: Any = None,
    cv: int = 5,
    n_neighbors: int = 10,
    metric: str = "cosine",
    refit: bool = True,
    min_score: float = MIN_SCORE,
    decision: str = "expected_f1",
) -> pd.DataFrame:
    """Score every item's given label: how likely it is wrong, and what it should be.

    Parameters
    ----------
    labels
        The given labels, one per item: class values (single-label), or for multi-label a list
        of tags per item or a binary items x tags indicator matrix (then ``classes`` names the
        tags). A pandas Series keeps its index in the result.
    pred_probs
        [n_items, n_classes] predicted probabilities, columns in ``classes`` order (default: the
        sorted distinct labels). Out-of-fold probabilities give honest results. For multi-label,
        [n_items, n_tags] independent per-tag probabilities.
    features
        [n_items, n_features] embeddings or features. Used for the nearest-neighbour signal and,
        when ``pred_probs`` is missing, to fit a cross-validated ``model``.
    random_state
        Seed of the cross-validation folds.
    classes
        The class (or tag) order of ``pred_probs`` columns; may include classes nobody used.
    votes
        Several answers per item: an answers DataFrame (``task, worker, label``; task = the
        item's index value in ``labels``), a :class:`~labelloop.votes.VoteMatrix`, or a fitted
        aggregator. Single-label only.
    model
        A scikit-learn classifier with ``predict_proba`` for the cross-validated probabilities
        (default: logistic regression, ``C=4`` for single-label data). Single-label data fit it
        ``CV_REPEATS`` times per round (different fold splits, probabilities averaged).
    cv, n_neighbors, metric
        Folds of the cross-validation; neighbours per item and their distance (``cosine`` or
        ``euclidean``).
    refit
        With features: re-fit the model and the neighbour vote without the previous round's
        suspects (``REFIT_ROUNDS`` rounds for single-label data).
    min_score
        Never flag an item whose error probability is below this.
    decision
        ``expected_f1`` (default): flag the top-N by score, N maximising the expected F1;
        ``noise_rate``: confident learning's prune by noise rate (single-label only).

    Returns
    -------
    DataFrame, one row per item (same order and index as ``labels``):
    ``given_label``, ``suggested_label`` (the given label when it is not an error; else the most
    likely other class), ``score`` (probability that the given label is wrong, the ranking key),
    ``is_error``, ``p_given`` and ``p_suggested`` (posterior of those labels), ``rank`` (1 = most
    suspect); with features ``knn_disagreement`` (share of neighbours with another label); with
    votes ``vote_disagreement`` and ``aggregate_label``; multi-label adds ``issues`` (``+tag``
    missing, ``-tag`` wrongly given) and returns label sets. ``result.attrs`` holds the
    estimated ``noise_matrix`` (DataFrame given x true), ``n_errors_estimate`` and ``weights``.

    Examples
    --------
    >>> errs = find_label_errors(df["label"], pred_probs=oof_probs)           # doctest: +SKIP
    >>> errs.sort_values("score", ascending=False).head(20)                   # doctest: +SKIP
    >>> find_label_errors(y, features=embeddings).query("is_error")           # doctest: +SKIP
    """
    index, values, multi = _labels_input(labels)
    n = len(values) if not isinstance(values, np.ndarray) else values.shape[0]
    if n == 0:
        raise EmptyInputError("labels is empty: give one label per item")
    F = _features_input(features, n)
    if cv < 2:
        raise InputError(f"cv must be at least 2 folds, got {cv}")
    if n_neighbors < 1:
        raise InputError(f"n_neighbors must be at least 1, got {n_neighbors}")
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    if decision not in ("expected_f1", "noise_rate"):
        raise InputError(f"decision must be 'expected_f1' or 'noise_rate', got {decision!r}")
    if pred_probs is None and F is None and votes is None:
        raise InputError(
            "give pred_probs (out-of-fold predicted probabilities), features (embeddings; a "
            "cross-validated model is then fitted), or both"
        )
    opts = dict(model=model, cv=cv, n_neighbors=n_neighbors, metric=metric, refit=refit,
                random_state=random_state, min_score=min_score)
    if multi:
        if decision != "expected_f1":
            raise InputError("decision='noise_rate' is for single-label data; multi-label uses expected_f1")
        if votes is not None:
            raise InputError("votes are supported for single-label data only; aggregate multi-label answers first")
        tags, Y = _multi_codes(values, classes)
        P = None if pred_probs is None else _probs_input(pred_probs, n, len(tags), multi=True)
        return _multi_label(index, tags, Y, P, F, **opts)
    cls, y = _single_codes(values, classes, pred_probs)
    P = None if pred_probs is None else _probs_input(pred_probs, n, len(cls), multi=False)
    A = None
    if votes is not None:
        A, vote_counts, agg_label = _vote_signals(votes, index, cls)
    out = _single_label(y, len(cls), P, F, A, **opts)
    C = K.confident_joint(y, out["Q"])
    out["confident_joint"] = C
    if decision == "noise_rate":
        out["flags"] = K.prune_by_noise_rate(y, out["e"], C)
    frame = _frame(index, cls, y, out)
    if votes is not None:
        tot = vote_counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["vote_disagreement"] = 1.0 - vote_counts[np.arange(n), y] / tot
        frame["aggregate_label"] = agg_label
    return frame


# ---------------------------------------------------------------------------------- core
def _single_label(y, k, P, F, A, *, model, cv, n_neighbors, metric, refit, random_state, min_score):
    """Trusted inputs: codes ``y``, optional probs ``P``, features ``F``, vote posterior ``A``."""
    from labelloop.progress import progress

    n = y.shape[0]
    steps = (F is not None) * (2 + REFIT_ROUNDS * bool(refit)) + 1
    bar = progress(total=steps, desc="label errors", unit="step")
    model = _detector_model(model)
    sources: list[np.ndarray] = []
    knn_dis = None
    neigh = None
    if P is not None:
        sources.append(P)
    if F is not None:
        # our own model joins the given probabilities even in the first round: the first round
        # decides which items the second one learns without
        sources.append(out_of_fold_probs(F, y, n_classes=k, model=model, cv=cv, random_state=random_state,
                                         repeats=CV_REPEATS))
        bar.update(1)
        neigh = _neighbors(F, n_neighbors, metric)
        Kp = K.knn_label_probs(neigh, y, k)
        knn_dis = _disagreement(neigh, y)
        sources.append(Kp)
        bar.update(1)
    if A is not None:
        sources.append(A)
    post, Q, T, w = K.calibrated_posterior(y, sources)
    e = 1.0 - post[np.arange(n), y]
    flags = K.expected_f1_cut(e, min_score=min_score)
    for _ in range(REFIT_ROUNDS if F is not None and refit else 0):
        if not 0 < flags.sum() < n:
            break
        keep = ~flags
        second: list[np.ndarray] = []
        if P is not None:
            second.append(P)
        second.append(out_of_fold_probs(F, y, n_classes=k, model=model, cv=cv, random_state=random_state,
                                        train_mask=keep, repeats=CV_REPEATS))
        neigh2 = _neighbors(F, n_neighbors, metric, keep=keep)
        second.append(K.knn_label_probs(neigh2, y, k))
        if A is not None:
            second.append(A)
        post, Q, T, w = K.calibrated_posterior(y, second)
        e = 1.0 - post[np.arange(n), y]
        flags = K.expected_f1_cut(e, min_score=min_score)
        bar.update(1)
    bar.update(1)
    bar.close()
    return {"post": post, "Q": Q, "e": e, "flags": flags, "T": T, "weights": w, "knn_disagreement": knn_dis}


def _frame(index, classes, y, out) -> pd.DataFrame:
    post, e, flags = out["post"], out["e"], out["flags"]
    n = y.shape[0]
    other = post.copy()
    other[np.arange(n), y] = -1.0
    alt = other.argmax(axis=1)
    best = post.argmax(axis=1)
    sugg = np.where(flags, np.where(best != y, best, alt), y)
    cls = np.asarray(classes, dtype=object)
    frame = pd.DataFrame(
        {
            "given_label": cls[y],
            "suggested_label": cls[sugg],
            "score": e,
            "is_error": flags,
            "p_given": post[np.arange(n), y],
            "p_suggested": post[np.arange(n), sugg],
        },
        index=index,
    )
    frame["rank"] = _ranks(e)
    if out.get("knn_disagreement") is not None:
        frame["knn_disagreement"] = out["knn_disagreement"]
    T = out["T"]
    frame.attrs["noise_matrix"] = pd.DataFrame(T, index=pd.Index(classes, name="given"), columns=pd.Index(classes, name="true"))
    frame.attrs["n_errors_estimate"] = float(e.sum())
    C = out["confident_joint"]
    frame.attrs["confident_joint"] = pd.DataFrame(C, index=pd.Index(classes, name="given"), columns=pd.Index(classes, name="true"))
    frame.attrs["cl_n_errors"] = float(C.sum() - np.trace(C))
    frame.attrs["weights"] = out["weights"]
    frame.attrs["classes"] = list(classes)
    return frame


def _ranks(e: np.ndarray) -> np.ndarray:
    order = np.argsort(-e, kind="stable")
    r = np.empty(e.shape[0], dtype=np.int64)
    r[order] = np.arange(1, e.shape[0] + 1)
    return r


def _multi_label(index, tags, Y, P, F, *, model, cv, n_neighbors, metric, refit, random_state, min_score):
    """Each tag as a binary problem; the cut is taken over all (item, tag) pairs together."""
    n, t = Y.shape
    E = np.zeros((n, t))
    neigh = _neighbors(F, n_neighbors, metric) if F is not None else None
    from labelloop.progress import progress

    counts = Y.sum(axis=0)
    # a tag needs MIN_TAG_ITEMS items with it and without it before anything can contradict it
    checked = (np.minimum(counts, n - counts) >= MIN_TAG_ITEMS) if P is None else np.ones(t, dtype=bool)
    for j in progress(np.flatnonzero(checked), desc="label errors per tag", unit="tag"):
        yj = Y[:, j]
        srcs = []
        if P is not None:
            pj = np.clip(P[:, j], 1e-6, 1 - 1e-6)
            srcs.append(np.column_stack([1 - pj, pj]))
        if F is not None:
            if P is None:
                srcs.append(out_of_fold_probs(F, yj, n_classes=2, model=model, cv=cv, random_state=random_state))
            srcs.append(K.knn_label_probs(neigh, yj, 2))
        post, _, _, _ = K.calibrated_posterior(yj, srcs)
        E[:, j] = 1.0 - post[np.arange(n), yj]
    flat = K.expected_f1_cut(E.ravel(), min_score=min_score).reshape(n, t)
    score = E.max(axis=1)
    tags_arr = np.asarray(tags, dtype=object)
    given, sugg, issues = [], [], []
    for i in range(n):
        g = Y[i].astype(bool)
        s = g ^ flat[i]
        given.append(list(tags_arr[g]))
        sugg.append(list(tags_arr[s]))
        issues.append([("-" if g[j] else "+") + str(tags_arr[j]) for j in np.flatnonzero(flat[i])])
    frame = pd.DataFrame(
        {
            "given_label": given,
            "suggested_label": sugg,
            "score": score,
            "is_error": flat.any(axis=1),
            "issues": issues,
        },
        index=index,
    )
    frame["rank"] = _ranks(score)
    frame.attrs["tag_scores"] = pd.DataFrame(E, index=index, columns=list(tags))
    frame.attrs["unchecked_tags"] = [tg for tg, c in zip(tags, checked, strict=True) if not c]
    frame.attrs["n_errors_estimate"] = float(E.sum())
    frame.attrs["classes"] = list(tags)
    return frame


# ---------------------------------------------------------------------------------- signals
def out_of_fold_probs(
    features: Any,
    labels: Any,
    *,
    n_classes: int | None = None,
    model: Any = None,
    cv: int = 5,
    random_state: int | None = 0,
    train_mask: np.ndarray | None = None,
    repeats: int = 1,
) -> np.ndarray:
    """Cross-validated (out-of-fold) ``predict_proba`` of any scikit-learn classifier.

    ``labels`` are int codes in ``[0, n_classes)``. Each item's probabilities come from a model
    that never saw it; ``train_mask`` limits what the models train on (e.g. items not suspected).
    Classes missing from a training fold get probability 0 there (then smoothed). ``repeats`` > 1
    averages the probabilities over that many different fold splits (``repeats`` times the fits).
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    F = features
    y = np.asarray(labels, dtype=np.int64)
    n = y.shape[0]
    k = int(n_classes if n_classes is not None else y.max() + 1)
    mask = np.ones(n, dtype=bool) if train_mask is None else np.asarray(train_mask, dtype=bool)
    if model is None:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=1000)
    if not hasattr(model, "predict_proba"):
        raise InputError(f"model {type(model).__name__} has no predict_proba; use a probabilistic classifier")
    counts = np.bincount(y, minlength=k)
    folds = int(min(cv, n))
    if folds < 2:
        raise InputError("need at least 2 items to cross-validate a model")
    if counts.max() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(folds, shuffle=True, random_state=random_state)
    import warnings

    if repeats < 1:
        raise InputError(f"repeats must be at least 1, got {repeats}")
    splits = []
    seeds = [random_state]
    if repeats > 1:
        # the first split is the one a single run uses; the others are derived from the same seed
        rng = np.random.default_rng(random_state)
        seeds += [int(x) for x in rng.integers(0, 2**31 - 1, size=repeats - 1)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        for seed in seeds:
            splitter.random_state = seed
            splits += list(splitter.split(np.zeros((n, 1)), y))
    out = np.zeros((n, k))
    for tr, te in splits:
        tr = tr[mask[tr]]
        present = np.unique(y[tr])
        if present.size == 0:
            out[te] += counts / counts.sum()
            continue
        if present.size == 1:
            out[np.ix_(te, present)] += 1.0
            continue
        m = clone(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(F[tr], y[tr])
            pr = m.predict_proba(F[te])
        out[np.ix_(te, np.asarray(m.classes_, dtype=np.int64))] += pr
    out = out / len(seeds) + 1e-6
    return out / out.sum(axis=1, keepdims=True)


def _detector_model(model):
    """The caller's model, or the default logistic regression of the single-label detector."""
    if model is not None:
        return model
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=DETECTOR_C, max_iter=1000)


def _neighbors(F, n_neighbors: int, metric: str, *, keep: np.ndarray | None = None) -> np.ndarray:
    """[n, m] indices of each item's nearest other items (among ``keep``), -1 padded."""
    from sklearn.neighbors import NearestNeighbors

    n = F.shape[0]
    ids = np.arange(n) if keep is None else np.flatnonzero(keep)
    m = min(n_neighbors + 1, ids.shape[0])
    out = np.full((n, n_neighbors), -1, dtype=np.int64)
    if m == 0:
        return out
    X = F
    if metric == "cosine":
        norms = np.linalg.norm(F, axis=1, keepdims=True)
        X = F / np.maximum(norms, 1e-12)
    nn = NearestNeighbors(n_neighbors=m).fit(X[ids])
    _, ind = nn.kneighbors(X)
    ind = ids[ind]
    not_self = ind != np.arange(n)[:, None]
    # keep the first n_neighbors entries that are not the item itself
    pos = np.cumsum(not_self, axis=1) - 1
    take = not_self & (pos < n_neighbors)
    r, c = np.nonzero(take)
    out[r, pos[r, c]] = ind[r, c]
    return out


def _disagreement(neigh: np.ndarray, y: np.ndarray) -> np.ndarray:
    valid = neigh >= 0
    lab = y[np.where(valid, neigh, 0)]
    diff = (lab != y[:, None]) & valid
    return diff.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def _vote_signals(votes: Any, index: pd.Index, classes: list[Any]):
    """Aggregation posterior aligned with the items, answer counts per class (NaN rows where
    an item has no answers), and the consensus label."""
    from labelloop.aggregate import Aggregator, DawidSkene, as_vote_matrix
    from labelloop.votes import VoteMatrix

    agg = None
    if isinstance(votes, Aggregator):
        agg = votes
        if not hasattr(agg, "probas_"):
            raise InputError("votes is an aggregator that was not fitted; fit it on the answers first")
        items = list(agg.items_)
        vclasses = list(agg.classes_)
        probs = np.asarray(agg.probas_)
        vm = None
    else:
        if isinstance(votes, pd.DataFrame):
            vm = VoteMatrix.from_answers(votes)
        else:
            vm = as_vote_matrix(votes)
        import warnings

        from labelloop.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            agg = DawidSkene().fit(vm)
        items, vclasses, probs = list(vm.items), list(vm.classes), np.asarray(agg.probas_)
    n, k = len(index), len(classes)
    cmap = _class_lookup(classes)
    col = []
    for c in vclasses:
        code = cmap.get(c, cmap.get(str(c)))
        if code is None:
            raise SchemaError(f"answer label {c!r} is not one of the classes {list(classes)}")
        col.append(code)
    pos = _index_lookup(index)
    rows = np.array([pos.get(it, pos.get(str(it), -1)) for it in items], dtype=np.int64)
    if rows.size and (rows < 0).all():
        raise InputError(
            "no answer's task matches an item: the task column must hold the index values of labels "
            f"(e.g. {list(index[:3])})"
        )
    A = np.full((n, k), 1.0 / k)
    ok = rows >= 0
    Ak = np.zeros((ok.sum(), k))
    Ak[:, col] = probs[ok]
    A[rows[ok]] = 0.9 * Ak + 0.1 / k  # a soft expert: even unanimous answers can be wrong
    counts = np.full((n, k), np.nan)
    consensus = np.full(n, None, dtype=object)
    cls_arr = np.asarray(classes, dtype=object)
    consensus[rows[ok]] = cls_arr[np.asarray(col)[probs[ok].argmax(axis=1)]]
    if vm is not None:
        c = vm.class_counts()  # items x answer classes
        full = np.zeros((c.shape[0], k))
        full[:, col] = c
        counts[rows[ok]] = full[ok]
    return A, counts, consensus


def _class_lookup(classes) -> dict:
    m = {c: i for i, c in enumerate(classes)}
    m.update({str(c): i for i, c in enumerate(classes)})
    return m


def _index_lookup(index: pd.Index) -> dict:
    m = {v: i for i, v in enumerate(index.tolist())}
    m.update({str(v): i for i, v in enumerate(index.tolist())})
    return m


# ---------------------------------------------------------------------------------- validation
def _labels_input(labels: Any):
    """-> (index, values, multi). ``values``: list of labels, or a 2-D indicator array."""
    if labels is None:
        raise InputError("labels is required: one label per item")
    if isinstance(labels, pd.DataFrame):
        arr = labels.to_numpy()
        return labels.index, _indicator(arr), True
    if isinstance(labels, pd.Series):
        index = labels.index
        vals = labels.tolist()
    else:
        if isinstance(labels, np.ndarray) and labels.ndim == 2:
            return pd.RangeIndex(labels.shape[0]), _indicator(labels), True
        if isinstance(labels, str) or not hasattr(labels, "__len__"):
            raise InputError("labels must be a sequence with one label per item")
        vals = list(labels)
        index = pd.RangeIndex(len(vals))
    multi = any(isinstance(v, (list, tuple, set, frozenset, np.ndarray)) for v in vals)
    if multi:
        bad = [i for i, v in enumerate(vals) if not isinstance(v, (list, tuple, set, frozenset, np.ndarray))]
        if bad:
            raise InputError(
                f"labels mixes tag lists and single labels (item at position {bad[0]} is {vals[bad[0]]!r}); "
                "give every item a list of tags (an empty list for none)"
            )
        return index, [list(v) for v in vals], True
    missing = [i for i, v in enumerate(vals) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise InputError(
            f"labels has {len(missing)} missing values (first at position {missing[0]}); "
            "drop unlabelled items before looking for label errors"
        )
    return index, vals, False


def _indicator(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if not np.isin(arr, (0, 1, True, False)).all():
        raise InputError("a 2-D labels matrix must be a 0/1 items x tags indicator")
    return arr.astype(np.int64)


def _single_codes(values: list, classes, pred_probs) -> tuple[list, np.ndarray]:
    if classes is None:
        uniq = sorted(set(values), key=lambda v: (str(type(v)), v))
        if pred_probs is not None:
            k = np.shape(pred_probs)[1] if np.ndim(pred_probs) == 2 else None
            ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in uniq)
            if k is not None and k != len(uniq):
                if ints and min(uniq) >= 0 and max(uniq) < k:
                    uniq = list(range(k))
                else:
                    raise InputError(
                        f"pred_probs has {k} columns but labels hold {len(uniq)} distinct classes; "
                        "pass classes=[...] in the column order of pred_probs"
                    )
        classes = uniq
    classes = list(classes)
    if len(set(map(str, classes))) != len(classes):
        raise InputError(f"classes has duplicates: {classes}")
    if len(classes) < 2:
        raise InputError(f"need at least 2 classes to find label errors, got {classes}")
    lookup = _class_lookup(classes)
    y = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        c = lookup.get(v, lookup.get(str(v)))
        if c is None:
            raise SchemaError(f"label {v!r} at position {i} is not one of the classes {classes}")
        y[i] = c
    return classes, y


def _multi_codes(values, classes) -> tuple[list, np.ndarray]:
    if isinstance(values, np.ndarray):
        t = values.shape[1]
        tags = list(classes) if classes is not None else list(range(t))
        if len(tags) != t:
            raise InputError(f"classes names {len(tags)} tags but the labels matrix has {t} columns")
        return tags, values
    if classes is None:
        tags = sorted({str(x) for v in values for x in v})
    else:
        tags = [str(c) for c in classes]
    pos = {t: j for j, t in enumerate(tags)}
    Y = np.zeros((len(values), len(tags)), dtype=np.int64)
    for i, v in enumerate(values):
        for x in v:
            j = pos.get(str(x))
            if j is None:
                raise SchemaError(f"tag {x!r} of item at position {i} is not one of the tags given in classes")
            Y[i, j] = 1
    if not tags:
        raise InputError("no item has any tag: nothing to check")
    return tags, Y


def _probs_input(pred_probs: Any, n: int, k: int, *, multi: bool) -> np.ndarray:
    P = np.asarray(pred_probs, dtype=np.float64)
    if P.ndim != 2 or P.shape != (n, k):
        raise InputError(f"pred_probs must have shape ({n}, {k}) (items x {'tags' if multi else 'classes'}), got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise InputError("pred_probs holds NaN or infinite values")
    if P.min() < -1e-9 or P.max() > 1 + 1e-9:
        raise InputError("pred_probs must hold probabilities in [0, 1]")
    P = np.clip(P, 0.0, 1.0)
    if not multi:
        s = P.sum(axis=1)
        if np.any(np.abs(s - 1.0) > 1e-3):
            bad = int(np.flatnonzero(np.abs(s - 1.0) > 1e-3)[0])
            raise InputError(
                f"pred_probs rows must sum to 1 (row {bad} sums to {s[bad]:.4f}); for multi-label "
                "give labels as tag lists"
            )
        P = P / s[:, None]
    return P


def _features_input(features: Any, n: int):
    if features is None:
        return None
    import scipy.sparse as sp

    if sp.issparse(features):
        features = features.toarray()
    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2 or F.shape[0] != n:
        raise InputError(f"features must be a 2-D array with one row per item ({n} rows), got shape {F.shape}")
    if not np.all(np.isfinite(F)):
        raise InputError("features hold NaN or infinite values")
    return F
