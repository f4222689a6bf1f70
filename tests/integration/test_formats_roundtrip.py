"""Round trips: export with every vote, import into a new project, get the same votes back."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest

from labelloop.io import export_labels, import_file
from labelloop.io.formats import VOTE_FORMATS
from labelloop.project import Project
from labelloop.store import repo

OUT_NAME = {"labelstudio": "tasks.json", "gt-manifest": "out.manifest", "toloka": "results.tsv", "mturk": "results.csv", "hf": "hfds"}


def _make_png(path, color):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6), color).save(path)
    return path


def make_project(tmp_path, *, task="single", data="text", name="src", db=None):
    """Three items; votes of a human, a second human, gold, a model (with confidence), an LF."""
    labels = ["ham", "spam"] if task == "single" else ["a", "b", "c"]
    proj = Project.init(tmp_path / name, task=task, data=data, labels=labels, db=db,
                        name=None if db is None else f"{name}-{uuid.uuid4().hex[:8]}")
    if data == "text":
        src = tmp_path / "items.csv"
        pd.DataFrame({"id": ["i1", "i2", "i3"], "text": ["buy now", "hello friend", "win, a \"prize\"\ttoday"]}).to_csv(src, index=False)
        import_file(proj, src)
    else:
        rows = []
        for k, color in enumerate(("red", "green", "blue"), start=1):
            p = _make_png(tmp_path / "imgs" / f"im{k}.png", color)
            rows.append({"id": f"i{k}", "image": str(p)})
        src = tmp_path / "items.csv"
        pd.DataFrame(rows).to_csv(src, index=False)
        import_file(proj, src)
    if task == "single":
        votes = {
            ("alice", "human"): {"i1": "spam", "i2": "ham", "i3": "spam"},
            ("bob", "human"): {"i1": "spam", "i3": "ham"},
            ("gold", "gold"): {"i2": "ham"},
            ("model:v1", "model"): {"i1": ("spam", 0.9), "i2": ("ham", 0.75), "i3": ("spam", 0.5)},
            ("lf:keywords", "lf"): {"i1": "spam"},
        }
    else:
        votes = {
            ("alice", "human"): {"i1": ["a", "b"], "i2": ["c"], "i3": ["a"]},
            ("bob", "human"): {"i1": ["a"], "i3": ["b", "c"]},
            ("model:v1", "model"): {"i1": (["a"], 0.8)},
        }
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["i1", "i2", "i3"])
        for (name_, kind), per in votes.items():
            source = repo.get_or_create_source(s, proj.id, name_, kind)
            rows = []
            for ext, v in per.items():
                lab, conf = v if isinstance(v, tuple) else (v, None)
                rows.append((ids[ext], lab, conf))
            repo.replace_votes(s, proj.id, source, rows)
        final = pd.DataFrame({"item_id": [ids["i1"], ids["i2"]], "label": (["spam", "ham"] if task == "single" else [["a", "b"], ["c"]]),
                              "confidence": [0.97, 0.8]})
        repo.write_labels(s, proj.id, final, method="ds")
    return proj


def vote_set(proj, *, kinds=True):
    with proj.session() as s:
        vf = repo.votes_frame(s, proj.id)
    out = set()
    for ext, src, kind, lab, conf in zip(vf["external_id"], vf["source"], vf["source_kind"], vf["label"], vf["confidence"], strict=True):
        lab = tuple(sorted(lab)) if isinstance(lab, list) else lab
        c = None if conf is None or pd.isna(conf) else round(float(conf), 6)
        out.add((ext, src, kind if kinds else None, lab, c))
    return out


def expected_votes(proj, fmt):
    return vote_set(proj)


@pytest.mark.parametrize("fmt", VOTE_FORMATS)
@pytest.mark.parametrize("task", ["single", "multi"])
def test_round_trip_text(tmp_path, fmt, task):
    proj = make_project(tmp_path, task=task)
    out = tmp_path / OUT_NAME[fmt]
    assert export_labels(proj, out, fmt=fmt, votes=True) == 3
    new = Project.init(tmp_path / "new", task=task)
    rep = import_file(new, out, fmt=fmt)
    assert rep.rows >= 3
    assert vote_set(new) == expected_votes(proj, fmt)
    with new.session() as s:
        items = repo.items_frame(s, new.id).set_index("external_id")
    assert items.loc["i3", "text"] == "win, a \"prize\"\ttoday"
    # importing the same file again changes nothing
    import_file(new, out, fmt=fmt)
    assert vote_set(new) == expected_votes(proj, fmt)


@pytest.mark.parametrize("fmt", VOTE_FORMATS)
def test_round_trip_items_known_only_by_answers(tmp_path, fmt):
    """Items imported from an answers table have no text; they travel and come back as such."""
    proj = make_project(tmp_path)
    answers = tmp_path / "answers.csv"
    answers.write_text("task,worker,label\ni4,alice,ham\ni4,carol,spam\n")
    import_file(proj, answers, fmt="answers")
    out = tmp_path / OUT_NAME[fmt]
    assert export_labels(proj, out, fmt=fmt, votes=True) == 4
    new = Project.init(tmp_path / "new")
    import_file(new, out, fmt=fmt)
    assert vote_set(new) == vote_set(proj)
    with new.session() as s:
        items = repo.items_frame(s, new.id).set_index("external_id")
    assert pd.isna(items.loc["i4", "text"]) and items.loc["i1", "text"] == "buy now"


@pytest.mark.parametrize("fmt", ["labelstudio", "gt-manifest", "hf"])
def test_round_trip_images(tmp_path, fmt):
    proj = make_project(tmp_path, data="image")
    out = tmp_path / OUT_NAME[fmt]
    export_labels(proj, out, fmt=fmt, votes=True)
    new = Project.init(tmp_path / "new", data="image")
    import_file(new, out, fmt=fmt)
    assert vote_set(new) == vote_set(proj)
    with new.session() as s:
        items = repo.items_frame(s, new.id).set_index("external_id")
    assert items.loc["i1", "image"].endswith("im1.png") or fmt == "hf"  # hf embeds the image bytes
    with proj.session() as s:
        old = repo.items_frame(s, proj.id).set_index("external_id")
    assert (items["content_hash"] == old["content_hash"]).all()


@pytest.mark.parametrize("fmt", ["coco", "voc", "hf"])
def test_labels_round_trip(tmp_path, fmt):
    """Formats without per-source votes keep the final labels: they come back as import votes."""
    proj = make_project(tmp_path, data="image")
    out = tmp_path / ("coco.json" if fmt == "coco" else fmt + "_out")
    assert export_labels(proj, out, fmt=fmt) == 3
    new = Project.init(tmp_path / "new", data="image")
    import_file(new, out, fmt=fmt)
    got = {(e, lab) for e, _, _, lab, _ in vote_set(new)}
    assert got == {("i1", "spam"), ("i2", "ham")}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["labelstudio", "gt-manifest", "mturk"])
def test_cli_round_trip(tmp_path, cli, fmt):
    """The same through ``labelloop export --votes`` / ``labelloop import`` (the other formats
    go through the same registry and are covered above at the API level)."""
    proj = make_project(tmp_path)
    expected = expected_votes(proj, fmt)
    proj.close()
    out = tmp_path / OUT_NAME[fmt]
    r = cli("export", tmp_path / "src", out, "--format", fmt, "--votes")
    assert r.returncode == 0, r.stderr
    Project.init(tmp_path / "new", task="single").close()
    r = cli("import", tmp_path / "new", out, "--format", fmt, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["votes"] == len(expected)
    with Project.open(tmp_path / "new") as new:
        assert vote_set(new) == expected


def test_labelstudio_local_files_urls(tmp_path, monkeypatch):
    """Image tasks can point into Label Studio's local storage and still import back."""
    from labelloop.io.formats.labelstudio import write_labelstudio

    proj = make_project(tmp_path, data="image")
    out = tmp_path / "ls" / "deep" / "tasks.json"
    write_labelstudio(proj, out, votes=True, local_files_root=tmp_path)
    tasks = json.loads(out.read_text())
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=imgs/im1.png"
    new = Project.init(tmp_path / "new", data="image")
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(tmp_path))
    import_file(new, out, fmt="labelstudio")
    assert vote_set(new) == vote_set(proj)


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", VOTE_FORMATS)
def test_round_trip_on_postgres(tmp_path, postgres_url, fmt):
    proj = make_project(tmp_path, task="multi", db=postgres_url)
    out = tmp_path / OUT_NAME[fmt]
    export_labels(proj, out, fmt=fmt, votes=True)
    new = Project.init(tmp_path / "new", task="multi", db=postgres_url, name=f"new-{uuid.uuid4().hex[:8]}")
    import_file(new, out, fmt=fmt)
    assert vote_set(new) == vote_set(proj)
    proj.close()
    new.close()


def test_toloka_task_file_round_trip(tmp_path):
    """The task file (no --votes) carries the honeypots' gold answers, and they come back."""
    proj = make_project(tmp_path)
    export_labels(proj, tmp_path / "tasks.tsv", fmt="toloka")
    new = Project.init(tmp_path / "new")
    import_file(new, tmp_path / "tasks.tsv", fmt="toloka")
    assert vote_set(new) == {v for v in vote_set(proj) if v[2] == "gold"}
    with new.session() as s:
        assert repo.count_items(s, new.id) == 3


def test_hf_parquet_round_trip(tmp_path):
    """The Parquet files of an hf export carry the ClassLabel features and import on their own."""
    import shutil

    proj = make_project(tmp_path, task="multi")
    export_labels(proj, tmp_path / "hf", fmt="hf", votes=True, parquet=True)
    (tmp_path / "pq").mkdir()
    shutil.copy(tmp_path / "hf" / "train.parquet", tmp_path / "pq" / "train.parquet")
    new = Project.init(tmp_path / "new", task="multi")
    import_file(new, tmp_path / "pq", fmt="hf")
    assert vote_set(new) == vote_set(proj)
