"""The report's built-in sections, in page order. Each builder degrades to a sentence."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from labelloop.report.core import (
    Raw,
    ReportContext,
    Section,
    img,
    matplotlib_agg,
    register_section,
    table,
)

_NO_LABELS = "no item has a label yet: import labels (--label-col) or label some items"


def _kpis(pairs) -> str:
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><b>{html.escape(str(v))}</b>{html.escape(k)}</div>' for k, v in pairs
    ) + "</div>"


def _short(text, n: int = 160) -> str:
    t = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    return t if len(t) <= n else t[: n - 1] + "…"


def _thumb(path, proj_dir: Path) -> str:
    if path is None or (isinstance(path, float) and np.isnan(path)):
        return ""
    from PIL import Image

    p = Path(str(path))
    if not p.is_absolute():
        p = proj_dir / p
    try:
        with Image.open(p) as im:
            im = im.convert("RGB")
            im.thumbnail((64, 64))
            buf = io.BytesIO()
            im.save(buf, format="PNG")
    except OSError:
        return html.escape(str(path))
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="thumb" alt="{html.escape(p.name)}" src="data:image/png;base64,{b64}">'


def _item_cell(row, ctx: ReportContext) -> Raw:
    if ctx.proj.data_type == "image":
        return Raw(_thumb(row.get("image"), Path(ctx.proj.dir)) + " " + html.escape(str(row.get("external_id"))))
    return Raw(html.escape(_short(row.get("text"))))


# ------------------------------------------------------------------------------ overview
@register_section("overview", "Overview")
def overview(ctx: ReportContext) -> Section:
    d = ctx.data
    v = d.all_votes
    kinds = v.source_kind.value_counts().to_dict() if len(v) else {}
    pairs = [("items", len(d.items)), ("labelled items", len(d.labelled)), ("votes", len(v)),
             ("sources", int(v.source.nunique()) if len(v) else 0), ("classes" if not d.multi else "tags", len(d.classes))]
    body = _kpis(pairs)
    if kinds:
        body += '<p class="note">votes by source kind: ' + html.escape(", ".join(f"{k} {n}" for k, n in kinds.items())) + "</p>"
    if d.feature_source:
        body += f'<p class="note">features for the checks below: {html.escape(d.feature_source)}</p>'
    return Section("overview", "Overview", body, summary=dict(pairs))


# ------------------------------------------------------------------------------ classes
@register_section("classes", "Class distribution")
def class_distribution(ctx: ReportContext) -> Section:
    from labelloop.quality import class_balance

    d = ctx.data
    if not len(d.labelled):
        return Section("classes", "Class distribution", empty=_NO_LABELS)
    bal = class_balance(d.labelled["label"].tolist(), classes=None if d.multi else d.classes)
    plt = matplotlib_agg()
    shown = bal.head(30)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(shown) + 1.0))
    ax.barh([str(c) for c in shown.index][::-1], shown["count"].to_numpy()[::-1], color="#2b6cb0")
    ax.set_xlabel("items" if not d.multi else "items with the tag")
    ax.set_title("Class distribution" + (f" (top 30 of {len(bal)})" if len(bal) > 30 else ""))
    a = bal.attrs
    note = (f'<p class="note">imbalance ratio (largest / smallest) {a["imbalance_ratio"]:.1f}, normalised entropy '
            f'{a["entropy"]:.2f}. <span class="{"warn" if a["imbalance_ratio"] >= 3 else ""}">{html.escape(a["advice"])}</span></p>')
    t = bal.head(30).reset_index().rename(columns={"label": "class"})
    return Section("classes", "Class distribution", img(fig, "class distribution") + note + table(t),
                   summary={"imbalance_ratio": a["imbalance_ratio"]})


# ------------------------------------------------------------------------------ confusion
@register_section("confusion", "Model vs labels")
def confusion(ctx: ReportContext) -> Section:
    d = ctx.data
    if not len(d.labelled):
        return Section("confusion", "Model vs labels", empty=_NO_LABELS)
    if d.multi:
        return Section("confusion", "Model vs labels",
                       empty="a confusion matrix is for single-label projects; tag-level issues are listed under suspected label errors")
    if len(d.classes) > 40:
        return Section("confusion", "Model vs labels", empty=f"{len(d.classes)} classes are too many for a readable confusion matrix")
    P, how = ctx.model_probs
    y = ctx.codes
    pred = P.argmax(axis=1)
    k = len(d.classes)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    acc = float((pred == y).mean())
    plt = matplotlib_agg()
    size = min(1.0 + 0.55 * k, 12)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), [str(c) for c in d.classes], rotation=45, ha="right")
    ax.set_yticks(range(k), [str(c) for c in d.classes])
    ax.set_xlabel("model")
    ax.set_ylabel("label")
    if k <= 15:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(f"Confusion matrix (agreement {acc:.1%})")
    note = f'<p class="note">model: {html.escape(how)}. Off-diagonal cells are where model and labels disagree: label errors or hard items.</p>'
    return Section("confusion", "Model vs labels", img(fig, "confusion matrix") + note, summary={"agreement": acc})


# ------------------------------------------------------------------------------ errors
@register_section("errors", "Suspected label errors")
def label_errors(ctx: ReportContext) -> Section:
    d = ctx.data
    if not len(d.labelled):
        return Section("errors", "Suspected label errors", empty=_NO_LABELS)
    err = ctx.errors
    n_sus = int(err.is_error.sum())
    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.hist(err.score.to_numpy(), bins=40, color="#c05621")
    ax.set_yscale("log")
    ax.set_xlabel("probability that the label is wrong")
    ax.set_ylabel("items")
    ax.set_title("Suspicion scores")
    top = err.head(ctx.top)
    rows = pd.DataFrame({
        "rank": top["rank"].to_numpy(),
        "item": [str(x) for x in top.external_id],
        "content": [_item_cell(r, ctx) for r in top.to_dict("records")],
        "label": top.given_label.tolist(),
        "suggested": top.suggested_label.tolist(),
        "score": top.score.to_numpy(),
        "flagged": np.where(top.is_error, "yes", ""),
    })
    names = {"model": "a cross-validated model", "neighbours": "nearest neighbours", "answers": "the answers of several annotators"}
    signals = ", ".join(names[s] for s in err.attrs.get("signals", []))
    feats = err.attrs.get("feature_source") or ""
    note = (f'<p class="note">{n_sus} of {len(err)} labelled items flagged (expected number of wrong labels '
            f'{err.attrs.get("n_errors_estimate", float("nan")):.1f}); signals: {html.escape(signals)}'
            f'{(" on " + html.escape(feats)) if feats else ""}. '
            "Send them to review with <code>labelloop errors DIR</code>.</p>")
    per_class = ""
    if not d.multi:
        g = err.groupby("given_label", sort=False)
        pc = pd.DataFrame({
            "items": g.size(),
            "flagged": g["is_error"].sum().astype(int),
            "expected wrong": g["score"].sum(),
            "most suggested instead": g.apply(
                lambda f: f.loc[f.is_error, "suggested_label"].mode().iloc[0] if f.is_error.any() else "", include_groups=False),
        }).sort_values("expected wrong", ascending=False)
        pc.index.name = "label"
        per_class = table(pc.reset_index())
    return Section("errors", "Suspected label errors", note + img(fig, "suspicion scores") + per_class + table(rows, classes="errors"),
                   summary={"flagged": n_sus})


# ------------------------------------------------------------------------------ outliers
@register_section("outliers", "Outliers")
def outliers(ctx: ReportContext) -> Section:
    from labelloop.quality import find_outliers

    d = ctx.data
    if d.features is None or len(d.labelled) < 3:
        return Section("outliers", "Outliers", empty="needs at least 3 labelled items with features")
    o = find_outliers(d.features)
    lab = d.labelled.assign(score=o.score.to_numpy(), ratio=o.density_ratio.to_numpy(), is_outlier=o.is_outlier.to_numpy())
    top = lab.sort_values("score", ascending=False).head(min(ctx.top, 10))
    rows = pd.DataFrame({
        "item": [str(x) for x in top.external_id],
        "content": [_item_cell(r, ctx) for r in top.to_dict("records")],
        "label": top["label"].tolist(),
        "isolation": top.score.to_numpy(),
        "density ratio": top.ratio.to_numpy(),
        "outlier": np.where(top.is_outlier, "yes", ""),
    })
    n = int(o.is_outlier.sum())
    note = f'<p class="note">{n} items lie far from every other item (beyond Q3 + 3 IQR of the mean neighbour distance). The most isolated:</p>'
    return Section("outliers", "Outliers", note + table(rows), summary={"outliers": n})


# ------------------------------------------------------------------------------ labeling functions
@register_section("lfs", "Labeling functions")
def lf_summary(ctx: ReportContext) -> Section:
    d = ctx.data
    v = d.all_votes
    lf = v[v.source_kind == "lf"] if len(v) else v
    if not len(lf):
        return Section("lfs", "Labeling functions", empty="no labeling-function votes in this project (apply some with the weak-supervision commands)")
    if d.multi:
        return Section("lfs", "Labeling functions", empty="the labeling-function summary here covers single-label projects")
    items = d.items.item_id.astype(int).tolist()
    pos = {i: r for r, i in enumerate(items)}
    names = sorted(lf.source.unique())
    cls = {c: i for i, c in enumerate(d.classes)}
    for c in sorted({str(x) for x in lf.label} - set(map(str, cls))):
        cls[c] = len(cls)
    L = np.full((len(items), len(names)), -1, dtype=np.int64)
    col = {n: j for j, n in enumerate(names)}
    for it, src, lab in zip(lf.item_id, lf.source, lf.label, strict=True):
        L[pos[int(it)], col[src]] = cls.get(lab, cls.get(str(lab)))
    gold = np.full(len(items), -1, dtype=np.int64)
    for it, lab in zip(d.labelled.item_id, d.labelled.label, strict=True):
        gold[pos[int(it)]] = cls[lab]
    try:
        from labelloop.weak import lf_summary as weak_summary  # the weak-supervision area

        df = weak_summary(L, gold=gold, lf_names=names, classes=list(cls))
        source = "labelloop.weak"
    except ImportError:
        df = _lf_stats(L, gold, names)
        source = "vote statistics"
    df = df.reset_index() if df.index.name else df
    return Section("lfs", "Labeling functions",
                   f'<p class="note">{len(names)} labeling functions ({html.escape(source)}); accuracy is against the current labels.</p>' + table(df),
                   summary={"lfs": len(names)})


def _lf_stats(L: np.ndarray, gold: np.ndarray, names: list[str]) -> pd.DataFrame:
    V = L >= 0
    nv = V.sum(axis=1)
    rows = []
    for j, n in enumerate(names):
        vj = V[:, j]
        others = np.where(V, L, -1)
        conflict = vj & np.array([np.any((others[i] >= 0) & (others[i] != L[i, j])) for i in range(L.shape[0])])
        g = vj & (gold >= 0)
        rows.append({"lf": n, "coverage": vj.mean(), "overlaps": (vj & (nv > 1)).mean(), "conflicts": conflict.mean(),
                     "labelled votes": int(g.sum()), "accuracy": float((L[g, j] == gold[g]).mean()) if g.any() else float("nan")})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ learning curve
@register_section("curve", "Learning curve and cost")
def learning_curve(ctx: ReportContext) -> Section:
    d = ctx.data
    if d.multi:
        return Section("curve", "Learning curve and cost", empty="the learning curve here covers single-label projects")
    if d.features is None or len(d.labelled) < 40:
        return Section("curve", "Learning curve and cost", empty="needs at least 40 labelled items with features to fit a learning curve")
    try:
        from labelloop.loop import CostModel, fit_learning_curve, learning_curve_points, plan
    except ImportError:
        return Section("curve", "Learning curve and cost", empty="the loop module (labelloop.loop) that fits learning curves is not installed")
    sizes, scores = learning_curve_points(d.features, ctx.codes, random_state=ctx.random_state)
    curve = fit_learning_curve(sizes, scores, random_state=ctx.random_state)
    n_now = len(d.labelled)
    plt = matplotlib_agg()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(sizes, scores, "o", label="measured")
    grid = np.geomspace(max(min(sizes), 1), max(n_now * 4, max(sizes)), 100)
    ax.plot(grid, curve.predict(grid), "-", label="fitted")
    ax.axvline(n_now, color="#888", ls=":", label="labelled now")
    ax.set_xscale("log")
    ax.set_xlabel("labelled items")
    ax.set_ylabel("held-out accuracy")
    ax.legend()
    target = float(min(0.99, max(scores.max() + 0.02, 0.5)))
    body = img(fig, "learning curve")
    try:
        p = plan(curve, n_now, target, CostModel())
        flat = {k: v for k, v in p.items() if not isinstance(v, dict)}
        body += f'<p class="note">cost forecast to reach accuracy {target:.2f} (default costs):</p>' + table(pd.DataFrame([flat]))
    except Exception as exc:  # the forecast is optional beside the curve
        body += f'<p class="empty">no cost forecast: {html.escape(str(exc))}</p>'
    return Section("curve", "Learning curve and cost", body)


# ------------------------------------------------------------------------------ annotators
@register_section("annotators", "Annotators and agreement")
def annotators(ctx: ReportContext) -> Section:
    d = ctx.data
    v = d.votes
    if d.multi:
        return Section("annotators", "Annotators and agreement", empty="annotator skills here cover single-label projects")
    if not len(v) or v.groupby("task").size().max() < 2:
        return Section("annotators", "Annotators and agreement", empty="no item has answers from two or more annotators")
    import warnings

    from labelloop.aggregate import DawidSkene, agreement_summary
    from labelloop.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ds = DawidSkene().fit(v)
    skills = ds.skills_.sort_values("accuracy")
    plt = matplotlib_agg()
    shown = skills.head(30)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.0))
    ax.barh([str(s) for s in shown.index], shown["accuracy"].to_numpy(), color="#2f855a")
    ax.set_xlim(0, 1)
    ax.set_xlabel("estimated accuracy (Dawid-Skene)")
    ax.set_title("Annotator skills" + (" (30 least accurate)" if len(skills) > 30 else ""))
    agree = agreement_summary(v)
    agree_df = pd.DataFrame([agree]) if isinstance(agree, dict) else pd.DataFrame(agree)
    return Section("annotators", "Annotators and agreement",
                   img(fig, "annotator skills") + table(agree_df) + table(skills.reset_index().head(30)))


# ------------------------------------------------------------------------------ duplicates
@register_section("duplicates", "Duplicates")
def duplicates(ctx: ReportContext) -> Section:
    try:
        from labelloop.dedup import dedup_project
    except ImportError:
        return Section("duplicates", "Duplicates", empty="the duplicates module (labelloop.dedup) is not installed")
    res = dedup_project(ctx.proj)
    groups = res.get("groups", [])
    if not groups:
        return Section("duplicates", "Duplicates", empty="no duplicate or near-duplicate items found")
    text = dict(zip(ctx.data.items.external_id.astype(str), ctx.data.items.text, strict=True))
    rows = pd.DataFrame({"group": range(1, min(len(groups), ctx.top) + 1),
                         "size": [len(g) for g in groups[: ctx.top]],
                         "items": [", ".join(map(str, g[:8])) for g in groups[: ctx.top]],
                         "example": [_short(text.get(str(g[0]))) for g in groups[: ctx.top]]})
    s = res.get("summary", {})
    note = f'<p class="note">{len(groups)} groups, {s.get("items_in_groups", sum(map(len, groups)))} items in groups.</p>'
    return Section("duplicates", "Duplicates", note + table(rows), summary={"groups": len(groups)})


# ------------------------------------------------------------------------------ leakage
SPLIT_TRAIN = {"train", "training"}
SPLIT_TEST = {"test", "valid", "validation", "dev", "eval"}


@register_section("leakage", "Train/test leakage")
def leakage(ctx: ReportContext) -> Section:
    items = ctx.data.items
    fields = items["fields"] if "fields" in items.columns else pd.Series([None] * len(items))
    split = [str((f or {}).get("split", "")).strip().lower() if isinstance(f, dict) else "" for f in fields]
    split = np.array(split, dtype=object)
    train = np.flatnonzero(np.isin(split, list(SPLIT_TRAIN)))
    test = np.flatnonzero(np.isin(split, list(SPLIT_TEST)))
    if not len(train) or not len(test):
        return Section("leakage", "Train/test leakage",
                       empty="items carry no train and test split (import a 'split' column with train / test values)")
    try:
        from labelloop.dedup import leakage as find_leakage
    except ImportError:
        return Section("leakage", "Train/test leakage", empty="the duplicates module (labelloop.dedup) is not installed")
    hashes = items["content_hash"].astype(str).to_numpy()
    kw = {"train_hashes": hashes[train].tolist(), "test_hashes": hashes[test].tolist()}
    how = "equal content"
    try:
        from labelloop.embed.project import load_vectors

        pv = load_vectors(ctx.proj)
        pos = {int(i): r for r, i in enumerate(np.asarray(pv.item_ids))}
        rows = np.array([pos.get(int(i), -1) for i in items.item_id], dtype=np.int64)
        if (rows[train] >= 0).all() and (rows[test] >= 0).all():
            V = np.asarray(pv.vectors, dtype=np.float32)
            kw.update(train_vectors=V[rows[train]], test_vectors=V[rows[test]])
            how = f"equal content and {pv.model} embeddings (cosine >= 0.95)"
    except Exception:  # no embeddings: exact matches only
        pass
    found = find_leakage(**kw)
    ext = items.external_id.astype(str).to_numpy()
    if not found:
        return Section("leakage", "Train/test leakage",
                       empty=f"no test item repeats a train item ({len(test)} test vs {len(train)} train items, by {how})")
    text = items["text"].to_numpy()
    rows_df = pd.DataFrame([{
        "test item": ext[test[f["test"]]], "train item": ext[train[f["train"]]], "kind": f["kind"],
        "similarity": float(f["similarity"]), "test text": _short(text[test[f["test"]]], 100),
    } for f in found[: ctx.top]])
    note = (f'<p class="warn">{len(found)} of {len(test)} test items repeat a train item (by {html.escape(how)}): '
            "evaluation on them overstates accuracy; drop or move them.</p>")
    return Section("leakage", "Train/test leakage", note + table(rows_df), summary={"leaked": len(found)})
