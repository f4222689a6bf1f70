"""`labelloop lf apply | summary | fit` end to end on real projects (YouTube spam, Made With ML)."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

LFS = textwrap.dedent(
    '''
    from labelloop.weak import ABSTAIN, keyword_lf, labeling_function, regex_lf

    subscribe = keyword_lf("subscribe", ["subscribe", "my channel"], "spam", stem=True)
    link = regex_lf("link", r"https?://|www\\.", "spam")
    check_out = regex_lf("check_out", r"check.*out", "spam")

    @labeling_function
    def short(x):
        return "ham" if len(x.text.split()) < 5 else ABSTAIN

    @labeling_function
    def song(x):
        return "ham" if "song" in x.text.lower() else ABSTAIN

    @labeling_function(version="2")
    def fragile(x):
        if "shakira" in x.text.lower():
            raise ValueError("no Shakira here")
        return ABSTAIN
    '''
)


@pytest.fixture
def spam_project(tmp_path, shared_data, cli):
    src = pd.read_csv(shared_data / "youtube-spam" / "Youtube05-Shakira.csv")
    src = src.drop_duplicates("COMMENT_ID").reset_index(drop=True)  # the file repeats a few comments
    data = src[["COMMENT_ID", "CONTENT"]]
    data.to_csv(tmp_path / "comments.csv", index=False)
    src.assign(label=src["label"].map({0: "ham", 1: "spam"}))[["COMMENT_ID", "label"]].rename(
        columns={"COMMENT_ID": "id"}).to_csv(tmp_path / "gold.csv", index=False)
    proj = tmp_path / "spam"
    r = cli("init", proj, "--task", "single", "--labels", "ham,spam")
    assert r.returncode == 0, r.stderr
    r = cli("import", proj, tmp_path / "comments.csv", "--id-col", "COMMENT_ID", "--text-col", "CONTENT")
    assert r.returncode == 0, r.stderr
    (tmp_path / "my_lfs.py").write_text(LFS)
    return proj, tmp_path / "my_lfs.py", tmp_path / "gold.csv", src


@pytest.mark.slow
def test_lf_apply_summary_fit_on_a_spam_project(spam_project, cli, tmp_path):
    proj, lfs, gold, src = spam_project
    r = cli("lf", "apply", proj, "--lfs", lfs, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["n_items"] == len(src)
    n_shakira = int(src["CONTENT"].str.lower().str.contains("shakira").sum())
    assert len(rep["failures"]) == n_shakira > 0
    assert {f["lf"] for f in rep["failures"]} == {"fragile"}
    assert "ValueError: no Shakira here" in rep["failures"][0]["error"]
    expected_link = int(src["CONTENT"].str.contains(r"https?://|www\.", case=False).sum())
    assert rep["votes"]["link"] == expected_link
    # re-running replaces the votes instead of adding to them
    r2 = cli("lf", "apply", proj, "--lfs", lfs, "--json")
    assert json.loads(r2.stdout)["votes"] == rep["votes"]

    r = cli("lf", "summary", proj, "--gold", gold, "--json", "--html", tmp_path / "lfs.html")
    assert r.returncode == 0, r.stderr
    rows = {row["lf"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {"subscribe", "link", "check_out", "short", "song", "fragile"}
    assert rows["fragile"]["version"] == "2" and rows["fragile"]["coverage"] == 0
    assert rows["link"]["coverage"] == pytest.approx(expected_link / len(src))
    assert rows["link"]["correct"] + rows["link"]["incorrect"] == expected_link
    assert rows["check_out"]["emp_accuracy"] > 0.9
    assert "<table" in (tmp_path / "lfs.html").read_text()
    r = cli("lf", "summary", proj)
    assert r.returncode == 0 and "check_out" in r.stdout
    # an LF removed from the file: --prune deletes its votes and summary/fit leave it out
    lfs.write_text(LFS.replace("@labeling_function\ndef song", "def song"))
    r = cli("lf", "apply", proj, "--lfs", lfs, "--prune", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pruned"] == ["lf:song"]
    rows = {row["lf"] for row in json.loads(cli("lf", "summary", proj, "--json").stdout)}
    assert rows == {"subscribe", "link", "check_out", "short", "fragile"}

    r = cli("lf", "fit", proj, "--json")
    assert r.returncode == 0, r.stderr
    fit = json.loads(r.stdout)
    assert fit["n_items"] == len(src) and 0 < fit["coverage"] <= 1
    from labelloop.project import Project
    from labelloop.store import repo

    with Project.open(proj) as p, p.session() as s:
        labels = repo.labels_frame(s, p.id)
        votes = repo.votes_frame(s, p.id, kinds=["lf"])
    assert len(labels) == len(src) and set(labels["method"]) == {"label_model"}
    truth = dict(zip(src["COMMENT_ID"].astype(str), src["label"].map({0: "ham", 1: "spam"}), strict=True))
    acc = (labels["external_id"].map(truth) == labels["label"]).mean()
    # majority vote over the same stored LF votes, ties and uncovered items as coin flips
    counts = votes.groupby(["external_id", "label"]).size().unstack(fill_value=0).reindex(
        columns=["ham", "spam"], fill_value=0)
    mv_hits = 0.0
    for ext, lab in truth.items():
        c = counts.loc[ext] if ext in counts.index else pd.Series({"ham": 0, "spam": 0})
        top = c[c == c.max()].index
        mv_hits += (lab in top) / len(top)
    mv_acc = mv_hits / len(truth)
    # fitted on these 369 comments alone, four one-sided LFs: EM's estimates get extreme (an LF
    # that only votes ham is read as never firing on spam) and the model lands near majority vote
    # (0.76 vs 0.81 here); on the 1,586 training comments it beats it (BENCHMARKS.md)
    assert acc > 0.7 and mv_acc > 0.7
    assert labels["confidence"].between(0.5, 1.0).all()


def test_lf_cli_errors(tmp_path, cli):
    r = cli("lf", "apply", tmp_path / "nope", "--lfs", tmp_path / "x.py")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    proj = tmp_path / "p"
    assert cli("init", proj, "--task", "single", "--labels", "a,b").returncode == 0
    (tmp_path / "empty.py").write_text("x = 1\n")
    r = cli("lf", "apply", proj, "--lfs", tmp_path / "empty.py")
    assert r.returncode != 0 and "no labeling functions" in r.stderr
    r = cli("lf", "fit", proj)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert cli("lf", "--help").returncode == 0


@pytest.mark.slow
def test_lf_on_a_multilabel_project_with_taxonomy(tmp_path, shared_data, cli):
    projects = json.loads((shared_data / "madewithml" / "projects.json").read_text())[:150]
    (tmp_path / "projects.json").write_text(json.dumps(projects))
    proj = tmp_path / "mwml"
    tags = shared_data / "madewithml" / "tags.json"
    assert cli("init", proj, "--task", "multi", "--taxonomy", tags).returncode == 0
    r = cli("import", proj, tmp_path / "projects.json", "--format", "madewithml")
    assert r.returncode == 0, r.stderr
    (tmp_path / "tax_lfs.py").write_text(textwrap.dedent(f'''
        from labelloop.schema import Taxonomy
        from labelloop.weak import keyword_lf, taxonomy_lfs
        LFS = taxonomy_lfs(Taxonomy.load({str(tags)!r})) + [
            keyword_lf("code_kw", ["github", "code", "implementation"], {{"code"}}),
        ]
    '''))
    r = cli("lf", "apply", proj, "--lfs", tmp_path / "tax_lfs.py", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["votes"]["tax:object-detection"] > 0
    gold = pd.DataFrame({"id": [str(p["id"]) for p in projects], "tags": [json.dumps(p["tags"]) for p in projects]})
    gold.to_csv(tmp_path / "gold.csv", index=False)
    r = cli("lf", "summary", proj, "--gold", tmp_path / "gold.csv", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["lf"]: row for row in json.loads(r.stdout)}
    od = rows["tax:object-detection"]
    assert od["coverage"] == pytest.approx(rep["votes"]["tax:object-detection"] / 150)
    assert od["correct"] + od["incorrect"] == 2 * rep["votes"]["tax:object-detection"]  # tag + parent
    r = cli("lf", "fit", proj, "--json")
    assert r.returncode == 0, r.stderr
    from labelloop.project import Project
    from labelloop.store import repo

    with Project.open(proj) as p, p.session() as s:
        labels = repo.labels_frame(s, p.id)
        items = repo.items_frame(s, p.id)
    assert len(labels) == 150
    # parents come with their children: every labelled object-detection item is computer-vision
    od = labels[labels["label"].map(lambda t: "object-detection" in t)]
    assert len(od) > 0 and od["label"].map(lambda t: "computer-vision" in t).all()
    text = dict(zip(items["item_id"], items["text"].str.lower(), strict=True))
    assert all("object detection" in text[i] or "object-detection" in text[i] for i in od["item_id"])
