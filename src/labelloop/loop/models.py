"""Models the loop trains: any scikit-learn classifier with ``predict_proba``.

:class:`LoopClassifier` wraps an estimator so its probabilities always have one column per
class of the *task* (a model trained on a few labels may not have seen every class yet), and
so a single class in the training labels is handled (a constant prediction) instead of failing.
:class:`MultiLabelClassifier` is one-vs-rest over tags. :class:`TemperatureScaling` and
:func:`calibrate` give calibrated confidences where the router needs them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.exceptions import InputError, NotFittedError

MODELS = ("logreg", "svm", "rf", "knn", "nb")


def make_model(name: str = "logreg", *, random_state: int | None = 0) -> Any:
    """A fresh scikit-learn classifier by name.

    ``logreg`` is ``LogisticRegression(C=10, max_iter=2000)`` (the default on embeddings);
    ``svm`` a linear SVM with Platt probabilities; ``rf`` a random forest; ``knn`` 10-NN;
    ``nb`` Gaussian naive Bayes.
    """
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=10, max_iter=2000)
    if name == "svm":
        from sklearn.svm import SVC

        return SVC(kernel="linear", probability=True, random_state=random_state)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=random_state, n_jobs=1)
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=10, weights="distance")
    if name == "nb":
        from sklearn.naive_bayes import GaussianNB

        return GaussianNB()
    raise InputError(f"unknown model {name!r}; use one of {', '.join(MODELS)} or pass a scikit-learn estimator")


def resolve_model(model: Any) -> Any:
    if model is None:
        return make_model("logreg")
    if isinstance(model, str):
        return make_model(model)
    if not hasattr(model, "fit") or not hasattr(model, "predict_proba"):
        raise InputError(
            f"{type(model).__name__} is not a classifier with fit() and predict_proba(); "
            "pass a scikit-learn classifier such as LogisticRegression"
        )
    return model


class LoopClassifier:
    """A classifier whose ``predict_proba`` columns are the task's ``classes``, in order.

    ``estimator``: any scikit-learn classifier with ``predict_proba`` (cloned at each fit).
    ``classes``: every class of the task (codes or names); defaults to those seen in ``fit``.
    """

    def __init__(self, estimator: Any = None, *, classes=None):
        self.estimator = resolve_model(estimator)
        self.classes = None if classes is None else np.asarray(classes)

    def fit(self, X, y, sample_weight=None):
        from sklearn.base import clone

        X = np.asarray(X)
        y = np.asarray(y)
        if X.shape[0] != y.shape[0]:
            raise InputError(f"{X.shape[0]} rows of features but {y.shape[0]} labels")
        if y.shape[0] == 0:
            raise InputError("no labelled items to train on; label a few items first")
        self.classes_ = np.unique(y) if self.classes is None else self.classes
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise InputError(f"labels {unknown.tolist()} are not among the classes {self.classes_.tolist()}")
        present = np.unique(y)
        self.seen_ = present
        if present.size == 1:
            self.model_ = None
        else:
            self.model_ = clone(self.estimator)
            if sample_weight is None:
                self.model_.fit(X, y)
            else:
                self.model_.fit(X, y, sample_weight=np.asarray(sample_weight, dtype=np.float64))
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise NotFittedError("LoopClassifier is not fitted; call fit(X, y) first")
        X = np.asarray(X)
        P = np.zeros((X.shape[0], len(self.classes_)))
        col = {c: i for i, c in enumerate(self.classes_.tolist())}
        if self.model_ is None:
            P[:, col[self.seen_[0]]] = 1.0
            return P
        Pe = self.model_.predict_proba(X)
        for j, c in enumerate(self.model_.classes_.tolist()):
            P[:, col[c]] = Pe[:, j]
        return P

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


class MultiLabelClassifier:
    """One-vs-rest over tags: ``Y`` is an items x tags 0/1 matrix; probabilities per tag."""

    def __init__(self, estimator: Any = None, *, threshold: float = 0.5):
        self.estimator = resolve_model(estimator)
        self.threshold = threshold

    def fit(self, X, Y):
        X = np.asarray(X)
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise InputError("multi-label targets must be an items x tags 0/1 matrix aligned with X")
        self.models_ = [LoopClassifier(self.estimator, classes=[0, 1]).fit(X, Y[:, j]) for j in range(Y.shape[1])]
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "models_"):
            raise NotFittedError("MultiLabelClassifier is not fitted; call fit(X, Y) first")
        return np.column_stack([m.predict_proba(X)[:, 1] for m in self.models_])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= self.threshold).astype(np.int64)


class TemperatureScaling:
    """Fit one temperature T on held-out (probabilities, labels): softmax(log p / T).

    Keeps the ranking (and accuracy) and fixes over/under-confidence; the router's thresholds
    then mean what they say. ``y`` holds column indices into ``P``.
    """

    def fit(self, P, y):
        from scipy.optimize import minimize_scalar

        P = np.clip(np.asarray(P, dtype=np.float64), 1e-12, 1.0)
        y = np.asarray(y, dtype=np.int64)
        logp = np.log(P)

        def nll(logt):
            z = logp / np.exp(logt)
            z = z - z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))
            return float(-(z[np.arange(len(y)), y] - lse).mean())

        res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
        self.temperature_ = float(np.exp(res.x))
        return self

    def transform(self, P) -> np.ndarray:
        if not hasattr(self, "temperature_"):
            raise NotFittedError("TemperatureScaling is not fitted; call fit(P, y) first")
        z = np.log(np.clip(np.asarray(P, dtype=np.float64), 1e-12, 1.0)) / self.temperature_
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def calibrate(estimator: Any, X, y, *, method: str = "isotonic", cv: int = 3) -> Any:
    """A fitted ``CalibratedClassifierCV`` (``method`` ``isotonic`` or ``sigmoid``)."""
    from sklearn.calibration import CalibratedClassifierCV

    if method not in ("isotonic", "sigmoid"):
        raise InputError(f"unknown calibration {method!r}; use 'isotonic', 'sigmoid', or TemperatureScaling")
    return CalibratedClassifierCV(resolve_model(estimator), method=method, cv=cv).fit(np.asarray(X), np.asarray(y))
