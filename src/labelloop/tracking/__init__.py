"""Experiment tracking: each loop round's parameters and metrics to a local MLflow store.

``MlflowTracker(DIR / "mlruns")`` logs to a local MLflow file store (no server); open it with
``mlflow ui --backend-store-uri DIR/mlruns`` to compare rounds. A path ending in ``.db`` gives a
local SQLite store instead (MLflow 3's recommended backend); any MLflow URI works too. MLflow 3
accepts folder stores only with ``MLFLOW_ALLOW_FILE_STORE=true``, which the tracker sets for
folder stores when it is not set. MLflow is optional and imported
only when a tracker is created (``pip install 'labelloop[tracking]'``).

    tracker = MlflowTracker.for_project(project)            # DIR/mlruns, experiment = project name
    with tracker.run(params={"strategy": "margin", "batch": 100}):
        for r in rounds:
            tracker.log_round(r.index, params={"model": "logreg"},
                              metrics={"accuracy": r.accuracy, "labels": r.n_labels})

Each round is a nested run named ``round <n>``; its metrics are also logged on the parent run
with ``step = n`` so the MLflow UI plots them as curves.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError, require


def _mlflow():
    return require("mlflow", package="mlflow-skinny", extra="tracking", purpose="logging loop rounds to MLflow")


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v)[:500] for k, v in (params or {}).items()}


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise InputError(f"metric '{k}' must be a number, got {v!r}")
        if math.isfinite(float(v)):
            out[str(k)] = float(v)
    return out


class MlflowTracker:
    """Log loop rounds to MLflow at ``tracking_uri`` (a folder path or any MLflow URI)."""

    def __init__(self, store: str | Path, *, experiment: str = "labelloop"):
        import os

        mlflow = _mlflow()
        uri = str(store)
        if "://" not in uri and not uri.startswith(("file:", "sqlite:")):
            p = Path(uri).resolve()
            if p.suffix == ".db":  # a local SQLite store
                p.parent.mkdir(parents=True, exist_ok=True)
                uri = f"sqlite:///{p}"
            else:
                p.mkdir(parents=True, exist_ok=True)
                uri = p.as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps the folder store in maintenance mode behind this switch
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.tracking_uri = uri
        self.experiment = experiment
        self._client = mlflow.MlflowClient(tracking_uri=uri)
        exp = self._client.get_experiment_by_name(experiment)
        self.experiment_id = exp.experiment_id if exp is not None else self._client.create_experiment(experiment)
        self.parent_run_id: str | None = None

    @classmethod
    def for_project(cls, project, *, experiment: str | None = None) -> MlflowTracker:
        return cls(Path(project.dir) / "mlruns", experiment=experiment or project.name)

    @contextlib.contextmanager
    def run(self, *, name: str = "loop", params: Mapping[str, Any] | None = None) -> Iterator[str]:
        """A parent run for a whole loop; rounds logged inside it become its children."""
        r = self._client.create_run(self.experiment_id, run_name=name)
        self.parent_run_id = r.info.run_id
        for k, v in _clean_params(params).items():
            self._client.log_param(r.info.run_id, k, v)
        status = "FAILED"
        try:
            yield r.info.run_id
            status = "FINISHED"
        finally:
            self._client.set_terminated(r.info.run_id, status=status)
            self.parent_run_id = None

    def log_round(self, round: int, *, params: Mapping[str, Any] | None = None, metrics: Mapping[str, Any] | None = None,
                  tags: Mapping[str, Any] | None = None) -> str:
        """Log one round as its own run; returns its run id."""
        from mlflow.entities import Metric, Param, RunTag

        ms = _clean_metrics(metrics)
        run_tags = {"labelloop.round": str(int(round)), **{str(k): str(v) for k, v in (tags or {}).items()}}
        if self.parent_run_id:
            run_tags["mlflow.parentRunId"] = self.parent_run_id
        r = self._client.create_run(self.experiment_id, run_name=f"round {int(round)}", tags=run_tags)
        import time

        now = int(time.time() * 1000)
        self._client.log_batch(
            r.info.run_id,
            metrics=[Metric(k, v, now, int(round)) for k, v in ms.items()],
            params=[Param(k, v) for k, v in {**_clean_params(params), "round": str(int(round))}.items()],
            tags=[RunTag(k, v) for k, v in run_tags.items() if k != "mlflow.parentRunId"],
        )
        self._client.set_terminated(r.info.run_id)
        if self.parent_run_id and ms:
            self._client.log_batch(self.parent_run_id, metrics=[Metric(k, v, now, int(round)) for k, v in ms.items()])
        return r.info.run_id

    def log_rounds(self, rounds: list[Mapping[str, Any]], *, params: Mapping[str, Any] | None = None, name: str = "loop") -> list[str]:
        """Log a finished loop's round records (dicts with a ``round`` key, e.g. a simulation's
        ``rounds``): numbers become metrics, everything else params. Returns the run ids."""
        ids = []
        with self.run(name=name, params=params):
            for k, rec in enumerate(rounds):
                r = int(rec.get("round", k))
                metrics = {key: v for key, v in rec.items() if key != "round" and isinstance(v, numbers.Real) and not isinstance(v, bool)}
                other = {key: v for key, v in rec.items() if key != "round" and key not in metrics}
                ids.append(self.log_round(r, params=other, metrics=metrics))
        return ids

    def rounds(self):
        """The logged rounds as a DataFrame (one row per round run), oldest first."""
        import pandas as pd

        runs = self._client.search_runs([self.experiment_id], max_results=10_000)
        rows = []
        for run in runs:
            rd = run.data.tags.get("labelloop.round")
            if rd is None:
                continue
            rows.append({**run.data.params, **run.data.metrics, "round": int(rd), "run_id": run.info.run_id})
        return pd.DataFrame(rows).sort_values("round").reset_index(drop=True) if rows else pd.DataFrame(columns=["round", "run_id"])


__all__ = ["MlflowTracker"]
