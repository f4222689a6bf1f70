"""MLflow tracking of loop rounds to a local store, read back with MLflow itself."""

from __future__ import annotations

import pytest

from labelloop.exceptions import InputError

mlflow = pytest.importorskip("mlflow", reason="mlflow is optional: pip install 'labelloop[tracking]'")


def test_rounds_logged_and_read_back_by_mlflow(tmp_path):
    from labelloop.tracking import MlflowTracker

    t = MlflowTracker(tmp_path / "mlruns", experiment="spam")
    with t.run(params={"strategy": "margin", "batch": 50}) as parent:
        for r, acc in ((1, 0.81), (2, 0.87), (3, 0.91)):
            t.log_round(r, params={"model": "logreg"}, metrics={"accuracy": acc, "labels": 400 * r})
    assert (tmp_path / "mlruns").is_dir()
    client = mlflow.MlflowClient(tracking_uri=t.tracking_uri)
    exp = client.get_experiment_by_name("spam")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    rounds = sorted((r for r in runs if "labelloop.round" in r.data.tags), key=lambda r: int(r.data.tags["labelloop.round"]))
    assert [r.data.metrics["accuracy"] for r in rounds] == [0.81, 0.87, 0.91]
    assert [r.data.params["round"] for r in rounds] == ["1", "2", "3"]
    assert all(r.data.tags["mlflow.parentRunId"] == parent for r in rounds)
    history = client.get_metric_history(parent, "accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.81), (2, 0.87), (3, 0.91)]
    assert client.get_run(parent).data.params == {"strategy": "margin", "batch": "50"}
    frame = t.rounds()
    assert frame["round"].tolist() == [1, 2, 3] and frame["labels"].tolist() == [400.0, 800.0, 1200.0]


def test_bad_metric(tmp_path):
    from labelloop.tracking import MlflowTracker

    t = MlflowTracker(tmp_path / "mlruns")
    with pytest.raises(InputError, match="metric 'accuracy' must be a number"):
        t.log_round(1, metrics={"accuracy": "high"})


def test_log_rounds_from_round_records(tmp_path):
    from labelloop.tracking import MlflowTracker

    t = MlflowTracker(tmp_path / "mlruns", experiment="sim")
    recs = [{"round": 0, "labels": 20, "test_accuracy": 0.7, "strategy": "margin"},
            {"round": 1, "labels": 40, "test_accuracy": 0.8, "strategy": "margin"}]
    assert len(t.log_rounds(recs, params={"dataset": "spam"})) == 2
    frame = t.rounds()
    assert frame["test_accuracy"].tolist() == [0.7, 0.8] and frame["strategy"].tolist() == ["margin", "margin"]
