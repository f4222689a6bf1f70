"""The loop's CLI as a subprocess: simulate on features, replay crowd answers, project commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


def _blobs(tmp_path, n=200, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, size=(k, 4))
    y = np.repeat(np.arange(k), n // k)
    X = centers[y] + rng.normal(0, 1, size=(y.size, 4))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "X.npy", tmp_path / "y.npy"


def test_simulate_features_json_shape(cli, tmp_path):
    xf, yf = _blobs(tmp_path)
    out = tmp_path / "out.json"
    r = cli("simulate", "--features", xf, "--labels", yf, "--strategy", "margin", "--init", "10", "--batch", "10",
            "--budget", "40", "--test-size", "0.3", "--seed", "1", "--model", "logreg", "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert [p[0] for p in d["curve"]] == [10, 20, 30, 40]
    assert all(0 <= p[1] <= 1 for p in d["curve"])
    assert 0.8 < d["full_accuracy"] <= 1.0
    assert d["strategy"] == "margin" and d["params"]["seed"] == 1


def test_simulate_semi_and_html(cli, tmp_path):
    xf, yf = _blobs(tmp_path)
    r = cli("simulate", "--features", xf, "--labels", yf, "--budget", "20", "--semi",
            "--html", tmp_path / "r.html", "--json", tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "o.json").read_text())
    assert d["params"]["semi"] and d["rounds"][-1]["pseudo_labels"] > 0
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


def test_simulate_errors_are_one_line(cli, tmp_path):
    xf, yf = _blobs(tmp_path)
    r = cli("simulate", "--features", xf, "--labels", yf, "--strategy", "nope")
    assert r.returncode != 0 and "unknown strategy" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "bad.npy").write_text("not an array")
    r = cli("simulate", "--features", tmp_path / "bad.npy", "--labels", yf)
    assert r.returncode != 0 and ".npy" in r.stderr and "Traceback" not in r.stderr


def test_replay_cli(cli, tmp_path):
    a = pd.DataFrame({"question": [1, 1, 1, 2, 2, 2], "worker": [1, 2, 3, 1, 2, 3], "answer": [0, 0, 0, 0, 1, 1]})
    t = pd.DataFrame({"question": [1, 2], "truth": [0, 1]})
    a.to_csv(tmp_path / "a.csv", index=False)
    t.to_csv(tmp_path / "t.csv", index=False)
    r = cli("simulate", "--answers", tmp_path / "a.csv", "--truth", tmp_path / "t.csv", "--aggregator", "mv", "--min-answers", "2",
            "--json", tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "o.json").read_text())
    assert d["curve"][0][0] == 4 and d["total_answers"] == 6


@pytest.mark.slow
def test_replay_duck_under_40_percent(cli, shared_data, tmp_path):
    d = shared_data / "crowd" / "duck"
    r = cli("simulate", "--answers", d / "answer.csv", "--truth", d / "truth.csv", "--confidence", "0.9999",
            "--json", tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "o.json").read_text())
    reach = next(n for n, acc in out["curve"] if acc >= 0.889)
    assert reach <= 0.4 * 4212


@pytest.mark.slow
def test_project_round_curve_cost(cli, shared_data, tmp_path):
    from sqlalchemy import text

    from labelloop.io import import_file
    from labelloop.loop.project import project_arrays, project_curve, run_loop_round
    from labelloop.loop.simulate import simulate
    from labelloop.project import Project
    from labelloop.select import DEFAULT_STRATEGY
    from labelloop.store import repo

    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv").head(160)
    df["text"] = df.title + ". " + df.description.fillna("")
    df.loc[80:, "tag"] = None  # 80 labelled, the rest unlabelled
    df[["id", "text", "tag"]].to_csv(tmp_path / "p.csv", index=False)
    pdir = tmp_path / "proj"
    proj = Project.init(pdir, task="single", labels=sorted(df.tag.dropna().unique()))
    try:
        import_file(proj, tmp_path / "p.csv", id_col="id", text_col="text", label_col="tag")
        summary = run_loop_round(proj, embed_model="tfidf", batch=15)
        assert summary["human_labels"] == 80 and summary["queued"] == 15
        assert summary["router"]["n_calibration"] == 80
        with proj.session() as s:
            preds = repo.predictions_frame(s, proj.id)
            rows = s.execute(text("select external_id, priority_reason from items where priority > 0")).all()
        assert len(preds) == 160
        # the queue says which strategy chose the items, by name
        assert {r for _e, r in rows} == {f"active learning: {DEFAULT_STRATEGY}"}
        queued = {str(e) for (e, _r) in rows}
        assert len(queued) == 15 and not (queued & set(df.id[:80].astype(str)))
        c = project_curve(proj, target=0.7, embed_model="tfidf")
        assert c["labels"] == 80 and len(c["points"]) >= 3 and "labels_needed" in c
        X, y = project_arrays(proj, embed_model="tfidf")
        assert X.shape[0] == 80 and simulate(X, y, budget=20, show_progress=False).curve[0][0] == 10
    finally:
        proj.close()

    r = cli("cost", pdir, "--target", "0.8", "--embed-model", "tfidf", "--json", tmp_path / "k.json")
    assert r.returncode == 0, r.stderr
    k = json.loads((tmp_path / "k.json").read_text())
    assert k["cheaper"] in ("label", "model", "none") and k["n_now"] == 80


@pytest.mark.slow
def test_cold_start_round_on_an_unlabelled_project(cli, tmp_path):
    from sqlalchemy import text

    from labelloop.io import import_file
    from labelloop.project import Project

    words = ["cat", "dog", "car", "bus", "tree", "leaf"]
    rows = [{"id": i, "text": f"{words[i % 6]} {words[(i * 7) % 6]} number {i}"} for i in range(40)]
    pd.DataFrame(rows).to_csv(tmp_path / "u.csv", index=False)
    proj = Project.init(tmp_path / "u", task="single", labels=["a", "b"])
    try:
        import_file(proj, tmp_path / "u.csv", id_col="id", text_col="text")
    finally:
        proj.close()
    r = cli("loop-round", tmp_path / "u", "--embed-model", "tfidf", "--batch", "5", "--json", tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["stage"] == "cold start" and out["queued"] == 5
    proj = Project.open(tmp_path / "u")
    try:
        with proj.session() as s:
            reasons = s.execute(text("select priority_reason from items where priority > 0")).all()
        assert [r for (r,) in reasons] == ["cold start: diversity"] * 5
    finally:
        proj.close()
