"""Replay real crowd answers with dynamic overlap: answers needed to reach Dawid-Skene-on-all.

    python benchmarks/replay_crowd.py [--seeds 5]

For the dog (8,070 answers) and duck (4,212 answers) data sets, each seed shuffles every item's
real answers, reveals 3 per item, then asks for one more answer only for items whose
Dawid-Skene posterior is below 0.9999 (least confident first, a tenth of the items per wave).
Reports the answers used when accuracy first reaches the reference figure (.843 dog, .889 duck,
Dawid-Skene on all answers) and the accuracy at 40% of the answers. Writes
``benchmarks/results/replay_crowd.json``.

``--oracle-bound`` also runs a diagnostic that no real loop can run: the item chosen for
another answer is one whose current label is *wrong* (read from the truth). It bounds what any
"who needs another answer" signal can achieve when answers arrive in a random order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
DATA = Path(os.environ.get("LABELLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
REFERENCE = {"dog": 0.843, "duck": 0.889}


def oracle_selector(answers: pd.DataFrame, truth: pd.DataFrame):
    """Diagnostic selector: confidence 0 for items whose Dawid-Skene label is wrong, else 1."""
    from labelloop.aggregate import get_aggregator
    from labelloop.loop.replay import _truth_codes
    from labelloop.votes import VoteMatrix

    truth_codes = _truth_codes(VoteMatrix.from_answers(answers), truth)

    def select(vm):
        est = get_aggregator("ds").fit(vm)
        right = (np.asarray(est.codes_) == truth_codes).astype(float)
        return est.codes_, right + 0.01 * np.asarray(est.confidence_)  # wrong first, least confident first

    return select


def main(argv=None):
    from labelloop.loop.replay import replay

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--oracle-bound", action="store_true", help="also run the truth-reading diagnostic")
    args = ap.parse_args(argv)
    out = {}
    for name, ref in REFERENCE.items():
        a = pd.read_csv(DATA / "crowd" / name / "answer.csv")
        t = pd.read_csv(DATA / "crowd" / name / "truth.csv")
        rows = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            r = replay(a, t, random_state=seed, confidence=1.0, show_progress=False)
            c = np.asarray(r.curve)
            at40 = c[c[:, 0] <= 0.4 * len(a)]
            rows.append({"seed": seed, "answers_to_reference": r.answers_to_reach(ref),
                         "accuracy_at_40pct": float(at40[-1, 1]), "best_accuracy_within_40pct": float(at40[:, 1].max()),
                         "full_accuracy": r.full_accuracy, "curve": r.curve, "seconds": time.perf_counter() - t0})
            if args.oracle_bound:
                o = replay(a, t, random_state=seed, confidence=1.0, selector=oracle_selector(a, t), show_progress=False)
                rows[-1]["oracle_answers_to_reference"] = o.answers_to_reach(ref)
        reach = [x["answers_to_reference"] for x in rows]
        med = float(np.median([np.inf if v is None else v for v in reach]))
        out[name] = {"answers": len(a), "reference": ref, "ds_on_all": rows[0]["full_accuracy"],
                     "median_answers_to_reference": med, "median_share": med / len(a),
                     "median_accuracy_at_40pct": float(np.median([x["accuracy_at_40pct"] for x in rows])),
                     "runs": rows}
        print(f"{name}: {len(a)} answers; Dawid-Skene on all {rows[0]['full_accuracy']:.3f} (reference {ref}); "
              f"answers to reach {ref}: median {med:.0f} ({med / len(a):.0%}), per seed {reach}; "
              f"accuracy at 40% of the answers: median {out[name]['median_accuracy_at_40pct']:.3f}")
        if args.oracle_bound:
            o = [x["oracle_answers_to_reference"] for x in rows]
            om = float(np.median([np.inf if v is None else v for v in o]))
            out[name]["oracle_median_answers_to_reference"] = om
            print(f"  oracle bound (truth picks the wrong items): median {om:.0f} ({om / len(a):.0%}), per seed {o}")
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "replay_crowd.json").write_text(json.dumps(out, indent=1, default=lambda o: None if o == np.inf else float(o)))
    print(f"wrote {res / 'replay_crowd.json'}")


if __name__ == "__main__":
    main()
