"""``labelloop aggregate ANSWERS.csv ...`` as a user runs it."""

from __future__ import annotations

import pandas as pd

ANSWERS = "task,worker,label\nq1,w1,cat\nq1,w2,cat\nq1,w3,dog\nq2,w1,dog\nq2,w2,dog\nq2,w3,dog\nq3,w1,cat\nq3,w2,dog\nq3,w3,cat\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def assert_clean_error(res, needle):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert needle in lines[0], lines[0]


def test_aggregate_writes_labels_and_skills(cli, tmp_path):
    ans = write(tmp_path, "answers.csv", ANSWERS)
    out, skills = tmp_path / "out.csv", tmp_path / "skills.csv"
    res = cli("aggregate", ans, "--method", "mv", "--out", out, "--skills-out", skills)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == ["task", "label", "confidence"]
    assert df.set_index("task")["label"].to_dict() == {"q1": "cat", "q2": "dog", "q3": "cat"}
    assert df.set_index("task")["confidence"]["q2"] == 1.0
    sk = pd.read_csv(skills)
    assert list(sk.columns) == ["source", "skill", "accuracy", "n_answers"]
    assert sk["n_answers"].tolist() == [3, 3, 3]
    assert "method mv" in res.stderr


def test_aggregate_question_answer_columns_to_stdout_with_gold(cli, tmp_path, shared_data):
    gold = write(tmp_path, "gold.csv", "question,truth\n1,3\n2,2\n")
    quality = tmp_path / "quality.csv"
    res = cli("aggregate", shared_data / "crowd" / "dog" / "answer.csv", "--method", "ds", "--gold", gold, "--quality-out", quality)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "task,label,confidence" and len(lines) == 808
    assert "1,3,1.0" in lines
    q = pd.read_csv(quality)
    assert len(q) == 109 and {"source", "kappa", "spammer", "weight", "action", "gold_accuracy", "gold_ci_low"} <= set(q.columns)


def test_auto_says_what_it_picked(cli, tmp_path):
    ans = write(tmp_path, "answers.csv", ANSWERS)
    res = cli("aggregate", ans, "--method", "auto")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "task,label,confidence"
    assert "auto picked" in res.stderr


def test_bad_inputs_give_one_line_errors(cli, tmp_path):
    # the full list of bad inputs is checked in-process in tests/unit/test_aggregate_files.py
    ans = write(tmp_path, "answers.csv", ANSWERS)
    assert_clean_error(cli("aggregate", write(tmp_path, "e.csv", "")), "empty")
    assert_clean_error(cli("aggregate", write(tmp_path, "n.csv", "task,worker,label\nq1,,cat\nq2,,dog\n")), "worker column")
    assert_clean_error(cli("aggregate", ans, "--labels", "cat,bird"), "not one of the classes")


def test_help_has_an_example(cli):
    res = cli("aggregate", "--help")
    assert res.returncode == 0 and "labelloop aggregate answers.csv" in res.stdout
