"""Bad input: each importer names the record and field that is wrong, and writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from labelloop.exceptions import InputError, LabelloopError, SchemaError
from labelloop.io import import_file
from labelloop.project import Project
from labelloop.store import repo

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def counts(proj):
    with proj.session() as s:
        return repo.count_items(s, proj.id), repo.count_votes(s, proj.id)


def ls_task(i, choices, **extra):
    return {"id": i, "data": {"text": f"t{i}"}, "annotations": [
        {"completed_by": 1, "result": [{"type": "choices", "from_name": "c", "to_name": "text", "value": {"choices": choices}}], **extra}]}


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([ls_task(1, ["a"]), {"id": 2, "data": "oops"}], "task 2 (id 2): 'data' must be an object"),
        ([ls_task(1, ["a"]), ls_task(2, "a")], "task 2 (id 2).annotations[0].result[0].value.choices: expected a list of strings"),
        ([ls_task(1, ["a"]), ls_task(2, ["a", "b"])], "task 2 (id 2).annotations[0]: 2 choices ['a', 'b'] in a single-label project"),
        ([ls_task(1, ["a"]), {"id": 3, "data": {"body2": "x"}}], "task 2 (id 3): data has no text field"),
        ([ls_task(1, ["a"]), {"id": 4, "data": {"text": "x"}, "predictions": [{"score": "high", "result": []}]}], "predictions[0].score: expected a number"),
    ],
)
def test_labelstudio_bad_records(tmp_path, tasks, message):
    f = tmp_path / "ls.json"
    f.write_text(json.dumps(tasks))
    proj = Project.init(tmp_path / "p")
    with pytest.raises(InputError) as exc:
        import_file(proj, f, fmt="labelstudio")
    assert message in str(exc.value)
    assert counts(proj) == (0, 0)  # nothing half-imported


def test_unknown_labels_follow_the_project_policy(tmp_path):
    f = tmp_path / "ls.json"
    f.write_text(json.dumps([ls_task(1, ["a"]), ls_task(2, ["zebra"])]))
    strict = Project.init(tmp_path / "strict", labels=["a", "b"], unknown="error")
    with pytest.raises(SchemaError, match="zebra"):
        import_file(strict, f, fmt="labelstudio")
    assert counts(strict) == (0, 0)
    drop = Project.init(tmp_path / "drop", labels=["a", "b"], unknown="drop")
    import_file(drop, f, fmt="labelstudio")
    assert counts(drop) == (2, 1)
    keep = Project.init(tmp_path / "keep", labels=["a", "b"])
    import_file(keep, f, fmt="labelstudio")
    assert keep.schema.classes == ["a", "b", "zebra"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"source": "x", "labelloop-id": "1"}', '{"source": "y", "labelloop-id": "2", "j": 5, "j-metadata": {"confidence": 1}}'],
         "line 2: j-metadata: no 'class-name' for label 5"),
        (['{"source": "x", "labelloop-id": "1"}', '{"labelloop-id": "2"}'], "line 2: text items need a 'source' attribute"),
        (['{"source": "x", "labelloop-id": "1"}', '{"source": "y", "labelloop-id": "2", "j": [0, 3], "j-metadata": {"class-map": {"0": "a"}}}'],
         "line 2: j: class index not in class-map"),
        (['{"source": "x", "labelloop-id": "1"}', 'not json'], ":2: malformed JSON"),
        (['{"source": "x", "labelloop-id": "1"}', '{"source": "y", "labelloop-id": "2", "j": {"label": "a"}, "j-metadata": {"worker-answers": [{"workerId": "w", "annotationData": {"content": "{\\"x\\": 1}"}}]}}'],
         "line 2: j worker-answers[0]: annotationData.content has no 'label' or 'labels'"),
        (['{"source": "x", "labelloop-id": "1"}', '{"source": "y", "labelloop-id": "1"}'], "duplicate id '1'"),
    ],
)
def test_gt_manifest_bad_lines(tmp_path, lines, message):
    f = tmp_path / "out.manifest"
    f.write_text("\n".join(lines) + "\n")
    proj = Project.init(tmp_path / "p")
    with pytest.raises(InputError) as exc:
        import_file(proj, f, fmt="gt-manifest")
    assert message in str(exc.value)
    assert counts(proj) == (0, 0)


def test_toloka_bad_files(tmp_path):
    proj = Project.init(tmp_path / "p")
    other = tmp_path / "other.tsv"
    other.write_text("id\ttext\nt1\thello\n")
    with pytest.raises(InputError, match="no INPUT: column"):
        import_file(proj, other, fmt="toloka")
    rows = (FIX / "toloka_results.tsv").read_text().splitlines()
    cols = rows[3].split("\t")
    cols[0] = ""
    (tmp_path / "r.tsv").write_text("\n".join([*rows[:3], "\t".join(cols), *rows[4:]]) + "\n")
    with pytest.raises(InputError, match=r"r.tsv:4: empty item id in column 'INPUT:id'"):
        import_file(proj, tmp_path / "r.tsv", fmt="toloka")
    twice = tmp_path / "twice.tsv"
    twice.write_text("\n".join([*rows, rows[1]]) + "\n")
    with pytest.raises(InputError, match="duplicate answer of one worker for task 't1'"):
        import_file(proj, twice, fmt="toloka")
    assert counts(proj) == (0, 0)


def test_mturk_bad_files(tmp_path):
    proj = Project.init(tmp_path / "p")
    batch = tmp_path / "batch.csv"
    batch.write_text("id,text\n1,hello\n")
    with pytest.raises(InputError, match="no 'WorkerId' column"):
        import_file(proj, batch, fmt="mturk")
    two = tmp_path / "two.csv"
    two.write_text("HITId,WorkerId,Input.text,Answer.a,Answer.b\nH1,W1,x,1,2\n")
    with pytest.raises(InputError, match="several Answer columns .*--label-col"):
        import_file(proj, two, fmt="mturk")
    radio = tmp_path / "radio.csv"
    radio.write_text("HITId,WorkerId,Input.text,Answer.c.cat,Answer.c.dog\nH1,W1,x,true,false\nH2,W1,y,true,true\n")
    with pytest.raises(InputError, match=r"radio.csv:3: item 'H2': several answers \['cat', 'dog'\]"):
        import_file(proj, radio, fmt="mturk")
    assert counts(proj) == (0, 0)


def test_coco_bad_references(tmp_path):
    doc = json.loads((FIX / "coco_instances.json").read_text())
    doc["annotations"][2]["category_id"] = 9
    (tmp_path / "c.json").write_text(json.dumps(doc))
    proj = Project.init(tmp_path / "p", data="image")
    with pytest.raises(InputError, match=r"annotations\[2\]\.category_id: 9 is not the id of a category"):
        import_file(proj, tmp_path / "c.json", fmt="coco")
    doc = json.loads((FIX / "coco_instances.json").read_text())
    doc["annotations"][0]["bbox"] = [0, 0, 2]
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"annotations\[0\]\.bbox: expected \[x, y, width, height\]"):
        import_file(proj, tmp_path / "c.json", fmt="coco")
    doc = json.loads((FIX / "coco_instances.json").read_text())
    (tmp_path / "c.json").write_text(json.dumps(doc))  # images missing on disk
    with pytest.raises(InputError, match=r"images\[0\] \(id 1\): image 'img1.png' not found"):
        import_file(proj, tmp_path / "c.json", fmt="coco")
    assert counts(proj) == (0, 0)
    text = Project.init(tmp_path / "t")
    with pytest.raises(InputError, match="image project"):
        import_file(text, tmp_path / "c.json", fmt="coco")


def test_voc_bad_xml(tmp_path):
    shutil.copytree(FIX / "voc", tmp_path / "VOC")
    from PIL import Image

    (tmp_path / "VOC" / "JPEGImages").mkdir()
    for n in ("000001", "000002"):
        Image.new("RGB", (8, 6)).save(tmp_path / "VOC" / "JPEGImages" / f"{n}.png")
    bad = tmp_path / "VOC" / "Annotations" / "000002.xml"
    bad.write_text(bad.read_text().replace("<xmax>6</xmax>", "<xmax>six</xmax>"))
    proj = Project.init(tmp_path / "p", data="image")
    with pytest.raises(InputError) as exc:
        import_file(proj, tmp_path / "VOC", fmt="voc")
    assert "000002.xml" in str(exc.value) and "<object> 1 <bndbox>: <xmax> is not a number ('six')" in str(exc.value)
    assert counts(proj) == (0, 0)


def test_hf_not_a_dataset(tmp_path):
    pytest.importorskip("datasets")
    (tmp_path / "d").mkdir()
    proj = Project.init(tmp_path / "p")
    with pytest.raises(LabelloopError, match="not a saved Hugging Face dataset"):
        import_file(proj, tmp_path / "d", fmt="hf")


def test_unknown_format_lists_the_plugins(tmp_path):
    proj = Project.init(tmp_path / "p")
    with pytest.raises(InputError, match="labelstudio, gt-manifest, toloka, mturk, coco, voc, hf"):
        import_file(proj, FIX / "toloka_results.tsv", fmt="nope")


def test_gt_job_folder_bad_worker_response(tmp_path):
    shutil.copytree(FIX / "gt_job", tmp_path / "job")
    bad = next((tmp_path / "job" / "annotations" / "worker-response" / "iteration-1" / "1").glob("*.json"))
    bad.write_text('{"answers": [{"workerId": "w1"}]}')
    proj = Project.init(tmp_path / "p")
    with pytest.raises(InputError, match=r"iteration-1/1/.*\.json: answers\[0\] needs 'workerId' and 'answerContent'"):
        import_file(proj, tmp_path / "job", fmt="gt-manifest")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="manifests/output/output.manifest"):
        import_file(proj, tmp_path / "empty", fmt="gt-manifest")
    assert counts(proj) == (0, 0)
