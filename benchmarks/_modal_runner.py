"""Runs modAL-python inside its own virtual environment (called by active_learning.py).

Reads a job JSON (features, labels, splits, initial indices per seed, strategies) from argv[1],
writes curves to argv[2]. Uses the same model, splits and initial items as labelloop's runs.
"""

import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def _shim_sklearn():
    """modAL 0.4.2 passes ``force_all_finite`` to check_X_y, which scikit-learn 1.8 renamed to
    ``ensure_all_finite``; translate it so modAL runs on the same scikit-learn as labelloop."""
    import modAL.models.learners as learners
    from sklearn.utils import check_X_y

    def check_X_y_compat(*args, force_all_finite=True, **kwargs):
        return check_X_y(*args, ensure_all_finite=force_all_finite, **kwargs)

    learners.check_X_y = check_X_y_compat


def main():
    job = json.load(open(sys.argv[1]))
    _shim_sklearn()
    from modAL.batch import uncertainty_batch_sampling
    from modAL.models import ActiveLearner
    from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling

    strategies = {
        "uncertainty": uncertainty_sampling,
        "margin": margin_sampling,
        "entropy": entropy_sampling,
        "ranked_batch": uncertainty_batch_sampling,
    }
    X = np.load(job["X"]).astype(np.float64)  # as labelloop's simulator fits
    y = np.load(job["y"])
    out = []
    for run in job["runs"]:
        pool = np.asarray(run["pool"])
        test = np.asarray(run["test"])
        Xp, yp, Xt, yt = X[pool], y[pool], X[test], y[test]
        for name in job["strategies"]:
            t0 = time.perf_counter()
            init = np.asarray(run["init"])
            learner = ActiveLearner(
                estimator=LogisticRegression(C=10, max_iter=2000),
                query_strategy=strategies[name],
                X_training=Xp[init],
                y_training=yp[init],
            )
            mask = np.ones(len(pool), dtype=bool)
            mask[init] = False
            curve = [[int(len(init)), float(learner.score(Xt, yt))]]
            n_lab = len(init)
            while n_lab < job["budget"] and mask.any():
                rest = np.flatnonzero(mask)
                n = int(min(job["batch"], job["budget"] - n_lab, rest.size))
                q = learner.query(Xp[rest], n_instances=n)
                qi = q[0] if isinstance(q, tuple) else q
                qi = np.asarray(qi).ravel()
                chosen = rest[qi]
                learner.teach(Xp[chosen], yp[chosen])
                mask[chosen] = False
                n_lab += len(chosen)
                acc = float(learner.score(Xt, yt))
                curve.append([int(n_lab), acc])
                if job.get("stop_at") is not None and acc >= run["stop_at"]:
                    break
            out.append({"seed": run["seed"], "strategy": name, "curve": curve,
                        "seconds": time.perf_counter() - t0})
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
