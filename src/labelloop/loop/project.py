"""The loop on a project in the store: one round the server can drive, and the project
variants of ``simulate``, ``curve`` and ``cost``.

Human labels are the votes of sources of kind ``human``, ``gold`` and ``import`` (majority per
item; the final label when aggregation wrote one). Model, propagation and labeling-function
votes are never counted as human labels. Items are embedded with
:func:`labelloop.embed.embed_project` (cached on disk under the project).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import InputError
from labelloop.loop._threads import single_threaded

HUMAN_KINDS = ("human", "gold", "import")


def _open(project):
    from labelloop.project import Project

    if isinstance(project, (str, Path)):
        return Project.open(project), True
    return project, False


def _vectors(proj, embed_model: str | None):
    from labelloop.embed import embed_project

    pv = embed_project(proj, model=embed_model)
    return np.asarray(pv.item_ids, dtype=np.int64), np.asarray(pv.vectors, dtype=np.float64), pv.model


def human_labels(proj) -> dict[int, Any]:
    """item_id -> label from human/gold/import votes (final labels win where written)."""
    from labelloop.store import repo

    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id, kinds=list(HUMAN_KINDS))
        final = repo.labels_frame(s, proj.id)
    out: dict[int, Any] = {}
    if len(votes):
        if _is_multi(proj):
            for iid, grp in votes.groupby("item_id"):
                out[int(iid)] = sorted({t for v in grp["label"] for t in (v or [])})
        else:
            v = votes.dropna(subset=["label"])
            counts = v.groupby(["item_id", "label"]).size().reset_index(name="n")
            counts = counts.sort_values(["item_id", "n", "label"], ascending=[True, False, True])
            for iid, lab in counts.drop_duplicates("item_id")[["item_id", "label"]].itertuples(index=False):
                out[int(iid)] = lab
    if len(final):
        human_items = set(votes["item_id"].astype(int)) if len(votes) else set()
        for iid, lab in final[["item_id", "label"]].itertuples(index=False):
            if int(iid) in human_items:
                out[int(iid)] = lab
    return out


def _is_multi(proj) -> bool:
    t = getattr(proj, "task", "single")
    return (t.value if hasattr(t, "value") else str(t)) == "multi"


def project_arrays(project, *, embed_model: str | None = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(vectors, labels) of the project's human-labelled items, for simulation and curves."""
    proj, close = _open(project)
    try:
        if _is_multi(proj):
            raise InputError("simulation and learning curves need a single-label project; this one is multi-label")
        labels = human_labels(proj)
        if len(labels) < 20:
            raise InputError(f"the project has {len(labels)} human-labelled items; label at least 20 first")
        ids, X, _ = _vectors(proj, embed_model)
        pos = {int(i): k for k, i in enumerate(ids)}
        keep = [i for i in labels if i in pos]
        return X[[pos[i] for i in keep]], np.asarray([str(labels[i]) for i in keep], dtype=object)
    finally:
        if close:
            proj.close()


@single_threaded
def project_curve(project, *, target: float | None = None, embed_model: str | None = "auto", model="logreg") -> dict:
    """Learning curve of the project's human labels (held-out accuracy), fitted and extrapolated."""
    from labelloop.loop.curves import fit_learning_curve, learning_curve_points

    X, y = project_arrays(project, embed_model=embed_model)
    sizes, acc = learning_curve_points(X, y, model=model)
    lc = fit_learning_curve(sizes, acc)
    out = {"labels": int(len(y)), "points": [[int(n), float(a)] for n, a in zip(sizes, acc, strict=True)],
           "fit": {"a": lc.a, "b": lc.b, "c": lc.c, "ceiling": lc.a}}
    if target is not None:
        out["labels_needed"] = lc.labels_needed(target)
    return out


@single_threaded
def project_cost(project, *, target: float = 0.95, cost=None, engineer_hours: float = 40.0, improvement: float = 0.2,
                 embed_model: str | None = "auto", model="logreg") -> dict:
    """Labels and money still needed to reach ``target`` accuracy, vs improving the model."""
    from labelloop.loop.cost import plan
    from labelloop.loop.curves import fit_learning_curve, learning_curve_points

    X, y = project_arrays(project, embed_model=embed_model)
    sizes, acc = learning_curve_points(X, y, model=model)
    lc = fit_learning_curve(sizes, acc)
    # the curve is measured on 75% training splits; the labels in hand count in full
    res = plan(lc, len(y), target, cost, engineer_hours=engineer_hours, improvement=improvement)
    res["points"] = [[int(n), float(a)] for n, a in zip(sizes, acc, strict=True)]
    return res


