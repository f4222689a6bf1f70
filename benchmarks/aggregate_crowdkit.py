"""Aggregation side by side with crowd-kit 1.4.2: accuracy and time on the same data.

    python benchmarks/aggregate_crowdkit.py            # full run (a few minutes)
    python benchmarks/aggregate_crowdkit.py --quick    # fewer repeats, smaller scale run

What it does:
1. creates ``.bench-venv-crowdkit/`` with crowd-kit==1.4.2 (once) and runs crowd-kit there, in a
   subprocess, on the very same answer files;
2. real data: ``../shared/data/crowd/duck`` and ``dog`` (answers + ground truth): accuracy and
   median fit time (DataFrame in, labels out) per method for both tools;
3. a synthetic 25,000-answer set (planted worker skills, seeded) for speed at a larger size;
4. scale: Dawid-Skene on synthetic 1M / 3M / 10M answers (10 answers per task), time and
   peak memory of a fresh process, labelloop only.

Raw results go to ``benchmarks/results/aggregate_crowdkit.json``; a Markdown table is printed.
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
DATA = Path(os.environ.get("LABELLOOP_SHARED_DATA", ROOT.parent / "shared" / "data")) / "crowd"
VENV = ROOT / ".bench-venv-crowdkit"
RESULTS = ROOT / "benchmarks" / "results" / "aggregate_crowdkit.json"
CROWDKIT_VERSION = "1.4.2"
METHODS = ["mv", "wawa", "zbs", "onecoin", "ds", "glad", "mace"]

CROWDKIT_WORKER = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from crowdkit.aggregation import (MajorityVote, Wawa, ZeroBasedSkill, OneCoinDawidSkene,
                                  DawidSkene, GLAD, MACE)
CLASSES = {"mv": MajorityVote, "wawa": Wawa, "zbs": ZeroBasedSkill, "onecoin": OneCoinDawidSkene,
           "ds": DawidSkene, "glad": GLAD, "mace": MACE}
ARGS = {"ds": dict(n_iter=100), "onecoin": dict(n_iter=100)}
job = json.loads(sys.argv[1])
df = pd.read_csv(job["answers"]).rename(columns={"question": "task", "answer": "label"})
df = df[["task", "worker", "label"]]
truth = pd.read_csv(job["truth"]).rename(columns={"question": "task", "truth": "label"})
truth = dict(zip(truth["task"], truth["label"]))
out = {}
for m in job["methods"]:
    reps = job["repeats"].get(m, job["repeats"]["default"])
    times, labels, err = [], None, None
    for _ in range(reps):
        try:
            t0 = time.perf_counter()
            labels = CLASSES[m](**ARGS.get(m, {})).fit_predict(df)
            times.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - recorded in the table
            err = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            break
    if err is not None:
        out[m] = {"error": err}
        continue
    acc = float(np.mean([labels.get(t) == v for t, v in truth.items()]))
    out[m] = {"accuracy": acc, "time_s": float(np.median(times)), "repeats": len(times)}
print(json.dumps(out))
'''


def ensure_crowdkit() -> Path:
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", f"import crowdkit, importlib.metadata as m; assert m.version('crowd-kit') == '{CROWDKIT_VERSION}'"],
        capture_output=True,
    ).returncode == 0
    if not ok:
        print(f"creating {VENV.name} with crowd-kit=={CROWDKIT_VERSION} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"crowd-kit=={CROWDKIT_VERSION}"], check=True)
    return py


def run_crowdkit(py: Path, answers: Path, truth: Path, methods: list[str], repeats: dict) -> dict:
    job = json.dumps({"answers": str(answers), "truth": str(truth), "methods": methods, "repeats": repeats})
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CROWDKIT_WORKER)
        script = f.name
    try:
        res = subprocess.run([str(py), script, job], capture_output=True, text=True, timeout=3600)
    finally:
        os.unlink(script)
    if res.returncode != 0:
        raise RuntimeError(f"crowd-kit run failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_ours(answers: Path, truth: Path, methods: list[str], repeats: dict) -> dict:
    import warnings

    sys.path.insert(0, str(ROOT / "src"))
    from labelloop.aggregate import get_aggregator
    from labelloop.exceptions import ConvergenceWarning
    from labelloop.votes import VoteMatrix

    df = pd.read_csv(answers)
    t = pd.read_csv(truth)
    truth_map = dict(zip(t.iloc[:, 0], t.iloc[:, 1], strict=True))
    out = {}
    for m in methods + ["auto"]:
        reps = repeats.get(m, repeats["default"])
        times: list[float] = []
        # at least ``reps`` runs and at least half a second of runs (max 200): the median of
        # many short runs is robust to bursts of load on a shared machine
        while len(times) < reps or (sum(times) < 0.5 and len(times) < 200):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                est = get_aggregator(m).fit(VoteMatrix.from_answers(df))
                labels = dict(zip(est.items_.tolist(), est.labels_.tolist(), strict=True))
                times.append(time.perf_counter() - t0)
        acc = float(np.mean([labels.get(q) == v for q, v in truth_map.items()]))
        out[m] = {"accuracy": acc, "time_s": float(np.median(times)), "repeats": len(times)}
        if m == "auto":
            out[m]["chosen"] = est.chosen_
    return out


def synthetic(path_dir: Path, n_tasks: int, per_task: int, n_workers: int, n_classes: int, seed: int = 0):
    """Planted crowd: worker accuracies in [0.5, 0.95], a tenth of workers are spammers."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = rng.integers(0, n_workers, task.size)
    acc = rng.uniform(0.5, 0.95, n_workers)
    spam = rng.random(n_workers) < 0.1
    ok = rng.random(task.size) < acc[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, task.size)) % n_classes
    label = np.where(ok, truth[task], wrong)
    label = np.where(spam[worker], rng.integers(0, n_classes, task.size), label)
    answers = path_dir / "answer.csv"
    pd.DataFrame({"question": task, "worker": worker, "answer": label}).to_csv(answers, index=False)
    tr = path_dir / "truth.csv"
    pd.DataFrame({"question": np.arange(n_tasks), "truth": truth}).to_csv(tr, index=False)
    return answers, tr


