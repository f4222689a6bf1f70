"""Dataset health of a project in the store: its labels, features and votes, gathered once.

:func:`project_data` reads what the health checks need (items, the label of each item, several
answers where they exist, features); :func:`project_label_errors` runs
:func:`~labelloop.quality.find_label_errors` on it and can put the suspects into the review
queue (``priority_reason = 'error-review'``); :func:`requeue_suspects` sends suspects back to the
annotators for more answers (``priority_reason = 'error-relabel'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import InputError

#: vote sources whose answers are a person's (or a file's) label, not a machine's guess
HUMAN_KINDS = ("human", "gold", "import")
REVIEW_REASON = "error-review"


@dataclass
class ProjectData:
    """What the health checks read from a project, aligned by item."""

    items: pd.DataFrame  # every item: item_id, external_id, text, image, ...
    labelled: pd.DataFrame  # items with a label: item_id, external_id, text, image, label
    votes: pd.DataFrame  # human/gold/import votes of labelled items (task, worker, label)
    classes: list[Any]
    multi: bool
    features: np.ndarray | None = None  # rows aligned with ``labelled``
    feature_source: str = ""
    all_votes: pd.DataFrame = field(default_factory=pd.DataFrame)


def project_data(proj, *, features: bool = True) -> ProjectData:
    """Items, one label per item (final labels, else the human/import votes), votes, features."""
    from labelloop.store import repo

    with proj.session() as s:
        items = repo.items_frame(s, proj.id)
        labels = repo.labels_frame(s, proj.id)
        votes = repo.votes_frame(s, proj.id)
    schema = proj.schema
    multi = bool(schema.is_multi)
    human = votes[votes.source_kind.isin(HUMAN_KINDS)] if len(votes) else votes
    if len(labels):
        lab = labels[["item_id", "label"]]
    elif len(human):
        lab = _labels_from_votes(human, multi)
    else:
        lab = pd.DataFrame(columns=["item_id", "label"])
    labelled = items.merge(lab, on="item_id", how="inner")
    if multi:
        labelled["label"] = labelled["label"].map(lambda v: sorted(v) if isinstance(v, list | tuple) else [str(v)])
        classes = sorted({t for v in labelled["label"] for t in v} | set(schema.classes))
    else:
        labelled["label"] = labelled["label"].astype(str)
        classes = [c for c in schema.classes if c in set(labelled["label"])] or sorted(set(labelled["label"]))
        classes += sorted(set(labelled["label"]) - set(classes))
    hv = human[human.item_id.isin(set(labelled.item_id))] if len(human) else human
    vt = pd.DataFrame({"task": hv.item_id.astype(int), "worker": hv.source.astype(str), "label": hv.label}) if len(hv) else pd.DataFrame(columns=["task", "worker", "label"])
    data = ProjectData(items=items, labelled=labelled.reset_index(drop=True), votes=vt, classes=classes, multi=multi, all_votes=votes)
    if features and len(labelled):
        data.features, data.feature_source = project_features(proj, data.labelled)
    return data


def _labels_from_votes(human: pd.DataFrame, multi: bool) -> pd.DataFrame:
    """One label per item from its votes: the most frequent answer (ties: the latest)."""
    if multi:
        last = human.groupby("item_id", sort=True)["label"].last()
        return pd.DataFrame({"item_id": last.index, "label": last.values})
    h = human.assign(label=human.label.astype(str))
    counts = h.groupby(["item_id", "label"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values(["item_id", "n"], ascending=[True, False], kind="stable")
    top = counts.drop_duplicates("item_id")
    return top[["item_id", "label"]].reset_index(drop=True)


def project_features(proj, labelled: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """Features of the labelled items: the project's stored embeddings when present (and
    current), else TF-IDF + SVD of the text, else small grey-scale thumbnails of the images."""
    ids = labelled.item_id.to_numpy()
    try:
        from labelloop.embed.project import load_vectors  # the embeddings area, when installed

        pv = load_vectors(proj)
        pos = {int(i): r for r, i in enumerate(np.asarray(pv.item_ids))}
        rows = [pos.get(int(i), -1) for i in ids]
        if rows and min(rows) >= 0:
            return np.asarray(pv.vectors, dtype=np.float64)[rows], f"embeddings ({pv.model})"
    except Exception:  # no embedding module, no embeddings yet, or stale ones: fall back
        pass
    if proj.data_type == "image" and labelled["image"].notna().all():
        return _thumbnails(labelled["image"].tolist(), proj), "16x16 grey-scale pixels"
    texts = labelled["text"].fillna("").astype(str).tolist()
    if not any(t.strip() for t in texts):
        return None, ""
    return tfidf_features(texts), "TF-IDF + SVD of the text"


def tfidf_features(texts: list[str], *, dim: int = 128, random_state: int = 0) -> np.ndarray:
    """Dense text features: word and bigram TF-IDF reduced by truncated SVD (L2-normalised)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=50_000).fit_transform(texts)
    d = min(dim, X.shape[1] - 1, X.shape[0] - 1)
    if d < 2:
        return X.toarray()
    Z = TruncatedSVD(d, random_state=random_state).fit_transform(X)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def _thumbnails(paths: list[str], proj) -> np.ndarray:
    from pathlib import Path

    from PIL import Image

    out = np.zeros((len(paths), 256))
    for i, p in enumerate(paths):
        path = Path(p)
        if not path.is_absolute():
            path = proj.dir / path
        try:
            with Image.open(path) as im:
                out[i] = np.asarray(im.convert("L").resize((16, 16)), dtype=np.float64).ravel() / 255.0
        except OSError:
            continue
    return out


