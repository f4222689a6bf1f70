"""Active learning vs modAL-python and random: labels needed to reach 98% of full-pool accuracy.

    python benchmarks/active_learning.py [--seeds 10] [--first-seed 0] [--jobs 1]
                                         [--datasets madewithml,youtube,digits]
                                         [--strategies margin,hybrid,balanced] [--semi-strategies ...]
                                         [--stop] [--out active_learning]

Same features (MiniLM embeddings for text, pixels for digits), same model
(``LogisticRegression(C=10, max_iter=2000)``), same stratified splits (test 30%), init 10,
batch 10. modAL-python runs in its own virtual environment (``.bench-venv-modal``, created on
first use) via a subprocess, on the very same splits and the same random first batch.
labelloop's strategies start from a diverse first batch (k-means cold start), which is part of
the method. Writes ``benchmarks/results/active_learning.json`` and
``benchmarks/results/active_learning.png`` (``--out NAME`` changes the name). ``--stop`` ends every
run, ours and modAL's, at the first round that reaches the target: the figure measured is the same,
the curves stop there, and many more seeds fit in the same time.
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

# many small fits: single-threaded BLAS is faster and keeps timings comparable
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

import _al_data  # noqa: E402

MODAL_VENV = ROOT / ".bench-venv-modal"
MODAL_PIN = "modAL-python==0.4.2.1"  # 0.4.2 is published on PyPI as 0.4.2.1
MODAL_STRATEGIES = ["uncertainty", "margin", "entropy", "ranked_batch"]
FRACTION = 0.98
BUDGET = {"madewithml": 300, "youtube": 400, "digits": 400}


def ensure_modal_venv() -> Path:
    py = MODAL_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MODAL_VENV)], check=True)
        import numpy
        import scipy
        import sklearn

        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", MODAL_PIN, f"scikit-learn=={sklearn.__version__}",
             f"numpy=={numpy.__version__}", f"scipy=={scipy.__version__}"],
            check=True,
        )
    return py


def make_runs(name: str, seeds: list[int]):
    from labelloop.loop.models import LoopClassifier
    from labelloop.loop.simulate import split_pool_test

    X, y = _al_data.load(name)
    # every tool fits on float64 features, as labelloop's simulator does: a float32 fit lands on a
    # slightly different optimum and may move the whole-pool accuracy (the target) by a test item
    X = np.asarray(X, dtype=np.float64)
    runs = []
    for s in seeds:
        pool, test = split_pool_test(y, 0.3, s)
        rng = np.random.default_rng(10_000 + s)
        while True:  # a random first batch with at least two classes (a classifier needs two)
            init = rng.choice(len(pool), size=10, replace=False)
            if len(np.unique(y[pool][init])) >= 2:
                break
        full = LoopClassifier("logreg").fit(X[pool], y[pool]).score(X[test], y[test])
        runs.append({"seed": s, "pool": pool.tolist(), "test": test.tolist(), "init": init.tolist(),
                     "full_accuracy": full, "stop_at": FRACTION * full - 1e-12})
    return X, y, runs


def start_modal(name: str, runs, budget: int, workdir: Path, strategies=MODAL_STRATEGIES, stop=False):
    """Start modAL on one data set in its own process; :func:`finish_modal` collects the curves."""
    py = ensure_modal_venv()
    xf, yf = _al_data.ensure_files(name)
    job = workdir / f"{name}_job.json"
    out = workdir / f"{name}_out.json"
    job.write_text(json.dumps({"X": str(xf), "y": str(yf), "runs": runs, "strategies": strategies,
                               "batch": 10, "budget": budget, "stop_at": True if stop else None}))
    return subprocess.Popen([str(py), str(HERE / "_modal_runner.py"), str(job), str(out)]), out


def finish_modal(proc, out: Path):
    if proc.wait() != 0:
        raise RuntimeError(f"the modAL runner failed (exit status {proc.returncode})")
    return json.loads(out.read_text())


def run_one(X, y, run, budget: int, configs: dict, stop: bool = False):
    """Every configuration on one seed's split."""
    from labelloop.loop.simulate import simulate

    out = []
    for label, cfg in configs.items():
        t0 = time.perf_counter()
        r = simulate(X, y, random_state=run["seed"], init=10, batch=10, budget=budget, test_size=0.3,
                     model="logreg", show_progress=False, stop_at=run["stop_at"] if stop else None, **cfg)
        assert abs(r.full_accuracy - run["full_accuracy"]) < 1e-6, f"split mismatch (seed {run['seed']}: {r.full_accuracy} vs {run['full_accuracy']})"
        out.append({"seed": run["seed"], "strategy": label, "curve": r.curve,
                    "seconds": time.perf_counter() - t0})
    return out


