"""Label model vs Snorkel 0.10 vs majority vote on YouTube comment spam.

Applies each LF set of ``youtube_lfs.py`` once to files 01-04 (train) and 05 (test), saves the
matrices, then fits on the train matrix and scores on the test matrix, side by side on the very
same matrices: labelloop's LabelModel, Snorkel 0.10's LabelModel (in its own virtual
environment ``.bench-venv-snorkel``, created on first run) and majority vote.

Accuracy counts ties (and items no LF covers) as broken at random: a tie between two classes
scores 0.5, the expected accuracy of a coin flip, for every method alike. Fit times are medians
of repeated fits in one run.

    python benchmarks/weak_youtube.py [--repeats 15] [--no-snorkel]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from labelloop.weak import LabelModel, apply_lfs  # noqa: E402
from youtube_lfs import LF_SETS  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "youtube-spam"
VENV = ROOT / ".bench-venv-snorkel"
SNORKEL = "snorkel==0.10.0"

SNORKEL_RUNNER = r'''
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)  # the machine has 2 cores shared with other work; one thread is fastest here
from snorkel.labeling.model import LabelModel
d, names, repeats = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
out = {}
for name in names:
    Ltr = np.load(f"{d}/{name}_train.npy"); Lte = np.load(f"{d}/{name}_test.npy")
    times = []
    for r in range(repeats):
        lm = LabelModel(cardinality=2, verbose=False)
        t = time.perf_counter()
        lm.fit(Ltr, n_epochs=500, log_freq=100, seed=123)
        times.append(time.perf_counter() - t)
    np.save(f"{d}/{name}_snorkel_proba.npy", lm.predict_proba(Lte))
    out[name] = {"fit_s": times}
print(json.dumps(out))
'''


def ensure_snorkel() -> Path:
    py = VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import snorkel"], capture_output=True).returncode == 0:
        return py
    print(f"creating {VENV.name} with {SNORKEL} (first run only)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)  # the CPU wheel first
    subprocess.run(pip + [SNORKEL], check=True)
    return py


def expected_accuracy(P: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of argmax with ties broken uniformly at random (expected value)."""
    mx = P.max(axis=1, keepdims=True)
    ties = np.isclose(P, mx, rtol=0, atol=1e-9)
    return float((ties[np.arange(len(y)), y] / ties.sum(axis=1)).mean())


def majority_counts(L: np.ndarray, K: int = 2) -> np.ndarray:
    return np.stack([(L == k).sum(axis=1) for k in range(K)], axis=1).astype(float)


def load():
    files = sorted(DATA.glob("Youtube0*.csv"))
    if len(files) != 5:
        raise SystemExit(f"expected 5 YouTube spam CSVs in {DATA}")
    train = pd.concat([pd.read_csv(f) for f in files[:4]], ignore_index=True)
    test = pd.read_csv(files[4])
    return train, test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="fits per method for the median time")
    ap.add_argument("--snorkel-repeats", type=int, default=5)
    ap.add_argument("--no-snorkel", action="store_true", help="skip Snorkel (no venv needed)")
    args = ap.parse_args()
    os.environ.setdefault("LABELLOOP_QUIET", "1")
    train, test = load()
    ytr, yte = train["label"].to_numpy(), test["label"].to_numpy()
    tmp = Path(tempfile.mkdtemp(prefix="weak_youtube_"))
    rows = []
    mats = {}
    for name, lfs in LF_SETS.items():
        t = time.perf_counter()
        Ltr = apply_lfs(lfs, train, classes=[0, 1], id_col="COMMENT_ID").L
        Lte = apply_lfs(lfs, test, classes=[0, 1], id_col="COMMENT_ID").L
        apply_s = time.perf_counter() - t
        np.save(tmp / f"{name}_train.npy", Ltr)
        np.save(tmp / f"{name}_test.npy", Lte)
        mats[name] = (Ltr, Lte, apply_s)
    snorkel = {}
    if not args.no_snorkel:
        py = ensure_snorkel()
        res = subprocess.run([str(py), "-c", SNORKEL_RUNNER, str(tmp), ",".join(LF_SETS), str(args.snorkel_repeats)],
                             capture_output=True, text=True, check=True)
        snorkel = json.loads(res.stdout.strip().splitlines()[-1])
    for name, (Ltr, Lte, apply_s) in mats.items():
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            lm = LabelModel().fit(Ltr)
            times.append(time.perf_counter() - t)
        ours = expected_accuracy(lm.predict_proba(Lte), yte)
        mv = expected_accuracy(majority_counts(Lte), yte)
        row = {
            "lf_set": name, "n_lfs": Ltr.shape[1], "apply_s": apply_s,
            "coverage_train": float((Ltr >= 0).any(1).mean()), "coverage_test": float((Lte >= 0).any(1).mean()),
            "ours_acc": ours, "ours_fit_s": float(np.median(times)), "ours_train_acc": expected_accuracy(lm.predict_proba(Ltr), ytr),
            "mv_acc": mv, "mv_train_acc": expected_accuracy(majority_counts(Ltr), ytr), "ours_n_iter": lm.n_iter_,
        }
        if name in snorkel:
            P = np.load(tmp / f"{name}_snorkel_proba.npy")
            row["snorkel_acc"] = expected_accuracy(P, yte)
            row["snorkel_fit_s"] = float(np.median(snorkel[name]["fit_s"]))
            row["speedup"] = row["snorkel_fit_s"] / row["ours_fit_s"]
        rows.append(row)
    df = pd.DataFrame(rows)
    cols = ["lf_set", "n_lfs", "coverage_test", "ours_acc", "snorkel_acc", "mv_acc", "ours_fit_s", "snorkel_fit_s", "speedup"]
    print(df[[c for c in cols if c in df.columns]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out = {
        "benchmark": "weak_youtube",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "train": "Youtube01-04", "test": "Youtube05-Shakira", "n_train": len(train), "n_test": len(test),
        "snorkel": SNORKEL if snorkel else None, "snorkel_fit": "n_epochs=500, lr default, seed=123, torch.set_num_threads(1)",
        "repeats": {"ours": args.repeats, "snorkel": args.snorkel_repeats}, "rows": rows,
    }
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "weak_youtube.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
