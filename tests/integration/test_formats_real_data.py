"""Real crowd answers (../shared/data/crowd): Ground Truth consolidation and platform round trips."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_formats_roundtrip import OUT_NAME, vote_set  # noqa: E402

from labelloop.io import export_labels, import_file  # noqa: E402
from labelloop.io.formats.groundtruth import consolidate  # noqa: E402
from labelloop.project import Project  # noqa: E402


def dataset_objects(answers: pd.DataFrame) -> list[dict]:
    """The crowd answers in the shape Ground Truth hands to a post-annotation Lambda."""
    return [
        {"datasetObjectId": str(q), "dataObject": {"source-ref": f"s3://bucket/{q}.jpg"},
         "annotations": [{"workerId": str(w), "annotationData": {"content": json.dumps({"crowd-image-classifier": {"label": str(lab)}})}}
                         for w, lab in zip(g["worker"], g["answer"], strict=True)]}
        for q, g in answers.groupby("question")
    ]


def accuracy(out, truth: dict[str, str]) -> float:
    got = {o["datasetObjectId"]: o["consolidatedAnnotation"]["content"]["label"]["label"] for o in out}
    return sum(got[q] == t for q, t in truth.items()) / len(truth)


@pytest.mark.parametrize(("name", "ds_floor"), [("duck", 0.88), ("dog", 0.83)])
def test_consolidation_with_dawid_skene_beats_majority_vote(shared_data, name, ds_floor):
    a = pd.read_csv(shared_data / "crowd" / name / "answer.csv")
    t = pd.read_csv(shared_data / "crowd" / name / "truth.csv")
    truth = dict(zip(t["question"].astype(str), t["truth"].astype(str), strict=True))
    objs = dataset_objects(a)
    ds = accuracy(consolidate(objs, label_attribute="label", method="ds"), truth)
    mv = accuracy(consolidate(objs, label_attribute="label", method="mv"), truth)
    assert ds >= ds_floor and ds > mv


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["labelstudio", "toloka"])
def test_real_answers_round_trip(shared_data, tmp_path, fmt):
    proj = Project.init(tmp_path / "src", labels=["0", "1", "2", "3"])
    rep = import_file(proj, shared_data / "crowd" / "dog" / "answer.csv", fmt="answers")
    assert rep.votes == 8070
    import_file(proj, shared_data / "crowd" / "dog" / "truth.csv", fmt="gold")
    out = tmp_path / OUT_NAME[fmt]
    export_labels(proj, out, fmt=fmt, votes=True)
    new = Project.init(tmp_path / "new")
    import_file(new, out, fmt=fmt)
    assert vote_set(new) == vote_set(proj)
