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
    r = cli("simulate", "--features", tmp_path / "missing.npy", "--labels", yf)
    assert r.returncode != 0 and "not found" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "bad.npy").write_text("not an array")
    r = cli("simulate", "--features", tmp_path / "bad.npy", "--labels", yf)
    assert r.returncode != 0 and ".npy" in r.stderr and "Traceback" not in r.stderr
    r = cli("simulate", "--answers", tmp_path / "a.csv")
    assert r.returncode != 0 and "--truth" in r.stderr


def test_replay_cli(cli, tmp_path):
    a = pd.DataFrame({"question": [1, 1, 1, 2, 2, 2], "worker": [1, 2, 3, 1, 2, 3], "answer": [0, 0, 0, 0, 1, 1]})
    t = pd.DataFrame({"question": [1, 2], "truth": [0, 1]})
    a.to_csv(tmp_path / "a.csv", index=False)
    t.to_csv(tmp_path / "t.csv", index=False)
    r = cli("simulate", "--answers", tmp_path / "a.csv", "--truth", tmp_path / "t.csv", "--aggregator", "mv",
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
    from labelloop.loop.project import run_loop_round
    from labelloop.project import Project
    from labelloop.store import repo

    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv").head(160)
    df["text"] = df.title + ". " + df.description.fillna("")
    df.loc[80:, "tag"] = None  # 80 labelled, the rest unlabelled
    df[["id", "text", "tag"]].to_csv(tmp_path / "p.csv", index=False)
    pdir = tmp_path / "proj"
    r = cli("init", pdir, "--task", "single", "--labels", ",".join(sorted(df.tag.dropna().unique())))
    assert r.returncode == 0, r.stderr
    r = cli("import", pdir, tmp_path / "p.csv", "--id-col", "id", "--text-col", "text", "--label-col", "tag")
    assert r.returncode == 0, r.stderr

    proj = Project.open(pdir)
    try:
        summary = run_loop_round(proj, embed_model="tfidf", batch=15)
        assert summary["human_labels"] == 80 and summary["queued"] == 15
        with proj.session() as s:
            preds = repo.predictions_frame(s, proj.id)
            items = repo.items_frame(s, proj.id)
        assert len(preds) == 160
        labelled = set(df.id[:80].astype(str))
        from sqlalchemy import text

        with proj.session() as s:
            rows = s.execute(text("select external_id, priority from items where priority is not null and priority > 0")).all()
        queued = {str(e) for e, _ in rows}
        assert len(queued) == 15 and not (queued & labelled)
        assert len(items) == 160
    finally:
        proj.close()

    r = cli("curve", pdir, "--target", "0.7", "--embed-model", "tfidf", "--json", tmp_path / "c.json")
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "c.json").read_text())
    assert c["labels"] == 80 and len(c["points"]) >= 3 and "labels_needed" in c
    r = cli("cost", pdir, "--target", "0.8", "--embed-model", "tfidf", "--json", tmp_path / "k.json")
    assert r.returncode == 0, r.stderr
    k = json.loads((tmp_path / "k.json").read_text())
    assert k["cheaper"] in ("label", "model", "none") and k["n_now"] == 80
    r = cli("simulate", pdir, "--embed-model", "tfidf", "--budget", "30", "--json", tmp_path / "s.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "s.json").read_text())["curve"][0][0] == 10
