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
LS_SDK = "label-studio-sdk==2.1.2"


@pytest.fixture(scope="module")
def ls_python() -> Path:
    """Python of a separate venv with label-studio-sdk (it pins numpy 2.2 and pulls OpenCV, so it
    stays out of the project's environment). Created on first use (about 500 MB, a minute or
    two); set LABELLOOP_LS_SDK_INSTALL=0 to skip instead."""
    import fcntl
    import shutil

    py = LS_VENV / "bin" / "python"
    done = LS_VENV / ".installed"
    if done.exists():
        return py
    if os.environ.get("LABELLOOP_LS_SDK_INSTALL", "1") == "0":
        pytest.skip(f"label-studio-sdk venv not found at {LS_VENV} and LABELLOOP_LS_SDK_INSTALL=0")
    LS_VENV.parent.mkdir(parents=True, exist_ok=True)
    import hashlib
    import tempfile

    lock_path = Path(tempfile.gettempdir()) / f"labelloop-ls-sdk-{hashlib.sha1(str(LS_VENV).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:  # parallel test workers install it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            try:
                shutil.rmtree(LS_VENV, ignore_errors=True)
                subprocess.run([sys.executable, "-m", "venv", str(LS_VENV)], check=True, capture_output=True, timeout=300)
                subprocess.run([str(py), "-m", "pip", "install", "-q", LS_SDK], check=True, capture_output=True, timeout=900)
                done.touch()
            except (subprocess.SubprocessError, OSError) as exc:
                shutil.rmtree(LS_VENV, ignore_errors=True)
                pytest.skip(f"could not install {LS_SDK} into {LS_VENV}: {exc}")
    return py


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
def test_label_studio_sdk_accepts_our_export(tmp_path, task, ls_python):
    py = ls_python
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
def test_label_studio_sdk_pre_annotations(tmp_path, ls_python):
    """Without --votes: tasks with our predictions as pre-annotations, accepted by the SDK."""
    py = ls_python
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
def test_tasks_written_by_label_studio_sdk_import(tmp_path, ls_python):
    """Tasks the SDK itself generates from our labeling config import as votes."""
    py = ls_python
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


def test_hf_posterior_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    import pandas as pd

    from labelloop.store import repo

    proj = make_project(tmp_path)
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["i1", "i2"])
        repo.write_labels(s, proj.id, pd.DataFrame({"item_id": [ids["i1"], ids["i2"]], "label": ["spam", "ham"], "confidence": [0.9, 0.6],
                                                    "probs": [{"ham": 0.1, "spam": 0.9}, {"ham": 0.6, "spam": 0.4}]}), method="ds")
    export_labels(proj, tmp_path / "hf", fmt="hf")
    d = datasets.load_from_disk(str(tmp_path / "hf"))["train"]
    assert d.features["label"].names == ["ham", "spam"]
    assert [None if p is None else [round(x, 4) for x in p] for p in d["probs"]] == [[0.1, 0.9], [0.6, 0.4], None]
