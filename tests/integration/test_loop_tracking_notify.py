"""Each simulated loop round is logged to MLflow and announced to a webhook as it happens."""

import http.server
import json
import threading

import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture
def webhook():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_simulate_logs_rounds_to_mlflow_and_notifies(cli, tmp_path, webhook):
    pytest.importorskip("mlflow")
    url, received = webhook
    d = load_digits()
    np.save(tmp_path / "X.npy", d.data[:600])
    np.save(tmp_path / "y.npy", d.target[:600])
    store = tmp_path / "mlruns"
    r = cli("simulate", "--features", tmp_path / "X.npy", "--labels", tmp_path / "y.npy", "--budget", "40",
            "--json", tmp_path / "out.json", "--mlflow", store, "--notify", "--target", "0.9",
            env={"LABELLOOP_WEBHOOK_URL": url})
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    n_rounds = len(out["curve"])
    assert n_rounds == 4  # 10, 20, 30, 40 labels
    assert len(received) == n_rounds
    assert received[-1]["text"].startswith(f"round {n_rounds - 1}: accuracy") and "40 labels" in received[-1]["text"]
    from labelloop.tracking import MlflowTracker

    tracker = MlflowTracker(store, experiment="labelloop-simulate")
    rounds = tracker.rounds()
    assert len(rounds) == n_rounds
    assert sorted(rounds.filter(like="human_labels").iloc[:, 0].astype(int)) == [10, 20, 30, 40]
    # the parent run names the strategy that ran (no strategy given: the default, by name)
    import mlflow

    from labelloop.select import DEFAULT_STRATEGY

    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("labelloop-simulate").experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert [run.data.params["strategy"] for run in parents] == [DEFAULT_STRATEGY]


def test_notify_without_a_channel_is_a_clear_error(cli, tmp_path):
    np.save(tmp_path / "X.npy", np.random.default_rng(0).normal(size=(60, 3)))
    np.save(tmp_path / "y.npy", np.arange(60) % 2)
    r = cli("simulate", "--features", tmp_path / "X.npy", "--labels", tmp_path / "y.npy", "--notify",
            env={"LABELLOOP_WEBHOOK_URL": "", "LABELLOOP_TELEGRAM_TOKEN": "", "LABELLOOP_TELEGRAM_CHAT_ID": ""})
    assert r.returncode == 2 and "no webhook" in r.stderr
