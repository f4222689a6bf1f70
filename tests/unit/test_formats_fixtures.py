"""Each importer on a hand-written file in its platform's documented format, with exact votes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from labelloop.io import import_file
from labelloop.project import Project
from labelloop.store import repo

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def votes_of(proj):
    with proj.session() as s:
        vf = repo.votes_frame(s, proj.id)
    out = {}
    for ext, src, kind, lab, conf in zip(vf["external_id"], vf["source"], vf["source_kind"], vf["label"], vf["confidence"], strict=True):
        c = None if conf is None or pd.isna(conf) else round(float(conf), 6)
        out[(ext, src)] = (kind, sorted(lab) if isinstance(lab, list) else lab, c)
    return out


def items_of(proj):
    with proj.session() as s:
        return repo.items_frame(s, proj.id).set_index("external_id")


def png(path: Path, color="red", size=(8, 6)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_labelstudio_text(tmp_path):
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"])
    rep = import_file(proj, FIX / "labelstudio_text.json", fmt="labelstudio")
    assert (rep.rows, rep.inserted, rep.votes) == (3, 3, 5)
    assert votes_of(proj) == {
        ("101", "ls:10"): ("human", "spam", None),
        ("101", "ls:lead@example.com"): ("gold", "spam", None),
        ("101", "model 1"): ("model", "spam", 0.82),
        ("102", "ls:10"): ("human", "ham", None),  # the span result and the cancelled annotation are skipped
        ("102", "model 1"): ("model", "spam", 0.4),
    }
    items = items_of(proj)
    assert items.loc["103", "text"] == "Check out my new video"
    assert items.loc["101", "fields"] == {"author": "x1", "labelstudio_task_id": 101}


def test_labelstudio_multilabel(tmp_path):
    proj = Project.init(tmp_path / "p", task="multi")
    import_file(proj, FIX / "labelstudio_multi.json", fmt="labelstudio")
    assert votes_of(proj) == {
        ("1", "ls:1"): ("human", ["computer-vision", "transformers"], None),
        ("1", "ls:2"): ("human", ["computer-vision"], None),
        ("2", "ls:1"): ("human", ["natural-language-processing"], None),
    }


def test_labelstudio_images_resolve_local_files(tmp_path):
    png(tmp_path / "images" / "a.png")
    png(tmp_path / "b.png", "blue")
    tasks = [
        {"id": 1, "data": {"image": "/data/upload/3/a.png"},
         "annotations": [{"completed_by": 1, "result": [{"type": "choices", "from_name": "c", "to_name": "image", "value": {"choices": ["cat"]}}]}]},
        {"id": 2, "data": {"image": "/data/local-files/?d=b.png"}},
    ]
    f = tmp_path / "export.json"
    f.write_text(json.dumps(tasks))
    proj = Project.init(tmp_path / "p", data="image")
    import_file(proj, f, fmt="labelstudio")
    items = items_of(proj)
    assert items.loc["1", "image"] == str((tmp_path / "images" / "a.png").resolve())
    assert items.loc["2", "image"] == str((tmp_path / "b.png").resolve())
    assert votes_of(proj) == {("1", "ls:1"): ("human", "cat", None)}


def test_gt_output_manifest_single(tmp_path):
    proj = Project.init(tmp_path / "p")
    rep = import_file(proj, FIX / "gt_output_text.manifest", fmt="gt-manifest")
    assert rep.rows == 3
    assert votes_of(proj) == {("r1", "gt:sentiment"): ("import", "negative", 0.91), ("r2", "gt:sentiment"): ("import", "positive", 0.77)}
    assert items_of(proj).loc["r3", "text"] == "Shipping took a week"  # failed object: item kept, no vote


def test_gt_output_manifest_multilabel(tmp_path):
    proj = Project.init(tmp_path / "p", task="multi")
    import_file(proj, FIX / "gt_output_multilabel.manifest", fmt="gt-manifest")
    assert votes_of(proj) == {("m1", "gt:animals"): ("import", ["cat", "dog"], None), ("m2", "gt:animals"): ("import", ["bird"], None)}


def test_gt_worker_answers_from_dataset_objects(tmp_path):
    proj = Project.init(tmp_path / "p")
    import_file(proj, FIX / "gt_dataset_objects.json", fmt="gt-manifest")
    v = votes_of(proj)
    assert len(v) == 8
    assert v[("0", "private.us-east-1.CCCC")] == ("human", "negative", None)
    assert v[("2", "private.us-east-1.AAAA")] == ("human", "positive", None)
    assert items_of(proj).loc["1", "text"] == "Broke on the first day"


def test_toloka_results(tmp_path):
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"])
    rep = import_file(proj, FIX / "toloka_results.tsv", fmt="toloka")
    assert rep.rows == 5
    assert votes_of(proj) == {
        ("t1", "w-01"): ("human", "spam", None),
        ("t1", "w-02"): ("human", "ham", None),
        ("t2", "w-01"): ("human", "ham", None),
        ("t2", "w-02"): ("human", "ham", None),  # w-03's answer was rejected
        ("t2", "gold"): ("gold", "ham", None),
    }
    items = items_of(proj)
    assert items.loc["t1", "text"] == "Free iPhone, click here"
    assert len(items) == 2


def test_mturk_results(tmp_path):
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"])
    import_file(proj, FIX / "mturk_results.csv", fmt="mturk")
    assert votes_of(proj) == {
        ("c1", "A1WORKER"): ("human", "spam", None),
        ("c1", "A2WORKER"): ("human", "spam", None),
        ("c2", "A1WORKER"): ("human", "ham", None),  # A3WORKER's assignment was rejected
    }
    assert items_of(proj).loc["c2", "text"] == "I love this band"


def test_mturk_radio_columns_images(tmp_path):
    shutil.copy(FIX / "mturk_radio.csv", tmp_path / "r.csv")
    png(tmp_path / "img1.png")
    png(tmp_path / "img2.png", "blue")
    proj = Project.init(tmp_path / "p", data="image")
    import_file(proj, tmp_path / "r.csv", fmt="mturk")
    assert votes_of(proj) == {("H1", "W1"): ("human", "cat", None), ("H1", "W2"): ("human", "dog", None), ("H2", "W1"): ("human", "dog", None)}
    assert items_of(proj).loc["H2", "image"] == str((tmp_path / "img2.png").resolve())


@pytest.mark.parametrize("task", ["single", "multi"])
def test_coco_boxes(tmp_path, task):
    shutil.copy(FIX / "coco_instances.json", tmp_path / "instances.json")
    for k in (1, 2, 3):
        png(tmp_path / "images" / f"img{k}.png", ("red", "green", "blue")[k - 1])
    proj = Project.init(tmp_path / "p", data="image", task=task)
    import_file(proj, tmp_path / "instances.json", fmt="coco")
    v = votes_of(proj)
    if task == "single":  # the category covering the largest area
        assert v == {("1", "coco:instances"): ("import", "dog", None), ("2", "coco:instances"): ("import", "cat", None)}
    else:
        assert v == {("1", "coco:instances"): ("import", ["cat", "dog"], None), ("2", "coco:instances"): ("import", ["cat"], None)}
    f = items_of(proj).loc["1", "fields"]
    assert f["width"] == 8 and f["coco_id"] == 1
    assert f["boxes"][1] == {"category": "dog", "bbox": [2, 1, 5, 4], "area": 20, "iscrowd": 0}


def test_voc_folder(tmp_path):
    shutil.copytree(FIX / "voc", tmp_path / "VOC")
    png(tmp_path / "VOC" / "JPEGImages" / "000001.png")
    png(tmp_path / "VOC" / "JPEGImages" / "000002.png", "blue")
    proj = Project.init(tmp_path / "p", data="image")
    import_file(proj, tmp_path / "VOC", fmt="voc")
    assert votes_of(proj) == {("000001", "voc:VOC"): ("import", "dog", None), ("000002", "voc:VOC"): ("import", "person", None)}
    boxes = items_of(proj).loc["000002", "fields"]["boxes"]
    assert boxes == [{"name": "person", "bndbox": [2.0, 1.0, 6.0, 6.0], "area": 20.0, "difficult": 1, "truncated": 0, "pose": "Frontal"}]


def test_mturk_task_answers_json(tmp_path):
    f = tmp_path / "r.csv"
    rows = [["H1", "W1", "Approved", "x", '[{"category":{"label":"spam"}}]'],
            ["H1", "W2", "Approved", "x", '[{"category":{"ham":true,"spam":false}}]'],
            ["H2", "W1", "Approved", "y", '[{"category":{"ham":{"on":false},"spam":{"on":true}}}]']]
    import csv

    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["HITId", "WorkerId", "AssignmentStatus", "Input.text", "Answer.taskAnswers"])
        w.writerows(rows)
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"])
    import_file(proj, f, fmt="mturk")
    assert votes_of(proj) == {("H1", "W1"): ("human", "spam", None), ("H1", "W2"): ("human", "ham", None),
                              ("H2", "W1"): ("human", "spam", None)}


def test_toloka_checkbox_outputs_multilabel(tmp_path):
    f = tmp_path / "r.tsv"
    f.write_text('INPUT:id\tINPUT:text\tOUTPUT:tags\tASSIGNMENT:worker_id\tASSIGNMENT:status\n'
                 'a\tcats and dogs\t{"cat": true, "dog": true, "bird": false}\tw1\tAPPROVED\n'
                 'a\tcats and dogs\t["cat"]\tw2\tAPPROVED\n')
    proj = Project.init(tmp_path / "p", task="multi")
    import_file(proj, f, fmt="toloka")
    assert votes_of(proj) == {("a", "w1"): ("human", ["cat", "dog"], None), ("a", "w2"): ("human", ["cat"], None)}


def test_gt_custom_job_annotations_from_all_workers(tmp_path):
    """Custom jobs consolidated by AWS's sample Lambda keep every worker's answer
    (``annotationsFromAllWorkers``). The objects are S3 text files, so the text of each item is
    taken from ``source-ref`` here (``--text-col source-ref``)."""
    proj = Project.init(tmp_path / "p")
    import_file(proj, FIX / "gt_output_custom.manifest", fmt="gt-manifest", text_col="source-ref")
    assert votes_of(proj) == {
        ("d60", "private.us-east-1.166160a28ba80787"): ("human", "Response 2", None),
        ("d60", "private.us-east-1.ef02e9a5ea346047"): ("human", "Response 2", None),
        ("d83", "private.us-east-1.166160a28ba80787"): ("human", "Response 1", None),
        ("d83", "private.us-east-1.ef02e9a5ea346047"): ("human", "Response 4", None),
    }


def test_toloka_task_file_with_control_tasks(tmp_path):
    f = tmp_path / "tasks.tsv"
    f.write_text("INPUT:id\tINPUT:text\tGOLDEN:result\tHINT:text\n"
                 "t1\tFree iPhone, click here\tspam\tan offer of a prize is spam\n"
                 "t2\tNice cover of the song\t\t\n")
    proj = Project.init(tmp_path / "p", labels=["ham", "spam"])
    rep = import_file(proj, f, fmt="toloka")
    assert (rep.rows, rep.votes) == (2, 1)
    assert votes_of(proj) == {("t1", "gold"): ("gold", "spam", None)}
    assert items_of(proj).loc["t2", "text"] == "Nice cover of the song"


def test_gt_job_output_folder_with_worker_responses(tmp_path):
    """A built-in job's output folder: per-worker answers from annotations/worker-response,
    filed under the dataset object id (the manifest's 0-based line)."""
    proj = Project.init(tmp_path / "p")
    rep = import_file(proj, FIX / "gt_job", fmt="gt-manifest")
    assert rep.rows == 3
    assert votes_of(proj) == {
        ("r1", "private.us-east-1.AAAA"): ("human", "negative", None),
        ("r1", "private.us-east-1.BBBB"): ("human", "negative", None),
        ("r2", "private.us-east-1.AAAA"): ("human", "positive", None),
        ("r2", "private.us-east-1.CCCC"): ("human", "negative", None),
    }
    assert items_of(proj).loc["r3", "text"] == "Shipping took a week"


def test_coco_official_layout(tmp_path):
    """annotations/instances_val2017.json with the images in val2017/ next to annotations/."""
    (tmp_path / "annotations").mkdir()
    shutil.copy(FIX / "coco_instances.json", tmp_path / "annotations" / "instances_val2017.json")
    for k in (1, 2, 3):
        png(tmp_path / "val2017" / f"img{k}.png")
    proj = Project.init(tmp_path / "p", data="image")
    import_file(proj, tmp_path / "annotations" / "instances_val2017.json", fmt="coco")
    assert items_of(proj).loc["3", "image"] == str((tmp_path / "val2017" / "img3.png").resolve())