def project_label_errors(
    proj,
    *,
    data: ProjectData | None = None,
    queue: bool = True,
    random_state: int = 0,
    **kwargs: Any,
) -> pd.DataFrame:
    """Label errors of a project's labelled items, most suspect first.

    Columns: ``item_id``, ``external_id``, ``text``, ``image`` and those of
    :func:`~labelloop.quality.find_label_errors`. With ``queue``, the suspects' priorities are
    set to their score with reason ``error-review`` so the review queue shows them first (items
    already sent back for re-labelling, reason ``error-relabel``, keep theirs).
    """
    from labelloop.quality.label_errors import find_label_errors

    data = data or project_data(proj)
    lab = data.labelled
    if len(lab) < 10:
        raise InputError(
            f"project '{proj.name}' has {len(lab)} labelled items; label-error detection needs at least 10 "
            "(import labels with --label-col or label more items)"
        )
    labels = pd.Series(lab["label"].tolist(), index=lab.item_id.astype(int).to_numpy())
    use_votes = bool((not data.multi) and len(data.votes) and data.votes.groupby("task").size().max() >= 2)
    if data.features is None and not use_votes:
        raise InputError(
            "the labelled items have neither text nor images to compute features from, and no item has "
            "answers from several annotators: nothing can contradict their labels"
        )
    res = find_label_errors(
        labels,
        features=data.features,
        classes=data.classes,
        votes=data.votes if use_votes else None,
        random_state=random_state,
        **kwargs,
    )
    res.index.name = "item_id"
    info = lab.set_index(lab.item_id.astype(int))[["external_id", "text", "image"]]
    out = info.join(res).reset_index()
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    out.attrs.update(res.attrs)
    out.attrs["feature_source"] = data.feature_source
    out.attrs["signals"] = [x for x, on in (("model", data.features is not None), ("neighbours", data.features is not None),
                                            ("answers", use_votes)) if on]
    if queue:
        sus = out[out.is_error]
        if len(sus):
            from sqlalchemy import select

            from labelloop.store import queue as q
            from labelloop.store import repo
            from labelloop.store.models import Item

            with proj.session() as s:
                # items already sent back for re-labelling keep their place in the queue
                relabel = set(s.scalars(select(Item.id).where(Item.project_id == proj.id, Item.priority_reason == q.REVIEW_REASON)))
                sus = sus[~sus.item_id.astype(int).isin(relabel)]
                repo.set_priorities(s, proj.id, sus.item_id.astype(int).tolist(), sus.score.astype(float).tolist(), REVIEW_REASON)
        out.attrs["queued"] = int(len(sus))
    return out


def select_suspects(errors: pd.DataFrame, *, top: int | None = None, min_score: float | None = None) -> pd.DataFrame:
    """The suspects to re-label: those with ``score >= min_score`` when given, else the flagged
    ones (``is_error``); at most the ``top`` most suspect of them when given."""
    if top is not None and top < 1:
        raise InputError(f"top must be at least 1, got {top}")
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise InputError(f"min_score must be between 0 and 1, got {min_score}")
    chosen = errors[errors.score >= min_score] if min_score is not None else errors[errors.is_error.astype(bool)]
    chosen = chosen.sort_values("score", ascending=False, kind="stable")
    return chosen.head(top) if top is not None else chosen


def requeue_suspects(proj, suspects: pd.DataFrame, *, extra_answers: int = 2) -> dict[str, int]:
    """Send ``suspects`` (rows of :func:`project_label_errors`: ``item_id``, ``score``) back to the
    labelling queue: each is served first by ``/next`` to annotators who have not answered it, until
    it has ``extra_answers`` more answers; its label is then re-aggregated from all its votes.
    See :func:`labelloop.store.queue.requeue_items`."""
    from labelloop.store.queue import QueueSettings, requeue_items

    ids = suspects.item_id.astype(int).tolist()
    scores = dict(zip(ids, suspects.score.astype(float).tolist(), strict=True))
    settings = QueueSettings.from_dict(proj.settings)
    with proj.session() as s:
        return requeue_items(s, proj.id, settings, ids, extra_answers=extra_answers, scores=scores)
