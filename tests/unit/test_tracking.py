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


def test_rounds_of_a_real_simulation(tmp_path):
    """The loop's own round records (labelloop.loop.simulate) log as they are."""
    from sklearn.datasets import make_classification

    from labelloop.loop.simulate import simulate
    from labelloop.tracking import MlflowTracker

    X, y = make_classification(n_samples=150, n_features=5, random_state=0)
    res = simulate(X, y, strategy="random", init=10, batch=10, budget=40, random_state=0)
    t = MlflowTracker(tmp_path / "mlruns", experiment="sim")
    t.log_rounds(res.to_dict()["rounds"], params={"strategy": res.strategy})
    frame = t.rounds()
    assert frame["human_labels"].tolist() == [r["human_labels"] for r in res.rounds]
    assert frame["test_accuracy"].tolist() == [r["test_accuracy"] for r in res.rounds]


@pytest.mark.slow
def test_cli_mlflow_log_and_notify_rounds(tmp_path, cli):
    import json

    result = {"strategy": "margin", "curve": [[20, 0.7], [40, 0.8], [60, 0.85]], "full_accuracy": 0.9,
              "rounds": [{"round": k, "human_labels": n, "test_accuracy": a} for k, (n, a) in enumerate([[20, 0.7], [40, 0.8], [60, 0.85]])],
              "params": {"batch": 20}}
    (tmp_path / "sim.json").write_text(json.dumps(result))
    r = cli("mlflow", "log", tmp_path / "sim.json", "--store", tmp_path / "mlruns", "--experiment", "cli")
    assert r.returncode == 0, r.stderr
    assert "logged 3 rounds" in r.stdout
    client = mlflow.MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri())
    runs = client.search_runs([client.get_experiment_by_name("cli").experiment_id])
    assert sorted(r.data.metrics.get("test_accuracy", 0) for r in runs if "labelloop.round" in r.data.tags) == [0.7, 0.8, 0.85]
    r = cli("mlflow", "log", tmp_path / "nope.json")
    assert r.returncode != 0 and "cannot read the loop result" in r.stderr
