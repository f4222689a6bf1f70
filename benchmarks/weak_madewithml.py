"""Made With ML multi-label tagging with labeling functions: raw matching vs the label model.

LFs: one taxonomy LF per tag of ``tags.json`` (its name or any alias in the title or
description fires the tag plus its parents) and a few keyword LFs for the common project types
the taxonomy lacks (code, tutorial, article, research, library, ...). Truth: the authors' tags,
mapped through the taxonomy (aliases to tags, parents added) and restricted to the tags the LFs
can produce.

Compared, on the same LF votes:
- raw matching: a tag is assigned when any LF gives it (the union of the LF outputs);
- label model: ``LabelModel`` (one model per tag, fitted without any labels), threshold 0.5;
- label model + dev: the same, with the authors' tags of a random 10% of the projects given as
  known truths (gold) in the fit; all methods are then scored on the other 90% only.

    python benchmarks/weak_madewithml.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from labelloop.schema import Taxonomy  # noqa: E402
from labelloop.weak import LabelModel, apply_lfs, keyword_lf, taxonomy_lfs  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "madewithml"
FIELD = ("title", "description")

KEYWORDS = {
    "code": ["github", "code", "implementation", "repository", "repo", "source code"],
    "tutorial": ["tutorial", "guide", "how to", "step by step", "learn", "introduction to", "course"],
    "article": ["article", "blog", "post", "medium", "overview", "explained"],
    "research": ["paper", "arxiv", "we propose", "state of the art", "state-of-the-art", "novel"],
    "paper": ["paper", "arxiv", "we propose"],
    "library": ["library", "package", "pip install", "framework", "toolkit", "api", "open source", "open-source"],
    "notebook": ["notebook", "colab", "jupyter", "kaggle kernel"],
    "video": ["video", "youtube", "talk", "lecture", "webinar"],
    "dataset": ["dataset", "data set", "corpus"],
    "demo": ["demo", "web app", "try it"],
}


def keyword_lfs() -> list:
    return [keyword_lf(f"kw:{tag}", words, {tag}, field=FIELD) for tag, words in KEYWORDS.items()]


def prf(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = (pred & truth).sum(0).astype(float)
    fp = (pred & ~truth).sum(0).astype(float)
    fn = (~pred & truth).sum(0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return p, r, f


def micro(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = float((pred & truth).sum())
    fp = float((pred & ~truth).sum())
    fn = float((~pred & truth).sum())
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


def main() -> None:
    os.environ.setdefault("LABELLOOP_QUIET", "1")
    projects = json.loads((DATA / "projects.json").read_text())
    tax = Taxonomy.load(DATA / "tags.json")
    df = pd.DataFrame(projects)
    df["description"] = df["description"].fillna("")
    lfs = taxonomy_lfs(tax, field=FIELD) + keyword_lfs()
    t = time.perf_counter()
    out = apply_lfs(lfs, df, task="multi", id_col="id")
    apply_s = time.perf_counter() - t
    tags = list(out.classes)
    pos = {x: k for k, x in enumerate(tags)}
    n = len(df)
    Y = np.zeros((n, len(tags)), dtype=bool)
    for i, ts in enumerate(df["tags"]):
        for x in tax.expand(ts, unknown="keep"):
            if x in pos:
                Y[i, pos[x]] = True
    raw = np.zeros_like(Y)
    for col in out.sets:
        for i, s in enumerate(col):
            if s:
                raw[i, [pos[x] for x in s]] = True
    votes = out.votes()

    t = time.perf_counter()
    lm = LabelModel(task="multi").fit(votes)
    fit_s = time.perf_counter() - t
    unsup = lm.predict(votes).astype(bool)

    rng = np.random.default_rng(0)
    dev = rng.random(n) < 0.10
    G = np.where(dev[:, None], Y.astype(np.int64), -1)
    t = time.perf_counter()
    lm_dev = LabelModel(task="multi").fit(votes, gold=G)
    fit_dev_s = time.perf_counter() - t
    with_dev = lm_dev.predict(votes).astype(bool)
    ev = ~dev

    methods = {"raw matching": raw, "label model": unsup, "label model + 10% dev": with_dev}
    summary = {name: micro(P[ev], Y[ev]) for name, P in methods.items()}
    # macro over tags that occur in the evaluation part
    has = Y[ev].any(0)
    for name, P in methods.items():
        _, _, f = prf(P[ev], Y[ev])
        summary[name]["macro_f1"] = float(f[has].mean())
    support = Y[ev].sum(0)
    top = np.argsort(-support)[:20]
    per_tag = []
    for k in top:
        row = {"tag": tags[k], "support": int(support[k])}
        for name, P in methods.items():
            p, r, f = prf(P[ev][:, [k]], Y[ev][:, [k]])
            row[name] = {"p": float(p[0]), "r": float(r[0]), "f1": float(f[0])}
        per_tag.append(row)

    print(f"{n} projects, {len(lfs)} LFs ({len(lfs) - len(KEYWORDS)} taxonomy + {len(KEYWORDS)} keyword), {len(tags)} tags;"
          f" scored on the {int(ev.sum())} projects outside the 10% dev set")
    print(f"apply {apply_s:.2f}s, label model fit {fit_s:.2f}s ({fit_dev_s:.2f}s with dev)\n")
    print(f"{'method':24s} {'micro P':>8s} {'micro R':>8s} {'micro F1':>9s} {'macro F1':>9s}")
    for name, m in summary.items():
        print(f"{name:24s} {m['precision']:8.3f} {m['recall']:8.3f} {m['f1']:9.3f} {m['macro_f1']:9.3f}")
    print(f"\n{'tag':32s} {'n':>4s}  " + "  ".join(f"{'P/R/F1 ' + k:>24s}" for k in methods))
    for row in per_tag:
        cells = "  ".join(f"{row[k]['p']:.2f}/{row[k]['r']:.2f}/{row[k]['f1']:.2f}".rjust(24) for k in methods)
        print(f"{row['tag']:32s} {row['support']:4d}  {cells}")
    res = {
        "benchmark": "weak_madewithml",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "n_projects": n, "n_lfs": len(lfs), "n_tags": len(tags), "n_eval": int(ev.sum()),
        "apply_s": apply_s, "fit_s": fit_s, "fit_dev_s": fit_dev_s, "micro": summary, "per_tag_top20": per_tag,
    }
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "weak_madewithml.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