def run_ours(X, y, runs, budget: int, configs: dict, pool=None, stop: bool = False):
    """Seeds in parallel processes when ``pool`` (an executor) is given; each run is single-threaded."""
    if pool is None:
        return [r for run in runs for r in run_one(X, y, run, budget, configs, stop)]
    futures = [pool.submit(run_one, X, y, run, budget, configs, stop) for run in runs]
    return [r for f in futures for r in f.result()]


def labels_to(curve, target):
    for n, acc in curve:
        if acc >= target:
            return n
    return None


def summarise(name, runs, results):
    target = {r["seed"]: r["stop_at"] for r in runs}
    table = {}
    for res in results:
        table.setdefault(res["strategy"], []).append(labels_to(res["curve"], target[res["seed"]]))
    summary = {}
    for strat, vals in table.items():
        reached = [v for v in vals if v is not None]
        # a run that never reached the target counts as "more than the budget" (inf) in the median
        med = float(np.median([np.inf if v is None else v for v in vals]))
        summary[strat] = {"median": med, "per_seed": vals, "reached": f"{len(reached)}/{len(vals)}"}
    return summary


def median_curve(results, strategy):
    curves = [r["curve"] for r in results if r["strategy"] == strategy]
    n = min(len(c) for c in curves)
    xs = [curves[0][i][0] for i in range(n)]
    return xs, [float(np.median([c[i][1] for c in curves])) for i in range(n)]