@single_threaded
def run_loop_round(
    project,
    *,
    strategy: Any = None,
    batch: int = 50,
    model: Any = "logreg",
    semi: bool = False,
    embed_model: str | None = "auto",
    target_precision: float = 0.99,
    random_state: int = 0,
) -> dict[str, Any]:
    """One round of the loop on a project: train, predict, route, prioritise.

    Trains on the human labels (plus pseudo-labels with ``semi``; single-label projects),
    writes the model's predictions for every item (``repo.write_predictions``) and the queue
    order of the next ``batch`` unlabelled items (``repo.set_priorities``: chosen by the query
    strategy; by diversity when there are no labels yet). With enough labels it also fits the
    router and reports the share of unlabelled items the machine could auto-accept at
    ``target_precision``. Returns a summary dict.
    """
    from labelloop.loop.models import LoopClassifier, MultiLabelClassifier
    from labelloop.select import cold_start, default_strategy, get_strategy
    from labelloop.store import repo

    proj, close = _open(project)
    try:
        ids, X, emb_name = _vectors(proj, embed_model)
        labels = human_labels(proj)
        pos = {int(i): k for k, i in enumerate(ids)}
        lab_ids = [i for i in labels if i in pos]
        lab_rows = np.asarray([pos[i] for i in lab_ids], dtype=np.int64)
        unl_rows = np.setdiff1d(np.arange(len(ids)), lab_rows)
        rng = np.random.default_rng(random_state)
        n = int(min(batch, unl_rows.size))
        summary: dict[str, Any] = {"items": int(len(ids)), "human_labels": int(len(lab_ids)), "embedding": emb_name}
        multi = _is_multi(proj)
        y = [labels[i] for i in lab_ids]
        n_classes_seen = len({tuple(v) if multi else v for v in y})
        if len(lab_ids) == 0 or (not multi and n_classes_seen < 2):
            pick = unl_rows[cold_start(X[unl_rows], n, random_state=rng)] if n else np.empty(0, dtype=np.int64)
            with proj.session() as s:
                repo.set_priorities(s, proj.id, ids[pick].tolist(), list(range(n, 0, -1)), "cold start: diversity")
            summary.update({"stage": "cold start", "queued": int(n)})
            return summary
        version = f"loop-{emb_name}-{len(lab_ids)}"
        if multi:
            tags = sorted({t for v in y for t in v})
            Y = np.array([[int(t in v) for t in tags] for v in y])
            clf = MultiLabelClassifier(model).fit(X[lab_rows], Y)
            P_all = clf.predict_proba(X)
            classes = tags
            # uncertainty for multi-label: the tag closest to 0.5
            unc = -np.abs(P_all[unl_rows] - 0.5).min(axis=1)
            order = np.argsort(-unc, kind="stable")[:n]
            pick = unl_rows[order]
            reason = "active learning: most uncertain tag"
        else:
            classes = sorted({str(v) for v in y})
            code = {c: k for k, c in enumerate(classes)}
            yc = np.asarray([code[str(v)] for v in y])
            if semi:
                from labelloop.loop.semi import SelfTraining

                all_rows = np.r_[lab_rows, unl_rows]
                st = SelfTraining(model).fit(X[all_rows], np.arange(len(lab_rows)), yc, len(classes))
                clf = st.model_
                summary["pseudo_labels"] = st.n_pseudo_
            else:
                clf = LoopClassifier(model, classes=np.arange(len(classes))).fit(X[lab_rows], yc)
            P_all = clf.predict_proba(X)
            strat = get_strategy(strategy, semi=bool(semi))
            sel = strat.select(clf, X[unl_rows], n, X_labeled=X[lab_rows], y_labeled=yc, random_state=rng)
            pick = unl_rows[sel]
            reason = f"active learning: {strategy or default_strategy(bool(semi))}"
            if len(lab_ids) >= 20 and np.bincount(yc).min() >= 2:
                from labelloop.loop.router import fit_router_cv

                router = fit_router_cv(model, X[lab_rows], yc, target_precision=target_precision)
                conf = P_all[unl_rows].max(axis=1)
                summary["router"] = router.report_.to_dict() | {"machine_share_of_unlabelled": router.coverage(conf)}
        with proj.session() as s:
            repo.write_predictions(s, proj.id, version, ids.tolist(), P_all, classes)
            repo.set_priorities(s, proj.id, ids[pick].tolist(), list(range(len(pick), 0, -1)), reason)
        summary.update({"stage": "active learning", "model_version": version, "queued": int(len(pick)),
                        "classes": [str(c) for c in classes]})
        return summary
    finally:
        if close:
            proj.close()