SCALE_CHILD = r'''
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from labelloop.aggregate import DawidSkene
from labelloop.votes import VoteMatrix
import pandas as pd
n_tasks, per, S, K = map(int, sys.argv[1].split(","))
rng = np.random.default_rng(0)
truth = rng.integers(0, K, n_tasks)
task = np.repeat(np.arange(n_tasks), per)
worker = rng.integers(0, S, task.size)
acc = rng.uniform(0.55, 0.95, S)
ok = rng.random(task.size) < acc[worker]
label = np.where(ok, truth[task], (truth[task] + rng.integers(1, K, task.size)) % K)
df = pd.DataFrame({"task": task, "worker": worker, "label": label})
del task, worker, ok, label
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
vm = VoteMatrix.from_answers(df)
t1 = time.perf_counter()
ds = DawidSkene().fit(vm)
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"answers": int(vm.n_votes), "tasks": n_tasks, "workers": S, "classes": K,
                  "build_s": t1 - t0, "fit_s": t2 - t1, "n_iter": ds.n_iter_,
                  "accuracy": float(np.mean(ds.codes_ == truth)),
                  "rss_before_mib": base / 1024, "peak_rss_mib": peak / 1024}))
'''


def run_scale(n_tasks: int, per: int = 10, workers: int = 20000, classes: int = 2) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", SCALE_CHILD, f"{n_tasks},{per},{workers},{classes}", str(ROOT / "src")],
        capture_output=True, text=True, timeout=1800,
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def fmt_time(x):
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats; scale run up to 3M answers")
    ap.add_argument("--skip-crowdkit", action="store_true", help="labelloop only (no crowd-kit venv)")
    ap.add_argument("--skip-scale", action="store_true")
    args = ap.parse_args()

    reps_ours = {"default": 3 if args.quick else 15, "auto": 3 if args.quick else 5}
    reps_ck = {"default": 1 if args.quick else 3, "glad": 1, "mace": 1 if args.quick else 3}
    report: dict = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "crowdkit_version": CROWDKIT_VERSION,
        "datasets": {},
    }
    py = None if args.skip_crowdkit else ensure_crowdkit()
    with tempfile.TemporaryDirectory() as tmp:
        sets = {name: (DATA / name / "answer.csv", DATA / name / "truth.csv") for name in ("duck", "dog")}
        sets["synthetic-25k"] = synthetic(Path(tmp), n_tasks=2500, per_task=10, n_workers=250, n_classes=2)
        for name, (ans, tr) in sets.items():
            print(f"[{name}] labelloop ...", file=sys.stderr)
            entry = {"answers": int(len(pd.read_csv(ans))), "labelloop": run_ours(ans, tr, METHODS, reps_ours)}
            if py is not None:
                print(f"[{name}] crowd-kit ...", file=sys.stderr)
                entry["crowdkit"] = run_crowdkit(py, ans, tr, METHODS, reps_ck)
            report["datasets"][name] = entry
    if not args.skip_scale:
        sizes = [100_000, 300_000] if args.quick else [100_000, 300_000, 1_000_000]
        report["scale"] = []
        for n in sizes:
            print(f"[scale] DS on {n * 10:,} answers ...", file=sys.stderr)
            report["scale"].append(run_scale(n))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_tables(report)


def print_tables(report: dict) -> None:
    print("| data | method | labelloop acc | crowd-kit acc | labelloop time | crowd-kit time | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for name, entry in report["datasets"].items():
        ours, ck = entry["labelloop"], entry.get("crowdkit", {})
        for m in [*METHODS, "auto"]:
            o = ours[m]
            c = ck.get(m, {})
            if "error" in c:
                c_acc, c_time, ratio = "fails", c["error"].split(":")[0], "-"
            elif c:
                c_acc, c_time = f"{c['accuracy']:.3f}", fmt_time(c["time_s"])
                ratio = f"{c['time_s'] / o['time_s']:.0f}x"
            else:
                c_acc = c_time = ratio = "-"
            label = m + (f" ({o['chosen']})" if m == "auto" else "")
            print(f"| {name} ({entry['answers']:,}) | {label} | {o['accuracy']:.3f} | {c_acc} | {fmt_time(o['time_s'])} | {c_time} | {ratio} |")
    if report.get("scale"):
        print()
        print("| answers | tasks | workers | build VoteMatrix | DS fit | EM iterations | accuracy | RSS before | peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in report["scale"]:
            print(
                f"| {r['answers']:,} | {r['tasks']:,} | {r['workers']:,} | {fmt_time(r['build_s'])} | {fmt_time(r['fit_s'])} | "
                f"{r['n_iter']} | {r['accuracy']:.3f} | {r['rss_before_mib']:.0f} MiB | {r['peak_rss_mib']:.0f} MiB |"
            )


if __name__ == "__main__":
    main()