def plot(all_results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_results), figsize=(5 * len(all_results), 4))
    axes = np.atleast_1d(axes)
    for ax, (name, block) in zip(axes, all_results.items(), strict=True):
        for strat in block["strategies"]:
            xs, ys = median_curve(block["results"], strat)
            style = "-" if not strat.startswith("modAL") else "--"
            ax.plot(xs, ys, style, label=strat, lw=1.5)
        ax.axhline(FRACTION * np.median([r["full_accuracy"] for r in block["runs"]]), color="k", lw=0.8, ls=":")
        ax.set_title(name)
        ax.set_xlabel("human labels")
        ax.set_ylabel("test accuracy (median over seeds)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    from labelloop.select import DEFAULT_SEMI_STRATEGY, DEFAULT_STRATEGY, STRATEGIES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds are first-seed .. first-seed + seeds - 1 (development seeds: 100)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes")
    ap.add_argument("--datasets", default="madewithml,youtube,digits")
    ap.add_argument("--no-modal", action="store_true", help="skip modAL (no venv)")
    ap.add_argument("--strategies", default="margin,hybrid,balanced",
                    help="our strategies measured besides random and the default")
    ap.add_argument("--semi-strategies", default="",
                    help="strategies also measured with --semi, besides the default")
    ap.add_argument("--stop", action="store_true",
                    help="end each run at the first round reaching the target (same figure, shorter curves)")
    ap.add_argument("--out", default="active_learning", help="name of the result files")
    args = ap.parse_args(argv)
    # a wrong name fails here, not in a worker process after the embeddings are computed
    for opt, value in (("--strategies", args.strategies), ("--semi-strategies", args.semi_strategies)):
        unknown = [x for x in filter(None, value.split(",")) if x not in STRATEGIES]
        if unknown:
            ap.error(f"{opt}: unknown strategy {', '.join(unknown)}; use any of {', '.join(STRATEGIES)}")
    unknown = [x for x in args.datasets.split(",") if x not in BUDGET]
    if unknown:
        ap.error(f"--datasets: unknown data set {', '.join(unknown)}; use any of {', '.join(BUDGET)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    configs = {"random": {"strategy": "random", "cold_start": "random"}}
    for strat in filter(None, args.strategies.split(",")):
        if strat != DEFAULT_STRATEGY:  # the default is measured once, under its "default" label
            configs[strat] = {"strategy": strat}
    configs[f"default ({DEFAULT_STRATEGY})"] = {"strategy": None}
    configs[f"default ({DEFAULT_SEMI_STRATEGY}) --semi"] = {"strategy": None, "semi": True}
    for strat in filter(None, args.semi_strategies.split(",")):
        if strat != DEFAULT_SEMI_STRATEGY:
            configs[f"{strat} --semi"] = {"strategy": strat, "semi": True}
    names = args.datasets.split(",")
    data = {name: make_runs(name, seeds) for name in names}
    pool = None
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=args.jobs)
    all_results = {}
    with tempfile.TemporaryDirectory() as td:
        # modAL runs in its own processes alongside ours
        modal_jobs = {} if args.no_modal else {
            name: start_modal(name, data[name][2], BUDGET[name], Path(td), stop=args.stop) for name in names}
        for name in names:
            X, y, runs = data[name]
            budget = BUDGET[name]
            t0 = time.perf_counter()
            ours = run_ours(X, y, runs, budget, configs, pool, args.stop)
            t_ours = time.perf_counter() - t0
            modal = []
            if name in modal_jobs:
                modal = finish_modal(*modal_jobs[name])
                for m in modal:
                    m["strategy"] = "modAL " + m["strategy"]
            results = ours + modal
            summary = summarise(name, runs, results)
            strategies = list(configs) + sorted({m["strategy"] for m in modal})
            all_results[name] = {"runs": [{k: r[k] for k in ("seed", "full_accuracy")} for r in runs],
                                 "strategies": strategies, "summary": summary, "results": results,
                                 "seconds_ours": t_ours}
            print(f"\n{name}: n={len(y)}, classes={len(np.unique(y))}, full-pool accuracy "
                  f"(median) {np.median([r['full_accuracy'] for r in runs]):.3f}; labels to reach 98% (median over {len(seeds)} seeds)")
            best_modal = min((v["median"] for k, v in summary.items() if k.startswith("modAL")), default=np.nan)
            for strat in strategies:
                s = summary[strat]
                ratio = s["median"] / best_modal if best_modal == best_modal else float("nan")
                secs = np.median([r["seconds"] for r in results if r["strategy"] == strat and "seconds" in r] or [np.nan])
                print(f"  {strat:34s} {s['median']:>6.0f}  ({s['reached']} reached)  x{ratio:.2f} of best modAL"
                      f"  {secs:6.1f} s/run")
    if pool is not None:
        pool.shutdown()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "fraction": FRACTION, "seeds": seeds, "modal": MODAL_PIN, "budget": BUDGET, "jobs": args.jobs,
            "stop": args.stop, "load_average": os.getloadavg()}
    (out / f"{args.out}.json").write_text(json.dumps({"meta": meta, "datasets": all_results}, indent=1,
                                                         default=lambda o: None if o == np.inf else float(o)))
    if not args.stop:  # stopped curves end at different rounds: no median curve to draw
        plot(all_results, out / f"{args.out}.png")
    print(f"\nwrote {out / (args.out + '.json')}")


if __name__ == "__main__":
    main()
