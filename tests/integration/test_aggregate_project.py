"""``aggregate`` on a project: votes from the store in, final labels back into the store."""

from __future__ import annotations

import pandas as pd
import pytest

from labelloop.aggregate.store import aggregate_project, gold_from_store
from labelloop.exceptions import EmptyInputError
from labelloop.io import import_file
from labelloop.project import Project
from labelloop.schema import Taxonomy
from labelloop.store import repo
from labelloop.votes import MultiLabelVotes, VoteMatrix


@pytest.fixture
def duck_project(tmp_path, shared_data):
    d = tmp_path / "duck"
    proj = Project.init(d, task="single", labels=["0", "1"])
    import_file(proj, shared_data / "crowd" / "duck" / "answer.csv", fmt="answers")
    truth = pd.read_csv(shared_data / "crowd" / "duck" / "truth.csv")
    truth.head(10).to_csv(tmp_path / "gold.csv", index=False)
    import_file(proj, tmp_path / "gold.csv", fmt="gold")
    proj.close()
    return d, dict(zip(truth.question.astype(str), truth.truth.astype(str), strict=True))


def test_vote_matrix_from_store(duck_project):
    d, truth = duck_project
    with Project.open(d) as proj, proj.session() as s:
        vm = VoteMatrix.from_store(s, proj.id)
        assert vm.n_votes == 4212 and vm.n_sources == 39 and vm.classes == ["0", "1"]
        assert len(gold_from_store(s, proj.id)) == 10
        with_gold = VoteMatrix.from_store(s, proj.id, exclude_kinds=())
        assert with_gold.n_votes == 4222
        with pytest.raises(EmptyInputError):
            VoteMatrix.from_store(s, proj.id, kinds=["lf"])


def test_aggregate_project_writes_labels(duck_project):
    d, truth = duck_project
    summary = aggregate_project(d, method="ds")
    assert summary["method"] == "ds" and summary["n_items"] == 108 and summary["n_gold"] == 10
    with Project.open(d) as proj, proj.session() as s:
        labels = repo.labels_frame(s, proj.id)
    assert len(labels) == 108 and set(labels["method"]) == {"ds"}
    got = dict(zip(labels.external_id, labels.label, strict=True))
    acc = sum(got[k] == v for k, v in truth.items()) / len(truth)
    assert acc >= 0.88
    first_gold = list(truth)[:10]
    assert all(got[k] == truth[k] for k in first_gold)


def test_cli_aggregate_project(cli, duck_project, tmp_path):
    d, _ = duck_project
    skills = tmp_path / "skills.csv"
    res = cli("aggregate", d, "--method", "auto", "--skills-out", skills)
    assert res.returncode == 0, res.stderr
    assert "auto:" in res.stderr and "108 labels" in res.stderr
    assert len(pd.read_csv(skills)) == 39
    with Project.open(d) as proj, proj.session() as s:
        assert repo.labels_frame(s, proj.id)["method"].iloc[0].startswith("auto:")


def test_multilabel_project_respects_taxonomy(tmp_path):
    tax = Taxonomy.from_records(
        [{"tag": "machine-learning"}, {"tag": "deep-learning", "parents": ["machine-learning"]}, {"tag": "cooking"}]
    )
    d = tmp_path / "ml"
    proj = Project.init(d, task="multi", taxonomy=tax, labels=["machine-learning", "deep-learning", "cooking"])
    pd.DataFrame({"id": ["a", "b"], "text": ["a net", "a cake"]}).to_csv(tmp_path / "items.csv", index=False)
    import_file(proj, tmp_path / "items.csv", text_col="text")
    with proj.session() as s:
        ids = repo.item_ids_by_external(s, proj.id, ["a", "b"])
        for name, votes in {
            "ann1": [(ids["a"], ["deep-learning"], None), (ids["b"], ["cooking"], None)],
            "ann2": [(ids["a"], ["deep-learning"], None), (ids["b"], ["cooking"], None)],
            "ann3": [(ids["a"], ["cooking"], None), (ids["b"], ["cooking"], None)],
        }.items():
            repo.replace_votes(s, proj.id, repo.get_or_create_source(s, proj.id, name, "human"), votes)
        mv = MultiLabelVotes.from_store(s, proj.id)
        assert mv.tags == ["machine-learning", "deep-learning", "cooking"]
    proj.close()
    summary = aggregate_project(d, method="mv")
    assert summary["n_items"] == 2
    with Project.open(d) as proj, proj.session() as s:
        labels = repo.labels_frame(s, proj.id)
    got = dict(zip(labels.external_id, labels.label, strict=True))
    assert set(got["a"]) == {"deep-learning", "machine-learning"}
    assert got["b"] == ["cooking"]
