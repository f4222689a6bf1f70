"""Files we write, read back by the tools' own libraries (datasets, label-studio-sdk)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_formats_roundtrip import make_project  # noqa: E402

from labelloop.io import export_labels  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LS_VENV = Path(os.environ.get("LABELLOOP_LS_SDK_VENV", REPO / ".bench-venv-labelstudio"))


@pytest.mark.parametrize("task", ["single", "multi"])
def test_hf_dataset_dict_features(tmp_path, task):
    datasets = pytest.importorskip("datasets")
    proj = make_project(tmp_path, task=task)
    export_labels(proj, tmp_path / "hf", fmt="hf", votes=True, parquet=True)
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert isinstance(dd, datasets.DatasetDict) and list(dd) == ["train"]
    d = dd["train"]
    f = d.features
    if task == "single":
        assert isinstance(f["label"], datasets.ClassLabel) and f["label"].names == ["ham", "spam"]
        assert d["label"] == [1, 0, -1]
    else:
        inner = f["label"].feature if hasattr(f["label"], "feature") else f["label"][0]
        assert isinstance(inner, datasets.ClassLabel) and inner.names == ["a", "b", "c"]
        assert d["label"] == [[0, 1], [2], []]
    assert f["confidence"].dtype == "float32"
    assert d["confidence"][0] == pytest.approx(0.97) and d["confidence"][2] is None
    assert d["id"] == ["i1", "i2", "i3"]
    assert {v["source"] for v in d["votes"][0]} >= {"alice", "bob", "model:v1"}
    pq = datasets.Dataset.from_parquet(str(tmp_path / "hf" / "train.parquet"))
    assert pq["id"] == ["i1", "i2", "i3"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["single", "multi"])
def test_label_studio_sdk_accepts_our_export(tmp_path, task):
    """label-studio-sdk lives in its own venv (it pins numpy 2.2 and pulls OpenCV); create it with
    ``python -m venv .bench-venv-labelstudio && .bench-venv-labelstudio/bin/pip install label-studio-sdk==2.1.2``."""
    py = LS_VENV / "bin" / "python"
    if not py.exists():
        pytest.skip(f"label-studio-sdk venv not found at {LS_VENV} (see this test's docstring to create it)")
    proj = make_project(tmp_path, task=task)
    out = tmp_path / "tasks.json"
    export_labels(proj, out, fmt="labelstudio", votes=True)
    checker = Path(__file__).parent / "helpers" / "ls_sdk_check.py"
    r = subprocess.run([str(py), str(checker), str(out), str(tmp_path / "tasks.label_config.xml")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep["errors"] == []
    assert rep["tasks"] == 3
    assert rep["annotations"] == (6 if task == "single" else 5)
    ids = [row["external_id"] for row in rep["csv_rows"]]
    assert sorted(set(ids)) == ["i1", "i2", "i3"]
    # and the checker does find errors: a choice outside the config is reported
    bad = json.loads(out.read_text())
    bad[0]["predictions"][0]["result"][0]["value"]["choices"] = ["zebra"]
    out.write_text(json.dumps(bad))
    r = subprocess.run([str(py), str(checker), str(out), str(tmp_path / "tasks.label_config.xml")], capture_output=True, text=True, timeout=300)
    assert "zebra" in json.loads(r.stdout.strip().splitlines()[-1])["errors"][0]


@pytest.mark.slow
def test_label_studio_sdk_pre_annotations(tmp_path):
    """Without --votes: tasks with our predictions as pre-annotations, accepted by the SDK."""
    py = LS_VENV / "bin" / "python"
    if not py.exists():
        pytest.skip(f"label-studio-sdk venv not found at {LS_VENV}")
    import numpy as np

    from labelloop.store import repo

    proj = make_project(tmp_path)
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["i1", "i2", "i3"])
        repo.write_predictions(s, proj.id, "clf-7", [ids["i1"], ids["i3"]], np.array([[0.2, 0.8], [0.9, 0.1]]), ["ham", "spam"])
    out = tmp_path / "pre.json"
    export_labels(proj, out, fmt="labelstudio")
    tasks = json.loads(out.read_text())
    assert [t.get("predictions", [{}])[0].get("model_version") for t in tasks] == ["clf-7", "labelloop-ds", "clf-7"]
    assert tasks[0]["predictions"][0]["score"] == pytest.approx(0.8)
    assert "annotations" not in tasks[0]
    checker = Path(__file__).parent / "helpers" / "ls_sdk_check.py"
    r = subprocess.run([str(py), str(checker), str(out), str(tmp_path / "pre.label_config.xml")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["errors"] == []


@pytest.mark.slow
def test_tasks_written_by_label_studio_sdk_import(tmp_path):
    """Tasks the SDK itself generates from our labeling config import as votes."""
    py = LS_VENV / "bin" / "python"
    if not py.exists():
        pytest.skip(f"label-studio-sdk venv not found at {LS_VENV}")
    from labelloop.io import import_file
    from labelloop.io.formats.labelstudio import labeling_config
    from labelloop.project import Project
    from labelloop.store import repo

    (tmp_path / "c.xml").write_text(labeling_config(["ham", "spam"]))
    checker = Path(__file__).parent / "helpers" / "ls_sdk_check.py"
    r = subprocess.run([str(py), str(checker), "--generate", "3", str(tmp_path / "c.xml"), str(tmp_path / "sdk.json")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"], unknown="error")
    rep = import_file(proj, tmp_path / "sdk.json", fmt="labelstudio")
    assert (rep.rows, rep.votes) == (3, 6)
    with proj.session() as s:
        vf = repo.votes_frame(s, proj.id)
    assert set(vf["source_kind"]) == {"human", "model"}
    assert set(vf["label"]) <= {"ham", "spam"}
