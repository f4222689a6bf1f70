"""Ground Truth Lambda handlers with the event shapes Ground Truth sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.exceptions import InputError
from labelloop.io.formats import groundtruth as gt

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
ARN = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/sentiment"


def test_pre_annotation_text_and_image():
    ev = {"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": {"source": "great phone", "labelloop-id": "7"}}
    assert gt.pre_annotation_handler(ev) == {"taskInput": {"taskObject": "great phone", "labelloop-id": "7"}, "isHumanAnnotationRequired": "true"}
    ev = {"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": {"source-ref": "s3://bucket/cat.jpg"}}
    assert gt.pre_annotation_handler(ev)["taskInput"] == {"taskObject": "s3://bucket/cat.jpg"}
    with pytest.raises(InputError, match="dataObject"):
        gt.pre_annotation_handler({"version": "2018-10-16"})


def test_pre_annotation_auto_accepts_confident_prelabels(monkeypatch):
    monkeypatch.setenv("LABELLOOP_AUTO_ACCEPT", "0.95")
    sure = {"dataObject": {"source": "x", "labelloop-prelabel": {"label": "spam", "confidence": 0.99}}}
    unsure = {"dataObject": {"source": "y", "labelloop-prelabel": {"label": "spam", "confidence": 0.6}}}
    assert gt.pre_annotation_handler(sure)["isHumanAnnotationRequired"] == "false"
    assert gt.pre_annotation_handler(unsure)["isHumanAnnotationRequired"] == "true"


def _event(payload: Path, **kw):
    return {"version": "2018-10-06", "labelingJobArn": ARN, "labelCategories": ["negative", "positive"],
            "labelAttributeName": "sentiment", "roleArn": "arn:aws:iam::111122223333:role/gt",
            "payload": {"s3Uri": str(payload)}, "outputConfig": "s3://bucket/output/", **kw}


@pytest.mark.parametrize("method", ["mv", "ds"])
def test_post_annotation_consolidates_with_the_aggregation_engine(method):
    handler = gt.make_post_annotation_handler(method=method)
    out = handler(_event(FIX / "gt_dataset_objects.json"))
    by_id = {o["datasetObjectId"]: o["consolidatedAnnotation"]["content"]["sentiment"] for o in out}
    assert [o["datasetObjectId"] for o in out] == ["0", "1", "2"]
    assert by_id["0"]["label"] == "positive"
    assert by_id["1"]["label"] == "negative"
    assert by_id["1"]["method"] == method
    assert len(by_id["0"]["worker-answers"]) == 3
    if method == "mv":  # two votes to one: a 2/3 majority
        assert by_id["0"]["confidence"] == pytest.approx(2 / 3)
        assert by_id["1"]["confidence"] == pytest.approx(1.0)
    assert 0.5 <= by_id["2"]["confidence"] <= 1.0


def test_post_annotation_matches_a_direct_aggregator_fit():
    """The handler's labels and confidences are exactly those of the engine on the same answers."""
    import pandas as pd

    from labelloop.aggregate import DawidSkene
    from labelloop.votes import VoteMatrix

    objs = json.loads((FIX / "gt_dataset_objects.json").read_text())
    rows = [(o["datasetObjectId"], a["workerId"], json.loads(a["annotationData"]["content"])["crowd-classifier"]["label"])
            for o in objs for a in o["annotations"]]
    ds = DawidSkene().fit(VoteMatrix.from_answers(pd.DataFrame(rows, columns=["task", "worker", "label"]), classes=["negative", "positive"]))
    out = gt.consolidate(objs, label_attribute="s", method="ds", classes=["negative", "positive"])
    for o in out:
        k = list(ds.items_).index(o["datasetObjectId"])
        assert o["consolidatedAnnotation"]["content"]["s"]["label"] == ds.labels_[k]
        assert o["consolidatedAnnotation"]["content"]["s"]["confidence"] == pytest.approx(float(ds.confidence_[k]))


def test_post_annotation_multilabel():
    objs = [
        {"datasetObjectId": "0", "dataObject": {"content": "x"}, "annotations": [
            {"workerId": "a", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["cat", "dog"]}})}},
            {"workerId": "b", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["cat"]}})}},
            {"workerId": "c", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["cat", "dog"]}})}}]},
        {"datasetObjectId": "1", "dataObject": {"content": "y"}, "annotations": [
            {"workerId": "a", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["bird"]}})}},
            {"workerId": "b", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["bird"]}})}},
            {"workerId": "c", "annotationData": {"content": json.dumps({"crowd-classifier-multi-select": {"labels": ["dog"]}})}}]},
    ]
    out = gt.consolidate(objs, label_attribute="animals", method="mv")
    got = {o["datasetObjectId"]: o["consolidatedAnnotation"]["content"]["animals"]["labels"] for o in out}
    assert got == {"0": ["cat", "dog"], "1": ["bird"]}


def test_post_annotation_output_imports_back_as_worker_votes(tmp_path):
    """Ground Truth writes the handler's content into the output manifest; importing that file
    gives one vote per worker."""
    from labelloop.io import import_file
    from labelloop.project import Project
    from labelloop.store import repo

    objs = json.loads((FIX / "gt_dataset_objects.json").read_text())
    out = gt.make_post_annotation_handler(method="mv")(_event(FIX / "gt_dataset_objects.json"))
    lines = [json.dumps({"source": o["dataObject"]["content"], "labelloop-id": o["datasetObjectId"], **r["consolidatedAnnotation"]["content"],
                         "sentiment-metadata": {"job-name": "labeling-job/sentiment", "type": "groundtruth/custom"}})
             for o, r in zip(objs, out, strict=True)]
    (tmp_path / "output.manifest").write_text("\n".join(lines) + "\n")
    proj = Project.init(tmp_path / "p")
    rep = import_file(proj, tmp_path / "output.manifest", fmt="gt-manifest")
    assert rep.votes == 8
    with proj.session() as s:
        vf = repo.votes_frame(s, proj.id)
    assert set(vf["source"]) == {"private.us-east-1.AAAA", "private.us-east-1.BBBB", "private.us-east-1.CCCC"}


def test_post_annotation_bad_events(tmp_path):
    with pytest.raises(InputError, match="payload.s3Uri"):
        gt.post_annotation_handler({"labelAttributeName": "x"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"datasetObjectId": "0", "annotations": [{"workerId": "w", "annotationData": {"content": "{not json"}}]}]))
    with pytest.raises(InputError, match=r"dataset object 1: annotations\[0\]: annotationData.content is not valid JSON"):
        gt.make_post_annotation_handler(method="mv")(_event(bad))
