"""Reading answer and gold files: every bad input is a clear, named error."""

from __future__ import annotations

import pandas as pd
import pytest

from labelloop.aggregate.files import aggregate_file, read_gold, read_table
from labelloop.exceptions import EmptyInputError, InputError, MissingColumnError, SchemaError

ANSWERS = "task,worker,label\nq1,w1,cat\nq1,w2,cat\nq1,w3,dog\nq2,w1,dog\nq2,w2,dog\nq2,w3,dog\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_aggregate_file_round_trip(tmp_path):
    res = aggregate_file(write(tmp_path, "a.csv", ANSWERS), method="ds", gold=write(tmp_path, "g.csv", "task,label\nq1,dog\n"))
    assert res.labels.set_index("task")["label"].to_dict() == {"q1": "dog", "q2": "dog"}
    assert list(res.skills.columns) == ["source", "skill", "accuracy", "n_answers"]
    assert res.method == "ds"
    tsv = aggregate_file(write(tmp_path, "a.tsv", ANSWERS.replace(",", "\t")), method="mv")
    assert tsv.labels["label"].tolist() == ["cat", "dog"]
    df = pd.read_csv(write(tmp_path, "b.csv", ANSWERS))
    assert aggregate_file(df, method="auto").method in ("mv", "wawa", "onecoin", "ds", "glad", "mace")


def test_jsonl_and_parquet(tmp_path):
    df = pd.read_csv(write(tmp_path, "a.csv", ANSWERS))
    df.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    df.to_parquet(tmp_path / "a.parquet")
    for name in ("a.jsonl", "a.parquet"):
        assert aggregate_file(tmp_path / name, method="mv").labels["label"].tolist() == ["cat", "dog"]


@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        ("", EmptyInputError, "empty"),
        ("task,worker,label\n", EmptyInputError, "no rows"),
        ("task,label\nq1,cat\n", MissingColumnError, "no worker column"),
        ("question,worker,answer\nq1,,cat\nq2,,dog\n", InputError, "worker column 'worker' is empty"),
        ("task,worker,label\nq1,w1,cat\nq2,w1,\n", InputError, "missing values"),
        ('task,worker,label\nq1,w1,"cat\n', InputError, "cannot parse"),
    ],
)
def test_bad_answers(tmp_path, text, error, needle):
    with pytest.raises(error, match=needle):
        aggregate_file(write(tmp_path, "a.csv", text))


def test_bad_paths_and_schema(tmp_path):
    ans = write(tmp_path, "a.csv", ANSWERS)
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="folder"):
        read_table(tmp_path)
    with pytest.raises(SchemaError, match="not one of the classes"):
        aggregate_file(ans, classes=["cat", "bird"])
    with pytest.raises(SchemaError, match="gold labels fish"):
        aggregate_file(ans, gold=write(tmp_path, "g.csv", "task,label\nq1,fish\n"))
    with pytest.raises(MissingColumnError, match="no gold task column"):
        read_gold(write(tmp_path, "g2.csv", "foo,bar\n1,2\n"))
    with pytest.raises(InputError, match="no complete row"):
        read_gold(write(tmp_path, "g3.csv", "task,label\nq1,\n"))
    with pytest.raises(InputError, match="unknown aggregation method"):
        aggregate_file(ans, method="nope")
